// The long fuzzing run behind scripts/fuzz.sh: saves each crasher under tests/fuzz/crashers/.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fuzz } from "./_fuzz.ts";
import { ROOT } from "./_util.ts";

const [n, seed] = process.argv.slice(2).map(Number);
const t0 = performance.now();
let saved = 0;
const r = fuzz({
  inputs: n,
  seed,
  onFinding(f) {
    const kind = f.seed.endsWith(".BTF") || f.seed === "vmlinux" ? "btf" : "object";
    const name = `${kind}-${seed}-${f.index}.bin`;
    writeFileSync(join(ROOT, "tests", "fuzz", "crashers", name), f.input);
    saved++;
    console.log(`finding: ${f.seed} #${f.index}: ${f.what} (saved ${name})`);
  },
});
console.log(
  `fuzz: ${r.ran} inputs, seed ${seed}, ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s, slowest ${Math.round(r.slowestMs)} ms, ${saved} findings`,
);
process.exitCode = saved > 0 ? 1 : 0;
