/**
 * The Bun adapter: opens libc with `bun:ffi`'s `dlopen` and implements {@linkcode Sys} over it.
 * Loaded only on Bun, by `runtime.ts`. `bun:ffi` is reached through `process.getBuiltinModule`,
 * which works in ES and CommonJS modules alike (the Bun bundle is CommonJS, so that Bun can cache
 * its bytecode) and which no bundler rewrites (a literal `require` makes deno bundle import
 * `node:module`, and with it Deno's Node compatibility layer, at start-up), and Deno's type checker
 * never has to resolve it.
 *
 * @module
 */
import { type Bound, lazySymbols, libcCalls, makeSys } from "./_common.ts";
import { bunSymbols } from "./symbols.ts";
import type { Sys } from "./sys.ts";

/** The few parts of `bun:ffi` this adapter uses. */
interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...a: unknown[]) => unknown> };
  ptr(view: ArrayBufferView): number;
  toArrayBuffer(ptr: number, byteOffset: number, byteLength: number): ArrayBuffer;
  read: { i32(ptr: number, offset: number): number };
}

// The code of a waiter thread: it blocks in epoll_wait (its own binding of libc), retries when a
// signal interrupts it, and posts back the count (or -errno) and the events it got.
const WAITER_SOURCE = `
const { dlopen, ptr, read } = process.getBuiltinModule("bun:ffi");
const libc = dlopen("libc.so.6", {
  epoll_wait: { args: ["i32", "ptr", "i32", "i32"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
});
self.onmessage = (m) => {
  const { epfd, max, timeout, size } = m.data;
  const buf = new Uint8Array(Math.max(1, max * size));
  let n;
  for (;;) {
    n = libc.symbols.epoll_wait(epfd, ptr(buf), max, timeout);
    if (n >= 0) break;
    const errno = read.i32(libc.symbols.__errno_location(), 0);
    if (errno !== 4) { n = -errno; break; } // EINTR: wait again
  }
  postMessage({ n, buf });
};
`;

interface Waiter {
  worker: Worker & { ref?(): void; unref?(): void };
  done?: (r: { n: number; buf: Uint8Array }) => void;
}

/**
 * epoll_wait off the JavaScript thread on Bun: each pending wait blocks in a worker thread of its
 * own (taken from a pool), so timers and I/O go on and the wait ends when the epoll fd has events,
 * not on a timer. Idle workers stay for the next wait (a worker takes ~3 ms to start; its event
 * loop holds an epoll fd and an eventfd) and do not hold the process open.
 */
function epollWaiters(
  eventSize: number,
): (epfd: number, ev: Uint8Array, max: number, timeout: number) => Promise<number> {
  const idle: Waiter[] = [];
  let url: string | undefined;
  const make = (): Waiter => {
    url ??= URL.createObjectURL(new Blob([WAITER_SOURCE], { type: "text/javascript" }));
    const w: Waiter = { worker: new Worker(url) };
    w.worker.onmessage = (m: MessageEvent) => {
      const done = w.done;
      w.done = undefined;
      w.worker.unref?.();
      idle.push(w);
      done?.(m.data);
    };
    return w;
  };
  return (epfd, ev, max, timeout) =>
    new Promise<number>((resolve) => {
      const w = idle.pop() ?? make();
      w.worker.ref?.();
      w.done = ({ n, buf }) => {
        if (n > 0) ev.set(buf.subarray(0, Math.min(ev.length, n * eventSize)));
        resolve(n < 0 ? -1 : n);
      };
      w.worker.postMessage({ epfd, max, timeout, size: eventSize });
    });
}

/**
 * Opens libc and returns the Bun implementation of {@linkcode Sys}. Binds the `open` group of the
 * symbol table now and the rest on first use.
 *
 * @returns the entry point.
 */
export function bunSys(): Sys {
  const proc = (globalThis as unknown as {
    process: { arch: string; getBuiltinModule(id: string): unknown };
  }).process;
  const ffi = proc.getBuiltinModule("bun:ffi") as BunFfi;
  const bind = (t: ReturnType<typeof bunSymbols>) =>
    ffi.dlopen("libc.so.6", t).symbols as unknown as Bound;
  const more = bunSymbols("more");
  const s = lazySymbols(bind(bunSymbols("open")), Object.keys(more), () => bind(more));
  const arch = proc.arch === "arm64" ? "aarch64" : "x86_64";
  const ptrOf = (buf: Uint8Array): bigint => {
    // Reading `.buffer` first moves a small typed array's bytes out of the GC heap for good;
    // an address taken before that move would go stale when something later reads `.buffer`.
    void buf.buffer;
    return BigInt(ffi.ptr(buf));
  };
  // errno's address is fixed for the thread's life, and these calls all run on this thread (a
  // Worker loads its own copy of this module): taken once, here, so that reading it after a
  // failed call is one load with no call in between that could set errno again.
  const errnoAt = Number(s.__errno_location());
  return makeSys("bun", arch, {
    ...libcCalls(s),
    epoll_wait_async: epollWaiters(arch === "x86_64" ? 12 : 16),
    errno: () => ffi.read.i32(errnoAt, 0),
    view: (addr, len) => ffi.toArrayBuffer(Number(addr), 0, len),
    ptrOf,
  });
}
