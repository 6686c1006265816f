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
  return makeSys("bun", arch, {
    ...libcCalls(s),
    errno: () => ffi.read.i32(Number(s.__errno_location()), 0),
    view: (addr, len) => ffi.toArrayBuffer(Number(addr), 0, len),
    ptrOf,
  });
}
