// The live demo (examples/trace_write.ts): it runs on this runtime, as a `bun build --compile`
// binary and as a `deno bundle` output, and shows the kernel counting this very process's writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireKernel, ROOT, run, type RunResult, runtimeCommand } from "./_util.ts";

const DEMO = join(ROOT, "examples", "trace_write.ts");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const GENERATED = join(ROOT, "examples", "build", "trace_write_bpf.gen.ts");

function requireGenerated(): void {
  if (!existsSync(GENERATED)) {
    throw new Error(`${GENERATED} is missing; run scripts/setup.sh first`);
  }
}

/** Checks one run of the demo: header, a non-zero .bss total, and a row with its own writes. */
function checkDemoOutput(r: RunResult, what: string): void {
  const out = r.stdout;
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${out}`);
  assert.match(out, /^tsbpf live demo on (deno|bun) /m, `${what}: no title line\n${out}`);
  assert.match(out, /^attached: count_write -> tracepoint syscalls\/sys_enter_write$/m);
  assert.match(out, /^ +PID +COMM +WRITES +BYTES$/m, `${what}: no table header\n${out}`);
  const total = /^ {2}total: (\d+) writes, (\d+) bytes \(read from the mmapped \.bss/m.exec(out);
  assert.ok(total, `${what}: no total line\n${out}`);
  assert.ok(BigInt(total[1]) > 0n && BigInt(total[2]) > 0n, `${what}: zero total\n${out}`);
  const pid = /^this process: pid (\d+);/m.exec(out)?.[1];
  assert.ok(pid, `${what}: no pid line\n${out}`);
  const row = new RegExp(`^ +${pid} +\\S.*? +(\\d+) +(\\d+) {2}<- this demo$`, "m").exec(out);
  assert.ok(row, `${what}: no row for its own pid ${pid}\n${out}`);
  // Each second the demo writes 100 × 64 bytes to /dev/null, and the program counts them all.
  assert.ok(Number(row[1]) >= 100, `${what}: only ${row[1]} of its own writes counted\n${out}`);
  assert.ok(Number(row[2]) >= 6400, `${what}: only ${row[2]} of its own bytes counted\n${out}`);
  assert.match(out, /^detached; closing the object/m);
}

test("trace_write rejects a bad option with its usage and exit status 2", () => {
  requireGenerated();
  const [cmd, pre] = runtimeCommand(DEMO);
  const r = run(cmd, [...pre, "--seconds", "soon"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error: Bad --seconds 'soon'/m);
  assert.match(r.stderr, /^usage: trace_write /m);
});

test("trace_write counts this process's own writes and reads a non-zero total from .bss", (t) => {
  if (!requireKernel(t)) return;
  requireGenerated();
  const [cmd, pre] = runtimeCommand(DEMO);
  checkDemoOutput(run(cmd, [...pre, "--seconds", "1"]), "the demo");
});

test("trace_write's .rodata min_bytes filter, set before load, drops smaller writes", (t) => {
  if (!requireKernel(t)) return;
  requireGenerated();
  const [cmd, pre] = runtimeCommand(DEMO);
  const r = run(cmd, [...pre, "--seconds", "1", "--min-bytes", "65"]);
  assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
  assert.match(r.stdout, /^filter: {3}\.rodata min_bytes=65 /m);
  const pid = /^this process: pid (\d+);/m.exec(r.stdout)?.[1];
  const rows = [...r.stdout.matchAll(/^ +(\d+) +\S.*? +(\d+) +(\d+)( {2}<- this demo)?$/gm)];
  assert.ok(rows.length > 0, r.stdout);
  for (const [line, , writes, bytes] of rows) {
    assert.ok(BigInt(bytes) >= 65n * BigInt(writes), `a row with writes under 65 bytes: ${line}`);
  }
  // its 100 writes of 64 bytes are not counted; only its longer output lines may be
  const own = rows.find((m) => m[1] === pid);
  assert.ok(
    own === undefined || Number(own[2]) < 100,
    `its 64-byte writes were counted: ${own?.[0]}`,
  );
});

test("bun build --compile makes one binary that carries the object and runs the demo", (t) => {
  if (!requireKernel(t)) return;
  requireGenerated();
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-demo-"));
  try {
    const bin = join(dir, "trace_write");
    const b = run(BUN, ["build", "--compile", DEMO, "--outfile", bin]);
    assert.equal(b.code, 0, `bun build --compile failed:\n${b.stderr}\n${b.stdout}`);
    // run it from elsewhere: nothing of the repository is read at run time
    checkDemoOutput(run(bin, ["--seconds", "1"], { cwd: dir }), "the compiled binary");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("deno bundle makes one script that carries the object and runs the demo", (t) => {
  if (!requireKernel(t)) return;
  requireGenerated();
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-demo-"));
  try {
    const js = join(dir, "trace_write.js");
    const b = run(DENO, ["bundle", "--quiet", "--platform", "deno", "-o", js, DEMO]);
    assert.equal(b.code, 0, `deno bundle failed:\n${b.stderr}\n${b.stdout}`);
    checkDemoOutput(
      run(DENO, ["run", "-A", "--quiet", js, "--seconds", "1"], { cwd: dir }),
      "the bundle",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
