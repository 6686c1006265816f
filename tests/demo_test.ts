// The demos: examples/opensnoop.ts (the README's main demo) and examples/trace_write.ts. Each runs on
// this runtime, as a `bun build --compile` binary and as a `deno bundle` output, and shows the
// kernel tracing this very process (its opens, its writes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { requireKernel, ROOT, run, type RunResult, runtimeCommand, skipMissing } from "./_util.ts";
import { escapeText, jsonString, log2HistLines } from "../examples/_format.ts";

const DEMO = join(ROOT, "examples", "trace_write.ts");
/** Kernel tests build and run whole programs: more than bun's default 5 s on a busy machine. */
const SLOW = { timeout: 120_000 };
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

test(
  "trace_write counts this process's own writes and reads a non-zero total from .bss",
  SLOW,
  (t) => {
    if (!requireKernel(t)) return;
    requireGenerated();
    const [cmd, pre] = runtimeCommand(DEMO);
    checkDemoOutput(run(cmd, [...pre, "--seconds", "1"]), "the demo");
  },
);

test("trace_write's .rodata min_bytes filter, set before load, drops smaller writes", SLOW, (t) => {
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

test(
  "bun build --compile makes one binary that carries the object and runs the demo",
  SLOW,
  (t) => {
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
  },
);

test("deno bundle makes one script that carries the object and runs the demo", SLOW, (t) => {
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

// ---- opensnoop (examples/opensnoop.ts): the README's main demo --------------------------------

const OPENSNOOP = join(ROOT, "examples", "opensnoop.ts");
const OPENSNOOP_GENERATED = join(ROOT, "examples", "build", "opensnoop.skel.ts");
/** The files `--demo` makes the tool open, once every 100 ms. */
const DEMO_EXISTING = "/proc/self/comm";
const DEMO_MISSING = "/proc/self/opensnoop-demo-missing";

function requireOpensnoop(): void {
  if (!existsSync(OPENSNOOP_GENERATED)) {
    throw new Error(`${OPENSNOOP_GENERATED} is missing; run scripts/setup.sh first`);
  }
}

/** One `--json` event line. */
interface OpenJson {
  type: "open";
  pid: number;
  tid: number;
  comm: string;
  syscall: string;
  flags: number;
  fd: number;
  errno: number;
  err: string;
  latency_ns: number;
  path: string;
}

/** The `--json` summary line. */
interface SummaryJson {
  type: "summary";
  events: number;
  failed: number;
  lost: number;
  processes: { pid: number; comm: string; opens: number; fails: number }[];
  latency_usecs_log2: { low: number; high: number; count: number }[];
}

/** The events and the summary of one `--json` run (every stdout line must be JSON). */
function parseJsonRun(r: RunResult, what: string): { events: OpenJson[]; summary: SummaryJson } {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout.slice(-4000)}`);
  const lines = r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  const summary = lines.at(-1);
  assert.equal(summary?.type, "summary", `${what}: the last line is not the summary`);
  const events = lines.slice(0, -1) as OpenJson[];
  for (const e of events) assert.equal(e.type, "open", `${what}: ${JSON.stringify(e)}`);
  return { events, summary: summary as SummaryJson };
}

/** The comm the kernel gives a process started from `exe` (its base name, 15 bytes at most). */
function commOf(exe: string): string {
  return basename(exe).slice(0, 15);
}

/**
 * Checks a table-mode `--demo` run: the tool's own opens of both demo paths appear with its pid and
 * `comm`, the existing one with an fd and the missing one with ENOENT, then the summary with a row
 * for the tool itself and a bcc-style histogram.
 */
function checkOpensnoopTable(r: RunResult, comm: string, what: string): void {
  const out = r.stdout;
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${out.slice(-4000)}`);
  assert.match(out, /^opensnoop \(tsbpf on (deno|bun) [^)]*\): tracing openat/m, `${what}\n${out}`);
  assert.match(out, /^PID +COMM +FD ERR +LAT\(us\) +FLAGS PATH$/m, `${what}: no table header`);
  const pid = /^demo: pid (\d+) opens /m.exec(out)?.[1];
  assert.ok(pid, `${what}: no demo line\n${out}`);
  const rows = [...out.matchAll(/^(\d+) +(\S+) +(-?\d+) (\S+) +(\d+\.\d) +([0-7]{8}) (.*)$/gm)];
  const own = rows.filter((m) => m[1] === pid);
  const opened = own.filter((m) => m[7] === DEMO_EXISTING);
  const missing = own.filter((m) => m[7] === DEMO_MISSING);
  assert.ok(opened.length > 0, `${what}: no event for its own open of ${DEMO_EXISTING}\n${out}`);
  assert.ok(missing.length > 0, `${what}: no event for its own open of ${DEMO_MISSING}\n${out}`);
  for (const m of opened) {
    assert.equal(m[2], comm, `${what}: ${m[0]}`);
    assert.ok(Number(m[3]) >= 0 && m[4] === "0", `${what}: ${m[0]}`);
  }
  for (const m of missing) {
    assert.equal(m[2], comm, `${what}: ${m[0]}`);
    assert.ok(m[3] === "-1" && m[4] === "ENOENT", `${what}: ${m[0]}`);
  }
  const total = /^(\d+) opens traced in [\d.]+ s, (\d+) failed, (\d+) lost/m.exec(out);
  assert.ok(total, `${what}: no summary line\n${out}`);
  assert.ok(Number(total[1]) >= own.length && Number(total[2]) >= missing.length, total[0]);
  const self = new RegExp(`^${pid} +${comm} +(\\d+) +(\\d+)  <- opensnoop$`, "m").exec(out);
  assert.ok(self, `${what}: no summary row for itself\n${out}`);
  assert.ok(Number(self[1]) >= opened.length + missing.length, self[0]);
  assert.ok(Number(self[2]) >= missing.length, self[0]);
  assert.match(out, /^ {5}usecs {15}: count {5}distribution$/m, `${what}: no histogram`);
  assert.match(out, /^ {9}0 -> 1 {10}: \d+ +\|[* ]{40}\|$/m, `${what}: no first bucket`);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(out, /\x1b/, `${what}: a raw escape byte reached the output`);
}

/**
 * A shell that opens `paths` in a loop from its own process (a builtin's redirection), for the
 * filter tests. Kill it when done.
 */
function spawnOpener(paths: string[]): ChildProcess {
  const script = 'while :; do for p in "$@"; do read x < "$p"; done 2>/dev/null; sleep 0.05; done';
  const child = spawn("sh", ["-c", script, "sh", ...paths], { stdio: "ignore" });
  assert.ok(child.pid, "spawning sh failed");
  return child;
}

test("log2HistLines prints bcc's log2 histogram: header, ranges, counts and 40-star bars", () => {
  const lines = log2HistLines([3, 0, 12, 6], "usecs");
  assert.deepEqual(lines, [
    "     usecs               : count     distribution",
    "         0 -> 1          : 3        |**********                              |",
    "         2 -> 3          : 0        |                                        |",
    "         4 -> 7          : 12       |****************************************|",
    "         8 -> 15         : 6        |********************                    |",
  ]);
  // past bucket 32 the columns widen and the bars halve, as in bcc
  const wide = log2HistLines([...new Array(33).fill(0), 1], "nsecs");
  assert.equal(wide[0], `${" ".repeat(15)}nsecs${" ".repeat(24)} : count     distribution`);
  assert.equal(
    wide.at(-1),
    `${" ".repeat(10)}8589934592 -> 17179869183 ${" ".repeat(9)}: 1        |${"*".repeat(20)}|`,
  );
  assert.deepEqual(log2HistLines(new Array(32).fill(0n), "usecs"), []);
});

test("escapeText makes untrusted names safe for a terminal, and jsonString for JSON", () => {
  assert.equal(escapeText("/tmp/a b/c.txt"), "/tmp/a b/c.txt");
  assert.equal(escapeText("x\x1b]0;owned\x07\r\n\t\\"), "x\\x1b]0;owned\\x07\\r\\n\\t\\\\");
  assert.equal(escapeText("naïve-日本-\u{1f600}"), "naïve-日本-\u{1f600}");
  assert.equal(escapeText("a\u009b31mb\u202egnp.exe"), "a\\u{9b}31mb\\u{202e}gnp.exe");
  // what a codec makes of bytes that are not UTF-8, and a lone surrogate
  assert.equal(escapeText("\ufffd\x7f\x00\ud800"), "\ufffd\\x7f\\x00\\u{d800}");
  const j = jsonString('a\x1b[2J\u0085\u2066"b');
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(j, /[\x00-\x1f\x7f-\x9f\u2066]/);
  assert.equal(JSON.parse(j), 'a\x1b[2J\u0085\u2066"b');
});

test("opensnoop rejects a bad option with its usage and exit status 2", () => {
  requireOpensnoop();
  const [cmd, pre] = runtimeCommand(OPENSNOOP);
  const r = run(cmd, [...pre, "--pid", "me"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error: Bad --pid 'me'/m);
  assert.match(r.stderr, /^usage: opensnoop /m);
});

test(
  "opensnoop --json shows this runtime's own opens with the right pid, comm, path and result",
  SLOW,
  (t) => {
    if (!requireKernel(t)) return;
    requireOpensnoop();
    const [cmd, pre] = runtimeCommand(OPENSNOOP);
    const { events, summary } = parseJsonRun(
      run(cmd, [...pre, "--seconds", "1", "--demo", "--json"]),
      "opensnoop --json",
    );
    const own = events.filter((e) => e.path === DEMO_EXISTING && e.comm === commOf(cmd));
    assert.ok(own.length > 0, `no event for its own open of ${DEMO_EXISTING}`);
    const pid = own[0].pid;
    for (const e of own) assert.ok(e.fd >= 0 && e.errno === 0 && e.err === "0", JSON.stringify(e));
    const missing = events.filter((e) => e.pid === pid && e.path === DEMO_MISSING);
    assert.ok(missing.length > 0, `no event for its own open of ${DEMO_MISSING}`);
    for (const e of missing) {
      assert.ok(e.fd === -1 && e.errno === 2 && e.err === "ENOENT", JSON.stringify(e));
      assert.equal(e.comm, commOf(cmd));
      assert.ok(["openat", "openat2"].includes(e.syscall) && e.latency_ns > 0, JSON.stringify(e));
    }
    // the summary's per-process counts (a hash map) and histogram (.bss) saw them too
    const row = summary.processes.find((p) => p.pid === pid);
    assert.ok(row, `no summary row for pid ${pid}`);
    assert.ok(row.opens >= own.length + missing.length && row.fails >= missing.length);
    const histTotal = summary.latency_usecs_log2.reduce((s, b) => s + b.count, 0);
    assert.equal(histTotal, summary.events, "the histogram counts every traced open once");
    assert.ok(summary.events >= events.length, "fewer events counted than delivered");
  },
);

test("opensnoop --pid traces only that process: a child's opens of a known path", SLOW, (t) => {
  if (!requireKernel(t)) return;
  requireOpensnoop();
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-"));
  const known = join(dir, "known");
  writeFileSync(known, "x\n");
  const child = spawnOpener([known]);
  try {
    const [cmd, pre] = runtimeCommand(OPENSNOOP);
    const { events, summary } = parseJsonRun(
      run(cmd, [...pre, "--seconds", "1", "--demo", "--json", "--pid", String(child.pid)]),
      "opensnoop --pid",
    );
    assert.ok(events.some((e) => e.path === known && e.fd >= 0), `no open of ${known}`);
    for (const e of events) assert.equal(e.pid, child.pid, JSON.stringify(e));
    assert.deepEqual(summary.processes.map((p) => p.pid), [child.pid]);
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "opensnoop --failed shows only failed opens: ENOENT for a path that does not exist",
  SLOW,
  (t) => {
    if (!requireKernel(t)) return;
    requireOpensnoop();
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-"));
    const known = join(dir, "known");
    const missing = join(dir, "missing");
    writeFileSync(known, "x\n");
    const child = spawnOpener([known, missing]);
    try {
      const [cmd, pre] = runtimeCommand(OPENSNOOP);
      const args = ["--seconds", "1", "--json", "--pid", String(child.pid), "--failed"];
      const { events, summary } = parseJsonRun(run(cmd, [...pre, ...args]), "opensnoop --failed");
      assert.ok(events.some((e) => e.path === missing), `no event for ${missing}`);
      for (const e of events) {
        assert.equal(e.pid, child.pid, JSON.stringify(e));
        assert.ok(e.fd === -1 && e.errno === 2 && e.err === "ENOENT", JSON.stringify(e));
        assert.equal(e.path, missing);
      }
      assert.equal(summary.failed, summary.events, "a traced open that did not fail");
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "opensnoop --comm traces only that command; names with control bytes are escaped",
  SLOW,
  (t) => {
    if (!requireKernel(t)) return;
    requireOpensnoop();
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-"));
    const evil = join(dir, "evil\x1b[31mred\x07\n");
    const child = spawnOpener([evil]);
    try {
      const [cmd, pre] = runtimeCommand(OPENSNOOP);
      const r = run(cmd, [...pre, "--seconds", "1", "--comm", "sh", "--failed"]);
      assert.equal(r.code, 0, `${r.stderr}\n${r.stdout.slice(-4000)}`);
      const rows = [
        ...r.stdout.matchAll(/^(\d+) +(\S+) +(-?\d+) (\S+) +(\d+\.\d) +([0-7]{8}) (.*)$/gm),
      ];
      assert.ok(rows.length > 0, r.stdout);
      for (const m of rows) assert.equal(m[2], "sh", m[0]);
      const escaped = `${dir}/evil\\x1b[31mred\\x07\\n`;
      assert.ok(
        rows.some((m) => m[1] === String(child.pid) && m[7] === escaped && m[4] === "ENOENT"),
        `no escaped row for ${JSON.stringify(evil)}\n${r.stdout}`,
      );
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(r.stdout, /[\x00-\x08\x0b-\x1f\x7f]/, "a raw control byte in the output");
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "opensnoop as one binary (bun build --compile) runs alone and shows its own opens",
  SLOW,
  (t) => {
    if (!requireKernel(t)) return;
    requireOpensnoop();
    const build = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-build-"));
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-"));
    try {
      const bin = join(build, "opensnoop");
      const b = run(BUN, ["build", "--compile", OPENSNOOP, "--outfile", bin]);
      assert.equal(b.code, 0, `bun build --compile failed:\n${b.stderr}\n${b.stdout}`);
      // run from a directory that holds nothing but the binary
      renameSync(bin, join(dir, "opensnoop"));
      assert.deepEqual(readdirSync(dir), ["opensnoop"]);
      const r = run("./opensnoop", ["--seconds", "1", "--demo"], { cwd: dir });
      checkOpensnoopTable(r, "opensnoop", "the compiled binary");
    } finally {
      rmSync(build, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("opensnoop as one script (deno bundle) runs alone and shows its own opens", SLOW, (t) => {
  if (!requireKernel(t)) return;
  requireOpensnoop();
  const build = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-build-"));
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-"));
  try {
    const js = join(build, "opensnoop.js");
    const b = run(DENO, ["bundle", "--quiet", "--platform", "deno", "-o", js, OPENSNOOP]);
    assert.equal(b.code, 0, `deno bundle failed:\n${b.stderr}\n${b.stdout}`);
    renameSync(js, join(dir, "opensnoop.js"));
    assert.deepEqual(readdirSync(dir), ["opensnoop.js"]);
    const r = run(DENO, ["run", "-A", "--quiet", "opensnoop.js", "--seconds", "1", "--demo"], {
      cwd: dir,
    });
    checkOpensnoopTable(r, "deno", "the bundle");
  } finally {
    rmSync(build, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test("opensnoop runs until SIGINT, then prints its summary and exits 0", SLOW, async (t) => {
  if (!requireKernel(t)) return;
  requireOpensnoop();
  const [cmd, pre] = runtimeCommand(OPENSNOOP);
  const child = spawn(cmd, [...pre, "--demo", "--comm", commOf(cmd)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let signalled = false;
  // a tool that never traces its own opens must not hang the test run
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on("data", (d) => {
      out += d;
      // once its own opens show, it is attached and tracing: interrupt it
      if (
        !signalled && / ENOENT +[\d.]+ [0-7]{8} \/proc\/self\/opensnoop-demo-missing$/m.test(out)
      ) {
        signalled = true;
        // not child.kill(): Deno's node:child_process then reports the signal as the cause of any
        // exit that follows, even a clean exit 0
        process.kill(child.pid!, "SIGINT");
      }
    });
    child.on("close", (c) => resolve(c));
  });
  clearTimeout(guard);
  assert.ok(signalled, `it ended before tracing its own opens (${code}):\n${err}\n${out}`);
  assert.equal(code, 0, `exit ${code}:\n${err}\n${out}`);
  assert.match(out, /^\d+ opens traced in [\d.]+ s, \d+ failed, \d+ lost/m);
  assert.match(out, /^ {5}usecs {15}: count {5}distribution$/m);
});

test(
  "opensnoop without privileges prints the library's error, which says what to do, and exits 1",
  SLOW,
  (t) => {
    requireOpensnoop();
    const [cmd, pre] = runtimeCommand(OPENSNOOP);
    // as root, drop to nobody for the run (setpriv: util-linux); otherwise run as we are
    const unprivileged = process.getuid?.() === 0
      ? ["setpriv", [
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        cmd,
        ...pre,
      ]] as const
      : [cmd, pre] as const;
    if (process.getuid?.() === 0 && run("setpriv", ["--version"]).code !== 0) {
      skipMissing(t, "setpriv (util-linux) is not installed: cannot drop root for the run");
      return;
    }
    const r = run(unprivileged[0], [...unprivileged[1], "--seconds", "1"]);
    assert.equal(r.code, 1, `${r.stderr}\n${r.stdout}`);
    assert.match(r.stderr, /^error: .*EPERM.*; run as root \(or with CAP_BPF and CAP_PERFMON\)$/m);
  },
);

test(
  "opensnoop hands over every traced open once, intact, while the ring buffer wraps",
  SLOW,
  (t) => {
    if (!requireKernel(t)) return;
    requireOpensnoop();
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-opensnoop-"));
    const missing = join(dir, "missing");
    // as fast as a shell opens: far more records than the 1 MiB ring holds (about 3,300)
    const script = 'while :; do read x < "$1"; done 2>/dev/null';
    const child = spawn("sh", ["-c", script, "sh", missing], { stdio: "ignore" });
    try {
      const [cmd, pre] = runtimeCommand(OPENSNOOP);
      const { events, summary } = parseJsonRun(
        run(cmd, [...pre, "--seconds", "2", "--json", "--pid", String(child.pid)]),
        "opensnoop under load",
      );
      assert.ok(events.length > 5000, `only ${events.length} events: the ring did not wrap`);
      for (const e of events) {
        assert.ok(
          e.pid === child.pid && e.path === missing && e.err === "ENOENT" && e.comm === "sh",
          `a record read wrong: ${JSON.stringify(e)}`,
        );
      }
      // each counted open reached user space once, or was counted lost when the ring was full
      assert.equal(events.length + summary.lost, summary.events);
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
