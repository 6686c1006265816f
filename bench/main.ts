/**
 * The benchmark run (`deno task bench`, `npm run bench`): takes every measure of `measure.ts` under
 * Deno and under Bun next to its C reference, prints one table and writes `bench/results.json`:
 * `{measure, unit, deno, bun, reference, ratioDeno, ratioBun, rounds}` per measure, where a ratio is
 * tsbpf's cost over the reference's (below 1: tsbpf is faster).
 *
 * The sides are interleaved so that a disturbance of the machine (another process, a frequency
 * change) hits all of them alike: for each measure, each round runs Deno (a fresh process taking
 * that one measure), then Bun, then the C reference, and the table reports the median of the
 * rounds of each side (`BENCH_ROUNDS`, default 3). Arguments filter the measures by substring; a
 * filtered run writes no results.json unless `BENCH_MERGE=1`, which replaces only the rows it took.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { ROOT } from "./_measure.ts";
import { median } from "./_stats.ts";
import { ALL_MEASURES } from "./measures/mod.ts";

const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3) || 3);

/** One measure in a fresh process of one runtime. */
function measureIn(runtime: string, cmd: string, args: string[], measure: string): number {
  const r = spawnSync(cmd, [...args, "--exact", measure], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    cwd: ROOT,
  });
  if (r.status !== 0) throw new Error(`bench/measure.ts failed on ${runtime}:\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  return out[measure];
}

interface Row {
  measure: string;
  unit: string;
  deno: number;
  bun: number;
  reference: number | null;
  ratioDeno: number | null;
  ratioBun: number | null;
  rounds: number;
}

const filter = process.argv.slice(2);
const chosen = ALL_MEASURES.filter((m) =>
  filter.length === 0 || filter.some((f) => m.measure.includes(f))
);
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const rows: Row[] = [];
for (const m of chosen) {
  const deno: number[] = [], bun: number[] = [], ref: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    process.stderr.write(`${m.measure}: round ${round}/${ROUNDS}...\n`);
    deno.push(measureIn("deno", DENO, ["run", "-A", "bench/measure.ts"], m.measure));
    bun.push(measureIn("bun", BUN, ["bench/measure.ts"], m.measure));
    const c = m.reference();
    if (c !== null) ref.push(c);
  }
  const d = median(deno), b = median(bun);
  const reference = ref.length > 0 ? median(ref) : null;
  rows.push({
    measure: m.measure,
    unit: m.unit,
    deno: r3(d),
    bun: r3(b),
    reference: reference === null ? null : r3(reference),
    ratioDeno: reference ? r3(d / reference) : null,
    ratioBun: reference ? r3(b / reference) : null,
    rounds: ROUNDS,
  });
}

const cols = [
  "measure",
  "unit",
  "tsbpf deno",
  "tsbpf bun",
  "C reference",
  "ratio deno",
  "ratio bun",
];
const cells = rows.map((r) => [
  r.measure,
  r.unit,
  r.deno.toFixed(3),
  r.bun.toFixed(3),
  r.reference === null ? "-" : r.reference.toFixed(3),
  r.ratioDeno === null ? "-" : r.ratioDeno.toFixed(2) + "x",
  r.ratioBun === null ? "-" : r.ratioBun.toFixed(2) + "x",
]);
const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
const line = (row: string[]) =>
  row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(line(cols));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of cells) console.log(line(row));
console.log(`\nmedians of ${ROUNDS} interleaved rounds (Deno, Bun, C) per measure`);

if (filter.length === 0) {
  writeFileSync(`${ROOT}bench/results.json`, JSON.stringify(rows, null, 2) + "\n");
  console.log("wrote bench/results.json");
} else if (process.env.BENCH_MERGE === "1") {
  // Replace the rows measured now (appending new ones), keep every other row as it was.
  const file = `${ROOT}bench/results.json`;
  const old: Row[] = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : [];
  const now = new Map(rows.map((r) => [r.measure, r]));
  const merged = old.map((r) => now.get(r.measure) ?? r);
  for (const r of rows) if (!old.some((o) => o.measure === r.measure)) merged.push(r);
  writeFileSync(file, JSON.stringify(merged, null, 2) + "\n");
  console.log(`merged ${rows.length} rows into bench/results.json`);
}
