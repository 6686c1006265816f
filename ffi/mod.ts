/**
 * The operating-system layer of tsbpf, the only code that makes syscalls: the {@linkcode Sys}
 * entry point (`getSys()`), the Deno and Bun adapters over libc, `bpf_attr` layouts and builders,
 * UAPI constants, errno names, fd ownership and one typed wrapper per bpf() command.
 *
 * Lifecycle: every function that makes an fd returns an {@linkcode Fd}; the caller closes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfMapType, mapCreate, mapLookup, mapUpdate } from "./mod.ts";
 * using map = mapCreate({ type: BpfMapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
 * mapUpdate(map, new Uint8Array(4), new Uint8Array([1, 0, 0, 0]));
 * const value = new Uint8Array(4);
 * assert(mapLookup(map, new Uint8Array(4), value) && value[0] === 1);
 * ```
 *
 * @module
 */
export * from "./bpf.ts";
export * from "./bpf_attr.ts";
export * from "./bpffs.ts";
export * from "./constants.ts";
export * from "./errno.ts";
export * from "./fd.ts";
export { getSys, runtimeName, setSys } from "./runtime.ts";
export * from "./symbols.ts";
export * from "./sys.ts";
