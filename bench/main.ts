/**
 * The benchmark run (`deno task bench`, `npm run bench`): takes every measure of `measure.ts` under
 * Deno and under Bun, takes the C reference of each in the same run, prints one table and writes
 * `bench/results.json`: `{measure, unit, deno, bun, reference, ratioDeno, ratioBun}` per measure,
 * where a ratio is tsbpf's cost over the reference's (below 1: tsbpf is faster).
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import process from "node:process";
import { median } from "./_stats.ts";

const root = new URL("..", import.meta.url).pathname;
const build = `${root}bench/build`;
const DENO = `${root}node_modules/.bin/deno`;
const BUN = `${root}node_modules/.bin/bun`;

/** Builds a C reference from bench/c/NAME.c when missing or older than its source. */
function cref(name: string, libs: string[]): string {
  const src = `${root}bench/c/${name}.c`;
  const bin = `${build}/${name}`;
  mkdirSync(build, { recursive: true });
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    execFileSync("gcc", ["-O2", "-o", bin, src, ...libs], { stdio: "inherit" });
  }
  return bin;
}

function runNumber(cmd: string, args: string[]): number {
  const out = execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  return Number(out.trim().split("\n").pop());
}

/** Median wall time of a whole command, output discarded. */
function commandMs(cmd: string, args: string[], runs: number): number {
  const t: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    const dt = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
    if (i > 0) t.push(dt);
  }
  return median(t);
}

const LIBBPF = ["-lbpf", "-lelf", "-lz"];

/** The C reference of each measure, or null where C has no counterpart. */
const REFERENCES: Record<string, () => number | null> = {
  "wasm instantiate (fresh process)": () => null,
  "btf parse+index vmlinux (file read included)": () =>
    runNumber(cref("btf_parse", LIBBPF), ["/sys/kernel/btf/vmlinux", "60"]),
  "btf parse+index vmlinux, kernel path (validate: records)": () =>
    runNumber(cref("btf_parse", LIBBPF), ["/sys/kernel/btf/vmlinux", "60"]),
  "btf dump format c vmlinux (parse included)": () =>
    commandMs("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], 10),
};

function measureIn(runtime: string, cmd: string, args: string[]): Record<string, number> {
  process.stderr.write(`running the measures on ${runtime}...\n`);
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, cwd: root });
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
  const reference = (REFERENCES[measure] ?? (() => null))();
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  rows.push({
    measure,
    unit: "ms",
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
  writeFileSync(`${root}bench/results.json`, JSON.stringify(rows, null, 2) + "\n");
  console.log("\nwrote bench/results.json");
}
