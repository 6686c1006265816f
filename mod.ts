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
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject } from "./mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * const tag = obj.program("xdp_pass").info().tag;
 * assert.match(tag, /^[0-9a-f]{16}$/);
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { open } from "./mod.ts";
 * const spec = open("tests/bpf/build/maps.bpf.o");
 * assert(spec.maps.some((m) => m.name === "ringbuf_map"));
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
  RelocKind,
  RelocSpec,
  SectionDef,
  StructOpsSpec,
  VarSpec,
} from "./spec/types.ts";
export type {
  ElfFile,
  ElfRel,
  ElfRelSection,
  ElfSection,
  ElfSegment,
  ElfSymbol,
} from "./spec/elf.ts";
export { Btf, type BtfHeader, type BtfOptions } from "./btf/btf.ts";
export * from "./btf/types.ts";
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
export { type BtfCoreRelo, BtfExt, type BtfFuncInfo, type BtfLineInfo } from "./btf/ext.ts";
export {
  type BtfBlobSource,
  btfToC,
  btfToCBytes,
  CDumper,
  type CDumpOptions,
  type EmitTypeDeclOptions,
  writeBtfAsC,
} from "./gen/c_dump.ts";
export { genSkeleton, type GenSkeletonOptions } from "./gen/skeleton.ts";
export {
  arrayElem,
  type ArrayView,
  arrayView,
  cstrElem,
  E,
  type Elem,
  fromBase64,
  getBits,
  getBitsBig,
  getCstr,
  getInt128,
  type ReadonlyArrayView,
  type ScalarElems,
  setBits,
  setCstr,
  setInt128,
  SkelBytes,
  SkelData,
  Skeleton,
  type SkeletonDescriptor,
  type SkeletonOpenOptions,
  type SkeletonVar,
  type SkelMemory,
  viewElem,
} from "./live/skeleton.ts";
export {
  BpfObject,
  type ObjectLoadOptions,
  type ObjectOpenOptions,
  type ObjectState,
  type PrintFn,
  type PrintLevel,
  setPrint,
} from "./live/object.ts";
export { BpfMap, lpmKey, MapBatchCursor, type MapBatchOpts, numPossibleCpus } from "./live/map.ts";
export { TypedMap } from "./live/typed_map.ts";
export {
  type RecordDecoder,
  RingBuffer,
  type RingCallback,
  type RingMapRef,
  type UserRecord,
  UserRingBuffer,
} from "./live/ringbuf.ts";
export { PerfBuffer, type PerfBufferOptions } from "./live/perfbuf.ts";
export type { MapInfo } from "./ffi/bpf.ts";
export * from "./constants.ts";
export {
  BpfAttachType,
  BpfLinkType,
  BpfMapFlags,
  BpfMapType,
  BpfProgType,
} from "./ffi/constants.ts";
export { getSys, setSys } from "./ffi/runtime.ts";
export { type FaultHooks, type Sys, type Uname, withFaults } from "./ffi/sys.ts";
export type { Arch } from "./ffi/symbols.ts";
export { Fd, type FdLike } from "./ffi/fd.ts";
export type { LinkInfo, ProgInfo, TestRunOptions, TestRunResult } from "./ffi/bpf.ts";
export { Attr, type Field, type Layout, LINK_INFO } from "./ffi/bpf_attr.ts";
export { BpfProgram } from "./live/program.ts";
export * from "./link/mod.ts";
