/**
 * {@linkcode Fd}: the owner of one kernel file descriptor, and the process-wide tracker of open
 * ones that tests use to find leaks (with the stack that made each fd, when tracing is on).
 *
 * @module
 */
import { getSys } from "./runtime.ts";

/** One open fd the tracker knows about. */
export interface TrackedFd {
  /** The fd number. */
  fd: number;
  /** What it is (`map`, `prog`, `link`...). */
  what: string;
  /** The stack that made it, when tracing was on; else "". */
  stack: string;
}

const open = new Map<number, TrackedFd>();
let tracing = false;

const backstop = new FinalizationRegistry<number>((fd) => {
  // An Fd was dropped without close(): close it so the number does not leak for good.
  open.delete(fd);
  try {
    getSys().close(fd);
  } catch {
    // Nothing to do: the process is probably shutting down.
  }
});

/**
 * Turns recording of the creating stack of every new {@linkcode Fd} on or off (off by default).
 *
 * @param on whether to record stacks.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openFds, traceFds } from "./fd.ts";
 * import { mapCreate } from "./bpf.ts";
 * traceFds(true);
 * try {
 *   using fd = mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 });
 *   assert.match(openFds().find((t) => t.fd === fd.value)!.stack, /mapCreate/);
 * } finally {
 *   traceFds(false);
 * }
 * ```
 */
export function traceFds(on: boolean): void {
  tracing = on;
}

/**
 * The fds owned by {@linkcode Fd} objects that are not closed yet.
 *
 * @returns one entry per open fd, oldest first.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openFds } from "./fd.ts";
 * import { mapCreate } from "./bpf.ts";
 * const fd = mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 });
 * assert(openFds().some((t) => t.fd === fd.value));
 * fd.close();
 * assert(!openFds().some((t) => t.fd === fd.value));
 * ```
 */
export function openFds(): TrackedFd[] {
  return [...open.values()];
}

/**
 * Owns a file descriptor. `close()` is safe to call twice; `[Symbol.dispose]` closes it; a
 * `FinalizationRegistry` closes fds that were dropped without `close()`, as a backstop only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapCreate } from "./bpf.ts";
 * const fd = mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 });
 * assert(fd.value > 2);
 * fd.close();
 * fd.close(); // safe: the second close does nothing
 * ```
 */
export class Fd {
  #fd: number;
  /** What the fd is, for leak reports. */
  readonly what: string;

  /**
   * Takes ownership of a raw fd.
   *
   * @param fd a non-negative fd number.
   * @param what what it is (`map`, `prog`...).
   */
  constructor(fd: number, what = "fd") {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Bad fd ${fd}`);
    this.#fd = fd;
    this.what = what;
    open.set(fd, { fd, what, stack: tracing ? (new Error().stack ?? "") : "" });
    backstop.register(this, fd, this);
  }

  /** The fd number. Throws once closed. */
  get value(): number {
    if (this.#fd < 0) throw new RangeError(`The ${this.what} fd is closed`);
    return this.#fd;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the fd. Safe to call twice. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    open.delete(fd);
    backstop.unregister(this);
    getSys().close(fd);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Shows the fd number and what it is. */
  toString(): string {
    return `Fd(${this.what} ${this.#fd})`;
  }
}

/** An fd argument: an {@linkcode Fd} or a raw number. */
export type FdLike = Fd | number;

/** The number of an {@linkcode FdLike}. */
export function fdOf(fd: FdLike): number {
  return typeof fd === "number" ? fd : fd.value;
}
