// `tsbpf object show --json` against libbpf 1.1's view (tests/oracle/libbpf_oracle info) of every
// compiled test object: programs, maps and data-section maps must agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { objectShowJson } from "../cli/object_show.ts";
import { open } from "../spec/open.ts";
import { readElf } from "../spec/elf.ts";
import { findSectionDef } from "../spec/section_defs.ts";
import { BPF_BUILD, oracle, oracleInfo, runCli, testObjects } from "./_util.ts";
import { BtfError } from "../errors.ts";

// Sections libbpf 1.1 does not know; its oracle reports them as type "unspec".
const NEWER_THAN_LIBBPF_1_1 = new Set([
  "tc/ingress",
  "tc/egress",
  "tcx/ingress",
  "tcx/egress",
  "netkit/primary",
  "netkit/peer",
  "kprobe.session+",
  "uprobe.multi+",
  "uretprobe.multi+",
  "uprobe.multi.s+",
  "uretprobe.multi.s+",
  "netfilter",
]);

function checkPrograms(file: string): void {
  const want = oracleInfo(file);
  const spec = open(file);
  try {
    const got = objectShowJson(spec);
    assert.equal(spec.name, want.name);
    assert.deepEqual(
      got.programs.map((p) => [p.name, p.section, p.insns]),
      // deno-lint-ignore no-explicit-any
      want.programs.map((p: any) => [p.name, p.section, p.insns]),
    );
    assert.deepEqual(
      spec.programs.map((p) => p.autoload),
      // deno-lint-ignore no-explicit-any
      want.programs.map((p: any) => p.autoload),
    );
    got.programs.forEach((p, i) => {
      const w = want.programs[i];
      const pattern = findSectionDef(p.section)?.pattern ?? "";
      if (w.type === "unspec" && NEWER_THAN_LIBBPF_1_1.has(pattern)) return;
      assert.equal(p.type, w.type, `type of ${p.name}`);
      // libbpf 1.1 stores a struct_ops program's member index as its expected attach type at
      // open; tsbpf keeps it in MapSpec.structOps.progs, as current libbpf does at load.
      if (p.type === "struct_ops") return;
      if (p.expectedAttachType === "") {
        assert.equal(w.expectedAttachTypeId, 0, `expected attach type of ${p.name}`);
      } else {
        assert.equal(p.expectedAttachType, w.expectedAttachType, `attach type of ${p.name}`);
      }
    });
  } finally {
    spec.btf?.close();
  }
}

function checkMaps(file: string): void {
  const want = oracleInfo(file);
  const spec = open(file);
  try {
    const got = objectShowJson(spec);
    // deno-lint-ignore no-explicit-any
    const user = want.maps.filter((m: any) => !m.internal);
    // deno-lint-ignore no-explicit-any
    const internal = want.maps.filter((m: any) => m.internal);
    assert.deepEqual(
      got.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
      // deno-lint-ignore no-explicit-any
      user.map((m: any) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
    );
    spec.maps.forEach((m, i) => {
      const w = user[i];
      // libbpf 1.1 fills a struct_ops map's BTF value type at load, current libbpf at open.
      if (m.type === "STRUCT_OPS") return;
      assert.equal(m.btfKeyTypeId, w.btfKeyTypeId, `btf key of ${m.name}`);
      assert.equal(m.btfValueTypeId, w.btfValueTypeId, `btf value of ${m.name}`);
      assert.equal(m.mapExtra, BigInt(w.mapExtra), `map_extra of ${m.name}`);
      assert.equal(m.numaNode, w.numaNode, `numa_node of ${m.name}`);
      if (w.innerMap === null) assert.equal(m.inner, undefined);
      else {
        assert.deepEqual(
          [
            m.inner?.type.toLowerCase(),
            m.inner?.keySize,
            m.inner?.valueSize,
            m.inner?.maxEntries,
            m.inner?.flags,
          ],
          [
            w.innerMap.type,
            w.innerMap.keySize,
            w.innerMap.valueSize,
            w.innerMap.maxEntries,
            w.innerMap.flags,
          ],
        );
      }
    });
    assert.deepEqual(
      got.datasecs.map((d) => [d.mapName, d.name, d.size, d.flags]),
      // deno-lint-ignore no-explicit-any
      internal.map((m: any) => [m.name, m.datasec, m.valueSize, m.flags]),
    );
  } finally {
    spec.btf?.close();
  }
}

for (const file of testObjects()) {
  const name = basename(file);
  test(`object show --json agrees with libbpf on the programs of ${name}`, () => {
    checkPrograms(file);
  });
  test(`object show --json agrees with libbpf on the maps and data sections of ${name}`, () => {
    checkMaps(file);
  });
}

// Corners the shared test objects do not reach, compiled here.
const EXTRA: Record<string, string> = {
  strings: `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
static volatile int only_static = 4;
SEC("tp/syscalls/sys_enter_write")
int p(void *ctx) {
  bpf_printk("hello %d", only_static);
  const char *s = "a string literal that is long enough";
  char buf[8];
  bpf_probe_read_kernel_str(buf, sizeof(buf), s);
  return buf[0];
}`,
  struct_ops: `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
char LICENSE[] SEC("license") = "GPL";
SEC("struct_ops/ssthresh") __u32 BPF_PROG(my_ssthresh, struct sock *sk) { return 2; }
SEC("struct_ops/undo_cwnd") __u32 BPF_PROG(my_undo, struct sock *sk) { return 4; }
SEC("struct_ops/cong_avoid") void BPF_PROG(my_avoid, struct sock *sk, __u32 ack, __u32 acked) { }
SEC(".struct_ops") struct tcp_congestion_ops cc_a = {
  .ssthresh = (void *)my_ssthresh, .undo_cwnd = (void *)my_undo,
  .cong_avoid = (void *)my_avoid, .name = "tsbpf_a",
};`,
  hidden_only: `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
__attribute__((visibility("hidden"))) int hidden_data = 1;
__attribute__((visibility("hidden"))) int hidden_bss;
int visible_bss;
SEC("xdp") int x(void *c) { hidden_bss++; visible_bss++; return hidden_data; }`,
  a_very_long_object_name: `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
int counter;
const volatile int limit = 3;
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096 * 4); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int); __type(value, long); } h SEC(".maps");
SEC("?xdp") int x(struct xdp_md *c) { return counter < limit ? XDP_PASS : XDP_DROP; }
SEC("socket") int s(void *c) { return bpf_map_lookup_elem(&h, &counter) != 0; }
SEC("cgroup_skb/egress") int e(void *c) { return 1; }
SEC("cgroup/connect4") int c4(void *c) { return 1; }
SEC("sk_msg") int m(void *c) { return 1; }
SEC("tp_btf/sched_switch") int b(void *c) { return 0; }
SEC("lsm/file_open") int l(void *c) { return 0; }
SEC("struct_ops/x") int so(void *c) { return 0; }
SEC("perf_event") int pe(void *c) { return 0; }
SEC("unknown_section") int u(void *c) { return 0; }`,
};

// Without -g there is no BTF: no variables, and no BPF_F_MMAPABLE on data maps.
const NO_DEBUG_INFO = new Set(["no_btf"]);
EXTRA.no_btf = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char L[] SEC("license") = "GPL";
int c;
const volatile int r = 1;
SEC("xdp") int x(void *ctx) { return c + r; }`;

for (const [name, source] of Object.entries(EXTRA)) {
  test(`open() agrees with libbpf on a compiled ${name}.bpf.o`, () => {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-oracle-"));
    try {
      const c = join(dir, `${name}.bpf.c`);
      const o = join(dir, `${name}.bpf.o`);
      writeFileSync(c, source);
      execFileSync("clang-19", [
        "-D__TARGET_ARCH_x86",
        `-I${BPF_BUILD}`,
        NO_DEBUG_INFO.has(name) ? "-g0" : "-g",
        "-O2",
        "-target",
        "bpf",
        "-I/usr/include/x86_64-linux-gnu",
        "-c",
        c,
        "-o",
        o,
      ]);
      checkPrograms(o);
      checkMaps(o);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("tsbpf object show prints the programs, maps and variables of an object", () => {
  const file = testObjects().find((f) => basename(f) === "globals.bpf.o");
  assert.ok(file, "globals.bpf.o is built");
  const r = runCli(["object", "show", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /use_globals\s+tp\/syscalls\/sys_enter_write\s+tracepoint/);
  assert.match(r.stdout, /\.rodata\s+map globals\.rodata/);
  assert.match(r.stdout, /const volatile __u64\[4\]\s+thresholds/);
});

test("tsbpf object show --json prints one parseable document", () => {
  const file = testObjects().find((f) => basename(f) === "maps.bpf.o");
  assert.ok(file, "maps.bpf.o is built");
  const r = runCli(["object", "show", file, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), ["programs", "maps", "datasecs"]);
  assert.ok(doc.maps.some((m: { type: string }) => m.type === "ringbuf"));
});

test("tsbpf object show fails with a clear error on a file that is not ELF", () => {
  const r = runCli(["object", "show", import.meta.filename ?? new URL(import.meta.url).pathname]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Not an ELF file/);
});

test("open() refuses, as libbpf does, a DATASEC whose VAR lost its symbol or whose section is gone", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-oracle-"));
  try {
    const c = join(dir, "d.bpf.c");
    writeFileSync(
      c,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
int unused_global = 1;
int other SEC(".data.other") = 2;
SEC("xdp") int x(void *ctx) { return 2; }`,
    );
    const o = join(dir, "d.bpf.o");
    execFileSync("clang-19", [
      "-g",
      "-O2",
      "-target",
      "bpf",
      "-I/usr/include/x86_64-linux-gnu",
      "-c",
      c,
      "-o",
      o,
    ]);
    checkPrograms(o);
    // Neither variable is used by code: once DWARF and .rel.BTF are gone, no relocation names them.
    const noSym = join(dir, "nosym.bpf.o");
    execFileSync("llvm-objcopy-19", [
      "--strip-debug",
      "--remove-section=.rel.BTF",
      "--strip-symbol=unused_global",
      o,
      noSym,
    ]);
    const noSec = join(dir, "nosec.bpf.o");
    execFileSync("llvm-objcopy-19", ["--rename-section=.data.other=.data.moved", o, noSec]);
    for (
      const [file, what] of [[noSym, /VAR 'unused_global'/], [
        noSec,
        /DATASEC '\.data\.other'/,
      ]] as const
    ) {
      assert.notEqual(oracle(["info", file]).code, 0, `libbpf opens ${file}`);
      assert.throws(() => open(file), (e) => e instanceof BtfError && what.test(e.message));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("open() ignores broken relocations of DWARF and data sections, which libbpf never reads", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-oracle-"));
  try {
    const c = join(dir, "r.bpf.c");
    writeFileSync(
      c,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
static int f(void) { return 1; }
int (*fp)(void) = f;
SEC("xdp") int x(void *ctx) { return 2; }`,
    );
    const o = join(dir, "r.bpf.o");
    execFileSync("clang-19", [
      "-g",
      "-O2",
      "-target",
      "bpf",
      "-I/usr/include/x86_64-linux-gnu",
      "-c",
      c,
      "-o",
      o,
    ]);
    const bytes = new Uint8Array(readFileSync(o));
    const elf = readElf(bytes, { debugRelocations: true });
    const dv = new DataView(bytes.buffer);
    const patched: string[] = [];
    for (const r of elf.relocations) {
      const rel = elf.sections[r.section];
      const target = elf.sections[r.target];
      if (!/^\.rel\.(debug_|data$)/.test(rel.name) || r.entries.length === 0) continue;
      // The first entry: past the end of its target, and naming a symbol that does not exist.
      dv.setBigUint64(rel.offset, BigInt(target.size + 64), true);
      dv.setUint32(rel.offset + 12, 0xffff, true);
      patched.push(rel.name);
    }
    assert.ok(patched.includes(".rel.data") && patched.some((n) => n.startsWith(".rel.debug_")));
    const bad = join(dir, "bad_relocs.bpf.o");
    writeFileSync(bad, bytes);
    checkPrograms(bad);
    checkMaps(bad);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
