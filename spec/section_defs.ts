/**
 * The section-definition table: one row per libbpf `SEC_DEF`, in libbpf's order, which is also the
 * order of precedence (the first matching row wins). The rows follow libbpf's current table, a
 * superset of Debian's libbpf 1.1 (which lacks e.g. `tcx/*`, `netkit/*`, `kprobe.session`,
 * `uprobe.multi`, `*_unix`, `netfilter`, and treats `tc/ingress` as unknown).
 *
 * Matching follows libbpf's three forms: a pattern ending in `/` matches any name with that
 * prefix; a pattern ending in `+` matches the bare name or the name followed by `/` and extras;
 * any other pattern matches only the exact name.
 *
 * @module
 */
import type { SectionDef } from "./types.ts";

/** enum bpf_prog_type names without `BPF_PROG_TYPE_`, indexed by value. */
export const PROG_TYPE_NAMES: readonly string[] = [
  "UNSPEC",
  "SOCKET_FILTER",
  "KPROBE",
  "SCHED_CLS",
  "SCHED_ACT",
  "TRACEPOINT",
  "XDP",
  "PERF_EVENT",
  "CGROUP_SKB",
  "CGROUP_SOCK",
  "LWT_IN",
  "LWT_OUT",
  "LWT_XMIT",
  "SOCK_OPS",
  "SK_SKB",
  "CGROUP_DEVICE",
  "SK_MSG",
  "RAW_TRACEPOINT",
  "CGROUP_SOCK_ADDR",
  "LWT_SEG6LOCAL",
  "LIRC_MODE2",
  "SK_REUSEPORT",
  "FLOW_DISSECTOR",
  "CGROUP_SYSCTL",
  "RAW_TRACEPOINT_WRITABLE",
  "CGROUP_SOCKOPT",
  "TRACING",
  "STRUCT_OPS",
  "EXT",
  "LSM",
  "SK_LOOKUP",
  "SYSCALL",
  "NETFILTER",
];

/** enum bpf_attach_type names without `BPF_`, indexed by value. */
export const ATTACH_TYPE_NAMES: readonly string[] = [
  "CGROUP_INET_INGRESS",
  "CGROUP_INET_EGRESS",
  "CGROUP_INET_SOCK_CREATE",
  "CGROUP_SOCK_OPS",
  "SK_SKB_STREAM_PARSER",
  "SK_SKB_STREAM_VERDICT",
  "CGROUP_DEVICE",
  "SK_MSG_VERDICT",
  "CGROUP_INET4_BIND",
  "CGROUP_INET6_BIND",
  "CGROUP_INET4_CONNECT",
  "CGROUP_INET6_CONNECT",
  "CGROUP_INET4_POST_BIND",
  "CGROUP_INET6_POST_BIND",
  "CGROUP_UDP4_SENDMSG",
  "CGROUP_UDP6_SENDMSG",
  "LIRC_MODE2",
  "FLOW_DISSECTOR",
  "CGROUP_SYSCTL",
  "CGROUP_UDP4_RECVMSG",
  "CGROUP_UDP6_RECVMSG",
  "CGROUP_GETSOCKOPT",
  "CGROUP_SETSOCKOPT",
  "TRACE_RAW_TP",
  "TRACE_FENTRY",
  "TRACE_FEXIT",
  "MODIFY_RETURN",
  "LSM_MAC",
  "TRACE_ITER",
  "CGROUP_INET4_GETPEERNAME",
  "CGROUP_INET6_GETPEERNAME",
  "CGROUP_INET4_GETSOCKNAME",
  "CGROUP_INET6_GETSOCKNAME",
  "XDP_DEVMAP",
  "CGROUP_INET_SOCK_RELEASE",
  "XDP_CPUMAP",
  "SK_LOOKUP",
  "XDP",
  "SK_SKB_VERDICT",
  "SK_REUSEPORT_SELECT",
  "SK_REUSEPORT_SELECT_OR_MIGRATE",
  "PERF_EVENT",
  "TRACE_KPROBE_MULTI",
  "LSM_CGROUP",
  "STRUCT_OPS",
  "NETFILTER",
  "TCX_INGRESS",
  "TCX_EGRESS",
  "TRACE_UPROBE_MULTI",
  "CGROUP_UNIX_CONNECT",
  "CGROUP_UNIX_SENDMSG",
  "CGROUP_UNIX_RECVMSG",
  "CGROUP_UNIX_GETPEERNAME",
  "CGROUP_UNIX_GETSOCKNAME",
  "NETKIT_PRIMARY",
  "NETKIT_PEER",
  "TRACE_KPROBE_SESSION",
  "TRACE_UPROBE_SESSION",
  "TRACE_FSESSION",
  "TRACE_FENTRY_MULTI",
  "TRACE_FEXIT_MULTI",
  "TRACE_FSESSION_MULTI",
];

/** enum bpf_map_type names without `BPF_MAP_TYPE_`, indexed by value (aliases folded). */
export const MAP_TYPE_NAMES: readonly string[] = [
  "UNSPEC",
  "HASH",
  "ARRAY",
  "PROG_ARRAY",
  "PERF_EVENT_ARRAY",
  "PERCPU_HASH",
  "PERCPU_ARRAY",
  "STACK_TRACE",
  "CGROUP_ARRAY",
  "LRU_HASH",
  "LRU_PERCPU_HASH",
  "LPM_TRIE",
  "ARRAY_OF_MAPS",
  "HASH_OF_MAPS",
  "DEVMAP",
  "SOCKMAP",
  "CPUMAP",
  "XSKMAP",
  "SOCKHASH",
  "CGROUP_STORAGE",
  "REUSEPORT_SOCKARRAY",
  "PERCPU_CGROUP_STORAGE",
  "QUEUE",
  "STACK",
  "SK_STORAGE",
  "DEVMAP_HASH",
  "STRUCT_OPS",
  "RINGBUF",
  "INODE_STORAGE",
  "TASK_STORAGE",
  "BLOOM_FILTER",
  "USER_RINGBUF",
  "CGRP_STORAGE",
  "ARENA",
  "INSN_ARRAY",
  "RHASH",
];

function def(
  pattern: string,
  progType: string,
  attachType: string,
  flags: readonly string[],
  attach: string,
): SectionDef {
  return Object.freeze({ pattern, progType, attachType, flags: Object.freeze(flags), attach });
}

/**
 * The table. Flags: `attachable` (libbpf SEC_ATTACHABLE), `attachTypeOptional` (the expected
 * attach type is dropped on kernels that refuse it), `attachBtf` (needs attach_btf_id), `sleepable`,
 * `xdpFrags`, `usdt`, `multi` (one link, many targets), `retprobe` (return probes), `autoAttach`
 * (the skeleton's attach() handles it; `attach` names the kind).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SECTION_DEFS } from "./section_defs.ts";
 * assert(SECTION_DEFS[0].pattern === "socket");
 * ```
 */
export const SECTION_DEFS: readonly SectionDef[] = Object.freeze([
  def("socket", "SOCKET_FILTER", "", [], ""),
  def("sk_reuseport/migrate", "SK_REUSEPORT", "SK_REUSEPORT_SELECT_OR_MIGRATE", ["attachable"], ""),
  def("sk_reuseport", "SK_REUSEPORT", "SK_REUSEPORT_SELECT", ["attachable"], ""),
  def("kprobe+", "KPROBE", "", ["autoAttach"], "kprobe"),
  def("uprobe+", "KPROBE", "", ["autoAttach"], "uprobe"),
  def("uprobe.s+", "KPROBE", "", ["sleepable", "autoAttach"], "uprobe"),
  def("kretprobe+", "KPROBE", "", ["retprobe", "autoAttach"], "kprobe"),
  def("uretprobe+", "KPROBE", "", ["retprobe", "autoAttach"], "uprobe"),
  def("uretprobe.s+", "KPROBE", "", ["sleepable", "retprobe", "autoAttach"], "uprobe"),
  def("kprobe.multi+", "KPROBE", "TRACE_KPROBE_MULTI", ["multi", "autoAttach"], "kprobe_multi"),
  def(
    "kretprobe.multi+",
    "KPROBE",
    "TRACE_KPROBE_MULTI",
    ["multi", "retprobe", "autoAttach"],
    "kprobe_multi",
  ),
  def("kprobe.session+", "KPROBE", "TRACE_KPROBE_SESSION", ["autoAttach"], "kprobe_session"),
  def("uprobe.multi+", "KPROBE", "TRACE_UPROBE_MULTI", ["multi", "autoAttach"], "uprobe_multi"),
  def(
    "uretprobe.multi+",
    "KPROBE",
    "TRACE_UPROBE_MULTI",
    ["multi", "retprobe", "autoAttach"],
    "uprobe_multi",
  ),
  def("uprobe.session+", "KPROBE", "TRACE_UPROBE_SESSION", ["autoAttach"], "uprobe_multi"),
  def(
    "uprobe.multi.s+",
    "KPROBE",
    "TRACE_UPROBE_MULTI",
    ["sleepable", "multi", "autoAttach"],
    "uprobe_multi",
  ),
  def("uretprobe.multi.s+", "KPROBE", "TRACE_UPROBE_MULTI", [
    "sleepable",
    "multi",
    "retprobe",
    "autoAttach",
  ], "uprobe_multi"),
  def(
    "uprobe.session.s+",
    "KPROBE",
    "TRACE_UPROBE_SESSION",
    ["sleepable", "autoAttach"],
    "uprobe_multi",
  ),
  def("ksyscall+", "KPROBE", "", ["autoAttach"], "ksyscall"),
  def("kretsyscall+", "KPROBE", "", ["retprobe", "autoAttach"], "ksyscall"),
  def("usdt+", "KPROBE", "", ["usdt", "autoAttach"], "usdt"),
  def("usdt.s+", "KPROBE", "", ["usdt", "sleepable", "autoAttach"], "usdt"),
  def("tc/ingress", "SCHED_CLS", "TCX_INGRESS", [], ""),
  def("tc/egress", "SCHED_CLS", "TCX_EGRESS", [], ""),
  def("tcx/ingress", "SCHED_CLS", "TCX_INGRESS", [], ""),
  def("tcx/egress", "SCHED_CLS", "TCX_EGRESS", [], ""),
  def("tc", "SCHED_CLS", "", [], ""),
  def("classifier", "SCHED_CLS", "", [], ""),
  def("action", "SCHED_ACT", "", [], ""),
  def("netkit/primary", "SCHED_CLS", "NETKIT_PRIMARY", [], ""),
  def("netkit/peer", "SCHED_CLS", "NETKIT_PEER", [], ""),
  def("tracepoint+", "TRACEPOINT", "", ["autoAttach"], "tracepoint"),
  def("tp+", "TRACEPOINT", "", ["autoAttach"], "tracepoint"),
  def("tracepoint.s+", "TRACEPOINT", "", ["sleepable", "autoAttach"], "tracepoint"),
  def("tp.s+", "TRACEPOINT", "", ["sleepable", "autoAttach"], "tracepoint"),
  def("raw_tracepoint+", "RAW_TRACEPOINT", "", ["autoAttach"], "raw_tracepoint"),
  def("raw_tp+", "RAW_TRACEPOINT", "", ["autoAttach"], "raw_tracepoint"),
  def("raw_tracepoint.s+", "RAW_TRACEPOINT", "", ["sleepable", "autoAttach"], "raw_tracepoint"),
  def("raw_tp.s+", "RAW_TRACEPOINT", "", ["sleepable", "autoAttach"], "raw_tracepoint"),
  def("raw_tracepoint.w+", "RAW_TRACEPOINT_WRITABLE", "", ["autoAttach"], "raw_tracepoint"),
  def("raw_tp.w+", "RAW_TRACEPOINT_WRITABLE", "", ["autoAttach"], "raw_tracepoint"),
  def("tp_btf+", "TRACING", "TRACE_RAW_TP", ["attachBtf", "autoAttach"], "trace"),
  def("tp_btf.s+", "TRACING", "TRACE_RAW_TP", ["attachBtf", "sleepable", "autoAttach"], "trace"),
  def("fentry+", "TRACING", "TRACE_FENTRY", ["attachBtf", "autoAttach"], "trace"),
  def("fmod_ret+", "TRACING", "MODIFY_RETURN", ["attachBtf", "autoAttach"], "trace"),
  def("fexit+", "TRACING", "TRACE_FEXIT", ["attachBtf", "autoAttach"], "trace"),
  def("fentry.s+", "TRACING", "TRACE_FENTRY", ["attachBtf", "sleepable", "autoAttach"], "trace"),
  def("fmod_ret.s+", "TRACING", "MODIFY_RETURN", ["attachBtf", "sleepable", "autoAttach"], "trace"),
  def("fexit.s+", "TRACING", "TRACE_FEXIT", ["attachBtf", "sleepable", "autoAttach"], "trace"),
  def("fsession+", "TRACING", "TRACE_FSESSION", ["attachBtf", "autoAttach"], "trace"),
  def(
    "fsession.s+",
    "TRACING",
    "TRACE_FSESSION",
    ["attachBtf", "sleepable", "autoAttach"],
    "trace",
  ),
  def(
    "fsession.multi+",
    "TRACING",
    "TRACE_FSESSION_MULTI",
    ["multi", "autoAttach"],
    "tracing_multi",
  ),
  def(
    "fsession.multi.s+",
    "TRACING",
    "TRACE_FSESSION_MULTI",
    ["sleepable", "multi", "autoAttach"],
    "tracing_multi",
  ),
  def("fentry.multi+", "TRACING", "TRACE_FENTRY_MULTI", ["multi", "autoAttach"], "tracing_multi"),
  def("fexit.multi+", "TRACING", "TRACE_FEXIT_MULTI", ["multi", "autoAttach"], "tracing_multi"),
  def(
    "fentry.multi.s+",
    "TRACING",
    "TRACE_FENTRY_MULTI",
    ["sleepable", "multi", "autoAttach"],
    "tracing_multi",
  ),
  def(
    "fexit.multi.s+",
    "TRACING",
    "TRACE_FEXIT_MULTI",
    ["sleepable", "multi", "autoAttach"],
    "tracing_multi",
  ),
  def("freplace+", "EXT", "", ["attachBtf", "autoAttach"], "trace"),
  def("lsm+", "LSM", "LSM_MAC", ["attachBtf", "autoAttach"], "lsm"),
  def("lsm.s+", "LSM", "LSM_MAC", ["attachBtf", "sleepable", "autoAttach"], "lsm"),
  def("lsm_cgroup+", "LSM", "LSM_CGROUP", ["attachBtf"], ""),
  def("iter+", "TRACING", "TRACE_ITER", ["attachBtf", "autoAttach"], "iter"),
  def("iter.s+", "TRACING", "TRACE_ITER", ["attachBtf", "sleepable", "autoAttach"], "iter"),
  def("syscall", "SYSCALL", "", ["sleepable"], ""),
  def("xdp.frags/devmap", "XDP", "XDP_DEVMAP", ["xdpFrags"], ""),
  def("xdp/devmap", "XDP", "XDP_DEVMAP", ["attachable"], ""),
  def("xdp.frags/cpumap", "XDP", "XDP_CPUMAP", ["xdpFrags"], ""),
  def("xdp/cpumap", "XDP", "XDP_CPUMAP", ["attachable"], ""),
  def("xdp.frags", "XDP", "XDP", ["xdpFrags"], ""),
  def("xdp", "XDP", "XDP", ["attachable", "attachTypeOptional"], ""),
  def("perf_event", "PERF_EVENT", "", [], ""),
  def("lwt_in", "LWT_IN", "", [], ""),
  def("lwt_out", "LWT_OUT", "", [], ""),
  def("lwt_xmit", "LWT_XMIT", "", [], ""),
  def("lwt_seg6local", "LWT_SEG6LOCAL", "", [], ""),
  def("sockops", "SOCK_OPS", "CGROUP_SOCK_OPS", ["attachable", "attachTypeOptional"], ""),
  def("sk_skb/stream_parser", "SK_SKB", "SK_SKB_STREAM_PARSER", [
    "attachable",
    "attachTypeOptional",
  ], ""),
  def("sk_skb/stream_verdict", "SK_SKB", "SK_SKB_STREAM_VERDICT", [
    "attachable",
    "attachTypeOptional",
  ], ""),
  def("sk_skb/verdict", "SK_SKB", "SK_SKB_VERDICT", ["attachable", "attachTypeOptional"], ""),
  def("sk_skb", "SK_SKB", "", [], ""),
  def("sk_msg", "SK_MSG", "SK_MSG_VERDICT", ["attachable", "attachTypeOptional"], ""),
  def("lirc_mode2", "LIRC_MODE2", "LIRC_MODE2", ["attachable", "attachTypeOptional"], ""),
  def(
    "flow_dissector",
    "FLOW_DISSECTOR",
    "FLOW_DISSECTOR",
    ["attachable", "attachTypeOptional"],
    "",
  ),
  def("cgroup_skb/ingress", "CGROUP_SKB", "CGROUP_INET_INGRESS", [
    "attachable",
    "attachTypeOptional",
  ], ""),
  def(
    "cgroup_skb/egress",
    "CGROUP_SKB",
    "CGROUP_INET_EGRESS",
    ["attachable", "attachTypeOptional"],
    "",
  ),
  def("cgroup/skb", "CGROUP_SKB", "", [], ""),
  def("cgroup/sock_create", "CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE", ["attachable"], ""),
  def("cgroup/sock_release", "CGROUP_SOCK", "CGROUP_INET_SOCK_RELEASE", ["attachable"], ""),
  def(
    "cgroup/sock",
    "CGROUP_SOCK",
    "CGROUP_INET_SOCK_CREATE",
    ["attachable", "attachTypeOptional"],
    "",
  ),
  def("cgroup/post_bind4", "CGROUP_SOCK", "CGROUP_INET4_POST_BIND", ["attachable"], ""),
  def("cgroup/post_bind6", "CGROUP_SOCK", "CGROUP_INET6_POST_BIND", ["attachable"], ""),
  def("cgroup/bind4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_BIND", ["attachable"], ""),
  def("cgroup/bind6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_BIND", ["attachable"], ""),
  def("cgroup/connect4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_CONNECT", ["attachable"], ""),
  def("cgroup/connect6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_CONNECT", ["attachable"], ""),
  def("cgroup/connect_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_CONNECT", ["attachable"], ""),
  def("cgroup/sendmsg4", "CGROUP_SOCK_ADDR", "CGROUP_UDP4_SENDMSG", ["attachable"], ""),
  def("cgroup/sendmsg6", "CGROUP_SOCK_ADDR", "CGROUP_UDP6_SENDMSG", ["attachable"], ""),
  def("cgroup/sendmsg_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_SENDMSG", ["attachable"], ""),
  def("cgroup/recvmsg4", "CGROUP_SOCK_ADDR", "CGROUP_UDP4_RECVMSG", ["attachable"], ""),
  def("cgroup/recvmsg6", "CGROUP_SOCK_ADDR", "CGROUP_UDP6_RECVMSG", ["attachable"], ""),
  def("cgroup/recvmsg_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_RECVMSG", ["attachable"], ""),
  def("cgroup/getpeername4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_GETPEERNAME", ["attachable"], ""),
  def("cgroup/getpeername6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_GETPEERNAME", ["attachable"], ""),
  def("cgroup/getpeername_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_GETPEERNAME", ["attachable"], ""),
  def("cgroup/getsockname4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_GETSOCKNAME", ["attachable"], ""),
  def("cgroup/getsockname6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_GETSOCKNAME", ["attachable"], ""),
  def("cgroup/getsockname_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_GETSOCKNAME", ["attachable"], ""),
  def("cgroup/sysctl", "CGROUP_SYSCTL", "CGROUP_SYSCTL", ["attachable"], ""),
  def("cgroup/getsockopt", "CGROUP_SOCKOPT", "CGROUP_GETSOCKOPT", ["attachable"], ""),
  def("cgroup/setsockopt", "CGROUP_SOCKOPT", "CGROUP_SETSOCKOPT", ["attachable"], ""),
  def("cgroup/dev", "CGROUP_DEVICE", "CGROUP_DEVICE", ["attachable", "attachTypeOptional"], ""),
  def("struct_ops+", "STRUCT_OPS", "", [], ""),
  def("struct_ops.s+", "STRUCT_OPS", "", ["sleepable"], ""),
  def("sk_lookup", "SK_LOOKUP", "SK_LOOKUP", ["attachable"], ""),
  def("netfilter", "NETFILTER", "NETFILTER", [], ""),
]);

/**
 * Whether a section name matches one pattern, by libbpf's rules.
 *
 * @param pattern A pattern as in {@linkcode SectionDef.pattern}.
 * @param section An ELF section name.
 * @returns True when the section matches.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sectionMatches } from "./section_defs.ts";
 * assert(sectionMatches("kprobe+", "kprobe/do_sys_open"));
 * assert(!sectionMatches("kprobe+", "kprobex"));
 * ```
 */
export function sectionMatches(pattern: string, section: string): boolean {
  const last = pattern[pattern.length - 1];
  if (last === "/") return section.startsWith(pattern);
  if (last === "+") {
    const base = pattern.slice(0, -1);
    if (!section.startsWith(base)) return false;
    return section.length === base.length || section[base.length] === "/";
  }
  return section === pattern;
}

/**
 * Finds the section definition for an ELF section name: the first row of
 * {@linkcode SECTION_DEFS} that matches, as libbpf does.
 *
 * @param section An ELF section name such as `"tp/syscalls/sys_enter_write"`.
 * @returns The row, or undefined when libbpf would not recognize the name.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSectionDef } from "./section_defs.ts";
 * assert(findSectionDef("xdp.frags")?.progType === "XDP");
 * assert(findSectionDef("nonsense") === undefined);
 * ```
 */
export function findSectionDef(section: string): SectionDef | undefined {
  for (const d of SECTION_DEFS) if (sectionMatches(d.pattern, section)) return d;
  return undefined;
}

/**
 * The attach target a section names: what follows the pattern's prefix and its `/` separator.
 *
 * @param def The matched row.
 * @param section The section name it matched.
 * @returns For `tp/syscalls/sys_enter_write`, `"syscalls/sys_enter_write"`; `""` when none.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTarget, findSectionDef } from "./section_defs.ts";
 * const s = "kprobe/do_unlinkat";
 * assert(attachTarget(findSectionDef(s)!, s) === "do_unlinkat");
 * ```
 */
export function attachTarget(def: SectionDef, section: string): string {
  const p = def.pattern;
  if (p.endsWith("/")) return section.slice(p.length);
  if (p.endsWith("+")) {
    const n = p.length - 1;
    return section.length > n ? section.slice(n + 1) : "";
  }
  return "";
}

/**
 * The lowercase name libbpf and bpftool print for a program type (`libbpf_bpf_prog_type_str`).
 *
 * @param type An uppercase enum name such as `"CGROUP_SKB"`, or a number.
 * @returns `"cgroup_skb"`; for unknown numbers, the number as a string.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progTypeStr } from "./section_defs.ts";
 * assert(progTypeStr(6) === "xdp");
 * ```
 */
export function progTypeStr(type: string | number): string {
  const n = typeof type === "number" ? PROG_TYPE_NAMES[type] ?? String(type) : type;
  return n.toLowerCase();
}

/**
 * The lowercase name libbpf prints for an attach type (`libbpf_bpf_attach_type_str`).
 *
 * @param type An uppercase enum name such as `"CGROUP_INET_INGRESS"`, or a number.
 * @returns `"cgroup_inet_ingress"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTypeStr } from "./section_defs.ts";
 * assert(attachTypeStr(0) === "cgroup_inet_ingress");
 * ```
 */
export function attachTypeStr(type: string | number): string {
  const n = typeof type === "number" ? ATTACH_TYPE_NAMES[type] ?? String(type) : type;
  return n.toLowerCase();
}

/**
 * The lowercase name libbpf prints for a map type (`libbpf_bpf_map_type_str`).
 *
 * @param type An uppercase enum name such as `"RINGBUF"`, or a number.
 * @returns `"ringbuf"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapTypeStr } from "./section_defs.ts";
 * assert(mapTypeStr(1) === "hash");
 * ```
 */
export function mapTypeStr(type: string | number): string {
  const n = typeof type === "number" ? MAP_TYPE_NAMES[type] ?? String(type) : type;
  return n.toLowerCase();
}
