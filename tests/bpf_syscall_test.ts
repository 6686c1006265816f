// The bpf() wrappers of ffi/bpf.ts against the real kernel: maps, programs, info, pins, ids,
// test runs, verifier logs, errno names and fd hygiene.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs";
import process from "node:process";
import {
  Attr,
  BpfAttachFlags,
  BpfAttachType,
  BpfLinkType,
  BpfMapFlags,
  BpfMapType,
  BpfProgType,
  btfInfo,
  btfLoad,
  enableStats,
  Fd,
  getFdById,
  getNextId,
  getSys,
  iterCreate,
  Libc,
  linkCreate,
  linkDetach,
  linkInfo,
  linkUpdate,
  mapCreate,
  mapDelete,
  mapDeleteBatch,
  mapFreeze,
  mapGetNextKey,
  mapInfo,
  mapLookup,
  mapLookupAndDelete,
  mapLookupBatch,
  Mapping,
  mapUpdate,
  mapUpdateBatch,
  objGet,
  objPin,
  openFds as trackedFds,
  Perf,
  PERF_EVENT_ATTR,
  progAttach,
  progBindMap,
  progDetach,
  progInfo,
  progLoad,
  progQuery,
  progTestRun,
  rawTracepointOpen,
  traceFds,
} from "../ffi/mod.ts";
import { BtfBuilder } from "../btf/builder.ts";
import { SyscallError } from "../errors.ts";
import {
  libbpfLoad,
  newFds,
  note,
  openFds,
  pinDir,
  readU32,
  readU64,
  requireKernel,
  run,
  skip,
  skipMissing,
  testObject,
  thrown,
  u32,
  u64,
} from "./_util.ts";

/** An ARRAY map with u32 keys. */
function arrayMap(valueSize: number, maxEntries: number): Fd {
  return mapCreate({ type: BpfMapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize, maxEntries });
}

/** Encodes BPF instructions: [opcode, dst, src, off, imm] each. */
function insns(...list: [number, number, number, number, number][]): Uint8Array {
  const out = new Uint8Array(list.length * 8);
  const dv = new DataView(out.buffer);
  list.forEach(([op, dst, src, off, imm], i) => {
    dv.setUint8(i * 8, op);
    dv.setUint8(i * 8 + 1, (src << 4) | dst);
    dv.setInt16(i * 8 + 2, off, true);
    dv.setInt32(i * 8 + 4, imm, true);
  });
  return out;
}
const MOV64_IMM = 0xb7;
const EXIT = 0x95;
const RET0 = insns([MOV64_IMM, 0, 0, 0, 0], [EXIT, 0, 0, 0, 0]);
const XDP_PASS = insns([MOV64_IMM, 0, 0, 0, 2], [EXIT, 0, 0, 0, 0]);

/** A number the kernel shows for an fd in /proc/self/fdinfo (`map_id`, `btf_id`...). */
function fdinfoNumber(fd: number, field: string): number {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  const m = new RegExp(`^${field}:\\s*(\\d+)$`, "m").exec(text);
  assert.ok(m, `no ${field} in fdinfo: ${text}`);
  return Number(m[1]);
}
test("mapCreate() makes an array whose elements update, look up and iterate", (t) => {
  if (!requireKernel(t)) return;
  using map = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: 4,
    name: "ts_array",
  });
  mapUpdate(map, u32(2), u64(0x1122334455667788n));
  const v = new Uint8Array(8);
  assert.equal(mapLookup(map, u32(2), v), true);
  assert.equal(readU64(v), 0x1122334455667788n);
  assert.equal(mapLookup(map, u32(9), v), false, "a key past max_entries is ENOENT");
  const keys: number[] = [];
  const next = new Uint8Array(4);
  let cur: Uint8Array | null = null;
  while (mapGetNextKey(map, cur, next)) {
    keys.push(readU32(next));
    cur = next.slice();
  }
  assert.deepEqual(keys, [0, 1, 2, 3]);
  const info = mapInfo(map);
  assert.equal(info.type, BpfMapType.BPF_MAP_TYPE_ARRAY);
  assert.equal(info.keySize, 4);
  assert.equal(info.valueSize, 8);
  assert.equal(info.maxEntries, 4);
  assert.equal(info.name, "ts_array");
  assert.equal(info.id, fdinfoNumber(map.value, "map_id"));
});

test("mapCreate() makes a hash whose elements update, delete and refuse NOEXIST twice", (t) => {
  if (!requireKernel(t)) return;
  using map = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_HASH,
    keySize: 4,
    valueSize: 4,
    maxEntries: 8,
  });
  for (const k of [5, 6, 7]) mapUpdate(map, u32(k), u32(k * 10), BpfMapFlags.BPF_NOEXIST);
  assert.throws(
    () => mapUpdate(map, u32(5), u32(1), BpfMapFlags.BPF_NOEXIST),
    (e: unknown) =>
      e instanceof SyscallError && e.code === "EEXIST" && e.call === "bpf(BPF_MAP_UPDATE_ELEM)",
  );
  const v = new Uint8Array(4);
  assert.equal(mapLookup(map, u32(6), v), true);
  assert.equal(readU32(v), 60);
  assert.equal(mapDelete(map, u32(6)), true);
  assert.equal(mapDelete(map, u32(6)), false);
  assert.equal(mapLookupAndDelete(map, u32(7), v), true);
  assert.equal(readU32(v), 70);
  const seen: number[] = [];
  const next = new Uint8Array(4);
  let cur: Uint8Array | null = null;
  while (mapGetNextKey(map, cur, next)) {
    seen.push(readU32(next));
    cur = next.slice();
  }
  assert.deepEqual(seen, [5]);
});

test("batch operations write, read and delete many hash elements in one call", (t) => {
  if (!requireKernel(t)) return;
  using map = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_HASH,
    keySize: 4,
    valueSize: 4,
    maxEntries: 16,
  });
  const keys = new Uint32Array([1, 2, 3, 4, 5]);
  const values = new Uint32Array([10, 20, 30, 40, 50]);
  const n = mapUpdateBatch(map, {
    keys: new Uint8Array(keys.buffer),
    values: new Uint8Array(values.buffer),
    count: 5,
  });
  assert.equal(n, 5);
  const outK = new Uint32Array(16);
  const outV = new Uint32Array(16);
  const outBatch = new Uint8Array(4);
  const r = mapLookupBatch(map, {
    outBatch,
    keys: new Uint8Array(outK.buffer),
    values: new Uint8Array(outV.buffer),
    count: 16,
  });
  assert.equal(r.count, 5);
  assert.equal(r.done, true);
  const got = [...outK.subarray(0, 5)].map((k, i) => [k, outV[i]]).sort((a, b) => a[0] - b[0]);
  assert.deepEqual(got, [[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]]);
  assert.equal(mapDeleteBatch(map, { keys: new Uint8Array(keys.buffer), count: 2 }), 2);
  assert.equal(mapLookup(map, u32(1), new Uint8Array(4)), false);
  assert.equal(mapLookup(map, u32(3), new Uint8Array(4)), true);
});

test("mapFreeze() makes later updates from user space fail with EPERM", (t) => {
  if (!requireKernel(t)) return;
  using map = arrayMap(4, 1);
  mapUpdate(map, u32(0), u32(7));
  mapFreeze(map);
  assert.throws(
    () => mapUpdate(map, u32(0), u32(8)),
    (e: unknown) => e instanceof SyscallError && e.code === "EPERM",
  );
  const v = new Uint8Array(4);
  assert.equal(mapLookup(map, u32(0), v), true);
  assert.equal(readU32(v), 7);
});

test("an mmapped BPF_F_MMAPABLE array shows values written through the syscall, and back", (t) => {
  if (!requireKernel(t)) return;
  using map = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_ARRAY,
    keySize: 4,
    valueSize: 8,
    maxEntries: 512,
    flags: BpfMapFlags.BPF_F_MMAPABLE,
  });
  mapUpdate(map, u32(3), u64(0xdeadbeefcafen));
  using m = Mapping.map(getSys(), map.value, 4096, { write: true });
  const dv = new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  assert.equal(dv.getBigUint64(3 * 8, true), 0xdeadbeefcafen);
  dv.setBigUint64(100 * 8, 42n, true);
  const v = new Uint8Array(8);
  assert.equal(mapLookup(map, u32(100), v), true);
  assert.equal(readU64(v), 42n);
  m.close();
  m.close();
  assert.equal(m.closed, true);
});

test("progLoad() loads r0 = 0; exit, and its tag matches bpftool's", (t) => {
  if (!requireKernel(t)) return;
  using prog = progLoad({
    type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
    insns: RET0,
    license: "GPL",
    name: "ts_ret0",
  });
  const info = progInfo(prog);
  assert.match(info.tag, /^[0-9a-f]{16}$/);
  assert.equal(info.type, BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER);
  assert.equal(info.name, "ts_ret0");
  assert.equal(info.insnCount, 2);
  assert.equal(info.gplCompatible, true);
  assert.equal(info.xlated, undefined);
  assert.deepEqual(progInfo(prog, { xlated: true }).xlated, RET0);
  const r = run("bpftool", ["-j", "prog", "show", "id", String(info.id)]);
  assert.equal(r.code, 0, r.stderr);
  const bt = JSON.parse(r.stdout);
  assert.equal(bt.tag, info.tag);
  assert.equal(bt.name, "ts_ret0");
  assert.equal(bt.type, "socket_filter");
});

test("progTestRun() runs an XDP program and returns its verdict", (t) => {
  if (!requireKernel(t)) return;
  using prog = progLoad({ type: BpfProgType.BPF_PROG_TYPE_XDP, insns: XDP_PASS, license: "GPL" });
  const pkt = new Uint8Array(64);
  const out = new Uint8Array(128);
  const r = progTestRun(prog, { dataIn: pkt, dataOut: out, repeat: 3 });
  assert.equal(r.retval, 2);
  assert.equal(r.dataSizeOut, 64);
});

test("enableStats() makes run_cnt count test runs", (t) => {
  if (!requireKernel(t)) return;
  using prog = progLoad({ type: BpfProgType.BPF_PROG_TYPE_XDP, insns: XDP_PASS, license: "GPL" });
  {
    using _stats = enableStats(0);
    progTestRun(prog, { dataIn: new Uint8Array(64), repeat: 5 });
  }
  assert.equal(progInfo(prog).runCnt, 5n);
});

test("a program that fails verification gives EACCES and the verifier log", (t) => {
  if (!requireKernel(t)) return;
  const log = new Uint8Array(64 * 1024);
  const out = { logTrueSize: 0 };
  assert.throws(
    () =>
      progLoad({
        type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
        insns: insns([EXIT, 0, 0, 0, 0]),
        license: "GPL",
        logBuf: log,
        out,
      }),
    (e: unknown) =>
      e instanceof SyscallError && e.code === "EACCES" && e.call === "bpf(BPF_PROG_LOAD)",
  );
  const text = new TextDecoder().decode(log.subarray(0, log.indexOf(0)));
  assert.match(text, /R0 !read_ok/);
  assert.equal(out.logTrueSize, text.length + 1);
});

test("a bad map type fails with EINVAL, named in the error", (t) => {
  if (!requireKernel(t)) return;
  const err = thrown(() => mapCreate({ type: 9999, keySize: 4, valueSize: 4, maxEntries: 1 }));
  assert.ok(err instanceof SyscallError);
  assert.equal(err.errno, 22);
  assert.equal(err.code, "EINVAL");
  assert.equal(err.call, "bpf(BPF_MAP_CREATE)");
  assert.match(err.message, /^bpf\(BPF_MAP_CREATE\) failed: EINVAL \(Invalid argument\)/);
});

test("creating and closing maps and programs leaks no fd", (t) => {
  if (!requireKernel(t)) return;
  const before = openFds();
  for (let i = 0; i < 20; i++) {
    const m = arrayMap(4, 1);
    const p = progLoad({
      type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
      insns: RET0,
      license: "GPL",
    });
    try {
      mapCreate({ type: 9999, keySize: 4, valueSize: 4, maxEntries: 1 });
    } catch { /* expected */ }
    m.close();
    p.close();
    p.close();
  }
  assert.deepEqual(newFds(before), []);
});

test("the fd tracker records open fds with the stack that made them", (t) => {
  if (!requireKernel(t)) return;
  traceFds(true);
  try {
    const m = arrayMap(4, 1);
    const entry = trackedFds().find((e) => e.fd === m.value);
    assert.ok(entry);
    assert.equal(entry.what, "map");
    assert.match(entry.stack, /bpf_syscall_test/);
    m.close();
    assert.equal(trackedFds().some((e) => e.fd === entry.fd && e.what === "map"), false);
  } finally {
    traceFds(false);
  }
});

test("objPin() pins a map to bpffs and objGet() opens the same map again", (t) => {
  if (!requireKernel(t)) return;
  const dir = pinDir();
  try {
    using map = arrayMap(4, 2);
    objPin(map, `${dir.path}/m`);
    mapUpdate(map, u32(1), u32(99));
    using again = objGet(`${dir.path}/m`);
    assert.equal(mapInfo(again).id, mapInfo(map).id);
    const v = new Uint8Array(4);
    assert.equal(mapLookup(again, u32(1), v), true);
    assert.equal(readU32(v), 99);
    assert.throws(
      () => objGet(`${dir.path}/missing`),
      (e: unknown) =>
        e instanceof SyscallError && e.code === "ENOENT" && e.call === "bpf(BPF_OBJ_GET)",
    );
  } finally {
    dir.remove();
  }
});

test("getNextId() walks to a new map's id and getFdById() opens it", (t) => {
  if (!requireKernel(t)) return;
  using map = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_ARRAY,
    keySize: 4,
    valueSize: 4,
    maxEntries: 1,
    name: "ts_byid",
  });
  const id = mapInfo(map).id;
  let found = false;
  for (let cur = getNextId("map", 0); cur !== 0; cur = getNextId("map", cur)) {
    if (cur === id) found = true;
  }
  assert.ok(found);
  using byId = getFdById("map", id);
  assert.equal(mapInfo(byId).id, id);
  assert.equal(mapInfo(byId).name, "ts_byid");
  assert.throws(
    () => getFdById("map", 0x7fffffff),
    (e: unknown) => e instanceof SyscallError && e.code === "ENOENT",
  );
});

test("btfLoad() loads a one-type BTF blob and btfInfo() reads it back", (t) => {
  if (!requireKernel(t)) return;
  // header (24 bytes) + one INT "int" (16 bytes) + strings "\0int\0".
  const b = new BtfBuilder();
  b.int("int", 4, { signed: true });
  const blob = b.build();
  assert.equal(blob.length, 24 + 16 + 5);
  using btf = btfLoad(blob);
  const info = btfInfo(btf, { data: true });
  assert.equal(info.id, fdinfoNumber(btf.value, "btf_id"));
  assert.equal(info.btfSize, blob.length);
  assert.equal(info.kernelBtf, false);
  assert.deepEqual(info.data, blob);
});

test("a program's info lists the ids of the maps it uses", (t) => {
  if (!requireKernel(t)) return;
  using map = arrayMap(4, 1);
  // r1 = map (ld_imm64 pseudo map fd); r0 = 0; exit
  const code = insns(
    [0x18, 1, 1, 0, map.value],
    [0, 0, 0, 0, 0],
    [MOV64_IMM, 0, 0, 0, 0],
    [EXIT, 0, 0, 0, 0],
  );
  using prog = progLoad({
    type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
    insns: code,
    license: "GPL",
  });
  assert.deepEqual(progInfo(prog).mapIds, [mapInfo(map).id]);
});

test("a perf-event link passes its BPF cookie to a tracepoint program", (t) => {
  if (!requireKernel(t)) return;
  const sys = getSys();
  const tpId = Number(
    readFileSync("/sys/kernel/tracing/events/syscalls/sys_enter_getpid/id", "utf8"),
  );
  using map = arrayMap(8, 1);
  // r0 = bpf_get_attach_cookie(ctx); r1 = &map[0]; *(u64 *)r1 = r0; r0 = 0; exit
  const code = insns(
    [0x85, 0, 0, 0, 174],
    [0x18, 1, 2, 0, map.value],
    [0, 0, 0, 0, 0],
    [0x7b, 1, 0, 0, 0],
    [MOV64_IMM, 0, 0, 0, 0],
    [EXIT, 0, 0, 0, 0],
  );
  using prog = progLoad({
    type: BpfProgType.BPF_PROG_TYPE_TRACEPOINT,
    insns: code,
    license: "GPL",
  });
  const attr = new Attr(PERF_EVENT_ATTR)
    .set("type", Perf.PERF_TYPE_TRACEPOINT)
    .set("size", PERF_EVENT_ATTR.size)
    .set("config", tpId)
    .set("sample_period", 1)
    .set("wakeup_events", 1);
  using pfd = new Fd(sys.perfEventOpen(attr.bytes, -1, 0, -1, Perf.PERF_FLAG_FD_CLOEXEC), "perf");
  using link = linkCreate(prog, pfd.value, BpfAttachType.BPF_PERF_EVENT, {
    perfEventCookie: 0x1234_5678_9abcn,
  });
  const info = linkInfo(link);
  assert.equal(info.type, BpfLinkType.BPF_LINK_TYPE_PERF_EVENT);
  assert.equal(info.progId, progInfo(prog).id);
  assert.equal(info.raw.get64("perf_event.tracepoint.cookie"), 0x1234_5678_9abcn);
  const v = new Uint8Array(8);
  for (let i = 0; i < 200 && (mapLookup(map, u32(0), v), readU64(v) === 0n); i++) sys.getpid();
  assert.equal(readU64(v), 0x1234_5678_9abcn);
});

test("rawTracepointOpen() attaches a raw tracepoint program as a link", (t) => {
  if (!requireKernel(t)) return;
  using prog = progLoad({
    type: BpfProgType.BPF_PROG_TYPE_RAW_TRACEPOINT,
    insns: RET0,
    license: "GPL",
  });
  using link = rawTracepointOpen("sys_enter", prog);
  const info = linkInfo(link);
  assert.equal(info.type, BpfLinkType.BPF_LINK_TYPE_RAW_TRACEPOINT);
  assert.equal(info.name, "sys_enter");
  assert.equal(info.progId, progInfo(prog).id);
  assert.throws(
    () => rawTracepointOpen("no_such_tracepoint_xyz", prog),
    (e: unknown) =>
      e instanceof SyscallError && e.code === "ENOENT" && e.call === "bpf(BPF_RAW_TRACEPOINT_OPEN)",
  );
});

test("an XDP link attaches to a veth, swaps programs with linkUpdate() and detaches", (t) => {
  if (!requireKernel(t)) return;
  const name = `tsv${process.pid % 100000}`;
  const add = run("ip", ["link", "add", `${name}a`, "type", "veth", "peer", "name", `${name}b`]);
  if (add.code !== 0) {
    skipMissing(t, `Cannot make a veth pair: ${add.stderr.trim()}`);
    return;
  }
  try {
    const ifindex = getSys().ifNameToIndex(`${name}a`);
    assert.equal(ifindex, Number(readFileSync(`/sys/class/net/${name}a/ifindex`, "utf8")));
    using p1 = progLoad({ type: BpfProgType.BPF_PROG_TYPE_XDP, insns: XDP_PASS, license: "GPL" });
    using p2 = progLoad({ type: BpfProgType.BPF_PROG_TYPE_XDP, insns: RET0, license: "GPL" });
    using link = linkCreate(p1, ifindex, BpfAttachType.BPF_XDP);
    let info = linkInfo(link);
    assert.equal(info.type, BpfLinkType.BPF_LINK_TYPE_XDP);
    assert.equal(info.raw.get("xdp.ifindex"), ifindex);
    assert.equal(info.progId, progInfo(p1).id);
    const net = run("bpftool", ["-j", "net", "show", "dev", `${name}a`]);
    assert.equal(net.code, 0, net.stderr);
    const shown = JSON.parse(net.stdout);
    assert.equal(shown[0].xdp[0].id, progInfo(p1).id);
    linkUpdate(link, p2);
    assert.equal(linkInfo(link).progId, progInfo(p2).id);
    assert.throws(
      () => linkUpdate(link, p1, { oldProg: p1, flags: 4 }),
      (e: unknown) => e instanceof SyscallError && e.code === "EPERM",
    );
    linkDetach(link);
    info = linkInfo(link);
    assert.equal(info.raw.get("xdp.ifindex"), 0);
  } finally {
    run("ip", ["link", "del", `${name}a`]);
  }
});

test("progAttach() and progDetach() put a cgroup skb program on a cgroup and take it off", (t) => {
  if (!requireKernel(t)) return;
  const root = "/sys/fs/cgroup/unified";
  if (!existsSync(`${root}/cgroup.procs`)) {
    skip(t, "No cgroup v2 hierarchy mounted at /sys/fs/cgroup/unified");
    return;
  }
  const cg = `${root}/tsbpf-test-${process.pid}`;
  mkdirSync(cg, { recursive: true });
  try {
    using prog = progLoad({
      type: BpfProgType.BPF_PROG_TYPE_CGROUP_SKB,
      insns: insns([MOV64_IMM, 0, 0, 0, 1], [EXIT, 0, 0, 0, 0]),
      license: "GPL",
      expectedAttachType: BpfAttachType.BPF_CGROUP_INET_INGRESS,
    });
    using dir = new Fd(getSys().open(cg, Libc.O_RDONLY | Libc.O_CLOEXEC), "cgroup");
    const opts = {
      target: dir.value,
      prog,
      attachType: BpfAttachType.BPF_CGROUP_INET_INGRESS,
      flags: BpfAttachFlags.BPF_F_ALLOW_MULTI,
    };
    progAttach(opts);
    const before = run("bpftool", ["-j", "cgroup", "show", cg]);
    assert.equal(before.code, 0, before.stderr);
    const shown = JSON.parse(before.stdout);
    assert.deepEqual(shown.map((p: { id: number }) => p.id), [progInfo(prog).id]);
    const q = progQuery(dir.value, BpfAttachType.BPF_CGROUP_INET_INGRESS);
    assert.deepEqual(q.progIds, [progInfo(prog).id]);
    assert.equal(q.attachFlags, BpfAttachFlags.BPF_F_ALLOW_MULTI);
    progDetach({ target: dir.value, prog, attachType: BpfAttachType.BPF_CGROUP_INET_INGRESS });
    // bpftool prints nothing at all for a cgroup without programs.
    const after = run("bpftool", ["-j", "cgroup", "show", cg]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout.trim(), "");
  } finally {
    rmdirSync(cg);
  }
});

test("an iterator link is read through iterCreate()", (t) => {
  if (!requireKernel(t)) return;
  const dump = run("bpftool", ["-j", "btf", "dump", "file", "/sys/kernel/btf/vmlinux"]);
  const fn = JSON.parse(dump.stdout).types.find((x: { kind: string; name: string }) =>
    x.kind === "FUNC" && x.name === "bpf_iter_bpf_map"
  );
  assert.ok(fn, "the kernel has the bpf_map iterator");
  using map = arrayMap(8, 1);
  // Counts calls in map[0] (one per map, plus the final call with a NULL map); r0 = 0.
  const code = insns(
    [0x18, 1, 2, 0, map.value],
    [0, 0, 0, 0, 0],
    [0xb7, 2, 0, 0, 1],
    [0xdb, 1, 2, 0, 0], // lock *(u64 *)(r1 + 0) += r2
    [MOV64_IMM, 0, 0, 0, 0],
    [EXIT, 0, 0, 0, 0],
  );
  // libbpf's verdict on an iter/bpf_map program on this kernel is this one's expectation.
  const libbpf = libbpfLoad(testObject("iter"), ["dump_bpf_map"]);
  let prog: Fd;
  try {
    prog = progLoad({
      type: BpfProgType.BPF_PROG_TYPE_TRACING,
      insns: code,
      license: "GPL",
      expectedAttachType: BpfAttachType.BPF_TRACE_ITER,
      attachBtfId: fn.id,
    });
  } catch (e) {
    if (libbpf.ok || !(e instanceof SyscallError)) throw e;
    assert.equal(e.errno, libbpf.errno, `libbpf: ${libbpf.detail}`);
    note(`iter/bpf_map programs are refused by this kernel, as libbpf's is (${e.code})`);
    return;
  }
  assert.ok(
    libbpf.ok,
    `libbpf was refused an iter/bpf_map program here, tsbpf was not: ${
      !libbpf.ok && libbpf.detail
    }`,
  );
  using _prog = prog;
  using link = linkCreate(prog, 0, BpfAttachType.BPF_TRACE_ITER);
  assert.equal(linkInfo(link).type, BpfLinkType.BPF_LINK_TYPE_ITER);
  assert.equal(linkInfo(link).name, "bpf_map");
  using it = iterCreate(link);
  const buf = new Uint8Array(4096);
  while (getSys().read(it.value, buf) > 0) { /* the program prints nothing */ }
  const v = new Uint8Array(8);
  mapLookup(map, u32(0), v);
  assert.ok(readU64(v) >= 2n, `the iterator ran (${readU64(v)} calls)`);
});

test("progBindMap() ties a map to a program", (t) => {
  if (!requireKernel(t)) return;
  using map = arrayMap(4, 1);
  using prog = progLoad({
    type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
    insns: RET0,
    license: "GPL",
  });
  assert.deepEqual(progInfo(prog).mapIds, []);
  progBindMap(prog, map);
  assert.deepEqual(progInfo(prog).mapIds, [mapInfo(map).id]);
});
