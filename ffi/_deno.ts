/**
 * The Deno adapter: opens libc with `Deno.dlopen` and implements {@linkcode Sys} over it.
 * Loaded only on Deno, by `runtime.ts`.
 *
 * @module
 */
import { type Bound, lazySymbols, libcCalls, makeSys } from "./_common.ts";
import { denoSymbols } from "./symbols.ts";
import type { Sys } from "./sys.ts";

/**
 * Opens libc and returns the Deno implementation of {@linkcode Sys}. Binds the `open` group of the
 * symbol table now and the rest on first use (each bound symbol costs Deno about 0.1 ms).
 *
 * @returns the entry point.
 * @throws whatever `Deno.dlopen` throws (`NotCapable` without `--allow-ffi`).
 */
export function denoSys(): Sys {
  // deno-lint-ignore no-explicit-any
  const bind = (t: any) => Deno.dlopen("libc.so.6", t).symbols as unknown as Bound;
  const more = denoSymbols("more");
  const s = lazySymbols(bind(denoSymbols("open")), Object.keys(more), () => bind(more));
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  const pointer = (addr: bigint) => Deno.UnsafePointer.create(addr);
  const ptrOf = (buf: Uint8Array): bigint => {
    // Reading `.buffer` first moves a small (on-heap) typed array's bytes off the V8 heap for
    // good, so the address stays valid while the array lives.
    void buf.buffer;
    return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
  };
  // errno's address is fixed for the thread's life, and synchronous FFI calls all run on this
  // thread (a Worker loads its own copy of this module): taken once, here. Reading it after a
  // failed call is then one load, with no call in between that could set errno again (asking for
  // the address after each failure once read a stale EAGAIN for a missing key's ENOENT).
  const errnoLoc = pointer(BigInt(s.__errno_location()));
  if (errnoLoc === null) throw new Error("libc's __errno_location() returned NULL");
  const errnoView = new Deno.UnsafePointerView(errnoLoc);
  return makeSys("deno", arch, {
    ...libcCalls(s),
    syscall_int: (n, a1, a2, a3) => s.syscall_int(n, a1, a2, a3),
    epoll_wait_async: (epfd, ev, max, timeout) => s.epoll_wait_nonblocking(epfd, ev, max, timeout),
    errno: () => errnoView.getInt32(),
    view: (addr, len) => {
      const p = pointer(addr);
      if (p === null) throw new RangeError("Cannot view address 0");
      return Deno.UnsafePointerView.getArrayBuffer(p, len);
    },
    ptrOf,
  });
}
