// A short lifecycle soak (tests/_soak.ts) on the runtime that runs the tests: 100 cycles of open,
// load, attach, ring and perf buffer consumption and destroy leave no fd, mapping or kernel object behind. `scripts/soak.sh`
// runs 1,000 cycles on both runtimes and prints the same numbers.
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { soak } from "./_soak.ts";
import { requireKernel } from "./_util.ts";

const CYCLES = Number(process.env.TSBPF_SOAK_CYCLES ?? 100);

test(`${CYCLES} cycles of open, load, attach, use and destroy leave no fd, mapping or kernel object`, async (t) => {
  if (!requireKernel(t)) return;
  const r = await soak(CYCLES);
  console.log(`soak: ${JSON.stringify(r)}`);
  assert.equal(r.cyclesWithHits, CYCLES, "every cycle's ring and perf buffers got its event");
  assert.ok(r.made >= CYCLES * 6, `only ${r.made} kernel objects made`);
  assert.deepEqual(r.leftInKernel, []);
  assert.equal(r.fds[1], r.fds[0], "fds");
  assert.ok(r.mappings[1] - r.mappings[0] <= 2, `mappings ${r.mappings[0]} -> ${r.mappings[1]}`);
});
