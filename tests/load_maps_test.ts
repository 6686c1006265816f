// Live maps: map-in-map and prog-array `values` initializers filled at load, byte-level access
// (lookup, update, delete, next key, iteration), per-CPU value sizes, and the CLI verb.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { mapInfo, progInfo } from "../ffi/bpf.ts";
import { BpfObject } from "../live/object.ts";
import { numPossibleCpus } from "../live/map.ts";
import { oracle, readU32, requireKernel, runCli, testObject, u32 } from "./_util.ts";

test("load() fills map-in-map slots with their inner maps and prog arrays with their programs", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("map_in_map"));
  obj.load();
  const outer = obj.map("outer_array");
  assert.equal(readU32(outer.lookup(u32(0))), mapInfo(obj.map("inner_a").fd).id);
  assert.equal(outer.lookup(u32(1)), undefined);
  assert.equal(readU32(outer.lookup(u32(2))), mapInfo(obj.map("inner_b").fd).id);
  assert.equal(readU32(obj.map("outer_hash").lookup(u32(1))), mapInfo(obj.map("inner_h").fd).id);
  const jt = obj.map("jump_table");
  assert.equal(readU32(jt.lookup(u32(0))), progInfo(obj.program("tail_0").fd).id);
  assert.equal(jt.lookup(u32(1)), undefined);
  assert.equal(readU32(jt.lookup(u32(2))), progInfo(obj.program("tail_2").fd).id);
  // The inner map template of outer_empty (a ring buffer) was made and released again.
  assert.equal(obj.maps.has("outer_empty.inner"), false);
});

test("BpfMap reads, writes, deletes and walks keys of a hash map", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("maps"));
  obj.load();
  const m = obj.map("hash_map");
  assert.equal(m.keySize, 8);
  const key = (n: number) => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
  const val = (n: number) => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
  for (let i = 1; i <= 5; i++) m.update(key(i), val(i * 10));
  assert.deepEqual(m.lookup(key(3)), val(30));
  assert.equal(m.lookup(key(9)), undefined);
  assert.equal(m.delete(key(3)), true);
  assert.equal(m.delete(key(3)), false);
  const keys = [...m.keys()].map((k) => Number(new DataView(k.buffer).getBigUint64(0, true)))
    .sort();
  assert.deepEqual(keys, [1, 2, 4, 5]);
  assert.equal([...m.entries()].length, 4);
  assert.throws(() => m.update(key(1), val(1), 1), { code: "EEXIST" }); // BPF_NOEXIST
  assert.throws(() => m.lookup(new Uint8Array(3)), RangeError);
  const pc = obj.map("percpu_array_map");
  assert.equal(pc.valueBytes, 8 * numPossibleCpus());
  assert.equal(pc.lookup(u32(0))!.length, 8 * numPossibleCpus());
});

test("tsbpf object load --json prints the programs libbpf loads, with libbpf's tags", (t) => {
  if (!requireKernel(t)) return;
  const r = runCli(["object", "load", testObject("net"), "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const ours = JSON.parse(r.stdout).programs;
  const theirs = oracle(["load", testObject("net")]).json.programs;
  assert.deepEqual(
    ours.map((
      p: { name: string; section: string; tag: string; xlatedInsns: number },
    ) => [p.name, p.section, p.tag, p.xlatedInsns]),
    theirs.map((
      p: { name: string; section: string; tag: string; xlatedInsns: number },
    ) => [p.name, p.section, p.tag, p.xlatedInsns]),
  );
  for (const p of ours) assert.match(p.tag, /^[0-9a-f]{16}$/);
});

test("tsbpf object load --prog loads one program, and a rejected one exits 1 with the verifier's words", (t) => {
  if (!requireKernel(t)) return;
  const one = runCli(["object", "load", testObject("net"), "--prog", "xdp_pass", "--json"]);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout).programs.map((p: { name: string }) => p.name), [
    "xdp_pass",
  ]);
  const bad = runCli(["object", "load", testObject("load_globals"), "--prog", "rejected"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Loading program 'rejected' \(section socket\) failed: EACCES/);
  assert.match(bad.stderr.trimEnd(), /invalid mem access 'scalar'$/);
  const unknown = runCli(["object", "load", testObject("net"), "--prog", "nope"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no program named 'nope'/);
});

test("BpfObject resolves CO-RE against btfCustomPath, and names a bad path in its error", (t) => {
  if (!requireKernel(t)) return;
  {
    using obj = BpfObject.open(testObject("core"), { btfCustomPath: "/sys/kernel/btf/vmlinux" });
    obj.load();
    assert.ok(obj.program("core_reads").fd > 0);
  }
  using bad = BpfObject.open(testObject("core"), { btfCustomPath: "/nonexistent/vmlinux.btf" });
  assert.throws(() => bad.load(), /nonexistent/);
});

test("load() names the map the kernel refused, and releases what it made", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("maps"));
  obj.setMaxEntries("lru_hash_map", 0);
  assert.throws(
    () => obj.load(),
    /Creating map 'lru_hash_map' failed: bpf\(BPF_MAP_CREATE\) failed: EINVAL/,
  );
  assert.equal(obj.state, "failed");
});

test("load({ logLevel: 1 }) keeps each program's verifier log", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("net"));
  obj.load({ logLevel: 1 });
  assert.match(obj.program("xdp_pass").log, /processed \d+ insns/);
});

test("setAttachTarget() chooses the BTF target of a tp_btf program, and an unknown one is named", (t) => {
  if (!requireKernel(t)) return;
  const k = Btf.kernel();
  {
    using obj = BpfObject.open(testObject("tracing"));
    for (const n of obj.programNames) obj.setAutoload(n, n === "tp_btf_switch");
    obj.setAttachTarget("tp_btf_switch", "sched_switch");
    obj.load();
    const p = obj.program("tp_btf_switch");
    assert.equal(p.attachBtfId, k.findByName("btf_trace_sched_switch", BtfKind.Typedef));
    assert.equal(p.info().attachBtfId, p.attachBtfId);
  }
  using bad = BpfObject.open(testObject("tracing"));
  for (const n of bad.programNames) bad.setAutoload(n, n === "tp_btf_switch");
  bad.setAttachTarget("tp_btf_switch", "tsbpf_no_such_tracepoint");
  assert.throws(() => bad.load(), /tsbpf_no_such_tracepoint/);
});

test("setProgramType() and setExpectedAttachType() override what the section says", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("net"));
  for (const n of obj.programNames) obj.setAutoload(n, n === "tc_ingress" || n === "cgroup_egress");
  obj.setProgramType("tc_ingress", "SCHED_ACT");
  obj.setExpectedAttachType("cgroup_egress", "CGROUP_INET_INGRESS");
  obj.load();
  assert.equal(obj.program("tc_ingress").info().type, 4); // BPF_PROG_TYPE_SCHED_ACT
  assert.equal(obj.program("cgroup_egress").expectedAttachType, 0); // BPF_CGROUP_INET_INGRESS
});

test("open() options set autoload, types and max entries, and the print callback hears the load", (t) => {
  if (!requireKernel(t)) return;
  const msgs: string[] = [];
  using obj = BpfObject.open(testObject("net"), {
    programs: { xdp_pass: { autoload: true }, tc_ingress: { autoload: false, type: "SCHED_ACT" } },
    maxEntries: { dev_map: 8 },
    print: (level, m) => msgs.push(`${level} ${m}`),
  });
  assert.equal(obj.autoload("tc_ingress"), false);
  obj.load();
  assert.equal(obj.map("dev_map").maxEntries, 8);
  assert.equal(obj.programs.has("tc_ingress"), false);
  assert.ok(msgs.some((m) => /^debug libbpf: prog 'xdp_pass': loaded/.test(m)), msgs.join("\n"));
  assert.throws(
    () => BpfObject.open(testObject("net"), { programs: { nope: { autoload: true } } }),
    /no program 'nope'/,
  );
});
