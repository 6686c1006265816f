// Child process of tests/soak_test.ts (run with GC exposed): `MODE` cycles of a loop that never
// yields, as a user writes it, and the growth per cycle (least squares over the samples). Prints one JSON line.
// Modes: "open" (`using spec = open(file)`), "open-dropped" (`open(file)` read and dropped, never
// closed), "load" (`using obj = BpfObject.open(file); obj.load()`). With SOAK_TRACE set, each
// sample (cycle:MB) goes to stderr too, to tell a plateau from a slope by eye.
import process from "node:process";
import { open } from "../spec/open.ts";
import { BpfObject } from "../live/object.ts";
import { Core } from "../core-wasm/mod.ts";

const [mode, n, file] = [
  process.env.SOAK_MODE!,
  Number(process.env.SOAK_CYCLES),
  process.env.SOAK_FILE!,
];
const g = globalThis as { gc?: () => void; Bun?: { gc(full: boolean): void } };
const gc = () => (g.Bun ? g.Bun.gc(true) : g.gc?.());
// RSS less the JS heap the engine has committed (V8 grows its young generation in steps up to a
// fixed cap as it runs; that is the engine's, bounded, and not what this looks for).
const mem = () => {
  const m = process.memoryUsage();
  return m.rss - (g.Bun ? 0 : m.heapTotal);
};
let programs = 0;
const one = mode === "open"
  ? () => {
    using _spec = open(file);
  }
  : mode === "open-dropped"
  ? () => {
    programs += open(file).programs.length;
  }
  : () => {
    using obj = BpfObject.open(file);
    obj.load();
  };
for (let i = 0; i < 20; i++) one();
const samples: [number, number][] = [];
const wasm: number[] = [];
const every = Number(process.env.SOAK_EVERY ?? 200); // as in the issue: GC forced every 200 cycles
for (let i = 1; i <= n; i++) {
  one();
  if (i % every === 0) {
    gc();
    gc();
    samples.push([i, mem()]);
    wasm.push(Core.get().exports.memory.buffer.byteLength);
  }
}
// Least-squares slope over every sample (GC'd, after the warm-up): Bun's RSS moves by several MB
// between samples as its allocator returns pages on its own thread, so a few points are too few.
const half = samples;
const mx = half.reduce((s, [x]) => s + x, 0) / half.length;
const my = half.reduce((s, [, y]) => s + y, 0) / half.length;
const slope = half.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) /
  half.reduce((s, [x]) => s + (x - mx) ** 2, 0);
if (process.env.SOAK_TRACE) {
  console.error(samples.map(([i, b]) => `${i}:${(b / 1e6).toFixed(1)}`).join(" "));
}
console.log(JSON.stringify({
  mode,
  cycles: n,
  bytesPerCycle: Math.round(slope),
  memMB: [samples[0][1], samples.at(-1)![1]].map((b) => Math.round(b / 1e5) / 10),
  wasmMiB: [wasm[0], wasm.at(-1)!].map((b) => b / 1048576),
  wasmGrowth: wasm.at(-1)! - wasm[0],
}));
