// The map API against the real kernel: element operations of every map type in maps.bpf.o and
// map_ops.bpf.o, batches (and their key-by-key fallback, asked of the kernel once per map type),
// per-CPU values laid out as the kernel lays them, queue/stack/bloom/LPM/map-in-map/prog-array/
// stack-trace helpers checked against what BPF programs wrote or did, freeze, pin, fromPin, fromId,
// info, typed errors, and the no-allocation path (no new address taken for reused buffers).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClosedError, NotSupportedError, SyscallError } from "../errors.ts";
import { BpfCmd } from "../ffi/constants.ts";
import { mapCreate } from "../ffi/bpf.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { BpfMap, lpmKey, MapBatchCursor, numPossibleCpus, resetBatchSupport } from "../live/map.ts";
import { MapFlags, MapType, mapTypeName, UpdateFlags } from "../constants.ts";
import { pinDir, readU32, readU64, requireKernel, testObject, u32, u64 } from "./_util.ts";

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Counts bpf() commands made while `fn` runs. */
function countCmds<T>(fn: () => T): [T, Map<number, number>] {
  const real = getSys();
  const seen = new Map<number, number>();
  setSys(withFaults(real, {
    bpf: (cmd) => {
      seen.set(cmd, (seen.get(cmd) ?? 0) + 1);
      return undefined;
    },
  }));
  try {
    return [fn(), seen];
  } finally {
    setSys(real);
  }
}

function loaded(name: string): BpfObject {
  const obj = BpfObject.open(testObject(name));
  obj.load();
  return obj;
}

test("every map of maps.bpf.o and map_ops.bpf.o answers element operations as its type allows", (t) => {
  if (!requireKernel(t)) return;
  using a = loaded("maps");
  using b = loaded("map_ops");
  const seen = new Set<number>();
  for (const m of [...a.maps.values(), ...b.maps.values()]) {
    seen.add(m.type);
    const key = new Uint8Array(m.keySize);
    const value = new Uint8Array(m.valueBytes);
    const what = `${m.name} (${mapTypeName(m.type)})`;
    switch (m.type) {
      case MapType.HASH:
      case MapType.LRU_HASH:
      case MapType.PERCPU_HASH:
      case MapType.LRU_PERCPU_HASH: {
        key.fill(0xee);
        value.fill(3);
        // The kernel zeroes a value's struct bpf_spin_lock (first 4 bytes of `locked`) on reads.
        if (m.name === "locked") value.fill(0, 0, 4);
        m.update(key, value, UpdateFlags.NOEXIST);
        assert.deepEqual(m.lookup(key), value, what);
        assert.throws(() => m.update(key, value, UpdateFlags.NOEXIST), { code: "EEXIST" });
        assert.deepEqual(m.lookupAndDelete(key), value, what);
        assert.equal(m.lookup(key), undefined, what);
        assert.throws(() => m.update(key, value, UpdateFlags.EXIST), { code: "ENOENT" });
        m.update(key, value);
        assert.equal(m.delete(key), true, what);
        assert.equal(m.delete(key), false, what);
        break;
      }
      case MapType.ARRAY:
      case MapType.PERCPU_ARRAY: {
        if (m.name.endsWith(".data") || m.name.endsWith(".bss") || m.name.endsWith(".rodata")) {
          assert.ok(m.lookup(key), what);
          break;
        }
        value.fill(9);
        m.update(key, value);
        assert.deepEqual(m.lookup(key), value, what);
        assert.throws(() => m.update(key, value, UpdateFlags.NOEXIST), { code: "EEXIST" });
        assert.throws(() => m.delete(key), (e: SyscallError) => {
          assert.equal(e.code, "EINVAL");
          assert.match(e.message, /has no delete/);
          return true;
        });
        dv(key).setUint32(0, m.maxEntries, true);
        assert.equal(m.lookup(key), undefined, what);
        assert.throws(() => m.update(key, value), { code: "E2BIG" });
        break;
      }
      case MapType.LPM_TRIE: {
        const k = m.lpmKey(24, [192, 168, 7, 0]);
        m.update(k, value);
        assert.deepEqual(m.lookup(m.lpmKey(32, [192, 168, 7, 99])), value, what);
        assert.equal(m.delete(k), true);
        break;
      }
      case MapType.QUEUE:
      case MapType.STACK: {
        value.fill(5);
        m.push(value);
        assert.deepEqual(m.peek(), value, what);
        assert.deepEqual(m.pop(), value, what);
        assert.equal(m.pop(), undefined, what);
        assert.throws(() => m.nextKey(null), SyscallError);
        break;
      }
      case MapType.BLOOM_FILTER: {
        value.fill(0x5a);
        m.push(value);
        assert.equal(m.contains(value), true, what);
        break;
      }
      case MapType.RINGBUF:
        assert.throws(() => m.lookup(key), (e: NotSupportedError) => {
          assert.ok(e instanceof NotSupportedError);
          assert.match(e.message, /RingBuffer/);
          return true;
        });
        assert.throws(() => m.update(key, value), /RingBuffer/);
        break;
      case MapType.PERF_EVENT_ARRAY:
        assert.throws(() => m.lookup(key), (e: NotSupportedError) => {
          assert.ok(e instanceof NotSupportedError);
          assert.match(e.message, /PerfBuffer/);
          return true;
        });
        break;
      case MapType.STACK_TRACE:
        assert.equal(m.stackTrace(12345), undefined, what);
        assert.equal(m.nextKey(null), undefined, what);
        break;
      case MapType.TASK_STORAGE:
        // The key is a pidfd: -1 is no fd at all.
        dv(key).setInt32(0, -1, true);
        assert.throws(() => m.lookup(key), { code: "EBADF" });
        break;
      case MapType.ARRAY_OF_MAPS:
      case MapType.PROG_ARRAY:
        assert.equal(m.lookup(key), undefined, what); // filled by the tests below
        break;
      default:
        assert.fail(`no expectation for ${what}`);
    }
  }
  for (
    const type of [
      MapType.HASH,
      MapType.ARRAY,
      MapType.PERCPU_ARRAY,
      MapType.PERCPU_HASH,
      MapType.LRU_HASH,
      MapType.LRU_PERCPU_HASH,
      MapType.LPM_TRIE,
      MapType.RINGBUF,
      MapType.PERF_EVENT_ARRAY,
      MapType.STACK_TRACE,
      MapType.BLOOM_FILTER,
      MapType.QUEUE,
      MapType.STACK,
      MapType.TASK_STORAGE,
      MapType.ARRAY_OF_MAPS,
      MapType.PROG_ARRAY,
    ]
  ) assert.ok(seen.has(type), `no ${mapTypeName(type)} map was tested`);
});

test("queue, stack and bloom filter read back what a BPF program pushed", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  obj.program("write_maps").testRun({});
  const q = obj.map("queue"), s = obj.map("stack"), bloom = obj.map("bloom");
  assert.equal(readU32(q.peek()), 1);
  assert.deepEqual([q.pop(), q.pop(), q.pop(), q.pop()].map(readU32), [1, 2, 3, undefined]);
  assert.deepEqual([s.pop(), s.pop(), s.pop(), s.pop()].map(readU32), [3, 2, 1, undefined]);
  assert.equal(bloom.contains(u32(42)), true);
  // One element in a filter of 64 with 3 hashes: a false positive is about 1 in 10^6.
  assert.equal(bloom.contains(u32(43)), false);
  // A full queue refuses a push, and BPF_EXIST makes it drop its oldest value instead.
  for (let i = 10; i < 18; i++) q.push(u32(i));
  assert.throws(() => q.push(u32(99)), { code: "E2BIG" });
  q.push(u32(99), UpdateFlags.EXIST);
  assert.equal(readU32(q.pop()), 11);
  assert.throws(() => obj.map("counts").push(u32(1)), /push needs BPF_MAP_TYPE_QUEUE/);
});

test("per-CPU values have one 8-byte-aligned slot per possible CPU, as a BPF program wrote them", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  const m = obj.map("percpu");
  const n = numPossibleCpus();
  assert.equal(m.valueSize, 12);
  assert.equal(m.perCpuSlot, 16);
  assert.equal(m.valueBytes, 16 * n);
  obj.program("write_maps").testRun({ flags: 1, cpu: 0 }); // BPF_F_TEST_RUN_ON_CPU
  const slots = m.lookupPerCpu(u32(0))!;
  assert.equal(slots.length, n);
  assert.deepEqual([...slots.map((s) => s.length)], new Array(n).fill(12));
  assert.deepEqual([dv(slots[0]).getUint32(4, true), dv(slots[0]).getUint32(8, true)], [1, 0xabcd]);
  for (let i = 1; i < n; i++) assert.deepEqual(slots[i], new Uint8Array(12), `CPU ${i}`);
  // Writing one value per CPU and reading them back.
  const h = obj.map("percpu_hash");
  h.updatePerCpu(u32(5), Array.from({ length: n }, (_, i) => u64(BigInt(i * 10 + 1))));
  assert.deepEqual(
    h.lookupPerCpu(u32(5))!.map(readU64),
    Array.from({ length: n }, (_, i) => BigInt(i * 10 + 1)),
  );
  const raw = h.lookup(u32(5))!;
  assert.equal(raw.length, 8 * n);
  assert.throws(
    () => h.updatePerCpu(u32(5), [u64(1n), u64(2n)].slice(0, n === 2 ? 0 : 2)),
    RangeError,
  );
  assert.throws(() => obj.map("counts").lookupPerCpu(u32(1)), /not a per-CPU map/);
});

test("batch update, lookup, lookup-and-delete and delete walk a hash map, and entries() batches", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  const m = obj.map("counts");
  const N = 1000;
  const keys = new Uint8Array(N * 4), values = new Uint8Array(N * 8);
  for (let i = 0; i < N; i++) {
    dv(keys).setUint32(i * 4, i + 100, true);
    dv(values).setBigUint64(i * 8, BigInt(i) * 3n, true);
  }
  const [written, cmds] = countCmds(() => m.updateBatch(keys, values));
  assert.equal(written, N);
  assert.equal(cmds.get(BpfCmd.BPF_MAP_UPDATE_BATCH), 1);
  assert.equal(cmds.get(BpfCmd.BPF_MAP_UPDATE_ELEM), undefined);
  // A walk with small buffers returns every element once.
  const cursor = new MapBatchCursor();
  const kb = new Uint8Array(64 * 4), vb = new Uint8Array(64 * 8);
  const got = new Map<number, bigint>();
  while (!cursor.done) {
    const n = m.lookupBatch(cursor, kb, vb);
    for (let i = 0; i < n; i++) {
      got.set(dv(kb).getUint32(i * 4, true), dv(vb).getBigUint64(i * 8, true));
    }
  }
  assert.equal(got.size, N);
  for (let i = 0; i < N; i++) assert.equal(got.get(i + 100), BigInt(i) * 3n);
  assert.equal(m.lookupBatch(cursor, kb, vb), 0);
  // entries() uses the batch command: far fewer calls than elements.
  const [entries, walked] = countCmds(() => [...m.entries({ batchSize: 128 })]);
  assert.equal(entries.length, N);
  assert.ok((walked.get(BpfCmd.BPF_MAP_LOOKUP_BATCH) ?? 0) < 20);
  assert.equal(walked.get(BpfCmd.BPF_MAP_LOOKUP_ELEM), undefined);
  assert.equal(new Set(entries.map(([k]) => readU32(k))).size, N);
  // Delete the first 100 keys in one batch, then drain the rest.
  assert.equal(m.deleteBatch(keys.subarray(0, 400)), 100);
  assert.equal(m.lookup(u32(100)), undefined);
  const drain = new MapBatchCursor();
  let drained = 0;
  while (!drain.done) drained += m.lookupAndDeleteBatch(drain, kb, vb);
  assert.equal(drained, N - 100);
  assert.equal(m.nextKey(null), undefined);
  // A BPF program's write is read back too.
  obj.program("write_maps").testRun({});
  assert.equal(readU64(m.lookup(u32(1))!), 7n);
  assert.throws(() => m.updateBatch(keys, values, { count: N + 1 }), RangeError);
});

test("a map type without batch commands falls back key by key, and the kernel is asked only once", (t) => {
  if (!requireKernel(t)) return;
  resetBatchSupport();
  using obj = loaded("map_ops");
  const m = obj.map("jumps"); // prog arrays have no batch commands
  const drop = obj.program("xdp_drop").fd, entry = obj.program("xdp_entry").fd;
  const keys = new Uint8Array(8), values = new Uint8Array(8);
  dv(keys).setUint32(4, 1, true);
  dv(values).setUint32(0, drop, true);
  dv(values).setUint32(4, entry, true);
  const [n1, first] = countCmds(() => m.updateBatch(keys, values));
  assert.equal(n1, 2);
  assert.equal(first.get(BpfCmd.BPF_MAP_UPDATE_BATCH), 1); // asked, refused
  assert.equal(first.get(BpfCmd.BPF_MAP_UPDATE_ELEM), 2);
  const [all, walk1] = countCmds(() => [...m.entries()]);
  assert.equal(walk1.get(BpfCmd.BPF_MAP_LOOKUP_BATCH), 1);
  assert.deepEqual(all.map(([k, v]) => [readU32(k), readU32(v)]), [
    [0, obj.program("xdp_drop").info().id],
    [1, obj.program("xdp_entry").info().id],
  ]);
  const [again, walk2] = countCmds(() => [...m.keys()]);
  assert.equal(again.length, 2);
  assert.equal(walk2.get(BpfCmd.BPF_MAP_LOOKUP_BATCH), undefined); // remembered
  assert.equal(walk2.get(BpfCmd.BPF_MAP_GET_NEXT_KEY), 3);
  const [n2, del] = countCmds(() => m.deleteBatch(keys));
  assert.equal(n2, 2);
  assert.equal(del.get(BpfCmd.BPF_MAP_DELETE_BATCH), 1);
  assert.equal(m.programId(0), undefined);
  // Draining with lookup-and-delete batches falls back too.
  m.updateBatch(keys, values);
  const cursor = new MapBatchCursor();
  const kb = new Uint8Array(8), vb = new Uint8Array(8);
  assert.equal(m.lookupAndDeleteBatch(cursor, kb, vb), 2);
  assert.deepEqual([...new Uint32Array(kb.buffer)], [0, 1]);
  assert.equal(m.lookupAndDeleteBatch(cursor, kb, vb), 0);
  assert.equal(cursor.done, true);
  assert.equal(m.programId(1), undefined);
  // An array map has lookup batches but no delete batch: deleteBatch() says what arrays lack.
  const arr = obj.map("inner_one");
  const [entries, arrWalk] = countCmds(() => [...arr.entries()]);
  assert.equal(entries.length, 2);
  assert.equal(arrWalk.get(BpfCmd.BPF_MAP_LOOKUP_BATCH), 2); // two elements, then the end
  assert.throws(() => arr.deleteBatch(new Uint8Array(4)), /has no delete/);
});

test("LPM trie lookups take the longest matching prefix", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  const m = obj.map("lpm");
  m.update(m.lpmKey(8, [10, 0, 0, 0]), u32(1));
  m.update(m.lpmKey(16, [10, 1, 0, 0]), u32(2));
  assert.equal(readU32(m.lookup(m.lpmKey(32, [10, 1, 2, 3]))), 2);
  assert.equal(readU32(m.lookup(m.lpmKey(32, [10, 9, 9, 9]))), 1);
  assert.equal(m.lookup(m.lpmKey(32, [11, 1, 2, 3])), undefined);
  assert.throws(() => m.lpmKey(33, [1, 2, 3, 4]), RangeError);
  assert.throws(() => lpmKey(8, [1, 2, 3, 4, 5], 8), RangeError);
});

test("setInner() puts a map into an array of maps that a BPF program then writes through", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  const outer = obj.map("outer"), one = obj.map("inner_one"), two = obj.map("inner_two");
  assert.equal(outer.innerId(0), undefined);
  outer.setInner(0, one);
  outer.setInner(1, two.fd);
  assert.equal(outer.innerId(0), one.info().id);
  assert.equal(outer.innerId(1), two.info().id);
  obj.program("write_maps").testRun({});
  assert.equal(readU64(one.lookup(u32(0))!), 100n);
  using viaId = BpfMap.fromId(outer.innerId(0)!);
  assert.equal(viaId.type, MapType.ARRAY);
  assert.equal(readU64(viaId.lookup(u32(0))!), 100n);
  assert.equal(outer.delete(u32(0)), true);
  assert.equal(outer.innerId(0), undefined);
  // A map that does not match the inner template is refused.
  using wrong = BpfMap.fromFd(
    mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 2 }),
  );
  assert.throws(() => outer.setInner(0, wrong), { code: "EINVAL" });
});

test("setProgram() fills a prog array slot, and the tail call then runs that program", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  const jumps = obj.map("jumps"), entry = obj.program("xdp_entry"), drop = obj.program("xdp_drop");
  const run = () => entry.testRun({ dataIn: new Uint8Array(64) }).retval;
  assert.equal(run(), 2); // XDP_PASS: empty slot
  jumps.setProgram(0, drop);
  assert.equal(jumps.programId(0), drop.info().id);
  assert.equal(run(), 1); // XDP_DROP from the tail call
  assert.equal(jumps.delete(u32(0)), true);
  assert.equal(run(), 2);
  assert.throws(() => jumps.setProgram(0, obj.program("write_maps")), { code: "EINVAL" });
});

test("stackTrace() reads the kernel stack a BPF program recorded as addresses", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  obj.program("record_stack").testRun({});
  const m = obj.map("stacks");
  const ids = [...m.keys()].map((k) => readU32(k));
  assert.equal(ids.length, 1);
  const trace = m.stackTrace(ids[0])!;
  assert.ok(trace.length > 0 && trace.length < 127);
  for (const ip of trace) {
    assert.ok(ip >= 0xffff800000000000n, `0x${ip.toString(16)} is a kernel address`);
  }
});

test("BPF_F_LOCK reads and writes a spin-locked value, and is refused on a map without a lock", (t) => {
  if (!requireKernel(t)) return;
  using obj = loaded("map_ops");
  const m = obj.map("locked");
  const v = new Uint8Array(16);
  dv(v).setBigUint64(8, 77n, true);
  m.update(u32(1), v, UpdateFlags.ANY | UpdateFlags.LOCK);
  const out = new Uint8Array(16);
  assert.equal(m.lookupInto(u32(1), out, UpdateFlags.LOCK), true);
  assert.equal(dv(out).getBigUint64(8, true), 77n);
  assert.throws(() => obj.map("counts").lookup(u32(1), UpdateFlags.LOCK), (e: SyscallError) => {
    assert.equal(e.code, "EINVAL");
    assert.match(e.message, /Map 'counts'.*bpf_spin_lock/);
    return true;
  });
});

test("freeze, pin, fromPin, fromId, info and unpin, and a closed map throws ClosedError", (t) => {
  if (!requireKernel(t)) return;
  using dir = pinDir();
  using obj = loaded("map_ops");
  const m = obj.map("counts");
  const info = m.info();
  assert.equal(info.type, MapType.HASH);
  assert.equal(info.name, "counts");
  assert.deepEqual([info.keySize, info.valueSize, info.maxEntries], [4, 8, 4096]);
  assert.ok(info.btfId > 0 && info.btfKeyTypeId > 0 && info.btfValueTypeId > 0);
  assert.equal(obj.map("bloom").info().mapExtra, 3n);
  assert.equal(obj.map("lpm").info().flags, MapFlags.NO_PREALLOC);
  m.update(u32(9), u64(90n));
  const path = `${dir.path}/counts`;
  m.pin(path);
  assert.throws(
    () => m.pin(path),
    (e: SyscallError) => e.code === "EEXIST" && /Pinning map 'counts'/.test(e.message),
  );
  using pinned = BpfMap.fromPin(path);
  assert.equal(pinned.info().id, info.id);
  assert.equal(pinned.pinPath, path);
  assert.equal(pinned.btfValueTypeId, info.btfValueTypeId);
  assert.equal(readU64(pinned.lookup(u32(9))!), 90n);
  using ro = BpfMap.fromPin(path, { readOnly: true });
  assert.throws(() => ro.update(u32(9), u64(1n)), { code: "EPERM" });
  using byId = BpfMap.fromId(info.id);
  assert.equal(byId.name, "counts");
  pinned.unpin();
  assert.throws(() => BpfMap.fromPin(path), { code: "ENOENT" });
  assert.throws(() => BpfMap.fromId(0x7fffffff), { code: "ENOENT" });
  // Freezing stops user-space writes; reads go on.
  using solo = BpfMap.fromFd(
    mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 }),
  );
  solo.update(u32(0), u64(5n));
  solo.freeze();
  assert.throws(
    () => solo.update(u32(0), u64(6n)),
    (e: SyscallError) => e.code === "EPERM" && /frozen/.test(e.message),
  );
  assert.equal(readU64(solo.lookup(u32(0))!), 5n);
  solo.close();
  solo.close();
  for (
    const op of [
      () => solo.lookup(u32(0)),
      () => solo.update(u32(0), u64(1n)),
      () => solo.fd,
      () => [...solo.keys()],
      () => solo.info(),
    ]
  ) {
    assert.throws(op, (e: ClosedError) => e instanceof ClosedError && e.resource === "map ''");
  }
});

test("lookupInto() with the same buffers takes no new address and makes one bpf() call each", (t) => {
  if (!requireKernel(t)) return;
  using m = BpfMap.fromFd(
    mapCreate({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 4 }),
  );
  const key = u32(1), out = new Uint8Array(8);
  m.update(key, u64(11n));
  const real = getSys();
  let addrs = 0, calls = 0;
  const w = Object.create(real);
  w.ptrOf = (b: Uint8Array) => (addrs++, real.ptrOf(b));
  w.bpfRaw = (cmd: number, attr: bigint, size: number) => (calls++, real.bpfRaw(cmd, attr, size));
  setSys(w);
  try {
    m.lookupInto(key, out);
    const first = addrs;
    for (let i = 0; i < 100; i++) assert.equal(m.lookupInto(key, out), true);
    assert.equal(addrs, first);
    assert.equal(calls, 101);
    assert.equal(dv(out).getBigUint64(0, true), 11n);
    assert.equal(m.lookupInto(u32(2), out), false);
  } finally {
    setSys(real);
  }
});

test("typed() reads and writes keys and values through codecs of the map's BTF types", (t) => {
  if (!requireKernel(t)) return;
  using dir = pinDir();
  using obj = loaded("map_ops");
  const counts = obj.map("counts").typed<number, bigint>();
  counts.update(3, 30n);
  counts.update(4, 40n, UpdateFlags.NOEXIST);
  assert.equal(counts.lookup(3), 30n);
  assert.equal(counts.lookup(5), undefined);
  assert.equal(readU64(obj.map("counts").lookup(u32(4))!), 40n);
  assert.deepEqual([...counts.entries()].sort((a, b) => a[0] - b[0]), [[3, 30n], [4, 40n]]);
  assert.equal(counts.delete(3), true);
  assert.deepEqual([...counts.keys()], [4]);
  // Struct values, as a BPF program wrote them, one per CPU.
  obj.program("write_maps").testRun({ flags: 1, cpu: 0 });
  type Triple = { cpu: number; runs: number; magic: number };
  const percpu = obj.map("percpu").typed<number, Triple>();
  const slots = percpu.lookupPerCpu(0)!;
  assert.equal(slots.length, numPossibleCpus());
  assert.deepEqual(slots[0], { cpu: 0, runs: 1, magic: 0xabcd });
  assert.throws(() => percpu.lookup(0), /per-CPU; use lookupPerCpu/);
  percpu.updatePerCpu(1, [{ cpu: 9, runs: 9, magic: 9 }]);
  assert.deepEqual(percpu.lookupPerCpu(1)!.at(-1), { cpu: 9, runs: 9, magic: 9 });
  // LPM keys as structs, and a wrong shape named.
  const lpm = obj.map("lpm").typed<{ prefixlen: number; addr: number[] | Uint8Array }, number>();
  lpm.update({ prefixlen: 16, addr: [10, 2, 0, 0] }, 7);
  assert.equal(lpm.lookup({ prefixlen: 32, addr: [10, 2, 3, 4] }), 7);
  assert.throws(() => counts.update(1, "x" as unknown as bigint), /./);
  // A map opened from its pin gets its types from the BTF the kernel holds.
  obj.map("counts").pin(`${dir.path}/counts`);
  using pinned = BpfMap.fromPin(`${dir.path}/counts`);
  assert.equal(pinned.typed<number, bigint>().lookup(4), 40n);
  // Maps made without BTF types have no typed view.
  assert.throws(() => obj.map("stacks").typed(), /no BTF value type/);
});
