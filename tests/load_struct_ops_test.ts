// struct_ops at load, as libbpf 1.1: maps made with the kernel's value type, programs loaded with
// the kernel struct as attach target and the member index as expected attach type, and the value
// image (data members at the kernel's offsets, program fds in the function pointers) that
// registers the map.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { mapDelete, mapInfo, mapUpdate, progTestRun } from "../ffi/bpf.ts";
import { BpfObject } from "../live/object.ts";
import { requireKernel, testObject } from "./_util.ts";

function member(k: Btf, struct: string, name: string): { index: number; offset: number } {
  const t = k.type(k.findByName(struct, BtfKind.Struct));
  assert.ok(t.kind === BtfKind.Struct);
  const index = t.members.findIndex((m) => m.name === name);
  return { index, offset: t.members[index].bitOffset / 8 };
}

test("load() makes struct_ops maps with the kernel's value type and loads their programs for their members", (t) => {
  if (!requireKernel(t)) return;
  const k = Btf.kernel();
  using obj = BpfObject.open(testObject("load_struct_ops"));
  obj.load();
  const cc = obj.map("tsbpf_cc");
  const info = mapInfo(cc.fd);
  assert.equal(info.type, 26);
  assert.equal(
    info.btfVmlinuxValueTypeId,
    k.findByName("bpf_struct_ops_tcp_congestion_ops", BtfKind.Struct),
  );
  const p = obj.program("tsbpf_undo_cwnd");
  assert.equal(p.attachBtfId, k.findByName("tcp_congestion_ops", BtfKind.Struct));
  assert.equal(p.expectedAttachType, member(k, "tcp_congestion_ops", "undo_cwnd").index);
  // The dummy ops program runs: bpf_dummy_ops test_1 returns what the program returns.
  const r = progTestRun(obj.program("dummy_test_1").fd, { ctxIn: new Uint8Array(8) });
  assert.equal(r.retval, 7);
});

test("structOpsValue() holds the data members and program fds, and registers the map", (t) => {
  if (!requireKernel(t)) return;
  const k = Btf.kernel();
  using obj = BpfObject.open(testObject("load_struct_ops"));
  obj.load();
  const value = obj.structOpsValue("tsbpf_cc");
  const data = member(k, "bpf_struct_ops_tcp_congestion_ops", "data").offset;
  const dv = new DataView(value.buffer);
  const name = member(k, "tcp_congestion_ops", "name").offset;
  assert.equal(new TextDecoder().decode(value.subarray(data + name, data + name + 8)), "tsbpf_cc");
  for (const [fn, prog] of [["ssthresh", "tsbpf_ssthresh"], ["cong_avoid", "tsbpf_cong_avoid"]]) {
    const off = data + member(k, "tcp_congestion_ops", fn).offset;
    assert.equal(Number(dv.getBigUint64(off, true)), obj.program(prog).fd, fn);
  }
  assert.equal(dv.getBigUint64(data + member(k, "tcp_congestion_ops", "init").offset, true), 0n);
  assert.throws(() => obj.structOpsValue("nope"), /no struct_ops map 'nope'/);
  // Registering: the update a non-link struct_ops map is registered with (libbpf 1.1 attach).
  const m = obj.map("tsbpf_cc");
  mapUpdate(m.fd, new Uint8Array(4), value);
  try {
    const avail = readFileSync("/proc/sys/net/ipv4/tcp_available_congestion_control", "utf8");
    assert.match(avail, /\btsbpf_cc\b/);
  } finally {
    mapDelete(m.fd, new Uint8Array(4));
  }
});
