/**
 * The epoll set that RingBuffer and PerfBuffer share: their ring fds plus an eventfd that wakes a
 * pending wait, blocking (`poll`) and event-loop-friendly (`wait`) waiting, and a close that ends a
 * pending wait at once. Closing an epoll fd does not end a wait on it, so `close()` writes the
 * eventfd and the fds are released when the waiting thread has returned.
 *
 * @module
 */
import { BpfError, type SyscallError } from "../errors.ts";
import { decodeEpollEvents, epollEventSize, type Sys } from "../ffi/sys.ts";

const EPOLL_CTL_ADD = 1;
const EPOLLIN = 1;
const EPOLL_CLOEXEC = 0x80000;
const EFD_CLOEXEC = 0x80000;
const EFD_NONBLOCK = 0x800;
const WAKE = 0xffffffffn;

/** Whether a failed call was interrupted by a signal (EINTR): wait again, as libbpf's users do. */
function interrupted(e: unknown): boolean {
  return (e as SyscallError | undefined)?.code === "EINTR";
}

/** When a wait of `timeoutMs` ends (Infinity for a negative timeout: no end). */
function deadline(timeoutMs: number): number {
  return timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
}

/** The milliseconds left until `end`, as epoll_wait takes them (-1: no end). */
function left(end: number): number {
  return end === Infinity ? -1 : Math.max(0, Math.ceil(end - Date.now()));
}

/** Drains the ring at `index` (the order rings were added); a negative result stops the round. */
export type DrainFn = (index: number) => number;

/** An epoll set over rings, with a wake-up eventfd; see the module doc. */
export class EpollSet {
  readonly #sys: Sys;
  readonly #what: string;
  #epfd = -1;
  #wake = -1;
  #count = 0;
  #closed = false;
  #waiting: Promise<number> | undefined;
  #release: (() => void) | undefined;

  /**
   * Makes the epoll set and its eventfd.
   *
   * @param sys the syscall entry point.
   * @param what the owner's class name, for messages (`RingBuffer`).
   * @throws {SyscallError} epoll_create1 or eventfd failed (nothing is left open).
   */
  constructor(sys: Sys, what: string) {
    this.#sys = sys;
    this.#what = what;
    try {
      this.#epfd = sys.epollCreate(EPOLL_CLOEXEC);
      this.#wake = sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      sys.epollCtl(this.#epfd, EPOLL_CTL_ADD, this.#wake, EPOLLIN, WAKE);
    } catch (e) {
      this.#closeFds();
      throw e;
    }
  }

  /** The epoll fd. */
  get fd(): number {
    this.check();
    return this.#epfd;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a ring's fd; its events carry `index`. */
  add(fd: number, index: number): void {
    this.#sys.epollCtl(this.#epfd, EPOLL_CTL_ADD, fd, EPOLLIN, BigInt(index));
    this.#count++;
  }

  /** Throws the owner's "closed" error once `close()` has run. */
  check(): void {
    if (this.#closed) throw new BpfError(`This ${this.#what} is closed`);
  }

  #events(): Uint8Array {
    return new Uint8Array(epollEventSize(this.#sys.arch) * (this.#count + 1));
  }

  /**
   * Waits up to `timeoutMs` in epoll_wait on this thread and drains the rings that have events. A
   * wait a signal interrupts (EINTR) is made again for the time left.
   */
  poll(timeoutMs: number, drain: DrainFn): number {
    this.check();
    const ev = this.#events();
    const end = deadline(timeoutMs);
    for (let t = timeoutMs;; t = left(end)) {
      try {
        return this.#drainReady(ev, this.#sys.epollWait(this.#epfd, ev, t), drain);
      } catch (e) {
        if (!interrupted(e)) throw e;
      }
    }
  }

  /**
   * Like `poll`, waiting off the JavaScript thread (EINTR is waited again too); resolves with 0
   * when `close()` ends it.
   */
  async wait(timeoutMs: number, drain: DrainFn): Promise<number> {
    this.check();
    if (this.#waiting !== undefined) {
      throw new BpfError(`A wait() on this ${this.#what} is pending already; await it first`);
    }
    const ev = this.#events();
    const end = deadline(timeoutMs);
    let n: number;
    for (let t = timeoutMs;; t = left(end)) {
      const pending = this.#sys.epollWaitAsync(this.#epfd, ev, t);
      this.#waiting = pending;
      try {
        n = await pending;
        break;
      } catch (e) {
        if (this.#closed || !interrupted(e)) throw e;
      } finally {
        this.#waiting = undefined;
        if (this.#closed) this.#finish();
      }
    }
    return this.#closed ? 0 : this.#drainReady(ev, n, drain);
  }

  #drainReady(ev: Uint8Array, n: number, drain: DrainFn): number {
    let total = 0;
    for (const { data } of decodeEpollEvents(this.#sys.arch, ev, n)) {
      if (data === WAKE) {
        try {
          this.#sys.read(this.#wake, new Uint8Array(8)); // reset the eventfd
        } catch {
          // Already read.
        }
        continue;
      }
      const got = drain(Number(data));
      if (got < 0) return got;
      total += got;
    }
    return total;
  }

  /**
   * Ends a pending wait without closing: it resolves with the records it drained (none, unless
   * some came at the same time). Does nothing when no wait is pending.
   */
  wake(): void {
    if (this.#waiting === undefined || this.#closed) return;
    try {
      this.#sys.write(this.#wake, new Uint8Array(new BigUint64Array([1n]).buffer));
    } catch {
      // The eventfd is full of wake-ups already: the wait ends anyway.
    }
  }

  /**
   * Closes: `release` (the owner's rings) runs now, or, while a wait is pending, once the waiting
   * thread has been woken and returned; then the epoll fd and the eventfd close. Safe twice.
   */
  close(release: () => void): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release = release;
    if (this.#waiting !== undefined) {
      try {
        this.#sys.write(this.#wake, new Uint8Array(new BigUint64Array([1n]).buffer));
        return;
      } catch {
        // Cannot wake it: release now.
      }
    }
    this.#finish();
  }

  #finish(): void {
    const release = this.#release;
    this.#release = undefined;
    try {
      release?.();
    } finally {
      this.#closeFds();
    }
  }

  #closeFds(): void {
    for (const fd of [this.#epfd, this.#wake]) {
      if (fd < 0) continue;
      try {
        this.#sys.close(fd);
      } catch {
        // Keep closing the other.
      }
    }
    this.#epfd = -1;
    this.#wake = -1;
  }
}
