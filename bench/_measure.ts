/**
 * What a benchmark measure is, and helpers shared by the measure files in `bench/measures/`.
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import process from "node:process";
import { median } from "./_stats.ts";

/** The repository root, with a trailing slash. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/** One measure: tsbpf's cost in this runtime, and the C reference's cost. Lower is better. */
export interface Measure {
  /** The name, as it appears in the table and in results.json. */
  measure: string;
  /** The unit of both values. */
  unit: string;
  /** Takes the measure in the running runtime (Deno or Bun). */
  run(): number | Promise<number>;
  /** Takes the C reference's measure (run once, under Deno), or null where C has no counterpart. */
  reference(): number | null;
}

/** Builds a C reference from bench/c/NAME.c into bench/build/NAME when missing or stale. */
export function cref(name: string, libs: string[] = ["-lbpf", "-lelf", "-lz"]): string {
  const src = `${ROOT}bench/c/${name}.c`;
  const build = `${ROOT}bench/build`;
  const bin = `${build}/${name}`;
  mkdirSync(build, { recursive: true });
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    execFileSync("gcc", ["-O2", "-o", bin, src, ...libs], { stdio: "inherit" });
  }
  return bin;
}

/** Runs a command and returns the number on the last line of its output. */
export function runNumber(cmd: string, args: string[]): number {
  const out = execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  return Number(out.trim().split("\n").pop());
}

/** Median wall time of a whole command over `runs` runs (after one warm-up), output discarded. */
export function commandMs(cmd: string, args: string[], runs: number): number {
  const t: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"], cwd: ROOT });
    const dt = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
    if (i > 0) t.push(dt);
  }
  return median(t);
}

/** The running runtime's executable and the arguments that run a script with all permissions. */
export function runtimeArgs(script: string): [string, string[]] {
  return process.versions.bun
    ? [process.execPath, [script]]
    : [process.execPath, ["run", "-A", script]];
}

/**
 * Runs `script` in `runs` fresh processes of this runtime; each prints a number (milliseconds) on
 * its last line. Returns their median.
 */
export function freshProcessMs(script: string, runs: number, extra: string[] = []): number {
  const t: number[] = [];
  const [cmd, args] = runtimeArgs(script);
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(cmd, [...args, ...extra], { encoding: "utf8", cwd: ROOT });
    if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
    t.push(Number(r.stdout.trim().split("\n").pop()));
  }
  return median(t);
}
