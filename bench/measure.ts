/**
 * Runs every tsbpf measure in this runtime and prints one JSON object `{measure: value}` on the last
 * line of stdout. `bench/main.ts` runs it under Deno and under Bun, next to the C references.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import { Btf } from "../btf/btf.ts";
import { btfToC } from "../gen/c_dump.ts";
import { median, medianMs } from "./_stats.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const here = new URL(".", import.meta.url).pathname;

/** One measure: a name, its unit, and how to take it in this runtime. */
export interface Measure {
  /** The name, as it appears in the table and in results.json. */
  measure: string;
  /** The unit of the value. */
  unit: string;
  /** Takes the measure; lower is better. */
  run(): number | Promise<number>;
}

/** Runs `bench/_instantiate.ts` in fresh processes of this runtime and returns the median. */
function freshProcessMs(script: string, runs: number): number {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const args = process.versions.bun ? [script] : ["run", "-A", script];
    const r = spawnSync(process.execPath, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
    t.push(Number(r.stdout.trim().split("\n").pop()));
  }
  return median(t);
}

/** Every measure this runtime takes. */
export const MEASURES: Measure[] = [
  {
    measure: "wasm instantiate (fresh process)",
    unit: "ms",
    run: () => freshProcessMs(`${here}_instantiate.ts`, 10),
  },
  {
    measure: "btf parse+index vmlinux (file read included)",
    unit: "ms",
    run: () => medianMs(() => Btf.load(VMLINUX).close(), 60, 10),
  },
  {
    // What Btf.kernel() does: the kernel already checked its own BTF, so ids inside records are
    // not checked again (accessors stay bounds-checked).
    measure: "btf parse+index vmlinux, kernel path (validate: records)",
    unit: "ms",
    run: () => medianMs(() => Btf.load(VMLINUX, { validate: "records" }).close(), 60, 10),
  },
  {
    measure: "btf dump format c vmlinux (parse included)",
    unit: "ms",
    run: () =>
      medianMs(
        () => {
          const btf = Btf.load(VMLINUX);
          btfToC(btf);
          btf.close();
        },
        10,
        2,
      ),
  },
];

if (import.meta.main ?? true) {
  const only = process.argv.slice(2);
  const out: Record<string, number> = {};
  for (const m of MEASURES) {
    if (only.length > 0 && !only.some((o) => m.measure.includes(o))) continue;
    out[m.measure] = await m.run();
  }
  console.log(JSON.stringify(out));
}
