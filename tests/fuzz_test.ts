// The offline path under fuzzing (tests/_fuzz.ts): 20,000 mutated and truncated inputs from every
// test object and the kernel's BTF, with a fixed seed, through open(), the relocation of every
// program (in the core), BTF parsing, .BTF.ext, `object show`'s report and the BTF-to-C dump; and
// the crashers kept from longer runs.
// `scripts/fuzz.sh [N] [SEED]` runs a long one with a random seed.
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { crashers, fuzz, mutate, Rng, runOne, seeds } from "./_fuzz.ts";
import { ROOT } from "./_util.ts";

const INPUTS = Number(process.env.TSBPF_FUZZ_INPUTS ?? 20000);

test("the fuzzer's generator is deterministic for a seed and every mutation stays in bounds", () => {
  const s = seeds();
  assert.ok(s.length >= 50, `only ${s.length} seeds`);
  const a = new Rng(42);
  const b = new Rng(42);
  for (let i = 0; i < 200; i++) {
    const x = mutate(s[i % s.length].bytes, a);
    const y = mutate(s[i % s.length].bytes, b);
    assert.deepEqual(x, y);
    assert.ok(x.length <= s[i % s.length].bytes.length);
  }
});

test("runOne() reports an escaped non-BpfError, so the fuzzer cannot pass on a broken harness", () => {
  // Inputs of a kind the harness does not expect reach code that must refuse them with a typed
  // error; a JavaScript TypeError from the harness itself would be reported.
  assert.equal(runOne("btf", new Uint8Array(3)), undefined);
  assert.equal(runOne("object", new Uint8Array(0)), undefined);
  assert.match(runOne("btf", null as unknown as Uint8Array) ?? "", /Error/);
});

test(`${INPUTS} fuzzed inputs each end in success or a typed error, within the time cap`, () => {
  // Bun collects lazily: a full collection before each reading compares live memory.
  const collect = () => (globalThis as { Bun?: { gc(full: boolean): void } }).Bun?.gc(true);
  collect();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = fuzz({ inputs: INPUTS, seed: 0x7b5bf });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `fuzz: ${r.ran} inputs in ${secs} s, slowest ${
      Math.round(r.slowestMs)
    } ms, ${r.findings.length} findings`,
  );
  assert.deepEqual(
    r.findings.map((f) => `${f.seed} #${f.index}: ${f.what}`),
    [],
  );
  // Memory stays bounded: what the run adds to the process (which may hold earlier test files' data
  // on Bun, which runs every file in one process) does not grow with the input count.
  collect();
  const grew = process.memoryUsage().rss - rss0;
  console.log(`fuzz: RSS grew by ${Math.round(grew / 2 ** 20)} MiB over the run`);
  assert.ok(grew < 2 * 1024 ** 3, `RSS grew by ${grew} bytes over the run`);
});

test("every crasher kept from longer fuzzing runs ends in success or a typed error", () => {
  for (const c of crashers(join(ROOT, "tests", "fuzz", "crashers"))) {
    assert.equal(runOne(c.kind, c.bytes), undefined, c.name);
  }
});
