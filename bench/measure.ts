/**
 * Runs every tsbpf measure in this runtime and prints one JSON object `{measure: value}` on the last
 * line of stdout. `bench/main.ts` runs it under Deno and under Bun, next to the C references.
 * Arguments filter the measures by substring; `--exact NAME` takes the one measure named NAME.
 *
 * @module
 */
import process from "node:process";
import { ALL_MEASURES } from "./measures/mod.ts";

const args = process.argv.slice(2);
const exact = args[0] === "--exact" ? args[1] : undefined;
const only = exact === undefined ? args : [];
const out: Record<string, number> = {};
for (const m of ALL_MEASURES) {
  if (exact !== undefined && m.measure !== exact) continue;
  if (only.length > 0 && !only.some((o) => m.measure.includes(o))) continue;
  out[m.measure] = await m.run();
}
console.log(JSON.stringify(out));
