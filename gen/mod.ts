/**
 * Code generation from BTF: {@linkcode btfToC} prints a BTF blob as a C header exactly as
 * `bpftool btf dump file FILE format c` does, and {@linkcode CDumper} prints single declarations
 * (`btf_dump__emit_type_decl`) for the skeleton generator.
 *
 * @module
 */
export * from "./c_dump.ts";
