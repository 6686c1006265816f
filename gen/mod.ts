/**
 * Code generation from BTF: {@linkcode btfToC} prints a BTF blob as a C header exactly as
 * `bpftool btf dump file FILE format c` does ({@linkcode btfToCBytes} gives the same as UTF-8
 * bytes), and {@linkcode CDumper} prints single declarations (`btf_dump__emit_type_decl`) for the
 * skeleton generator. The engine runs in the wasm core, for speed. {@linkcode tsTypes} prints the
 * TypeScript types of the values of `btf/codec.ts`.
 *
 * @module
 */
export * from "./c_dump.ts";
export * from "./ts_types.ts";
