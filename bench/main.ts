/**
 * The benchmark run (`deno task bench`, `npm run bench`): takes every measure of `measure.ts` under
 * Deno and under Bun, takes the C reference of each in the same run, prints one table and writes
 * `bench/results.json`: `{measure, unit, deno, bun, reference, ratioDeno, ratioBun}` per measure,
 * where a ratio is tsbpf's cost over the reference's (below 1: tsbpf is faster).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import process from "node:process";
import { ROOT } from "./_measure.ts";
import { ALL_MEASURES } from "./measures/mod.ts";

const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;

function measureIn(runtime: string, cmd: string, args: string[]): Record<string, number> {
  process.stderr.write(`running the measures on ${runtime}...\n`);
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, cwd: ROOT });
  if (r.status !== 0) throw new Error(`bench/measure.ts failed on ${runtime}:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const filter = process.argv.slice(2);
const deno = measureIn("deno", DENO, ["run", "-A", "bench/measure.ts", ...filter]);
const bun = measureIn("bun", BUN, ["bench/measure.ts", ...filter]);

interface Row {
  measure: string;
  unit: string;
  deno: number;
  bun: number;
  reference: number | null;
  ratioDeno: number | null;
  ratioBun: number | null;
}

const rows: Row[] = [];
for (const measure of Object.keys(deno)) {
  process.stderr.write(`running the reference for ${measure}...\n`);
  const reference = ALL_MEASURES.find((m) => m.measure === measure)?.reference() ?? null;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  rows.push({
    measure,
    unit: ALL_MEASURES.find((m) => m.measure === measure)?.unit ?? "ms",
    deno: r3(deno[measure]),
    bun: r3(bun[measure]),
    reference: reference === null ? null : r3(reference),
    ratioDeno: reference ? r3(deno[measure] / reference) : null,
    ratioBun: reference ? r3(bun[measure] / reference) : null,
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

if (filter.length === 0) {
  writeFileSync(`${ROOT}bench/results.json`, JSON.stringify(rows, null, 2) + "\n");
  console.log("\nwrote bench/results.json");
}
