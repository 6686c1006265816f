/**
 * Measures of the map API (issue: maps). "map lookup": one BPF_MAP_LOOKUP_ELEM through
 * `BpfMap.lookupInto` (reused buffers: the allocation-free path) on a 1-entry hash, in ns per call,
 * against a C loop calling libbpf's `bpf_map_lookup_elem` (`bench/c/map_ops.c`). "map batch
 * dump": reading a 100k-entry hash (u32 -> u64) with `lookupBatch` (4096 per call) against C's
 * `bpf_map_lookup_batch` with the same chunk, and the key-by-key walk (`nextKeyInto` plus
 * `lookupInto`, reused buffers) against the same C batch dump. Each value is a median (5 loops for
 * lookups, 7 dumps after a warm-up).
 *
 * @module
 */
import { mapCreate } from "../../ffi/bpf.ts";
import { BpfMap, MapBatchCursor } from "../../live/map.ts";
import { cref, type Measure, runNumber } from "../_measure.ts";
import { median } from "../_stats.ts";

const LOOKUPS = 200_000;
const ENTRIES = 100_000;
const CHUNK = 4096;

function lookupNs(): number {
  using m = BpfMap.fromFd(mapCreate({ type: 1, keySize: 4, valueSize: 8, maxEntries: 16 }));
  const key = new Uint8Array(4), out = new Uint8Array(8);
  key[0] = 1;
  m.update(key, out);
  for (let i = 0; i < LOOKUPS; i++) m.lookupInto(key, out);
  const t: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < LOOKUPS; i++) {
      if (!m.lookupInto(key, out)) throw new Error("lookup missed");
    }
    t.push((performance.now() - t0) * 1e6 / LOOKUPS);
  }
  return median(t);
}

function filledHash(): BpfMap {
  const m = BpfMap.fromFd(mapCreate({ type: 1, keySize: 4, valueSize: 8, maxEntries: ENTRIES }));
  const keys = new Uint8Array(ENTRIES * 4), values = new Uint8Array(ENTRIES * 8);
  const kv = new DataView(keys.buffer), vv = new DataView(values.buffer);
  for (let i = 0; i < ENTRIES; i++) {
    kv.setUint32(i * 4, i, true);
    vv.setBigUint64(i * 8, BigInt(i) * 3n, true);
  }
  m.updateBatch(keys, values);
  return m;
}

function dumpMs(walk: (m: BpfMap) => number): number {
  using m = filledHash();
  const t: number[] = [];
  for (let r = 0; r < 8; r++) {
    const t0 = performance.now();
    const n = walk(m);
    if (n !== ENTRIES) throw new Error(`dumped ${n} of ${ENTRIES}`);
    if (r > 0) t.push(performance.now() - t0);
  }
  return median(t);
}

const kb = new Uint8Array(CHUNK * 4), vb = new Uint8Array(CHUNK * 8);

function batchWalk(m: BpfMap): number {
  const c = new MapBatchCursor();
  let n = 0;
  while (!c.done) n += m.lookupBatch(c, kb, vb);
  return n;
}

function keyWalk(m: BpfMap): number {
  // The same three buffers on every call (the next key is copied into the current one), so the
  // walk takes the allocation-free path.
  const cur = new Uint8Array(4), next = new Uint8Array(4), v = new Uint8Array(8);
  let n = 0;
  if (!m.nextKeyInto(null, next)) return 0;
  do {
    if (m.lookupInto(next, v)) n++;
    cur.set(next);
  } while (m.nextKeyInto(cur, next));
  return n;
}

const cDump = () => runNumber(cref("map_ops", ["-lbpf"]), ["dump", String(ENTRIES)]);

/** The map measures. */
export const MEASURES: Measure[] = [
  {
    measure: "map lookup (BPF_MAP_LOOKUP_ELEM, 1-entry hash)",
    unit: "ns",
    run: lookupNs,
    reference: () => runNumber(cref("map_ops", ["-lbpf"]), ["lookup", String(LOOKUPS)]),
  },
  {
    measure: "map batch dump (100k hash, 4096 per batch)",
    unit: "ms",
    run: () => dumpMs(batchWalk),
    reference: cDump,
  },
  {
    measure: "map batch dump: key by key instead (100k hash, vs C's batch)",
    unit: "ms",
    run: () => dumpMs(keyWalk),
    reference: cDump,
  },
];
