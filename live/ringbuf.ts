/**
 * BPF ring buffers (`BPF_MAP_TYPE_RINGBUF`), consumed as libbpf's `ring_buffer` consumes them, and
 * user ring buffers (`BPF_MAP_TYPE_USER_RINGBUF`), produced as libbpf's `user_ring_buffer` does.
 *
 * A {@linkcode RingBuffer} maps each ring's consumer page (read-write) and its producer page and data
 * pages (read-only; the kernel maps the data pages twice, back to back, so a record never wraps
 * inside the view) and reads records in place: no system call and no allocation per record. The
 * callback gets one long-lived `DataView` over the data pages, the record's offset in it and its
 * size, valid only during the call. The consumer position is published once per batch.
 *
 * Waiting: `poll()` blocks the thread in epoll_wait, as libbpf's does; `wait()` and the async
 * iterator do not block the event loop (the wait runs on another thread: Deno's nonblocking FFI,
 * a worker on Bun) and `close()` ends a pending wait at once (an eventfd in the same epoll set).
 *
 * Memory order: the kernel publishes a record by clearing the BUSY bit of its header with a store
 * release after writing the record. On x86-64 loads are not reordered with other loads, so reading
 * the header and then the record in program order sees the record. On aarch64 the header is read
 * with `Atomics.load` (a sequentially consistent load), which orders the record's loads after it.
 *
 * How to write a fast ring buffer callback (measured by `bench/measures/ringbuf.ts`: 4M 16-byte
 * records drained from a 256 MiB ring, against libbpf's `ring_buffer__consume`, 250-320 M records/s
 * on the bench machine; see the README's speed table for the latest run):
 * - One callback per ring, written as its own function. Each ring gets its own drain loop, compiled
 *   from source for it (`new Function`), so the callbacks of different rings never share a call
 *   site and each is inlined into its loop (V8 and JavaScriptCore share call feedback between all
 *   closures of one function literal: with one loop for two rings, only the first ring's callback
 *   was inlined, and both rings drained at a third to a half of their rate on Deno and Bun).
 * - Read fields with the DataView it is given (`view.getInt32(offset, true)`); do not copy the
 *   record (`new Uint8Array(view.buffer, ...)` is the slow path).
 * - Mind what the callback carries from one record to the next. `ints[0] = (ints[0] + v) | 0` on an
 *   Int32Array drains at libbpf's rate on Deno and Bun. `sums[0] += v` on a Float64Array does not on
 *   Deno: V8 runs a loop-carried add through a Float64Array element at about 130 M/s, even in a bare
 *   `for` loop with no ring at all (Bun: about 700 M/s; C with a `volatile double`: 260 M/s). The
 *   same sum in an object's field (`acc.sum += v`, `const acc = { sum: 0 }`) or in a plain array
 *   (`[0]`) ran 3.5-4.3x faster than the Float64Array in that bare loop; spreading it over a few
 *   Float64Array slots (`sums[(offset >>> 3) & 3] += v`, then add them up) breaks the chain too. A
 *   captured `let` is the slowest (a heap number per update on Deno). Inside the drain loop itself
 *   the object's field did not beat the Float64Array (127 against 129 M/s on Deno).
 * - A decoded record (`addTyped`) is an object per record, built by a decoder compiled for the
 *   record's type (its keys written out, fields read in place). When the callback does not keep the
 *   object, both engines drop it: a record of 32-bit fields drains at libbpf's rate on Bun (280-290
 *   M/s). A 64-bit field is a bigint, and JavaScriptCore allocates each one on its heap (even a
 *   small one, even one nobody reads). Its collector runs late: after 1.1-1.6 GB of allocation
 *   while a 256 MiB ring is mapped (the mapping counts towards the heap's size), against about
 *   190 MB without one. Until the first collection every bigint lands in fresh memory the kernel
 *   must fault in, and the drain runs at 8-15 M records/s; afterwards, at 160-200 M/s. Use decoded
 *   records for convenience; on Bun read 64-bit fields with the DataView where speed matters.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Libc } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import type { Sys } from "../ffi/sys.ts";
import { EpollSet } from "./_epoll.ts";
import { makeDrain } from "./_ring_drain.ts";
import { pageSize } from "./map.ts";

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
const RINGBUF = 27; // BPF_MAP_TYPE_RINGBUF
const USER_RINGBUF = 31; // BPF_MAP_TYPE_USER_RINGBUF

/** What a ring buffer needs of a map: its fd, name, type and size (a `BpfMap` has them). */
export interface RingMapRef {
  /** The map's fd. */
  readonly fd: number;
  /** The map's name, for errors. */
  readonly name: string;
  /** `BPF_MAP_TYPE_RINGBUF` (27) or `BPF_MAP_TYPE_USER_RINGBUF` (31). */
  readonly type: number;
  /** The ring's size in bytes: a power of 2 multiple of the page size. */
  readonly maxEntries: number;
}

/**
 * A ring buffer record callback: `view` spans the ring's data pages, the record is `size` bytes at
 * `offset`, valid only during the call. A negative return stops consumption; `consume()` and
 * `poll()` then return it.
 */
export type RingCallback = (view: DataView, offset: number, size: number) => number | void;

/** A decoder for typed records: a `Codec` from `btf/codec.ts` is one. */
export interface RecordDecoder<T> {
  /** Reads a value at `offset` of `view`. */
  decode(view: DataView, offset?: number): T;
}

/** Options of {@linkcode RingBuffer.add}. */
export interface RingAddOptions<T> {
  /** Decodes each record; the callback then gets the value (see {@linkcode RingBuffer.addTyped}). */
  decoder?: RecordDecoder<T>;
}

interface Ring {
  map: RingMapRef;
  cons: { addr: bigint; len: number };
  data: { addr: bigint; len: number };
  consPos: BigUint64Array;
  prodPos: BigUint64Array;
  drain: () => number;
}

const aarch64 = () => getSys().arch === "aarch64";

function checkRing(map: RingMapRef, want: number, what: string): void {
  if (map.type !== want) {
    throw new BpfError(
      `Map ${JSON.stringify(map.name)} is not a ${what} (its type is ${map.type}); ${
        want === RINGBUF
          ? "a PERF_EVENT_ARRAY map is read with PerfBuffer"
          : "a RINGBUF map is read with RingBuffer"
      }`,
    );
  }
  const page = pageSize();
  const n = map.maxEntries;
  if (n < page || n % page !== 0 || (n & (n - 1)) !== 0) {
    throw new BpfError(
      `Map ${
        JSON.stringify(map.name)
      }: a ring buffer's max_entries (${n}) must be a power of 2 multiple of the page size (${page} bytes)`,
    );
  }
}

/**
 * Consumes BPF ring buffers: libbpf's `ring_buffer` (`ring_buffer__new`, `__add`, `__poll`,
 * `__consume`, `__free`). One manager owns any number of rings and one epoll set. `close()` it (or
 * `using`) to unmap the rings and close its fds; the maps stay the object's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject, RingBuffer } from "../mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/load_globals.bpf.o");
 * obj.load();
 * const seen = new Float64Array(1);
 * using rb = new RingBuffer(obj.map("events"), (view, offset, size) => {
 *   seen[0] += size;
 * });
 * assert.equal(rb.consume(), 0); // nothing sent yet
 * ```
 */
export class RingBuffer implements Disposable, AsyncIterable<Uint8Array> {
  readonly #sys: Sys;
  readonly #rings: Ring[] = [];
  readonly #set: EpollSet;
  readonly #queue: Uint8Array[] = [];
  readonly #drainAt = (index: number): number => this.#rings[index]?.drain() ?? 0;

  /**
   * Makes a manager, with a first ring when `map` is given (`ring_buffer__new`).
   *
   * @param map a RINGBUF map (a `BpfMap`), or none: add rings with {@linkcode RingBuffer.add}.
   * @param callback its record callback; without one, records go to the async iterator.
   * @throws {BpfError} the map is not a ring buffer, or has a size no kernel takes.
   * @throws {SyscallError} epoll, eventfd or mmap failed.
   */
  constructor(map?: RingMapRef, callback?: RingCallback) {
    this.#sys = getSys();
    this.#set = new EpollSet(this.#sys, "RingBuffer");
    try {
      if (map !== undefined) this.add(map, callback);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** The epoll fd (`ring_buffer__epoll_fd`): readable when a ring has records. */
  get epollFd(): number {
    return this.#set.fd;
  }

  /** How many rings the manager has. */
  get size(): number {
    return this.#rings.length;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#set.closed;
  }

  /**
   * Adds a ring (`ring_buffer__add`). Its records go to `callback`; without one, to the async
   * iterator (as copies: the slow path). For decoded records see {@linkcode RingBuffer.addTyped}.
   *
   * @param map a RINGBUF map.
   * @param callback the record callback.
   * @returns this manager.
   * @throws {BpfError} the map is not a ring buffer, or the manager is closed.
   * @throws {SyscallError} mmap or epoll_ctl failed (nothing of the ring is left).
   */
  add(map: RingMapRef, callback?: RingCallback): this {
    this.#set.check();
    checkRing(map, RINGBUF, "ring buffer");
    const sys = this.#sys;
    const page = pageSize();
    const size = map.maxEntries;
    const cb: RingCallback = callback ??
      ((view, offset, len) => {
        this.#queue.push(new Uint8Array(view.buffer, view.byteOffset + offset, len).slice());
      });
    const consAddr = sys.mmap(page, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, map.fd, 0);
    let dataAddr = 0n;
    const dataLen = page + 2 * size;
    try {
      dataAddr = sys.mmap(dataLen, Libc.PROT_READ, Libc.MAP_SHARED, map.fd, page);
      const consPos = new BigUint64Array(sys.view(consAddr, page), 0, 1);
      const prodBuf = sys.view(dataAddr, dataLen);
      const prodPos = new BigUint64Array(prodBuf, 0, 1);
      const data = new DataView(prodBuf, page, 2 * size);
      const headers = new Int32Array(prodBuf, page, (2 * size) >>> 2);
      this.#set.add(map.fd, this.#rings.length);
      this.#rings.push({
        map,
        cons: { addr: consAddr, len: page },
        data: { addr: dataAddr, len: dataLen },
        consPos,
        prodPos,
        drain: makeDrain(cb, data, headers, aarch64(), consPos, prodPos, size),
      });
    } catch (e) {
      sys.munmap(consAddr, page);
      if (dataAddr !== 0n) sys.munmap(dataAddr, dataLen);
      throw e;
    }
    return this;
  }

  /**
   * Adds a ring whose records are decoded with `decoder` (a `Codec` built from the object's BTF:
   * `codecByName(obj.spec.btf!, "event")`); the callback gets each value and the record's size.
   * Decoding makes a fresh object per record: for the fastest loop use {@linkcode RingBuffer.add}.
   *
   * @param map a RINGBUF map.
   * @param decoder the record type's decoder.
   * @param callback the callback; a negative return stops consumption.
   * @returns this manager.
   */
  addTyped<T>(
    map: RingMapRef,
    decoder: RecordDecoder<T>,
    callback: (value: T, size: number) => number | void,
  ): this {
    return this.add(map, (view, offset, size) => callback(decoder.decode(view, offset), size));
  }

  /**
   * Consumes every record available in every ring (`ring_buffer__consume`), without waiting.
   *
   * @returns how many records went to callbacks, or a callback's negative return.
   * @throws {BpfError} the manager is closed.
   */
  consume(): number {
    this.#set.check();
    let total = 0;
    for (const r of this.#rings) {
      const n = r.drain();
      if (n < 0) return n;
      total += n;
    }
    return total;
  }

  /**
   * Consumes the records of ring `index` only (`ring__consume`).
   *
   * @param index the ring, in the order it was added.
   * @returns how many records went to its callback, or the callback's negative return.
   */
  consumeRing(index: number): number {
    this.#set.check();
    const r = this.#rings[index];
    if (r === undefined) throw new RangeError(`No ring ${index}; the manager has ${this.size}`);
    return r.drain();
  }

  /**
   * Waits up to `timeoutMs` (-1: without end) for records and consumes the rings that have some
   * (`ring_buffer__poll`). Blocks the thread while it waits, as libbpf's does: in an event-driven
   * program use {@linkcode RingBuffer.wait}.
   *
   * @param timeoutMs how long to wait.
   * @returns how many records went to callbacks (0 after a timeout), or a callback's negative return.
   * @throws {BpfError} the manager is closed.
   * @throws {SyscallError} epoll_wait failed.
   */
  poll(timeoutMs: number): number {
    return this.#set.poll(timeoutMs, this.#drainAt);
  }

  /**
   * Like {@linkcode RingBuffer.poll}, without blocking the event loop: timers and I/O go on while it
   * waits. `close()` ends a pending wait at once (it then resolves with 0). One wait at a time.
   *
   * @param timeoutMs how long to wait (-1: until records come or `close()`).
   * @returns how many records went to callbacks, or a callback's negative return.
   * @throws {BpfError} the manager is closed, or another wait is pending.
   */
  wait(timeoutMs = -1): Promise<number> {
    return this.#set.wait(timeoutMs, this.#drainAt);
  }

  /**
   * The records of the rings added without a callback, as copies, until `close()`: the slow,
   * convenient path (`for await (const rec of rb)`). Leaving the loop (`break`, `return`, a throw:
   * the iterator's `return()`) ends a wait the iterator has pending at once and keeps the manager
   * open: records that come later wait in the ring (or in the queue, when the callback-less ring
   * was drained by another call) for the next loop, `consume()` or `wait()`.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    let left = false;
    let waiting = false;
    const done = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
    const it: AsyncIterableIterator<Uint8Array> = {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          if (left) return done();
          if (this.#queue.length > 0) return { done: false, value: this.#queue.shift()! };
          if (this.closed) return done();
          waiting = true;
          try {
            await this.wait(-1);
          } finally {
            waiting = false;
          }
        }
      },
      return: (): Promise<IteratorResult<Uint8Array>> => {
        left = true;
        if (waiting) this.#set.wake();
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /**
   * Unmaps the rings and closes the epoll fd (`ring_buffer__free`). A pending `wait()` ends at once
   * and resolves with 0. Safe to call twice.
   */
  close(): void {
    this.#set.close(() => {
      for (const r of this.#rings.splice(0)) {
        for (const m of [r.cons, r.data]) {
          try {
            this.#sys.munmap(m.addr, m.len);
          } catch {
            // Keep releasing the rest.
          }
        }
      }
    });
  }

  /** Same as {@linkcode RingBuffer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A record reserved in a {@linkcode UserRingBuffer}: write it through `view` at `offset`. */
export interface UserRecord {
  /** A view over the ring's data pages (mapped twice: the record never wraps inside it). */
  readonly view: DataView;
  /** Where the record's bytes start in `view`. */
  readonly offset: number;
  /** Its size in bytes. */
  readonly size: number;
}

/**
 * Produces records into a user ring buffer (`BPF_MAP_TYPE_USER_RINGBUF`, Linux 6.1) for a BPF
 * program to drain with `bpf_user_ringbuf_drain()`: libbpf's `user_ring_buffer` (`__new`,
 * `__reserve`, `__submit`, `__discard`, `__free`). Reserve, write, then submit (or discard) each
 * record, in the order reserved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject, UserRingBuffer } from "../mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/ringbuf.bpf.o");
 * obj.load();
 * using urb = new UserRingBuffer(obj.map("urb"));
 * const rec = urb.reserve(8)!;
 * rec.view.setBigUint64(rec.offset, 42n, true);
 * urb.submit(rec);
 * obj.program("drain_user").testRun({ ctxIn: new Uint8Array(8) }); // bpf_user_ringbuf_drain()
 * const bss = obj.data(".bss")!;
 * const sum = obj.spec.datasecs.find((d) => d.name === ".bss")!.vars.find((v) => v.name === "drained_sum")!;
 * assert.equal(new DataView(bss.buffer, bss.byteOffset).getBigUint64(sum.offset, true), 42n);
 * ```
 */
export class UserRingBuffer implements Disposable {
  readonly #sys: Sys;
  readonly #map: RingMapRef;
  readonly #size: number;
  #cons: { addr: bigint; len: number } | undefined;
  #data: { addr: bigint; len: number } | undefined;
  readonly #consPos: BigUint64Array;
  readonly #prodPos: BigUint64Array;
  readonly #view: DataView;
  readonly #headers: Int32Array;

  /**
   * Maps a user ring buffer for producing.
   *
   * @param map a USER_RINGBUF map.
   * @throws {BpfError} the map is not a user ring buffer.
   * @throws {SyscallError} mmap failed.
   */
  constructor(map: RingMapRef) {
    checkRing(map, USER_RINGBUF, "user ring buffer");
    this.#sys = getSys();
    this.#map = map;
    const sys = this.#sys;
    const page = pageSize();
    this.#size = map.maxEntries;
    const consAddr = sys.mmap(page, Libc.PROT_READ, Libc.MAP_SHARED, map.fd, 0);
    const dataLen = page + 2 * this.#size;
    let dataAddr: bigint;
    try {
      dataAddr = sys.mmap(dataLen, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, map.fd, page);
    } catch (e) {
      sys.munmap(consAddr, page);
      throw e;
    }
    this.#cons = { addr: consAddr, len: page };
    this.#data = { addr: dataAddr, len: dataLen };
    this.#consPos = new BigUint64Array(sys.view(consAddr, page), 0, 1);
    const buf = sys.view(dataAddr, dataLen);
    this.#prodPos = new BigUint64Array(buf, 0, 1);
    this.#view = new DataView(buf, page, 2 * this.#size);
    this.#headers = new Int32Array(buf, page, (2 * this.#size) >>> 2);
  }

  /**
   * Reserves `size` bytes (`user_ring_buffer__reserve`).
   *
   * @param size the record's size.
   * @returns the record to write, or undefined when the ring has no room now (ENOSPC).
   * @throws {BpfError} the record can never fit (E2BIG), or the buffer is closed.
   */
  reserve(size: number): UserRecord | undefined {
    if (this.#data === undefined) throw new BpfError("This UserRingBuffer is closed");
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`Bad record size ${size}`);
    const total = (size + HDR + 7) & ~7;
    if (total > this.#size || size >= DISCARD) {
      throw new BpfError(
        `A ${size}-byte record can never fit in user ring buffer ${
          JSON.stringify(this.#map.name)
        } of ${this.#size} bytes`,
      );
    }
    const cons = Number(this.#consPos[0]);
    const prod = Number(this.#prodPos[0]);
    if (this.#size - (prod - cons) < total) return undefined;
    const off = prod % this.#size;
    Atomics.store(this.#headers, off >>> 2, (size | BUSY) | 0);
    this.#view.setUint32(off + 4, 0, true);
    this.#prodPos[0] = BigInt(prod + total); // the kernel skips a BUSY record until it is committed
    return { view: this.#view, offset: off + HDR, size };
  }

  /** Commits a reserved record: the BPF program's drain sees it (`user_ring_buffer__submit`). */
  submit(rec: UserRecord): void {
    this.#commit(rec, 0);
  }

  /** Gives back a reserved record: the drain skips it (`user_ring_buffer__discard`). */
  discard(rec: UserRecord): void {
    this.#commit(rec, DISCARD);
  }

  #commit(rec: UserRecord, flag: number): void {
    if (this.#data === undefined) throw new BpfError("This UserRingBuffer is closed");
    const at = (rec.offset - HDR) >>> 2;
    const hdr = Atomics.load(this.#headers, at);
    if ((hdr & BUSY) === 0 || (hdr & 0x3fffffff) !== rec.size) {
      throw new BpfError("This record was not reserved, or was submitted or discarded already");
    }
    Atomics.store(this.#headers, at, (rec.size | flag) | 0);
  }

  /** Unmaps the ring (`user_ring_buffer__free`). Safe to call twice. */
  close(): void {
    for (const m of [this.#cons, this.#data]) {
      if (m === undefined) continue;
      try {
        this.#sys.munmap(m.addr, m.len);
      } catch {
        // Keep releasing the rest.
      }
    }
    this.#cons = undefined;
    this.#data = undefined;
  }

  /** Same as {@linkcode UserRingBuffer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
