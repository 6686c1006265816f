/**
 * Runs every tsbpf measure in this runtime and prints one JSON object `{measure: value}` on the last
 * line of stdout. `bench/main.ts` runs it under Deno and under Bun, next to the C references.
 * Arguments filter the measures by substring.
 *
 * @module
 */
import process from "node:process";
import { ALL_MEASURES } from "./measures/mod.ts";

const only = process.argv.slice(2);
const out: Record<string, number> = {};
for (const m of ALL_MEASURES) {
  if (only.length > 0 && !only.some((o) => m.measure.includes(o))) continue;
  out[m.measure] = await m.run();
}
console.log(JSON.stringify(out));
