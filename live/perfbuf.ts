/**
 * Perf buffers: what BPF programs send with `bpf_perf_event_output` into a
 * `BPF_MAP_TYPE_PERF_EVENT_ARRAY`, read as libbpf's `perf_buffer` reads it. One perf event
 * (PERF_COUNT_SW_BPF_OUTPUT) and one mmapped ring per online CPU, stored in the map at that CPU's
 * slot, one epoll set over them.
 *
 * Records are read in place through the ring's DataView; a record that wraps around the end of a
 * ring is copied into a scratch view first (perf rings are not mapped twice). The sample callback
 * has the ring buffer's shape plus the CPU: `(cpu, view, offset, size)`, valid during the call.
 * Lost records (the ring was full) are reported per CPU to `lost(cpu, count)`.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { mapDelete, mapUpdate } from "../ffi/bpf.ts";
import { Libc, Perf } from "../ffi/constants.ts";
import type { Fd } from "../ffi/fd.ts";
import { getSys } from "../ffi/runtime.ts";
import type { Sys } from "../ffi/sys.ts";
import { onlineCpus, perfEventOpen } from "../link/perf_event.ts";
import { EpollSet } from "./_epoll.ts";
import { freshCopy } from "./_ring_drain.ts";
import { pageSize } from "./map.ts";
import type { RingMapRef } from "./ringbuf.ts";

const PERF_EVENT_ARRAY = 4;
const DATA_HEAD = 1024; // offsetof(struct perf_event_mmap_page, data_head)

/** Options of {@linkcode PerfBuffer}. */
export interface PerfBufferOptions {
  /** Each sample: the CPU, a view, the sample's offset in it and its size; valid during the call. */
  sample(cpu: number, view: DataView, offset: number, size: number): number | void;
  /** Samples the kernel dropped on a CPU because its ring was full. */
  lost?(cpu: number, count: bigint): void;
  /** Data pages per CPU, a power of 2 (default 64: 256 KiB with 4 KiB pages). */
  pageCount?: number;
}

interface CpuRing {
  cpu: number;
  fd: Fd;
  addr: bigint;
  len: number;
  head: BigUint64Array; // data_head, data_tail
  data: DataView;
  drain: () => number;
}

/**
 * Reads a PERF_EVENT_ARRAY map's per-CPU rings: libbpf's `perf_buffer` (`perf_buffer__new`,
 * `__poll`, `__consume`, `__free`). `close()` it (or `using`) to disable the events, clear the map's
 * slots, unmap the rings and close the fds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject, getSys, PerfBuffer } from "../mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/ringbuf.bpf.o");
 * const ro = obj.data(".rodata")!; // target_tgid: this process
 * new DataView(ro.buffer, ro.byteOffset).setUint32(0, getSys().getpid(), true);
 * obj.load();
 * const seqs: number[] = [];
 * using pb = new PerfBuffer(obj.map("pb"), {
 *   sample: (_cpu, view, offset) => void seqs.push(view.getUint32(offset, true)),
 *   lost: (cpu, n) => console.warn(`lost ${n} on cpu ${cpu}`),
 * });
 * obj.attach(); // a tracepoint on getpid sends one sample per call
 * getSys().getpid();
 * assert.ok((await pb.wait(5000)) >= 1);
 * assert.equal(seqs[0], 0);
 * ```
 */
export class PerfBuffer implements Disposable {
  readonly #sys: Sys;
  readonly #map: RingMapRef;
  readonly #rings: CpuRing[] = [];
  readonly #set: EpollSet;
  readonly #drainAt = (index: number): number => this.#rings[index]?.drain() ?? 0;

  /**
   * Opens one BPF-output perf event and ring per online CPU and stores them in `map`.
   *
   * @param map a PERF_EVENT_ARRAY map (a `BpfMap`).
   * @param opts the callbacks and the ring size.
   * @throws {BpfError} the map is not a perf event array, or `pageCount` is not a power of 2.
   * @throws {SyscallError} perf_event_open, mmap, epoll or the map update failed (everything made
   *   so far is released).
   */
  constructor(map: RingMapRef, opts: PerfBufferOptions) {
    if (map.type !== PERF_EVENT_ARRAY) {
      throw new BpfError(
        `Map ${
          JSON.stringify(map.name)
        } is not a perf event array (its type is ${map.type}); a RINGBUF map is read with RingBuffer`,
      );
    }
    const pages = opts.pageCount ?? 64;
    if (!Number.isInteger(pages) || pages <= 0 || (pages & (pages - 1)) !== 0) {
      throw new BpfError(`A perf buffer's pageCount must be a power of 2, not ${pages}`);
    }
    this.#sys = getSys();
    this.#map = map;
    this.#set = new EpollSet(this.#sys, "PerfBuffer");
    const page = pageSize();
    try {
      for (const cpu of onlineCpus()) {
        if (cpu >= map.maxEntries) continue;
        this.#open(cpu, page, pages, opts);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  #open(cpu: number, page: number, pages: number, opts: PerfBufferOptions): void {
    const sys = this.#sys;
    const fd = perfEventOpen({
      type: Perf.PERF_TYPE_SOFTWARE,
      config: Perf.PERF_COUNT_SW_BPF_OUTPUT,
      sampleType: BigInt(Perf.PERF_SAMPLE_RAW),
      samplePeriod: 1,
      wakeupEvents: 1,
      pid: -1,
      cpu,
    });
    const len = page * (pages + 1);
    let addr = 0n;
    try {
      addr = sys.mmap(len, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd.value, 0);
      sys.ioctl(fd.value, Perf.PERF_EVENT_IOC_ENABLE, 0);
      const key = new Uint8Array(new Uint32Array([cpu]).buffer);
      mapUpdate(this.#map.fd, key, new Uint8Array(new Uint32Array([fd.value]).buffer));
      this.#set.add(fd.value, this.#rings.length);
    } catch (e) {
      if (addr !== 0n) sys.munmap(addr, len);
      fd.close();
      throw e;
    }
    const buf = sys.view(addr, len);
    const head = new BigUint64Array(buf, DATA_HEAD, 2);
    const data = new DataView(buf, page, page * pages);
    this.#rings.push({
      cpu,
      fd,
      addr,
      len,
      head,
      data,
      drain: freshCopy(perfDrainFactory)(cpu, head, data, page * pages, opts.sample, opts.lost),
    });
  }

  /** The epoll fd (`perf_buffer__epoll_fd`). */
  get epollFd(): number {
    return this.#set.fd;
  }

  /** The CPUs it reads, in ring order. */
  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#set.closed;
  }

  /**
   * Reads every ring without waiting (`perf_buffer__consume`).
   *
   * @returns how many samples went to `sample`, or its negative return.
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
   * Waits up to `timeoutMs` (-1: without end) and reads the rings that have records
   * (`perf_buffer__poll`). Blocks the thread while it waits: in an event-driven program use
   * {@linkcode PerfBuffer.wait}.
   *
   * @param timeoutMs how long to wait.
   * @returns how many samples went to `sample`.
   */
  poll(timeoutMs: number): number {
    return this.#set.poll(timeoutMs, this.#drainAt);
  }

  /**
   * Like {@linkcode PerfBuffer.poll}, without blocking the event loop; `close()` ends a pending
   * wait at once (it resolves with 0). One wait at a time.
   *
   * @param timeoutMs how long to wait (-1: until records come or `close()`).
   * @returns how many samples went to `sample`.
   */
  wait(timeoutMs = -1): Promise<number> {
    return this.#set.wait(timeoutMs, this.#drainAt);
  }

  /**
   * Disables the events, clears their map slots, unmaps the rings and closes the fds
   * (`perf_buffer__free`). A pending `wait()` ends at once. Safe to call twice.
   */
  close(): void {
    this.#set.close(() => {
      for (const r of this.#rings.splice(0)) {
        try {
          mapDelete(this.#map.fd, new Uint8Array(new Uint32Array([r.cpu]).buffer));
        } catch {
          // The map may be gone already.
        }
        try {
          this.#sys.munmap(r.addr, r.len);
        } catch {
          // Keep releasing the rest.
        }
        r.fd.close();
      }
    });
  }

  /** Same as {@linkcode PerfBuffer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The drain loop of one CPU's ring, as a factory that refers to nothing outside itself (compiled
 * afresh per ring by `freshCopy`, so each ring's callback call site is its own). Records run from
 * data_tail to data_head, each a perf_event_header (type u32, misc u16, size u16) at an 8-byte
 * aligned offset: a header never wraps (the ring is a multiple of 8 bytes), and it is read through
 * typed arrays. A sample (type 9: header, u32 raw size, raw bytes) that wraps around the ring's end
 * is copied to a scratch view first; a lost record (type 2) carries the count at byte 16. Inside a
 * batch every quantity is an int32 (a batch is at most 2^30 bytes), written as one; data_tail is
 * published once per batch.
 */
function perfDrainFactory(
  cpu: number,
  head: BigUint64Array,
  data: DataView,
  size: number,
  sample: PerfBufferOptions["sample"],
  lost: PerfBufferOptions["lost"],
): () => number {
  const mask = (size - 1) | 0;
  const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
  const halves = new Uint16Array(data.buffer, data.byteOffset, data.byteLength >>> 1);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let scratch = new DataView(new ArrayBuffer(256));
  const unwrap = (off: number, len: number): DataView => {
    if (scratch.byteLength < len) scratch = new DataView(new ArrayBuffer(len * 2));
    const s = new Uint8Array(scratch.buffer, 0, len);
    const first = size - off;
    s.set(bytes.subarray(off, size));
    s.set(bytes.subarray(0, len - first), first);
    return scratch;
  };
  return () => {
    const end = Number(head[0]); // data_head
    let tail = Number(head[1]); // data_tail
    let n = 0;
    while (tail < end) {
      const left = end - tail;
      const avail = (left > 0x40000000 ? 0x40000000 : left) | 0;
      let off = (tail % size) | 0;
      let done = 0;
      let bad = false;
      while (done < avail) {
        const type = words[off >>> 2] | 0;
        const len = halves[(off + 6) >>> 1] | 0;
        if (len > ((avail - done) | 0)) {
          bad = avail === left; // past the batch's cap: the next batch; past data_head: corrupt
          break;
        }
        if (len < 8 || (len & 7) !== 0) {
          bad = true; // corrupt: stop rather than loop
          break;
        }
        if (type === 9) { // PERF_RECORD_SAMPLE
          let view = data;
          let at = off;
          if (((off + len) | 0) > size) {
            view = unwrap(off, len);
            at = 0;
          }
          n = (n + 1) | 0;
          const rc = sample(cpu, view, (at + 12) | 0, view.getUint32((at + 8) | 0, true));
          if (typeof rc === "number" && rc < 0) {
            head[1] = BigInt(tail + done + len);
            return rc;
          }
        } else if (type === 2 && lost !== undefined) { // PERF_RECORD_LOST
          const view = ((off + len) | 0) > size ? unwrap(off, len) : data;
          lost(cpu, view.getBigUint64(view === data ? (off + 16) | 0 : 16, true));
        }
        done = (done + len) | 0;
        off = ((off + len) & mask) | 0;
      }
      tail += done;
      head[1] = BigInt(tail); // one publication per batch
      if (bad || done === 0) break;
    }
    return n;
  };
}
