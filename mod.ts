/**
 * tsbpf: eBPF for TypeScript on Deno and Bun. Opens clang-built BPF objects, loads them into the
 * running kernel through libc FFI (no libbpf, no native addon), and reads and writes their maps
 * and global data, with libbpf 1.1's semantics.
 *
 * - {@linkcode open} reads an object file into a pure {@linkcode ObjectSpec} (no kernel needed).
 * - {@linkcode BpfObject} is the live object: `open()`, write global data, `load()`, `close()`.
 * - {@linkcode Btf} and {@linkcode BtfExt} read BTF; {@linkcode btfToC} prints it as C.
 * - `link/`'s attach functions, re-exported here, attach programs; each returns a {@linkcode BpfLink}.
 * - {@linkcode getSys} is the one syscall entry point; {@linkcode setSys} with {@linkcode withFaults}
 *   makes chosen calls fail, to test a program's error paths without a broken kernel.
 *
 * `bundle/tsbpf.js` (built by `npm run build:bundle`, and by setup) is this module and everything
 * it imports as one file, with the same exports and types: a program that starts, loads and exits
 * imports it in about a quarter of the time (one module instead of about sixty).
 *
 * Live features need root (or CAP_BPF) and Deno (`-A`: FFI, and reads under /sys) or Bun.
 *
 * @example
 * ```ts ignore
 * import { BpfObject } from "./mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * const tag = obj.program("xdp_pass").info().tag;
 * console.assert(/^[0-9a-f]{16}$/.test(tag));
 * ```
 *
 * @example
 * ```ts
 * import { open } from "./mod.ts";
 * const spec = open("tests/bpf/build/maps.bpf.o");
 * console.assert(spec.maps.some((m) => m.name === "ringbuf_map"));
 * spec.btf?.close();
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export { open, type OpenOptions } from "./spec/open.ts";
export type {
  DataSecSpec,
  ExternSpec,
  MapSpec,
  ObjectSpec,
  ProgramSpec,
  VarSpec,
} from "./spec/types.ts";
export { Btf } from "./btf/btf.ts";
export { BtfExt } from "./btf/ext.ts";
export {
  type Codec,
  codecByName,
  type CodecField,
  codecFor,
  codecKey,
  type CodecShape,
  codecShape,
  type TypedArrayName,
} from "./btf/codec.ts";
export { btfToC, btfToCBytes, CDumper, writeBtfAsC } from "./gen/c_dump.ts";
export {
  BpfObject,
  type ObjectLoadOptions,
  type ObjectOpenOptions,
  type PrintFn,
  type PrintLevel,
  setPrint,
} from "./live/object.ts";
export { BpfMap, lpmKey, MapBatchCursor, type MapBatchOpts, numPossibleCpus } from "./live/map.ts";
export { TypedMap } from "./live/typed_map.ts";
export type { MapInfo } from "./ffi/bpf.ts";
export * from "./constants.ts";
export { getSys, setSys } from "./ffi/runtime.ts";
export { type FaultHooks, type Sys, withFaults } from "./ffi/sys.ts";
export { BpfProgram } from "./live/program.ts";
export * from "./link/mod.ts";
