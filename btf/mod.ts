/**
 * BTF for tsbpf: the {@linkcode Btf} reader, {@linkcode BtfExt} for `.BTF.ext`, the kinds and
 * decoded records, and {@linkcode dumpRaw}, which prints BTF exactly as `bpftool btf dump` does.
 *
 * @module
 */
export * from "./types.ts";
export * from "./btf.ts";
export * from "./ext.ts";
export * from "./raw_dump.ts";
export * from "./builder.ts";
export * from "./codec.ts";
