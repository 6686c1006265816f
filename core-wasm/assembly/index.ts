// The entry of the tsbpf core. It only re-exports; each file owns one format or one job.
export {
  err_arg,
  err_clear,
  err_code,
  err_msg_len,
  err_msg_ptr,
  err_offset,
  err_type_id,
  mem_alloc,
  mem_free,
  out_len,
  out_ptr,
} from "./rt";

/** Bumped when the host/core contract changes; the glue refuses a module of another version. */
export function core_abi(): i32 {
  return 1;
}
export { elf_free, elf_open, elf_open_native, elf_records } from "./elf";
export {
  btf_align_of,
  btf_find_all_by_name_kind,
  btf_find_by_name_kind,
  btf_free,
  btf_info,
  btf_parse,
  btf_parse_trusted,
  btf_resolve_size,
  btf_skip_mods,
} from "./btf";
export {
  btf_dump_all,
  btf_dump_decl,
  btf_dump_free,
  btf_dump_name_buf,
  btf_dump_new,
  btf_dump_set_max,
  btf_dump_type,
} from "./btf_dump";
export { btf_ext_free, btf_ext_info, btf_ext_parse } from "./btf_ext";
export { core_ctx_add_module, core_ctx_free, core_ctx_new, core_relo_apply } from "./core_relo";
export { reloc_run } from "./reloc";
