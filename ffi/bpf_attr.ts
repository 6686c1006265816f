/**
 * Named layouts of the kernel structures tsbpf passes to bpf() and perf_event_open():
 * each command's part of `union bpf_attr`, the `bpf_*_info` structs and `perf_event_attr`.
 *
 * Every offset was taken from the running kernel's BTF (`/sys/kernel/btf/vmlinux`, Linux 6.18),
 * and `tests/bpf_attr_layout_test.ts` checks each one against that BTF again. A layout's `size` is
 * what tsbpf passes to the kernel: for a part of `bpf_attr`, the end of the last field it names
 * rounded up to 8; for the info structs and `perf_event_attr`, the whole struct. Buffers start
 * zero-filled, so every field not set is zero: older kernels, which know a shorter struct, accept
 * the longer one because its tail is zero.
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

/** Layout of BPF_MAP_CREATE (the first anonymous struct of `union bpf_attr`). */
export const MAP_CREATE = {
  btfRoot: "bpf_attr",
  btfMember: "",
  size: 80,
  fields: {
    map_type: { off: 0, size: 4 },
    key_size: { off: 4, size: 4 },
    value_size: { off: 8, size: 4 },
    max_entries: { off: 12, size: 4 },
    map_flags: { off: 16, size: 4 },
    inner_map_fd: { off: 20, size: 4 },
    numa_node: { off: 24, size: 4 },
    map_name: { off: 28, size: 16 },
    map_ifindex: { off: 44, size: 4 },
    btf_fd: { off: 48, size: 4 },
    btf_key_type_id: { off: 52, size: 4 },
    btf_value_type_id: { off: 56, size: 4 },
    btf_vmlinux_value_type_id: { off: 60, size: 4 },
    map_extra: { off: 64, size: 8 },
    value_type_btf_obj_fd: { off: 72, size: 4 },
    map_token_fd: { off: 76, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_AND_DELETE_ELEM and BPF_MAP_FREEZE. */
export const MAP_ELEM = {
  btfRoot: "bpf_attr",
  btfMember: "",
  size: 32,
  fields: {
    map_fd: { off: 0, size: 4 },
    key: { off: 8, size: 8 },
    value: { off: 16, size: 8 },
    next_key: { off: 16, size: 8 },
    flags: { off: 24, size: 8 },
  },
} as const satisfies Layout;

/** Layout of the BPF_MAP_*_BATCH commands (`bpf_attr.batch`). */
export const MAP_BATCH = {
  btfRoot: "bpf_attr",
  btfMember: "batch",
  size: 56,
  fields: {
    in_batch: { off: 0, size: 8 },
    out_batch: { off: 8, size: 8 },
    keys: { off: 16, size: 8 },
    values: { off: 24, size: 8 },
    count: { off: 32, size: 4 },
    map_fd: { off: 36, size: 4 },
    elem_flags: { off: 40, size: 8 },
    flags: { off: 48, size: 8 },
  },
} as const satisfies Layout;

/** Layout of BPF_PROG_LOAD. */
export const PROG_LOAD = {
  btfRoot: "bpf_attr",
  btfMember: "",
  size: 152,
  fields: {
    prog_type: { off: 0, size: 4 },
    insn_cnt: { off: 4, size: 4 },
    insns: { off: 8, size: 8 },
    license: { off: 16, size: 8 },
    log_level: { off: 24, size: 4 },
    log_size: { off: 28, size: 4 },
    log_buf: { off: 32, size: 8 },
    kern_version: { off: 40, size: 4 },
    prog_flags: { off: 44, size: 4 },
    prog_name: { off: 48, size: 16 },
    prog_ifindex: { off: 64, size: 4 },
    expected_attach_type: { off: 68, size: 4 },
    prog_btf_fd: { off: 72, size: 4 },
    func_info_rec_size: { off: 76, size: 4 },
    func_info: { off: 80, size: 8 },
    func_info_cnt: { off: 88, size: 4 },
    line_info_rec_size: { off: 92, size: 4 },
    line_info: { off: 96, size: 8 },
    line_info_cnt: { off: 104, size: 4 },
    attach_btf_id: { off: 108, size: 4 },
    attach_prog_fd: { off: 112, size: 4 },
    attach_btf_obj_fd: { off: 112, size: 4 },
    core_relo_cnt: { off: 116, size: 4 },
    fd_array: { off: 120, size: 8 },
    core_relos: { off: 128, size: 8 },
    core_relo_rec_size: { off: 136, size: 4 },
    log_true_size: { off: 140, size: 4 },
    prog_token_fd: { off: 144, size: 4 },
    fd_array_cnt: { off: 148, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_OBJ_PIN and BPF_OBJ_GET. */
export const OBJ = {
  btfRoot: "bpf_attr",
  btfMember: "",
  size: 24,
  fields: {
    pathname: { off: 0, size: 8 },
    bpf_fd: { off: 8, size: 4 },
    file_flags: { off: 12, size: 4 },
    path_fd: { off: 16, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_PROG_ATTACH and BPF_PROG_DETACH. */
export const PROG_ATTACH = {
  btfRoot: "bpf_attr",
  btfMember: "",
  size: 32,
  fields: {
    target_fd: { off: 0, size: 4 },
    target_ifindex: { off: 0, size: 4 },
    attach_bpf_fd: { off: 4, size: 4 },
    attach_type: { off: 8, size: 4 },
    attach_flags: { off: 12, size: 4 },
    replace_bpf_fd: { off: 16, size: 4 },
    relative_fd: { off: 20, size: 4 },
    relative_id: { off: 20, size: 4 },
    expected_revision: { off: 24, size: 8 },
  },
} as const satisfies Layout;

/** Layout of BPF_PROG_TEST_RUN (`bpf_attr.test`). */
export const TEST_RUN = {
  btfRoot: "bpf_attr",
  btfMember: "test",
  size: 80,
  fields: {
    prog_fd: { off: 0, size: 4 },
    retval: { off: 4, size: 4 },
    data_size_in: { off: 8, size: 4 },
    data_size_out: { off: 12, size: 4 },
    data_in: { off: 16, size: 8 },
    data_out: { off: 24, size: 8 },
    repeat: { off: 32, size: 4 },
    duration: { off: 36, size: 4 },
    ctx_size_in: { off: 40, size: 4 },
    ctx_size_out: { off: 44, size: 4 },
    ctx_in: { off: 48, size: 8 },
    ctx_out: { off: 56, size: 8 },
    flags: { off: 64, size: 4 },
    cpu: { off: 68, size: 4 },
    batch_size: { off: 72, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID. */
export const GET_ID = {
  btfRoot: "bpf_attr",
  btfMember: "",
  size: 16,
  fields: {
    start_id: { off: 0, size: 4 },
    prog_id: { off: 0, size: 4 },
    map_id: { off: 0, size: 4 },
    btf_id: { off: 0, size: 4 },
    link_id: { off: 0, size: 4 },
    next_id: { off: 4, size: 4 },
    open_flags: { off: 8, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_OBJ_GET_INFO_BY_FD (`bpf_attr.info`). */
export const INFO = {
  btfRoot: "bpf_attr",
  btfMember: "info",
  size: 16,
  fields: {
    bpf_fd: { off: 0, size: 4 },
    info_len: { off: 4, size: 4 },
    info: { off: 8, size: 8 },
  },
} as const satisfies Layout;

/** Layout of BPF_PROG_QUERY (`bpf_attr.query`). */
export const QUERY = {
  btfRoot: "bpf_attr",
  btfMember: "query",
  size: 64,
  fields: {
    target_fd: { off: 0, size: 4 },
    target_ifindex: { off: 0, size: 4 },
    attach_type: { off: 4, size: 4 },
    query_flags: { off: 8, size: 4 },
    attach_flags: { off: 12, size: 4 },
    prog_ids: { off: 16, size: 8 },
    prog_cnt: { off: 24, size: 4 },
    count: { off: 24, size: 4 },
    prog_attach_flags: { off: 32, size: 8 },
    link_ids: { off: 40, size: 8 },
    link_attach_flags: { off: 48, size: 8 },
    revision: { off: 56, size: 8 },
  },
} as const satisfies Layout;

/** Layout of BPF_RAW_TRACEPOINT_OPEN (`bpf_attr.raw_tracepoint`). */
export const RAW_TRACEPOINT = {
  btfRoot: "bpf_attr",
  btfMember: "raw_tracepoint",
  size: 24,
  fields: {
    name: { off: 0, size: 8 },
    prog_fd: { off: 8, size: 4 },
    cookie: { off: 16, size: 8 },
  },
} as const satisfies Layout;

/** Layout of BPF_BTF_LOAD. */
export const BTF_LOAD = {
  btfRoot: "bpf_attr",
  btfMember: "",
  size: 40,
  fields: {
    btf: { off: 0, size: 8 },
    btf_log_buf: { off: 8, size: 8 },
    btf_size: { off: 16, size: 4 },
    btf_log_size: { off: 20, size: 4 },
    btf_log_level: { off: 24, size: 4 },
    btf_log_true_size: { off: 28, size: 4 },
    btf_flags: { off: 32, size: 4 },
    btf_token_fd: { off: 36, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_LINK_CREATE (`bpf_attr.link_create`, with its per-type unions as dotted names). */
export const LINK_CREATE = {
  btfRoot: "bpf_attr",
  btfMember: "link_create",
  size: 64,
  fields: {
    prog_fd: { off: 0, size: 4 },
    map_fd: { off: 0, size: 4 },
    target_fd: { off: 4, size: 4 },
    target_ifindex: { off: 4, size: 4 },
    attach_type: { off: 8, size: 4 },
    flags: { off: 12, size: 4 },
    target_btf_id: { off: 16, size: 4 },
    iter_info: { off: 16, size: 8 },
    iter_info_len: { off: 24, size: 4 },
    "perf_event.bpf_cookie": { off: 16, size: 8 },
    "kprobe_multi.flags": { off: 16, size: 4 },
    "kprobe_multi.cnt": { off: 20, size: 4 },
    "kprobe_multi.syms": { off: 24, size: 8 },
    "kprobe_multi.addrs": { off: 32, size: 8 },
    "kprobe_multi.cookies": { off: 40, size: 8 },
    "tracing.target_btf_id": { off: 16, size: 4 },
    "tracing.cookie": { off: 24, size: 8 },
    "netfilter.pf": { off: 16, size: 4 },
    "netfilter.hooknum": { off: 20, size: 4 },
    "netfilter.priority": { off: 24, size: 4 },
    "netfilter.flags": { off: 28, size: 4 },
    "tcx.relative_fd": { off: 16, size: 4 },
    "tcx.relative_id": { off: 16, size: 4 },
    "tcx.expected_revision": { off: 24, size: 8 },
    "uprobe_multi.path": { off: 16, size: 8 },
    "uprobe_multi.offsets": { off: 24, size: 8 },
    "uprobe_multi.ref_ctr_offsets": { off: 32, size: 8 },
    "uprobe_multi.cookies": { off: 40, size: 8 },
    "uprobe_multi.cnt": { off: 48, size: 4 },
    "uprobe_multi.flags": { off: 52, size: 4 },
    "uprobe_multi.pid": { off: 56, size: 4 },
    "netkit.relative_fd": { off: 16, size: 4 },
    "netkit.relative_id": { off: 16, size: 4 },
    "netkit.expected_revision": { off: 24, size: 8 },
    "cgroup.relative_fd": { off: 16, size: 4 },
    "cgroup.relative_id": { off: 16, size: 4 },
    "cgroup.expected_revision": { off: 24, size: 8 },
  },
} as const satisfies Layout;

/** Layout of BPF_LINK_UPDATE (`bpf_attr.link_update`). */
export const LINK_UPDATE = {
  btfRoot: "bpf_attr",
  btfMember: "link_update",
  size: 16,
  fields: {
    link_fd: { off: 0, size: 4 },
    new_prog_fd: { off: 4, size: 4 },
    new_map_fd: { off: 4, size: 4 },
    flags: { off: 8, size: 4 },
    old_prog_fd: { off: 12, size: 4 },
    old_map_fd: { off: 12, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_LINK_DETACH (`bpf_attr.link_detach`). */
export const LINK_DETACH = {
  btfRoot: "bpf_attr",
  btfMember: "link_detach",
  size: 8,
  fields: {
    link_fd: { off: 0, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_ENABLE_STATS (`bpf_attr.enable_stats`). */
export const ENABLE_STATS = {
  btfRoot: "bpf_attr",
  btfMember: "enable_stats",
  size: 8,
  fields: {
    type: { off: 0, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_ITER_CREATE (`bpf_attr.iter_create`). */
export const ITER_CREATE = {
  btfRoot: "bpf_attr",
  btfMember: "iter_create",
  size: 8,
  fields: {
    link_fd: { off: 0, size: 4 },
    flags: { off: 4, size: 4 },
  },
} as const satisfies Layout;

/** Layout of BPF_PROG_BIND_MAP (`bpf_attr.prog_bind_map`). */
export const PROG_BIND_MAP = {
  btfRoot: "bpf_attr",
  btfMember: "prog_bind_map",
  size: 16,
  fields: {
    prog_fd: { off: 0, size: 4 },
    map_fd: { off: 4, size: 4 },
    flags: { off: 8, size: 4 },
  },
} as const satisfies Layout;

/** Layout of `struct bpf_prog_info`; `gpl_compatible` is bit 0 of the word at 84. */
export const PROG_INFO = {
  btfRoot: "bpf_prog_info",
  btfMember: "",
  size: 232,
  fields: {
    type: { off: 0, size: 4 },
    id: { off: 4, size: 4 },
    tag: { off: 8, size: 8 },
    jited_prog_len: { off: 16, size: 4 },
    xlated_prog_len: { off: 20, size: 4 },
    jited_prog_insns: { off: 24, size: 8 },
    xlated_prog_insns: { off: 32, size: 8 },
    load_time: { off: 40, size: 8 },
    created_by_uid: { off: 48, size: 4 },
    nr_map_ids: { off: 52, size: 4 },
    map_ids: { off: 56, size: 8 },
    name: { off: 64, size: 16 },
    ifindex: { off: 80, size: 4 },
    gpl_compatible: { off: 84, size: 4 },
    netns_dev: { off: 88, size: 8 },
    netns_ino: { off: 96, size: 8 },
    nr_jited_ksyms: { off: 104, size: 4 },
    nr_jited_func_lens: { off: 108, size: 4 },
    jited_ksyms: { off: 112, size: 8 },
    jited_func_lens: { off: 120, size: 8 },
    btf_id: { off: 128, size: 4 },
    func_info_rec_size: { off: 132, size: 4 },
    func_info: { off: 136, size: 8 },
    nr_func_info: { off: 144, size: 4 },
    nr_line_info: { off: 148, size: 4 },
    line_info: { off: 152, size: 8 },
    jited_line_info: { off: 160, size: 8 },
    nr_jited_line_info: { off: 168, size: 4 },
    line_info_rec_size: { off: 172, size: 4 },
    jited_line_info_rec_size: { off: 176, size: 4 },
    nr_prog_tags: { off: 180, size: 4 },
    prog_tags: { off: 184, size: 8 },
    run_time_ns: { off: 192, size: 8 },
    run_cnt: { off: 200, size: 8 },
    recursion_misses: { off: 208, size: 8 },
    verified_insns: { off: 216, size: 4 },
    attach_btf_obj_id: { off: 220, size: 4 },
    attach_btf_id: { off: 224, size: 4 },
  },
} as const satisfies Layout;

/** Layout of `struct bpf_map_info`. */
export const MAP_INFO = {
  btfRoot: "bpf_map_info",
  btfMember: "",
  size: 104,
  fields: {
    type: { off: 0, size: 4 },
    id: { off: 4, size: 4 },
    key_size: { off: 8, size: 4 },
    value_size: { off: 12, size: 4 },
    max_entries: { off: 16, size: 4 },
    map_flags: { off: 20, size: 4 },
    name: { off: 24, size: 16 },
    ifindex: { off: 40, size: 4 },
    btf_vmlinux_value_type_id: { off: 44, size: 4 },
    netns_dev: { off: 48, size: 8 },
    netns_ino: { off: 56, size: 8 },
    btf_id: { off: 64, size: 4 },
    btf_key_type_id: { off: 68, size: 4 },
    btf_value_type_id: { off: 72, size: 4 },
    btf_vmlinux_id: { off: 76, size: 4 },
    map_extra: { off: 80, size: 8 },
    hash: { off: 88, size: 8 },
    hash_size: { off: 96, size: 4 },
  },
} as const satisfies Layout;

/** Layout of `struct bpf_btf_info`. */
export const BTF_INFO = {
  btfRoot: "bpf_btf_info",
  btfMember: "",
  size: 32,
  fields: {
    btf: { off: 0, size: 8 },
    btf_size: { off: 8, size: 4 },
    id: { off: 12, size: 4 },
    name: { off: 16, size: 8 },
    name_len: { off: 24, size: 4 },
    kernel_btf: { off: 28, size: 4 },
  },
} as const satisfies Layout;

/** Layout of `struct bpf_link_info`, its per-type union as dotted names. */
export const LINK_INFO = {
  btfRoot: "bpf_link_info",
  btfMember: "",
  size: 64,
  fields: {
    type: { off: 0, size: 4 },
    id: { off: 4, size: 4 },
    prog_id: { off: 8, size: 4 },
    "raw_tracepoint.tp_name": { off: 16, size: 8 },
    "raw_tracepoint.tp_name_len": { off: 24, size: 4 },
    "raw_tracepoint.cookie": { off: 32, size: 8 },
    "tracing.attach_type": { off: 16, size: 4 },
    "tracing.target_obj_id": { off: 20, size: 4 },
    "tracing.target_btf_id": { off: 24, size: 4 },
    "tracing.cookie": { off: 32, size: 8 },
    "cgroup.cgroup_id": { off: 16, size: 8 },
    "cgroup.attach_type": { off: 24, size: 4 },
    "iter.target_name": { off: 16, size: 8 },
    "iter.target_name_len": { off: 24, size: 4 },
    "iter.map.map_id": { off: 28, size: 4 },
    "netns.netns_ino": { off: 16, size: 4 },
    "netns.attach_type": { off: 20, size: 4 },
    "xdp.ifindex": { off: 16, size: 4 },
    "struct_ops.map_id": { off: 16, size: 4 },
    "netfilter.pf": { off: 16, size: 4 },
    "netfilter.hooknum": { off: 20, size: 4 },
    "netfilter.priority": { off: 24, size: 4 },
    "netfilter.flags": { off: 28, size: 4 },
    "kprobe_multi.addrs": { off: 16, size: 8 },
    "kprobe_multi.count": { off: 24, size: 4 },
    "kprobe_multi.flags": { off: 28, size: 4 },
    "kprobe_multi.missed": { off: 32, size: 8 },
    "kprobe_multi.cookies": { off: 40, size: 8 },
    "uprobe_multi.path": { off: 16, size: 8 },
    "uprobe_multi.offsets": { off: 24, size: 8 },
    "uprobe_multi.ref_ctr_offsets": { off: 32, size: 8 },
    "uprobe_multi.cookies": { off: 40, size: 8 },
    "uprobe_multi.path_size": { off: 48, size: 4 },
    "uprobe_multi.count": { off: 52, size: 4 },
    "uprobe_multi.flags": { off: 56, size: 4 },
    "uprobe_multi.pid": { off: 60, size: 4 },
    "perf_event.type": { off: 16, size: 4 },
    "perf_event.uprobe.file_name": { off: 24, size: 8 },
    "perf_event.uprobe.name_len": { off: 32, size: 4 },
    "perf_event.uprobe.offset": { off: 36, size: 4 },
    "perf_event.uprobe.cookie": { off: 40, size: 8 },
    "perf_event.kprobe.func_name": { off: 24, size: 8 },
    "perf_event.kprobe.name_len": { off: 32, size: 4 },
    "perf_event.kprobe.offset": { off: 36, size: 4 },
    "perf_event.kprobe.addr": { off: 40, size: 8 },
    "perf_event.kprobe.missed": { off: 48, size: 8 },
    "perf_event.kprobe.cookie": { off: 56, size: 8 },
    "perf_event.tracepoint.tp_name": { off: 24, size: 8 },
    "perf_event.tracepoint.name_len": { off: 32, size: 4 },
    "perf_event.tracepoint.cookie": { off: 40, size: 8 },
    "perf_event.event.config": { off: 24, size: 8 },
    "perf_event.event.type": { off: 32, size: 4 },
    "perf_event.event.cookie": { off: 40, size: 8 },
    "tcx.ifindex": { off: 16, size: 4 },
    "tcx.attach_type": { off: 20, size: 4 },
    "netkit.ifindex": { off: 16, size: 4 },
    "netkit.attach_type": { off: 20, size: 4 },
    "sockmap.map_id": { off: 16, size: 4 },
    "sockmap.attach_type": { off: 20, size: 4 },
  },
} as const satisfies Layout;

/** Layout of `struct perf_event_attr`; the bitfield flags word is `flags` (bits in `Perf.BIT_*`). */
export const PERF_EVENT_ATTR = {
  btfRoot: "perf_event_attr",
  btfMember: "",
  size: 136,
  fields: {
    type: { off: 0, size: 4 },
    size: { off: 4, size: 4 },
    config: { off: 8, size: 8 },
    sample_period: { off: 16, size: 8 },
    sample_freq: { off: 16, size: 8 },
    sample_type: { off: 24, size: 8 },
    read_format: { off: 32, size: 8 },
    flags: { off: 40, size: 8 },
    wakeup_events: { off: 48, size: 4 },
    wakeup_watermark: { off: 48, size: 4 },
    bp_type: { off: 52, size: 4 },
    bp_addr: { off: 56, size: 8 },
    kprobe_func: { off: 56, size: 8 },
    uprobe_path: { off: 56, size: 8 },
    config1: { off: 56, size: 8 },
    bp_len: { off: 64, size: 8 },
    kprobe_addr: { off: 64, size: 8 },
    probe_offset: { off: 64, size: 8 },
    config2: { off: 64, size: 8 },
    branch_sample_type: { off: 72, size: 8 },
    sample_regs_user: { off: 80, size: 8 },
    sample_stack_user: { off: 88, size: 4 },
    clockid: { off: 92, size: 4 },
    sample_regs_intr: { off: 96, size: 8 },
    aux_watermark: { off: 104, size: 4 },
    sample_max_stack: { off: 108, size: 2 },
    aux_sample_size: { off: 112, size: 4 },
    aux_action: { off: 116, size: 4 },
    sig_data: { off: 120, size: 8 },
    config3: { off: 128, size: 8 },
  },
} as const satisfies Layout;

/**
 * A zero-filled buffer laid out as `L`, with typed setters and getters by field name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Attr, MAP_CREATE } from "./bpf_attr.ts";
 * const a = new Attr(MAP_CREATE).set("map_type", 2).set("key_size", 4);
 * assert(a.bytes.length === MAP_CREATE.size && a.get("key_size") === 4);
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
