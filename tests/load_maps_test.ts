// Live maps: map-in-map and prog-array `values` initializers filled at load, byte-level access
// (lookup, update, delete, next key, iteration), per-CPU value sizes, and the CLI verb.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { mapCreate, mapInfo, mapLookup, progInfo } from "../ffi/bpf.ts";
import { BpfObject } from "../live/object.ts";
import { numPossibleCpus } from "../live/map.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  compileBpfC,
  oracle,
  readU32,
  requireKernel,
  ROOT,
  run,
  runCli,
  testObject,
  u32,
  withTmpDir,
} from "./_util.ts";

/** libbpf_insns (built by setup): what libbpf loads, with an optional btf_custom_path. */
const INSNS_ORACLE = join(ROOT, "tests", "oracle", "build", "libbpf_insns");

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

const CUSTOM_LOCAL_C = `#define SEC(n) __attribute__((section(n), used))
struct tsbpf_custom { int a; int b; };
SEC("socket") int custom_core(void *ctx)
{
	if (__builtin_preserve_type_info(*(struct tsbpf_custom *)0, 0 /* TYPE_EXISTS */))
		return __builtin_preserve_field_info(((struct tsbpf_custom *)0)->b, 0 /* BYTE_OFFSET */);
	return 77;
}
char LICENSE[] SEC("license") = "GPL";
`;

// The target: tsbpf_custom exists here (vmlinux has no such type) with b at byte 12.
const CUSTOM_TARGET_C = `#define SEC(n) __attribute__((section(n), used))
struct tsbpf_custom { long long x; int a; int b; };
struct tsbpf_custom tsbpf_custom_var SEC(".data");
char LICENSE[] SEC("license") = "GPL";
`;

test("BpfObject resolves CO-RE against btfCustomPath, not vmlinux, as libbpf does with the same path", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-btfcustom", (dir) => {
    const file = compileBpfC(dir, "custom_local", CUSTOM_LOCAL_C);
    const target = compileBpfC(dir, "custom_target", CUSTOM_TARGET_C);
    const loadAndRun = (btfCustomPath?: string) => {
      using obj = BpfObject.open(file, { btfCustomPath });
      obj.load();
      const p = obj.program("custom_core");
      return { ret: p.testRun({ dataIn: new Uint8Array(64) }).retval, tag: p.info().tag };
    };
    const custom = loadAndRun(target);
    const kernel = loadAndRun();
    // The field's offset in the custom BTF, where vmlinux lacks the type.
    assert.equal(custom.ret, 12);
    assert.equal(kernel.ret, 77);
    // libbpf given the same custom path loads the same instructions.
    const r = run(INSNS_ORACLE, [file, target]);
    assert.equal(r.code, 0, r.stderr);
    const theirs = JSON.parse(r.stdout).programs.find((p: { name: string }) =>
      p.name === "custom_core"
    );
    assert.equal(theirs.loaded, true);
    assert.equal(custom.tag, theirs.tag);
    assert.notEqual(kernel.tag, theirs.tag);
  });
  using bad = BpfObject.open(testObject("core"), { btfCustomPath: "/nonexistent/vmlinux.btf" });
  assert.throws(() => bad.load(), /nonexistent/);
});

test("load() passes map_extra: maps.bpf.o's bloom filter gets libbpf's hash count", (t) => {
  if (!requireKernel(t)) return;
  const want = oracle(["load", testObject("maps")]).json.maps.find((m: { name: string }) =>
    m.name === "bloom_map"
  );
  assert.equal(want.kernelMapExtra, 3); // __uint(map_extra, 3) in maps.bpf.c
  using obj = BpfObject.open(testObject("maps"));
  obj.load();
  const bloom = obj.map("bloom_map");
  const info = mapInfo(bloom.fd);
  assert.equal(info.mapExtra, 3n);
  // Behaviour: the kernel sizes the filter's bit array by the hash count (0 means its default,
  // 5), so the memory it charges equals that of a filter made with 3 hashes, not with 5.
  const memlock = (fd: number) =>
    Number(/^memlock:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]);
  const like = (mapExtra: bigint) => {
    using fd = mapCreate({
      type: info.type,
      keySize: 0,
      valueSize: info.valueSize,
      maxEntries: info.maxEntries,
      mapExtra,
    });
    return memlock(fd.value);
  };
  assert.notEqual(like(3n), like(0n), "the hash count does not change the filter's size");
  assert.equal(memlock(bloom.fd), like(3n));
  // And it works as a bloom filter: a pushed value is found by the kernel's peek (a lookup whose
  // value buffer holds the value to test).
  bloom.update(new Uint8Array(0), u32(0xdecaf));
  assert.equal(mapLookup(bloom.fd, new Uint8Array(0), u32(0xdecaf)), true);
});

test("load() rounds a ring buffer's size up to a power-of-two number of pages (libbpf's rule)", (t) => {
  if (!requireKernel(t)) return;
  const page = Number(run("getconf", ["PAGESIZE"]).stdout.trim());
  assert.ok(page >= 4096, "getconf PAGESIZE");
  for (const [asked, want] of [[5000, 2 * page], [3 * page, 4 * page], [8 * page, 8 * page]]) {
    using obj = BpfObject.open(testObject("maps"));
    obj.setMaxEntries("ringbuf_map", asked);
    obj.load();
    assert.equal(mapInfo(obj.map("ringbuf_map").fd).maxEntries, want, `asked for ${asked}`);
  }
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
