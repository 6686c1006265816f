// The section-definition table against libbpf's matching rules, and open() on small objects this
// test compiles itself (clang-19 -g -O2 -target bpf).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  attachTarget,
  attachTypeStr,
  findSectionDef,
  mapTypeStr,
  progTypeStr,
  SECTION_DEFS,
  sectionMatches,
} from "../spec/section_defs.ts";
import { internalMapName, objectNameFromPath, open } from "../spec/open.ts";
import type { ObjectSpec, ProgramSpec } from "../spec/types.ts";
import { BPF_BUILD, compileBpfC, oracle, withTmpDir } from "./_util.ts";
import { BtfError, ElfError } from "../errors.ts";
import { readElf } from "../spec/elf.ts";

// [section, pattern, progType, attachType, attachTo]
const CASES: [string, string | undefined, string, string, string][] = [
  ["socket", "socket", "SOCKET_FILTER", "", ""],
  ["socket/x", undefined, "", "", ""],
  ["sk_reuseport", "sk_reuseport", "SK_REUSEPORT", "SK_REUSEPORT_SELECT", ""],
  [
    "sk_reuseport/migrate",
    "sk_reuseport/migrate",
    "SK_REUSEPORT",
    "SK_REUSEPORT_SELECT_OR_MIGRATE",
    "",
  ],
  ["kprobe/do_sys_open", "kprobe+", "KPROBE", "", "do_sys_open"],
  ["kprobe", "kprobe+", "KPROBE", "", ""],
  ["kprobex", undefined, "", "", ""],
  ["kretprobe/do_exit", "kretprobe+", "KPROBE", "", "do_exit"],
  ["kprobe.multi/vfs_*", "kprobe.multi+", "KPROBE", "TRACE_KPROBE_MULTI", "vfs_*"],
  ["kretprobe.multi/vfs_*", "kretprobe.multi+", "KPROBE", "TRACE_KPROBE_MULTI", "vfs_*"],
  ["kprobe.session/f", "kprobe.session+", "KPROBE", "TRACE_KPROBE_SESSION", "f"],
  ["uprobe//bin/sh:main", "uprobe+", "KPROBE", "", "/bin/sh:main"],
  ["uprobe.s//bin/sh:main", "uprobe.s+", "KPROBE", "", "/bin/sh:main"],
  ["uretprobe.s/x", "uretprobe.s+", "KPROBE", "", "x"],
  ["uprobe.multi/x:y*", "uprobe.multi+", "KPROBE", "TRACE_UPROBE_MULTI", "x:y*"],
  ["ksyscall/write", "ksyscall+", "KPROBE", "", "write"],
  ["kretsyscall/write", "kretsyscall+", "KPROBE", "", "write"],
  ["usdt", "usdt+", "KPROBE", "", ""],
  ["usdt/lib:prov:name", "usdt+", "KPROBE", "", "lib:prov:name"],
  ["usdt.s/a", "usdt.s+", "KPROBE", "", "a"],
  ["tc/ingress", "tc/ingress", "SCHED_CLS", "TCX_INGRESS", ""],
  ["tc/egress", "tc/egress", "SCHED_CLS", "TCX_EGRESS", ""],
  ["tcx/ingress", "tcx/ingress", "SCHED_CLS", "TCX_INGRESS", ""],
  ["tc", "tc", "SCHED_CLS", "", ""],
  ["tc/other", undefined, "", "", ""],
  ["classifier", "classifier", "SCHED_CLS", "", ""],
  ["action", "action", "SCHED_ACT", "", ""],
  ["netkit/primary", "netkit/primary", "SCHED_CLS", "NETKIT_PRIMARY", ""],
  ["netkit/peer", "netkit/peer", "SCHED_CLS", "NETKIT_PEER", ""],
  ["tp/syscalls/sys_enter_write", "tp+", "TRACEPOINT", "", "syscalls/sys_enter_write"],
  ["tracepoint/sched/sched_switch", "tracepoint+", "TRACEPOINT", "", "sched/sched_switch"],
  ["tp.s/syscalls/x", "tp.s+", "TRACEPOINT", "", "syscalls/x"],
  ["tpx/a", undefined, "", "", ""],
  ["raw_tp/sys_enter", "raw_tp+", "RAW_TRACEPOINT", "", "sys_enter"],
  ["raw_tracepoint/sys_enter", "raw_tracepoint+", "RAW_TRACEPOINT", "", "sys_enter"],
  ["raw_tp.w/x", "raw_tp.w+", "RAW_TRACEPOINT_WRITABLE", "", "x"],
  ["raw_tracepoint.w/x", "raw_tracepoint.w+", "RAW_TRACEPOINT_WRITABLE", "", "x"],
  ["tp_btf/sched_switch", "tp_btf+", "TRACING", "TRACE_RAW_TP", "sched_switch"],
  ["fentry/do_unlinkat", "fentry+", "TRACING", "TRACE_FENTRY", "do_unlinkat"],
  ["fentry.s/do_unlinkat", "fentry.s+", "TRACING", "TRACE_FENTRY", "do_unlinkat"],
  ["fexit/do_unlinkat", "fexit+", "TRACING", "TRACE_FEXIT", "do_unlinkat"],
  ["fmod_ret/f", "fmod_ret+", "TRACING", "MODIFY_RETURN", "f"],
  ["freplace/f", "freplace+", "EXT", "", "f"],
  ["lsm/file_open", "lsm+", "LSM", "LSM_MAC", "file_open"],
  ["lsm.s/file_open", "lsm.s+", "LSM", "LSM_MAC", "file_open"],
  ["lsm_cgroup/socket_bind", "lsm_cgroup+", "LSM", "LSM_CGROUP", "socket_bind"],
  ["iter/task", "iter+", "TRACING", "TRACE_ITER", "task"],
  ["iter.s/task", "iter.s+", "TRACING", "TRACE_ITER", "task"],
  ["syscall", "syscall", "SYSCALL", "", ""],
  ["xdp", "xdp", "XDP", "XDP", ""],
  ["xdp/other", undefined, "", "", ""],
  ["xdp.frags", "xdp.frags", "XDP", "XDP", ""],
  ["xdp/devmap", "xdp/devmap", "XDP", "XDP_DEVMAP", ""],
  ["xdp/cpumap", "xdp/cpumap", "XDP", "XDP_CPUMAP", ""],
  ["xdp.frags/devmap", "xdp.frags/devmap", "XDP", "XDP_DEVMAP", ""],
  ["perf_event", "perf_event", "PERF_EVENT", "", ""],
  ["lwt_in", "lwt_in", "LWT_IN", "", ""],
  ["lwt_seg6local", "lwt_seg6local", "LWT_SEG6LOCAL", "", ""],
  ["sockops", "sockops", "SOCK_OPS", "CGROUP_SOCK_OPS", ""],
  ["sk_skb/stream_parser", "sk_skb/stream_parser", "SK_SKB", "SK_SKB_STREAM_PARSER", ""],
  ["sk_skb/stream_verdict", "sk_skb/stream_verdict", "SK_SKB", "SK_SKB_STREAM_VERDICT", ""],
  ["sk_skb", "sk_skb", "SK_SKB", "", ""],
  ["sk_msg", "sk_msg", "SK_MSG", "SK_MSG_VERDICT", ""],
  ["lirc_mode2", "lirc_mode2", "LIRC_MODE2", "LIRC_MODE2", ""],
  ["flow_dissector", "flow_dissector", "FLOW_DISSECTOR", "FLOW_DISSECTOR", ""],
  ["cgroup_skb/ingress", "cgroup_skb/ingress", "CGROUP_SKB", "CGROUP_INET_INGRESS", ""],
  ["cgroup_skb/egress", "cgroup_skb/egress", "CGROUP_SKB", "CGROUP_INET_EGRESS", ""],
  ["cgroup/skb", "cgroup/skb", "CGROUP_SKB", "", ""],
  ["cgroup/sock", "cgroup/sock", "CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE", ""],
  ["cgroup/sock_create", "cgroup/sock_create", "CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE", ""],
  [
    "cgroup/sock_release",
    "cgroup/sock_release",
    "CGROUP_SOCK",
    "CGROUP_INET_SOCK_RELEASE",
    "",
  ],
  ["cgroup/post_bind4", "cgroup/post_bind4", "CGROUP_SOCK", "CGROUP_INET4_POST_BIND", ""],
  ["cgroup/bind6", "cgroup/bind6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_BIND", ""],
  ["cgroup/connect4", "cgroup/connect4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_CONNECT", ""],
  [
    "cgroup/connect_unix",
    "cgroup/connect_unix",
    "CGROUP_SOCK_ADDR",
    "CGROUP_UNIX_CONNECT",
    "",
  ],
  ["cgroup/sendmsg6", "cgroup/sendmsg6", "CGROUP_SOCK_ADDR", "CGROUP_UDP6_SENDMSG", ""],
  ["cgroup/recvmsg4", "cgroup/recvmsg4", "CGROUP_SOCK_ADDR", "CGROUP_UDP4_RECVMSG", ""],
  [
    "cgroup/getpeername6",
    "cgroup/getpeername6",
    "CGROUP_SOCK_ADDR",
    "CGROUP_INET6_GETPEERNAME",
    "",
  ],
  [
    "cgroup/getsockname_unix",
    "cgroup/getsockname_unix",
    "CGROUP_SOCK_ADDR",
    "CGROUP_UNIX_GETSOCKNAME",
    "",
  ],
  ["cgroup/sysctl", "cgroup/sysctl", "CGROUP_SYSCTL", "CGROUP_SYSCTL", ""],
  ["cgroup/getsockopt", "cgroup/getsockopt", "CGROUP_SOCKOPT", "CGROUP_GETSOCKOPT", ""],
  ["cgroup/setsockopt", "cgroup/setsockopt", "CGROUP_SOCKOPT", "CGROUP_SETSOCKOPT", ""],
  ["cgroup/dev", "cgroup/dev", "CGROUP_DEVICE", "CGROUP_DEVICE", ""],
  ["cgroup/unknown", undefined, "", "", ""],
  ["struct_ops/test_1", "struct_ops+", "STRUCT_OPS", "", "test_1"],
  ["struct_ops.s/test_1", "struct_ops.s+", "STRUCT_OPS", "", "test_1"],
  ["sk_lookup", "sk_lookup", "SK_LOOKUP", "SK_LOOKUP", ""],
  ["netfilter", "netfilter", "NETFILTER", "NETFILTER", ""],
  ["", undefined, "", "", ""],
];

for (const [section, pattern, progType, attachType, attachTo] of CASES) {
  test(`section '${section}' matches ${pattern ?? "no definition"} as libbpf does`, () => {
    const def = findSectionDef(section);
    assert.equal(def?.pattern, pattern);
    if (def === undefined) return;
    assert.equal(def.progType, progType);
    assert.equal(def.attachType, attachType);
    assert.equal(attachTarget(def, section), attachTo);
  });
}

test("every section definition is reachable: its own name resolves to it", () => {
  for (const d of SECTION_DEFS) {
    const bare = d.pattern.replace(/\+$/, "");
    assert.equal(findSectionDef(bare), d, `${bare}`);
    if (d.pattern.endsWith("+")) assert.equal(findSectionDef(`${bare}/x`), d, `${bare}/x`);
  }
});

test("section definitions carry libbpf's flags", () => {
  assert.ok(findSectionDef("fentry.s/f")!.flags.includes("sleepable"));
  assert.ok(findSectionDef("fentry.s/f")!.flags.includes("attachBtf"));
  assert.ok(!findSectionDef("fentry/f")!.flags.includes("sleepable"));
  assert.ok(findSectionDef("syscall")!.flags.includes("sleepable"));
  assert.ok(findSectionDef("xdp.frags")!.flags.includes("xdpFrags"));
  assert.ok(findSectionDef("usdt")!.flags.includes("usdt"));
  assert.ok(findSectionDef("kretprobe/f")!.flags.includes("retprobe"));
  assert.ok(findSectionDef("kprobe.multi/f")!.flags.includes("multi"));
  assert.equal(findSectionDef("tp/a/b")!.attach, "tracepoint");
  assert.equal(findSectionDef("uprobe/x")!.attach, "uprobe");
  assert.equal(findSectionDef("xdp")!.attach, "");
  assert.ok(findSectionDef("cgroup_skb/ingress")!.flags.includes("attachTypeOptional"));
});

test("sectionMatches() follows libbpf's three pattern forms", () => {
  assert.ok(sectionMatches("kprobe+", "kprobe"));
  assert.ok(sectionMatches("kprobe+", "kprobe/f"));
  assert.ok(!sectionMatches("kprobe+", "kprobe.multi/f"));
  assert.ok(sectionMatches("custom/", "custom/anything"));
  assert.ok(!sectionMatches("custom/", "custom"));
  assert.ok(sectionMatches("xdp", "xdp"));
  assert.ok(!sectionMatches("xdp", "xdp/x"));
});

test("type names are libbpf's lowercase strings", () => {
  assert.equal(progTypeStr("CGROUP_SKB"), "cgroup_skb");
  assert.equal(progTypeStr(26), "tracing");
  assert.equal(attachTypeStr("CGROUP_INET_INGRESS"), "cgroup_inet_ingress");
  assert.equal(attachTypeStr(37), "xdp");
  assert.equal(mapTypeStr(27), "ringbuf");
  assert.equal(mapTypeStr(19), "cgroup_storage");
  assert.equal(mapTypeStr(21), "percpu_cgroup_storage");
});

test("object names and internal map names follow libbpf", () => {
  assert.equal(objectNameFromPath("/a/b/minimal.bpf.o"), "minimal");
  assert.equal(objectNameFromPath("x.o"), "x");
  assert.equal(objectNameFromPath("a_very_long_object_name.bpf.o"), "a_very_long_obj");
  assert.equal(internalMapName("my_object_name", ".rodata"), "my_objec.rodata");
  assert.equal(internalMapName("my_object_name", ".bss"), "my_objec.bss");
  assert.equal(internalMapName("my_object_name", ".kconfig"), "my_obje.kconfig");
  assert.equal(internalMapName("my_object_name", ".rodata.abracadabra"), ".rodata.abracad");
  assert.equal(internalMapName("obj", ".data.x-y"), ".data.x_y");
  assert.equal(internalMapName("globals", ".data"), "globals.data");
});

const SOURCE = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";
__u32 _version SEC("version") = 0x060000;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} arr SEC(".maps");

struct inner { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8);
  __type(key, __u32); __type(value, __u32); } in1 SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, 4);
  __type(key, __u32);
  __array(values, struct inner);
} outer SEC(".maps") = { .values = { [2] = &in1 } };

int prog_b(void *ctx);
struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __array(values, int (void *));
} jmp SEC(".maps") = { .values = { [3] = (void *)&prog_b } };

int g_bss;
int g_data = 5;
const volatile int g_ro = 7;
static volatile int s_data = 3;
__u64 g_data2 = 9;
extern int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_X __kconfig __weak;
extern __u64 CONFIG_Y __kconfig __weak;

extern void bpf_rcu_read_lock(void) __ksym __weak;

static __noinline int add(int x) { return x + g_data + s_data; }
__noinline int global_sub(int x) { return x * 2 + g_data2; }
static int cb(__u32 idx, void *ctx) { return 0; }

SEC("xdp")
int prog_a(struct xdp_md *ctx)
{
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&arr, &k);
  if (v)
    *v += add(1) + global_sub(2) + LINUX_KERNEL_VERSION + CONFIG_X + CONFIG_Y;
  bpf_loop(4, cb, 0, 0);
  if (bpf_rcu_read_lock)
    bpf_rcu_read_lock();
  bpf_tail_call(ctx, &jmp, 0);
  return XDP_PASS;
}

SEC("?tp/syscalls/sys_enter_read")
int prog_b(void *ctx)
{
  g_bss += g_ro;
  return bpf_map_lookup_elem(&outer, &g_bss) != 0;
}
`;

function compile(name: string, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-spec-"));
  const c = join(dir, `${name}.bpf.c`);
  const o = join(dir, `${name}.bpf.o`);
  writeFileSync(c, source);
  execFileSync("clang-19", [
    "-g",
    "-O2",
    "-target",
    "bpf",
    "-I/usr/include/x86_64-linux-gnu",
    "-D__TARGET_ARCH_x86",
    `-I${BPF_BUILD}`,
    "-c",
    c,
    "-o",
    o,
  ]);
  return o;
}

let cached: { bytes: Uint8Array; spec: ObjectSpec } | undefined;
/** The compiled SOURCE, opened from its path; the temporary directory is removed at once. */
function progsObject(): { bytes: Uint8Array; spec: ObjectSpec } {
  if (cached === undefined) {
    const path = compile("progs", SOURCE);
    try {
      cached = { bytes: readFileSync(path), spec: open(path) };
    } finally {
      rmSync(join(path, ".."), { recursive: true, force: true });
    }
  }
  return cached;
}

function byName(list: ProgramSpec[], name: string): ProgramSpec {
  const p = list.find((x) => x.name === name);
  assert.ok(p, `program ${name}`);
  return p;
}

test("open() finds entry programs and .text subprograms in ELF order", () => {
  const { spec } = progsObject();
  assert.equal(spec.name, "progs");
  const progs = [...spec.programs].sort((a, b) => a.name < b.name ? -1 : 1);
  assert.deepEqual(progs.map((p) => [p.name, p.section, p.type, p.autoload]), [
    ["prog_a", "xdp", "XDP", true],
    ["prog_b", "tp/syscalls/sys_enter_read", "TRACEPOINT", false],
  ]);
  assert.equal(progs[1].attachTo, "syscalls/sys_enter_read");
  const secIdx = spec.programs.map((p) => p.sectionIndex);
  assert.deepEqual(secIdx, [...secIdx].sort((a, b) => a - b), "programs in section order");
  assert.deepEqual(spec.subprograms.map((p) => p.name), ["global_sub", "add", "cb"]);
  const offs = spec.subprograms.map((p) => p.sectionInsnOffset);
  assert.deepEqual(offs, [...offs].sort((a, b) => a - b));
  assert.equal(spec.license, "Dual BSD/GPL");
  assert.equal(spec.kernelVersion, 0x060000);
  for (const p of [...spec.programs, ...spec.subprograms]) {
    assert.equal(p.insns.length % 8, 0);
    assert.equal(p.insns[p.insns.length - 8], 0x95, `${p.name} ends with exit`);
  }
});

test("open() classifies calls, function addresses, maps and externs as libbpf does", () => {
  const { spec } = progsObject();
  const a = byName(spec.programs, "prog_a");
  const sub = (n: string) => byName(spec.subprograms, n).sectionInsnOffset;
  const calls = a.relocations.filter((r) => r.kind === "call").map((r) => r.targetInsn);
  assert.deepEqual(calls.sort(), [sub("add"), sub("global_sub")].sort());
  const fa = a.relocations.filter((r) => r.kind === "func_addr");
  assert.deepEqual(fa.map((r) => r.targetInsn), [sub("cb")]);
  assert.deepEqual(
    a.relocations.filter((r) => r.kind === "map").map((r) => r.map),
    ["arr", "jmp"],
  );
  assert.deepEqual(
    a.relocations.filter((r) => r.kind === "extern_call").map((r) => r.extern),
    ["bpf_rcu_read_lock"],
  );
  const ld = a.relocations.filter((r) => r.kind === "extern_ld64").map((r) => r.extern).sort();
  assert.deepEqual(ld, ["CONFIG_X", "CONFIG_Y", "LINUX_KERNEL_VERSION", "bpf_rcu_read_lock"]);
  for (const r of a.relocations) {
    const code = a.insns[r.insn * 8];
    assert.equal(code, r.kind === "call" || r.kind === "extern_call" ? 0x85 : 0x18);
  }
});

test("open() computes data offsets for named variables and section symbols alike", () => {
  const { spec } = progsObject();
  const varAt = (sec: string, name: string) => {
    const v = spec.datasecs.find((d) => d.name === sec)?.vars.find((x) => x.name === name);
    assert.ok(v, `${sec} ${name}`);
    return v.offset;
  };
  const data = [...spec.programs, ...spec.subprograms].flatMap((p) =>
    p.relocations.filter((r) => r.kind === "data")
  );
  assert.ok(data.length >= 5);
  for (const r of data) {
    const name = r.symbol.startsWith(".") ? "s_data" : r.symbol;
    assert.equal(r.offset, varAt(r.section!, name), `${r.symbol} in ${r.section}`);
  }
  assert.ok(data.some((r) => r.symbol === ".data"), "a static variable goes through .data");
});

test("open() reads data sections with libbpf's map names, images and variables", () => {
  const { spec } = progsObject();
  assert.deepEqual(
    spec.datasecs.map((d) => [d.name, d.mapName, d.readonly]),
    [
      [".data", "progs.data", false],
      [".rodata", "progs.rodata", true],
      [".bss", "progs.bss", false],
      [".kconfig", "progs.kconfig", true],
    ],
  );
  const data = spec.datasecs[0];
  const dv = new DataView(data.image.buffer, data.image.byteOffset, data.image.byteLength);
  const g = data.vars.find((v) => v.name === "g_data")!;
  assert.equal(dv.getInt32(g.offset, true), 5);
  assert.equal(data.vars.find((v) => v.name === "s_data")?.linkage, "static");
  // .bss has no bytes in the file: an empty image, its size all zeros
  assert.equal(spec.datasecs[2].image.length, 0);
  assert.ok(spec.datasecs[2].size > 0);
});

test("open() refuses data sections that claim more than 1 GiB together, naming them", () => {
  withTmpDir("tsbpf-big-bss", (dir) => {
    const file = compileBpfC(
      dir,
      "bigbss",
      `#include "common.h"
char big_a[600 << 20] SEC(".bss.a");
char big_b[600 << 20] SEC(".bss.b");
SEC("tp/syscalls/sys_enter_getpid")
int touch(void *ctx) { big_a[1] = 1; big_b[1] = 1; return 0; }
`,
    );
    assert.throws(
      () => open(file),
      (e) =>
        e instanceof ElfError &&
        /"\.bss\.a", "\.bss\.b"\) claim 1258291200 bytes together/.test(e.message),
    );
  });
});

test("open() lays out kconfig externs as libbpf does and types kfuncs", () => {
  const { spec } = progsObject();
  assert.deepEqual(
    spec.externs.map((e) => [e.name, e.kind, e.weak, e.offset, e.size]),
    [
      ["CONFIG_Y", "kconfig", true, 0, 8],
      ["LINUX_KERNEL_VERSION", "kconfig", false, 8, 4],
      ["CONFIG_X", "kconfig", true, 12, 1],
      ["bpf_rcu_read_lock", "kfunc", true, -1, 0],
    ],
  );
  assert.equal(spec.datasecs[3].size, 13);
});

test("open() reads BTF map definitions, inner maps and values initializers", () => {
  const { spec } = progsObject();
  const m = (n: string) => spec.maps.find((x) => x.name === n)!;
  assert.deepEqual(spec.maps.map((x) => x.name).sort(), ["arr", "in1", "jmp", "outer"]);
  const offs = spec.maps.map((x) => x.sectionOffset);
  assert.deepEqual(offs, [...offs].sort((a, b) => a - b), "maps in .maps offset order");
  assert.deepEqual(
    [m("arr").type, m("arr").keySize, m("arr").valueSize, m("arr").maxEntries],
    ["ARRAY", 4, 8, 2],
  );
  assert.equal(m("outer").inner?.name, "outer.inner");
  assert.equal(m("outer").inner?.type, "HASH");
  assert.equal(m("outer").valueSize, 4);
  assert.deepEqual(m("outer").initValues, [{ index: 2, name: "in1" }]);
  assert.deepEqual(m("jmp").initValues, [{ index: 3, name: "prog_b" }]);
  assert.ok(spec.btf !== undefined && spec.btfExt !== undefined);
  assert.equal(spec.btf.name(m("arr").btfValueTypeId), "__u64");
  assert.ok(spec.btfExt.funcInfo.has("xdp"));
});

test("open() of bytes gives the same spec as open() of the path", () => {
  const { bytes, spec } = progsObject();
  const again = open(bytes, { name: "progs" });
  try {
    assert.deepEqual(
      again.programs.map((p) => [p.name, [...p.insns], p.relocations]),
      spec.programs.map((p) => [p.name, [...p.insns], p.relocations]),
    );
    assert.deepEqual(again.datasecs.map((d) => d.mapName), spec.datasecs.map((d) => d.mapName));
    const unnamed = open(bytes);
    assert.equal(unnamed.name, "bpf_object");
    assert.equal(unnamed.datasecs[0].mapName, "bpf_obje.data");
    unnamed.btf?.close();
  } finally {
    again.btf?.close();
  }
});

test("open() rejects a map with an unknown attribute", () => {
  const path = compile(
    "badmap",
    `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int);
  __type(value, int); __uint(bogus, 3); } m SEC(".maps");
SEC("xdp") int p(void *ctx) { return bpf_map_lookup_elem(&m, &(int){0}) != 0; }
char L[] SEC("license") = "GPL";`,
  );
  try {
    assert.throws(
      () => open(path),
      (e) => e instanceof BtfError && /Map 'm': unknown attribute 'bogus'/.test(e.message),
    );
  } finally {
    rmSync(join(path, ".."), { recursive: true, force: true });
  }
});

test("open() rejects a .bss whose size no kernel takes, with an ElfError and no huge allocation", () => {
  const path = compile(
    "bigbss",
    `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
int counter;
SEC("xdp") int p(void *ctx) { return counter++; }
char L[] SEC("license") = "GPL";`,
  );
  try {
    const bytes = new Uint8Array(readFileSync(path));
    const dv = new DataView(bytes.buffer);
    const bss = readElf(bytes).sections.find((s) => s.name === ".bss")!;
    const shoff = Number(dv.getBigUint64(40, true));
    dv.setBigUint64(shoff + bss.index * 64 + 32, 1n << 40n, true); // sh_size: 1 TiB
    assert.throws(
      () => open(bytes),
      (e) => e instanceof ElfError && /Section '\.bss' claims 1099511627776 bytes/.test(e.message),
    );
  } finally {
    rmSync(join(path, ".."), { recursive: true, force: true });
  }
});

test("open() refuses a kconfig extern of a type libbpf does not support, as libbpf does", () => {
  const path = compile(
    "badkcfg",
    `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct two { int a, b; };
extern struct two CONFIG_TWO __kconfig __weak;
extern int CONFIG_OK __kconfig __weak;
SEC("xdp") int p(void *ctx) { return CONFIG_TWO.a + CONFIG_OK; }
char L[] SEC("license") = "GPL";`,
  );
  try {
    assert.notEqual(oracle(["info", path]).code, 0, "libbpf opens it");
    assert.throws(
      () => open(path),
      (e) => e instanceof BtfError && /Kconfig extern 'CONFIG_TWO' has a type/.test(e.message),
    );
  } finally {
    rmSync(join(path, ".."), { recursive: true, force: true });
  }
});

test("open() reads struct_ops maps: type, link flag, image and member programs", () => {
  const path = compile(
    "stops",
    `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
char LICENSE[] SEC("license") = "GPL";
SEC("struct_ops/ssthresh") __u32 BPF_PROG(my_ssthresh, struct sock *sk) { return 2; }
SEC("struct_ops/undo_cwnd") __u32 BPF_PROG(my_undo, struct sock *sk) { return 4; }
SEC("struct_ops/cong_avoid") void BPF_PROG(my_avoid, struct sock *sk, __u32 ack, __u32 acked) { }
SEC(".struct_ops") struct tcp_congestion_ops cc_a = {
  .ssthresh = (void *)my_ssthresh, .undo_cwnd = (void *)my_undo, .name = "tsbpf_a",
};
SEC(".struct_ops.link") struct tcp_congestion_ops cc_b = {
  .ssthresh = (void *)my_ssthresh, .cong_avoid = (void *)my_avoid, .name = "tsbpf_b",
};
SEC("?.struct_ops") struct tcp_congestion_ops cc_c = { .name = "tsbpf_c" };`,
  );
  let spec: ObjectSpec | undefined;
  try {
    spec = open(path);
  } finally {
    rmSync(join(path, ".."), { recursive: true, force: true });
  }
  try {
    const m = (n: string) => spec.maps.find((x) => x.name === n)!;
    assert.deepEqual(spec.maps.map((x) => x.name).sort(), ["cc_a", "cc_b", "cc_c"]);
    assert.deepEqual(
      [m("cc_a").type, m("cc_a").keySize, m("cc_a").maxEntries, m("cc_a").flags],
      ["STRUCT_OPS", 4, 1, 0],
    );
    assert.equal(m("cc_b").flags, 0x2000);
    assert.equal(m("cc_c").autocreate, false);
    assert.equal(m("cc_a").autocreate, true);
    const ops = m("cc_a").structOps!;
    assert.equal(ops.typeName, "tcp_congestion_ops");
    assert.equal(m("cc_a").valueSize, spec.btf!.size(ops.btfTypeId));
    assert.equal(ops.data.length, m("cc_a").valueSize);
    assert.ok(new TextDecoder().decode(ops.data).includes("tsbpf_a"));
    assert.deepEqual(
      ops.progs.map((p) => [p.member, p.program]).sort(),
      [["ssthresh", "my_ssthresh"], ["undo_cwnd", "my_undo"]],
    );
    assert.deepEqual(
      m("cc_b").structOps!.progs.map((p) => [p.member, p.program]).sort(),
      [["cong_avoid", "my_avoid"], ["ssthresh", "my_ssthresh"]],
    );
    assert.deepEqual(m("cc_c").structOps!.progs, []);
  } finally {
    spec.btf?.close();
  }
});
