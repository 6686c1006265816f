/**
 * Named layouts of the kernel structures tsbpf passes to bpf() and perf_event_open():
 * each command's part of `union bpf_attr`, the `bpf_*_info` structs and `perf_event_attr`.
 *
 * Every offset was taken from the running kernel's BTF (`/sys/kernel/btf/vmlinux`, Linux 6.18),
 * and `tests/bpf_attr_layout_test.ts` checks each one against that BTF again. A layout's `size` is
 * what tsbpf passes to the kernel: the end of the last field it names, rounded up to 8. Buffers
 * start zero-filled, so every field not set is zero, as the kernel requires.
 *
 * @module
 */

/** One field: byte offset and width in bytes. */
export interface Field {
  /** Byte offset from the start of the structure. */
  readonly off: number;
  /** Width in bytes (4 or 8 for integers, the array length for `char[N]`). */
  readonly size: number;
}

/** A structure layout: where it lives in the kernel's BTF, the size tsbpf passes, its fields. */
export interface Layout<F extends Record<string, Field> = Record<string, Field>> {
  /** The BTF struct or union it comes from (`bpf_attr`, `bpf_prog_info`...). */
  readonly btfRoot: string;
  /** The named member of `btfRoot` it lives in (`link_create`), or "" for an anonymous one. */
  readonly btfMember: string;
  /** The number of bytes tsbpf passes to the kernel. */
  readonly size: number;
  /** The fields, by name; dotted names reach into named inner structs (`perf_event.bpf_cookie`). */
  readonly fields: F;
}

function f(off: number, size: number): Field {
  return { off, size };
}

function layout<F extends Record<string, Field>>(
  btfRoot: string,
  btfMember: string,
  size: number,
  fields: F,
): Layout<F> {
  return { btfRoot, btfMember, size, fields };
}

/** Layout of BPF_MAP_CREATE (the first anonymous struct of `union bpf_attr`). */
export const MAP_CREATE = layout("bpf_attr", "", 80, {
  map_type: f(0, 4),
  key_size: f(4, 4),
  value_size: f(8, 4),
  max_entries: f(12, 4),
  map_flags: f(16, 4),
  inner_map_fd: f(20, 4),
  numa_node: f(24, 4),
  map_name: f(28, 16),
  map_ifindex: f(44, 4),
  btf_fd: f(48, 4),
  btf_key_type_id: f(52, 4),
  btf_value_type_id: f(56, 4),
  btf_vmlinux_value_type_id: f(60, 4),
  map_extra: f(64, 8),
  value_type_btf_obj_fd: f(72, 4),
  map_token_fd: f(76, 4),
});

/** Layout of BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_AND_DELETE_ELEM and BPF_MAP_FREEZE. */
export const MAP_ELEM = layout("bpf_attr", "", 32, {
  map_fd: f(0, 4),
  key: f(8, 8),
  value: f(16, 8),
  next_key: f(16, 8),
  flags: f(24, 8),
});

/** Layout of the BPF_MAP_*_BATCH commands (`bpf_attr.batch`). */
export const MAP_BATCH = layout("bpf_attr", "batch", 56, {
  in_batch: f(0, 8),
  out_batch: f(8, 8),
  keys: f(16, 8),
  values: f(24, 8),
  count: f(32, 4),
  map_fd: f(36, 4),
  elem_flags: f(40, 8),
  flags: f(48, 8),
});

/** Layout of BPF_PROG_LOAD. */
export const PROG_LOAD = layout("bpf_attr", "", 152, {
  prog_type: f(0, 4),
  insn_cnt: f(4, 4),
  insns: f(8, 8),
  license: f(16, 8),
  log_level: f(24, 4),
  log_size: f(28, 4),
  log_buf: f(32, 8),
  kern_version: f(40, 4),
  prog_flags: f(44, 4),
  prog_name: f(48, 16),
  prog_ifindex: f(64, 4),
  expected_attach_type: f(68, 4),
  prog_btf_fd: f(72, 4),
  func_info_rec_size: f(76, 4),
  func_info: f(80, 8),
  func_info_cnt: f(88, 4),
  line_info_rec_size: f(92, 4),
  line_info: f(96, 8),
  line_info_cnt: f(104, 4),
  attach_btf_id: f(108, 4),
  attach_prog_fd: f(112, 4),
  attach_btf_obj_fd: f(112, 4),
  core_relo_cnt: f(116, 4),
  fd_array: f(120, 8),
  core_relos: f(128, 8),
  core_relo_rec_size: f(136, 4),
  log_true_size: f(140, 4),
  prog_token_fd: f(144, 4),
  fd_array_cnt: f(148, 4),
});

/** Layout of BPF_OBJ_PIN and BPF_OBJ_GET. */
export const OBJ = layout("bpf_attr", "", 24, {
  pathname: f(0, 8),
  bpf_fd: f(8, 4),
  file_flags: f(12, 4),
  path_fd: f(16, 4),
});

/** Layout of BPF_PROG_ATTACH and BPF_PROG_DETACH. */
export const PROG_ATTACH = layout("bpf_attr", "", 32, {
  target_fd: f(0, 4),
  target_ifindex: f(0, 4),
  attach_bpf_fd: f(4, 4),
  attach_type: f(8, 4),
  attach_flags: f(12, 4),
  replace_bpf_fd: f(16, 4),
  relative_fd: f(20, 4),
  relative_id: f(20, 4),
  expected_revision: f(24, 8),
});

/** Layout of BPF_PROG_TEST_RUN (`bpf_attr.test`). */
export const TEST_RUN = layout("bpf_attr", "test", 80, {
  prog_fd: f(0, 4),
  retval: f(4, 4),
  data_size_in: f(8, 4),
  data_size_out: f(12, 4),
  data_in: f(16, 8),
  data_out: f(24, 8),
  repeat: f(32, 4),
  duration: f(36, 4),
  ctx_size_in: f(40, 4),
  ctx_size_out: f(44, 4),
  ctx_in: f(48, 8),
  ctx_out: f(56, 8),
  flags: f(64, 4),
  cpu: f(68, 4),
  batch_size: f(72, 4),
});

/** Layout of BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID. */
export const GET_ID = layout("bpf_attr", "", 16, {
  start_id: f(0, 4),
  prog_id: f(0, 4),
  map_id: f(0, 4),
  btf_id: f(0, 4),
  link_id: f(0, 4),
  next_id: f(4, 4),
  open_flags: f(8, 4),
});

/** Layout of BPF_OBJ_GET_INFO_BY_FD (`bpf_attr.info`). */
export const INFO = layout("bpf_attr", "info", 16, {
  bpf_fd: f(0, 4),
  info_len: f(4, 4),
  info: f(8, 8),
});

/** Layout of BPF_PROG_QUERY (`bpf_attr.query`). */
export const QUERY = layout("bpf_attr", "query", 64, {
  target_fd: f(0, 4),
  target_ifindex: f(0, 4),
  attach_type: f(4, 4),
  query_flags: f(8, 4),
  attach_flags: f(12, 4),
  prog_ids: f(16, 8),
  prog_cnt: f(24, 4),
  count: f(24, 4),
  prog_attach_flags: f(32, 8),
  link_ids: f(40, 8),
  link_attach_flags: f(48, 8),
  revision: f(56, 8),
});

/** Layout of BPF_RAW_TRACEPOINT_OPEN (`bpf_attr.raw_tracepoint`). */
export const RAW_TRACEPOINT = layout("bpf_attr", "raw_tracepoint", 24, {
  name: f(0, 8),
  prog_fd: f(8, 4),
  cookie: f(16, 8),
});

/** Layout of BPF_BTF_LOAD. */
export const BTF_LOAD = layout("bpf_attr", "", 40, {
  btf: f(0, 8),
  btf_log_buf: f(8, 8),
  btf_size: f(16, 4),
  btf_log_size: f(20, 4),
  btf_log_level: f(24, 4),
  btf_log_true_size: f(28, 4),
  btf_flags: f(32, 4),
  btf_token_fd: f(36, 4),
});

/** Layout of BPF_LINK_CREATE (`bpf_attr.link_create`, with its per-type unions as dotted names). */
export const LINK_CREATE = layout("bpf_attr", "link_create", 64, {
  prog_fd: f(0, 4),
  map_fd: f(0, 4),
  target_fd: f(4, 4),
  target_ifindex: f(4, 4),
  attach_type: f(8, 4),
  flags: f(12, 4),
  target_btf_id: f(16, 4),
  iter_info: f(16, 8),
  iter_info_len: f(24, 4),
  "perf_event.bpf_cookie": f(16, 8),
  "kprobe_multi.flags": f(16, 4),
  "kprobe_multi.cnt": f(20, 4),
  "kprobe_multi.syms": f(24, 8),
  "kprobe_multi.addrs": f(32, 8),
  "kprobe_multi.cookies": f(40, 8),
  "tracing.target_btf_id": f(16, 4),
  "tracing.cookie": f(24, 8),
  "netfilter.pf": f(16, 4),
  "netfilter.hooknum": f(20, 4),
  "netfilter.priority": f(24, 4),
  "netfilter.flags": f(28, 4),
  "tcx.relative_fd": f(16, 4),
  "tcx.relative_id": f(16, 4),
  "tcx.expected_revision": f(24, 8),
  "uprobe_multi.path": f(16, 8),
  "uprobe_multi.offsets": f(24, 8),
  "uprobe_multi.ref_ctr_offsets": f(32, 8),
  "uprobe_multi.cookies": f(40, 8),
  "uprobe_multi.cnt": f(48, 4),
  "uprobe_multi.flags": f(52, 4),
  "uprobe_multi.pid": f(56, 4),
  "netkit.relative_fd": f(16, 4),
  "netkit.relative_id": f(16, 4),
  "netkit.expected_revision": f(24, 8),
  "cgroup.relative_fd": f(16, 4),
  "cgroup.relative_id": f(16, 4),
  "cgroup.expected_revision": f(24, 8),
});

/** Layout of BPF_LINK_UPDATE (`bpf_attr.link_update`). */
export const LINK_UPDATE = layout("bpf_attr", "link_update", 16, {
  link_fd: f(0, 4),
  new_prog_fd: f(4, 4),
  new_map_fd: f(4, 4),
  flags: f(8, 4),
  old_prog_fd: f(12, 4),
  old_map_fd: f(12, 4),
});

/** Layout of BPF_LINK_DETACH (`bpf_attr.link_detach`). */
export const LINK_DETACH = layout("bpf_attr", "link_detach", 8, {
  link_fd: f(0, 4),
});

/** Layout of BPF_ENABLE_STATS (`bpf_attr.enable_stats`). */
export const ENABLE_STATS = layout("bpf_attr", "enable_stats", 8, {
  type: f(0, 4),
});

/** Layout of BPF_ITER_CREATE (`bpf_attr.iter_create`). */
export const ITER_CREATE = layout("bpf_attr", "iter_create", 8, {
  link_fd: f(0, 4),
  flags: f(4, 4),
});

/** Layout of BPF_PROG_BIND_MAP (`bpf_attr.prog_bind_map`). */
export const PROG_BIND_MAP = layout("bpf_attr", "prog_bind_map", 16, {
  prog_fd: f(0, 4),
  map_fd: f(4, 4),
  flags: f(8, 4),
});

/** Layout of `struct bpf_prog_info`; `gpl_compatible` is bit 0 of the word at 84. */
export const PROG_INFO = layout("bpf_prog_info", "", 232, {
  type: f(0, 4),
  id: f(4, 4),
  tag: f(8, 8),
  jited_prog_len: f(16, 4),
  xlated_prog_len: f(20, 4),
  jited_prog_insns: f(24, 8),
  xlated_prog_insns: f(32, 8),
  load_time: f(40, 8),
  created_by_uid: f(48, 4),
  nr_map_ids: f(52, 4),
  map_ids: f(56, 8),
  name: f(64, 16),
  ifindex: f(80, 4),
  gpl_compatible: f(84, 4),
  netns_dev: f(88, 8),
  netns_ino: f(96, 8),
  nr_jited_ksyms: f(104, 4),
  nr_jited_func_lens: f(108, 4),
  jited_ksyms: f(112, 8),
  jited_func_lens: f(120, 8),
  btf_id: f(128, 4),
  func_info_rec_size: f(132, 4),
  func_info: f(136, 8),
  nr_func_info: f(144, 4),
  nr_line_info: f(148, 4),
  line_info: f(152, 8),
  jited_line_info: f(160, 8),
  nr_jited_line_info: f(168, 4),
  line_info_rec_size: f(172, 4),
  jited_line_info_rec_size: f(176, 4),
  nr_prog_tags: f(180, 4),
  prog_tags: f(184, 8),
  run_time_ns: f(192, 8),
  run_cnt: f(200, 8),
  recursion_misses: f(208, 8),
  verified_insns: f(216, 4),
  attach_btf_obj_id: f(220, 4),
  attach_btf_id: f(224, 4),
});

/** Layout of `struct bpf_map_info`. */
export const MAP_INFO = layout("bpf_map_info", "", 104, {
  type: f(0, 4),
  id: f(4, 4),
  key_size: f(8, 4),
  value_size: f(12, 4),
  max_entries: f(16, 4),
  map_flags: f(20, 4),
  name: f(24, 16),
  ifindex: f(40, 4),
  btf_vmlinux_value_type_id: f(44, 4),
  netns_dev: f(48, 8),
  netns_ino: f(56, 8),
  btf_id: f(64, 4),
  btf_key_type_id: f(68, 4),
  btf_value_type_id: f(72, 4),
  btf_vmlinux_id: f(76, 4),
  map_extra: f(80, 8),
  hash: f(88, 8),
  hash_size: f(96, 4),
});

/** Layout of `struct bpf_btf_info`. */
export const BTF_INFO = layout("bpf_btf_info", "", 32, {
  btf: f(0, 8),
  btf_size: f(8, 4),
  id: f(12, 4),
  name: f(16, 8),
  name_len: f(24, 4),
  kernel_btf: f(28, 4),
});

/** Layout of `struct bpf_link_info`, its per-type union as dotted names. */
export const LINK_INFO = layout("bpf_link_info", "", 64, {
  type: f(0, 4),
  id: f(4, 4),
  prog_id: f(8, 4),
  "raw_tracepoint.tp_name": f(16, 8),
  "raw_tracepoint.tp_name_len": f(24, 4),
  "raw_tracepoint.cookie": f(32, 8),
  "tracing.attach_type": f(16, 4),
  "tracing.target_obj_id": f(20, 4),
  "tracing.target_btf_id": f(24, 4),
  "tracing.cookie": f(32, 8),
  "cgroup.cgroup_id": f(16, 8),
  "cgroup.attach_type": f(24, 4),
  "iter.target_name": f(16, 8),
  "iter.target_name_len": f(24, 4),
  "iter.map.map_id": f(28, 4),
  "netns.netns_ino": f(16, 4),
  "netns.attach_type": f(20, 4),
  "xdp.ifindex": f(16, 4),
  "struct_ops.map_id": f(16, 4),
  "netfilter.pf": f(16, 4),
  "netfilter.hooknum": f(20, 4),
  "netfilter.priority": f(24, 4),
  "netfilter.flags": f(28, 4),
  "kprobe_multi.addrs": f(16, 8),
  "kprobe_multi.count": f(24, 4),
  "kprobe_multi.flags": f(28, 4),
  "kprobe_multi.missed": f(32, 8),
  "kprobe_multi.cookies": f(40, 8),
  "uprobe_multi.path": f(16, 8),
  "uprobe_multi.offsets": f(24, 8),
  "uprobe_multi.ref_ctr_offsets": f(32, 8),
  "uprobe_multi.cookies": f(40, 8),
  "uprobe_multi.path_size": f(48, 4),
  "uprobe_multi.count": f(52, 4),
  "uprobe_multi.flags": f(56, 4),
  "uprobe_multi.pid": f(60, 4),
  "perf_event.type": f(16, 4),
  "perf_event.uprobe.file_name": f(24, 8),
  "perf_event.uprobe.name_len": f(32, 4),
  "perf_event.uprobe.offset": f(36, 4),
  "perf_event.uprobe.cookie": f(40, 8),
  "perf_event.kprobe.func_name": f(24, 8),
  "perf_event.kprobe.name_len": f(32, 4),
  "perf_event.kprobe.offset": f(36, 4),
  "perf_event.kprobe.addr": f(40, 8),
  "perf_event.kprobe.missed": f(48, 8),
  "perf_event.kprobe.cookie": f(56, 8),
  "perf_event.tracepoint.tp_name": f(24, 8),
  "perf_event.tracepoint.name_len": f(32, 4),
  "perf_event.tracepoint.cookie": f(40, 8),
  "perf_event.event.config": f(24, 8),
  "perf_event.event.type": f(32, 4),
  "perf_event.event.cookie": f(40, 8),
  "tcx.ifindex": f(16, 4),
  "tcx.attach_type": f(20, 4),
  "netkit.ifindex": f(16, 4),
  "netkit.attach_type": f(20, 4),
  "sockmap.map_id": f(16, 4),
  "sockmap.attach_type": f(20, 4),
});

/** Layout of `struct perf_event_attr`; the bitfield flags word is `flags` (bits in `Perf.BIT_*`). */
export const PERF_EVENT_ATTR = layout("perf_event_attr", "", 136, {
  type: f(0, 4),
  size: f(4, 4),
  config: f(8, 8),
  sample_period: f(16, 8),
  sample_freq: f(16, 8),
  sample_type: f(24, 8),
  read_format: f(32, 8),
  flags: f(40, 8),
  wakeup_events: f(48, 4),
  wakeup_watermark: f(48, 4),
  bp_type: f(52, 4),
  bp_addr: f(56, 8),
  kprobe_func: f(56, 8),
  uprobe_path: f(56, 8),
  config1: f(56, 8),
  bp_len: f(64, 8),
  kprobe_addr: f(64, 8),
  probe_offset: f(64, 8),
  config2: f(64, 8),
  branch_sample_type: f(72, 8),
  sample_regs_user: f(80, 8),
  sample_stack_user: f(88, 4),
  clockid: f(92, 4),
  sample_regs_intr: f(96, 8),
  aux_watermark: f(104, 4),
  sample_max_stack: f(108, 2),
  aux_sample_size: f(112, 4),
  aux_action: f(116, 4),
  sig_data: f(120, 8),
  config3: f(128, 8),
});

/**
 * A zero-filled buffer laid out as `L`, with typed setters and getters by field name.
 *
 * @example
 * ```ts
 * import { Attr, MAP_CREATE } from "./bpf_attr.ts";
 * const a = new Attr(MAP_CREATE).set("map_type", 2).set("key_size", 4);
 * console.assert(a.bytes.length === MAP_CREATE.size && a.get("key_size") === 4);
 * ```
 */
export class Attr<F extends Record<string, Field>> {
  /** The bytes handed to the kernel. */
  readonly bytes: Uint8Array;
  readonly #dv: DataView;
  readonly #layout: Layout<F>;

  /**
   * Makes a zero-filled buffer, or wraps existing bytes (an info struct the kernel filled in).
   *
   * @param l the layout.
   * @param bytes bytes to wrap, or how many zero bytes to allocate; defaults to `l.size`.
   */
  constructor(l: Layout<F>, bytes: Uint8Array | number = l.size) {
    this.#layout = l;
    this.bytes = typeof bytes === "number" ? new Uint8Array(bytes) : bytes;
    this.#dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /**
   * Writes an integer field, little-endian (x86_64 and aarch64 are little-endian).
   *
   * @param name the field.
   * @param value a number or bigint; negative values are written in two's complement.
   * @returns this, for chaining.
   */
  set(name: keyof F & string, value: number | bigint): this {
    const fl = this.#layout.fields[name];
    const dv = this.#dv;
    if (fl.off + fl.size > dv.byteLength) {
      throw new RangeError(`Field ${name} ends past the ${dv.byteLength}-byte buffer`);
    }
    if (fl.size === 8) dv.setBigUint64(fl.off, BigInt.asUintN(64, BigInt(value)), true);
    else if (fl.size === 4) dv.setUint32(fl.off, Number(value) >>> 0, true);
    else if (fl.size === 2) dv.setUint16(fl.off, Number(value) & 0xffff, true);
    else if (fl.size === 1) dv.setUint8(fl.off, Number(value) & 0xff);
    else throw new RangeError(`Field ${name} is ${fl.size} bytes wide, not an integer`);
    return this;
  }

  /**
   * Reads an unsigned integer field as a number (8-byte fields lose precision above 2^53; use
   * {@linkcode Attr.get64} for addresses).
   *
   * @param name the field.
   * @returns its value, or 0 when the buffer is shorter than the field's end.
   */
  get(name: keyof F & string): number {
    const fl = this.#layout.fields[name];
    const dv = this.#dv;
    if (fl.off + fl.size > dv.byteLength) return 0;
    if (fl.size === 8) return Number(dv.getBigUint64(fl.off, true));
    if (fl.size === 4) return dv.getUint32(fl.off, true);
    if (fl.size === 2) return dv.getUint16(fl.off, true);
    return dv.getUint8(fl.off);
  }

  /**
   * Reads an 8-byte field as a bigint.
   *
   * @param name the field.
   * @returns its value, or 0n when the buffer is shorter than the field's end.
   */
  get64(name: keyof F & string): bigint {
    const fl = this.#layout.fields[name];
    if (fl.off + 8 > this.#dv.byteLength) return 0n;
    return this.#dv.getBigUint64(fl.off, true);
  }

  /**
   * Reads a 4-byte field as a signed integer.
   *
   * @param name the field.
   * @returns its value, or 0 when the buffer is shorter than the field's end.
   */
  getI32(name: keyof F & string): number {
    const fl = this.#layout.fields[name];
    if (fl.off + 4 > this.#dv.byteLength) return 0;
    return this.#dv.getInt32(fl.off, true);
  }

  /**
   * Writes a NUL-terminated string into a `char[N]` field, cut to N-1 bytes.
   *
   * @param name the field.
   * @param s the string (UTF-8).
   * @returns this, for chaining.
   */
  setString(name: keyof F & string, s: string): this {
    const fl = this.#layout.fields[name];
    this.bytes.set(new TextEncoder().encode(s).subarray(0, fl.size - 1), fl.off);
    return this;
  }

  /**
   * Reads a `char[N]` field up to its first NUL.
   *
   * @param name the field.
   * @returns the string.
   */
  getString(name: keyof F & string): string {
    const b = this.getBytes(name);
    const z = b.indexOf(0);
    return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
  }

  /**
   * The bytes of a field (a copy; shorter when the buffer ends inside the field).
   *
   * @param name the field.
   * @returns its bytes.
   */
  getBytes(name: keyof F & string): Uint8Array {
    const fl = this.#layout.fields[name];
    return this.bytes.slice(fl.off, fl.off + fl.size);
  }
}
