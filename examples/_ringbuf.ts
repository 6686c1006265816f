/**
 * A minimal BPF ring buffer consumer for the examples, until the library has its own: it maps one
 * `BPF_MAP_TYPE_RINGBUF` map as libbpf's `ring_buffer` does (the consumer page read-write, the
 * producer page and the data area, mapped twice by the kernel, read-only), waits on it with epoll
 * and hands each committed record to a callback as a view into the ring (no copy; valid only during
 * the callback). The consumer position is committed once per batch.
 *
 * The producer page and the data area are read-only, so they are read with plain loads, never
 * `Atomics` (JavaScriptCore may implement an atomic 64-bit load with a locked read-modify-write,
 * which faults on a read-only page: Bun crashed so). That is sound on x86-64, which keeps loads in
 * order (the producer position, then the header, then the record, each published by the kernel with a
 * release store); a weakly ordered CPU (arm64) needs acquire loads, which the library's own ring
 * buffer should provide. Positions are read as two 32-bit halves until stable.
 *
 * The names follow libbpf (`add`, `poll`, `consume`) so that the examples can switch to the
 * library's `RingBuffer` without other changes.
 *
 * @module
 */
import { BpfError, type BpfMap, getSys, type Sys } from "../mod.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 1;
const BPF_MAP_TYPE_RINGBUF = 27;
/** Record header flags (`BPF_RINGBUF_BUSY_BIT`, `BPF_RINGBUF_DISCARD_BIT`) and size. */
const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR_SIZE = 8;

/** Called with each record: a view of its bytes inside the ring, valid during the call only. */
export type RingCallback = (record: DataView) => void;

interface Ring {
  map: string;
  cb: RingCallback;
  consumerAddr: bigint;
  producerAddr: bigint;
  producerLen: number;
  /** `[0]`: consumer position (read-write). */
  consumer: BigUint64Array;
  /** `[0]`, `[1]`: the producer position's low and high halves (read-only). */
  producer: Uint32Array;
  /** The data area, `2 * size` bytes (the kernel maps it twice, back to back). */
  data: ArrayBuffer;
  /** Record headers (read-only). */
  headers: Uint32Array;
  mask: number;
}

/** Reads a 64-bit position from two 32-bit halves, again if the high half moved meanwhile. */
function producerPos(p: Uint32Array): number {
  for (;;) {
    const hi = p[1];
    const lo = p[0];
    if (p[1] === hi) return hi * 2 ** 32 + lo;
  }
}

/**
 * Consumes records from ring buffer maps. Close it (or `using`) before the maps' object.
 *
 * @example
 * ```ts ignore
 * using rb = new RingReader();
 * rb.add(obj.map("events"), (rec) => console.log(rec.getUint32(0, true)));
 * while (running) await rb.poll(100);
 * ```
 */
export class RingReader {
  #sys: Sys;
  #rings: Ring[] = [];
  #epfd = -1;
  #events = new Uint8Array(16 * 8);
  #page: number;

  constructor() {
    this.#sys = getSys();
    this.#page = this.#sys.sysconf(30 /* _SC_PAGESIZE */);
  }

  /**
   * Maps a ring buffer map and registers its callback.
   *
   * @throws {BpfError} when the map is not a ring buffer; {SyscallError} when mapping it fails.
   */
  add(map: BpfMap, cb: RingCallback): void {
    if (map.type !== BPF_MAP_TYPE_RINGBUF) {
      throw new BpfError(
        `Map '${map.name}' is not a ring buffer (type ${map.type}); pass a BPF_MAP_TYPE_RINGBUF map`,
      );
    }
    const sys = this.#sys;
    const size = map.maxEntries;
    if (this.#epfd < 0) this.#epfd = sys.epollCreate(EPOLL_CLOEXEC);
    const consumerAddr = sys.mmap(this.#page, PROT_READ | PROT_WRITE, MAP_SHARED, map.fd, 0);
    const producerLen = this.#page + 2 * size;
    let producerAddr: bigint;
    try {
      producerAddr = sys.mmap(producerLen, PROT_READ, MAP_SHARED, map.fd, this.#page);
    } catch (e) {
      sys.munmap(consumerAddr, this.#page);
      throw e;
    }
    try {
      sys.epollCtl(this.#epfd, EPOLL_CTL_ADD, map.fd, EPOLLIN, BigInt(this.#rings.length));
    } catch (e) {
      sys.munmap(consumerAddr, this.#page);
      sys.munmap(producerAddr, producerLen);
      throw e;
    }
    const data = sys.view(producerAddr + BigInt(this.#page), 2 * size);
    this.#rings.push({
      map: map.name,
      cb,
      consumerAddr,
      producerAddr,
      producerLen,
      consumer: new BigUint64Array(sys.view(consumerAddr, 8)),
      producer: new Uint32Array(sys.view(producerAddr, 8)),
      data,
      headers: new Uint32Array(data),
      mask: size - 1,
    });
  }

  /** Handles every committed record of every ring; returns how many records it handed out. */
  consume(): number {
    let n = 0;
    for (const r of this.#rings) n += this.#consumeRing(r);
    return n;
  }

  #consumeRing(r: Ring): number {
    let cons = Number(Atomics.load(r.consumer, 0));
    let n = 0;
    try {
      for (;;) {
        const prod = producerPos(r.producer);
        if (cons >= prod) break;
        while (cons < prod) {
          const off = cons & r.mask;
          const len = r.headers[off >> 2];
          if ((len & BUSY) !== 0) return n; // not committed yet
          const size = len & ~(BUSY | DISCARD);
          cons += (size + HDR_SIZE + 7) & ~7;
          if ((len & DISCARD) === 0) {
            r.cb(new DataView(r.data, off + HDR_SIZE, size));
            n++;
          }
        }
        Atomics.store(r.consumer, 0, BigInt(cons));
      }
      return n;
    } finally {
      Atomics.store(r.consumer, 0, BigInt(cons));
    }
  }

  /**
   * Waits up to `timeoutMs` for records (without blocking the JavaScript thread), then handles
   * every committed one. Returns how many it handed out.
   */
  async poll(timeoutMs: number): Promise<number> {
    if (this.#rings.length === 0) return 0;
    const ready = this.consume();
    if (ready > 0) return ready;
    await this.#sys.epollWaitAsync(this.#epfd, this.#events, timeoutMs);
    return this.consume();
  }

  /** Unmaps every ring and closes the epoll fd; safe to call twice. */
  close(): void {
    for (const r of this.#rings) {
      this.#sys.munmap(r.consumerAddr, this.#page);
      this.#sys.munmap(r.producerAddr, r.producerLen);
    }
    this.#rings = [];
    if (this.#epfd >= 0) this.#sys.close(this.#epfd);
    this.#epfd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
