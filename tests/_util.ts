/**
 * Shared helpers for tsbpf's tests: the kernel guard, the CLI runner, the test objects, the libbpf
 * oracle, fd counting, bpffs pin directories, temporary directories, compiling C to a BPF object,
 * and comparing long texts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));
/** Where scripts/setup.sh puts the compiled test objects. */
export const BPF_BUILD: string = join(ROOT, "tests", "bpf", "build");
/** The libbpf oracle binary built by scripts/setup.sh. */
export const ORACLE: string = join(ROOT, "tests", "oracle", "build", "libbpf_oracle");
/** The uprobe/USDT target (`tsbpf_add`, USDT `tsbpf:add`) built by scripts/setup.sh. */
export const UPROBE_TARGET: string = join(ROOT, "tests", "bin", "build", "uprobe_target");

const SETUP_HINT = "run scripts/setup.sh (as root) first";

/** The JavaScript runtime running the tests. */
export function runtimeName(): "deno" | "bun" | "node" {
  const g = globalThis as Record<string, unknown>;
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/** Whether the tests run under CI (`CI=true`), where a missing kernel capability is a failure. */
export function isCI(): boolean {
  return process.env.CI === "true";
}

const CAP_SYS_ADMIN = 21n;
const CAP_BPF = 39n;

/** Why this process cannot use bpf(), or undefined when it can. */
export function kernelUnavailableReason(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  let capEff = 0n;
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (m) capEff = BigInt("0x" + m[1]);
  } catch {
    return "cannot read /proc/self/status";
  }
  if (((capEff >> CAP_BPF) & 1n) === 0n && ((capEff >> CAP_SYS_ADMIN) & 1n) === 0n) {
    return "no CAP_BPF or CAP_SYS_ADMIN (run as root)";
  }
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "no /sys/kernel/btf/vmlinux";
  if (!existsSync("/sys/fs/bpf")) return "no /sys/fs/bpf";
  return undefined;
}

/** The part of a node:test context that {@linkcode requireKernel} and {@linkcode skip} use. */
export interface SkippableContext {
  /** Marks the test skipped. */
  skip(message?: string): void;
  /** The test's name. */
  readonly name?: string;
}

/**
 * Marks a test skipped, for a reason that is a fact about the machine (the kernel lacks a feature),
 * and records it so the summary counts it as a skip on both runtimes: Deno reports a test that calls
 * `t.skip()` as passed, so scripts/test.sh reads the log named by `TSBPF_SKIP_LOG` instead.
 */
export function skip(t: SkippableContext, reason: string): void {
  const log = process.env.TSBPF_SKIP_LOG;
  if (log) {
    appendFileSync(log, `${runtimeName()}\t${t.name ?? "?"}\t${reason.replace(/\s+/g, " ")}\n`);
  }
  console.warn(`skip: ${t.name ?? "test"}: ${reason}`);
  t.skip(reason);
}

/**
 * The guard at the start of every kernel test. Returns true when the process can use bpf(). When it
 * cannot, it skips the test (and returns false), except under `CI=true`, where it throws so the test
 * fails.
 *
 * @example
 * ```ts
 * test("load() creates the maps", (t) => {
 *   if (!requireKernel(t)) return;
 *   // ...
 * });
 * ```
 */
export function requireKernel(t?: SkippableContext): boolean {
  const why = kernelUnavailableReason();
  if (why === undefined) return true;
  const msg = `Kernel test needs bpf(): ${why}`;
  if (isCI()) throw new Error(`${msg}; CI=true, so this fails instead of skipping`);
  if (t) skip(t, msg);
  else console.warn(`skip: ${msg}`);
  return false;
}

/**
 * Whether the running kernel's release is at least `major.minor`: for features a kernel of that
 * release must have (tcx links 6.6, uprobe.multi 6.6...). On an older kernel a test checks the
 * error path instead.
 */
export function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = readFileSync("/proc/sys/kernel/osrelease", "utf8").split(".").map((x) =>
    parseInt(x, 10)
  );
  return a > major || (a === major && b >= minor);
}

/**
 * Skips a test because something scripts/setup.sh provides is missing (bpftool, gcc, clang, a test
 * binary, a veth pair, tracefs). Under `CI=true`, where setup has run, it throws instead, so the
 * test fails rather than skipping silently.
 *
 * @example
 * ```ts
 * if (!hasBpftool) return skipMissing(t, "bpftool is not installed");
 * ```
 */
export function skipMissing(t: SkippableContext, msg: string): void {
  if (isCI()) {
    throw new Error(`${msg}; CI=true (setup provides it), so this fails instead of skipping`);
  }
  skip(t, msg);
}

/** What a spawned command did. */
export interface RunResult {
  /** Exit status (a signal counts as 128 + its number, -1 when the spawn failed). */
  code: number;
  /** Everything written to stdout, as UTF-8. */
  stdout: string;
  /** Everything written to stderr, as UTF-8. */
  stderr: string;
}

/** Options of {@linkcode run} and {@linkcode runCli}. */
export interface RunOptions {
  /** Text written to the child's stdin (default: empty, stdin closed). */
  input?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the child after this many milliseconds (default 120000). */
  timeoutMs?: number;
  /** Working directory (default the repository root). */
  cwd?: string;
}

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6 };

/** Runs `cmd args` to completion and returns its status and output. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    input: opts.input ?? "",
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
    encoding: "utf8",
  });
  let code = r.status ?? -1;
  if (r.status === null && r.signal) code = 128 + (SIGNALS[r.signal] ?? 0);
  return {
    code,
    stdout: r.stdout ?? "",
    stderr: (r.stderr ?? "") + (r.error ? String(r.error) : ""),
  };
}

/** The command that runs a TypeScript entry point on the current runtime. */
export function runtimeCommand(script: string): [string, string[]] {
  const name = runtimeName();
  if (name === "deno") return [process.execPath, ["run", "-A", "--quiet", script]];
  if (name === "bun") return [process.execPath, [script]];
  throw new Error("The tests run under Deno or Bun; node cannot run .ts files");
}

/**
 * Runs `cli.ts` with `args` on the current runtime (`deno run -A cli.ts` or `bun cli.ts`).
 *
 * @example
 * ```ts
 * const r = runCli(["object", "show", testObject("maps"), "--json"]);
 * assert.equal(r.code, 0, r.stderr);
 * ```
 */
export function runCli(args: string[], opts: RunOptions = {}): RunResult {
  const [cmd, pre] = runtimeCommand(join(ROOT, "cli.ts"));
  return run(cmd, [...pre, ...args], opts);
}

function requireBuildDir(): void {
  if (!existsSync(BPF_BUILD)) {
    throw new Error(`The test objects are missing (${BPF_BUILD}); ${SETUP_HINT}`);
  }
}

/** Absolute paths of every compiled test object, `tests/bpf/build/*.bpf.o`, sorted by name. */
export function testObjects(): string[] {
  requireBuildDir();
  return readdirSync(BPF_BUILD).filter((f) => f.endsWith(".bpf.o")).sort().map((f) =>
    join(BPF_BUILD, f)
  );
}

/** The path of one test object by its base name (`"maps"` → `tests/bpf/build/maps.bpf.o`). */
export function testObject(name: string): string {
  requireBuildDir();
  const p = join(BPF_BUILD, `${name}.bpf.o`);
  if (!existsSync(p)) throw new Error(`No test object ${p}; ${SETUP_HINT}`);
  return p;
}

/**
 * Facts about libbpf 1.1 itself (not about the kernel): test objects with sections it does not know,
 * so it cannot load them whole on any kernel. What the running kernel refuses is asked of libbpf at
 * run time ({@linkcode libbpfLoad}), never listed here.
 */
export const LIBBPF_UNKNOWN_SECTIONS: Readonly<Record<string, string>> = {
  tcx: "libbpf 1.1 does not know the tcx/* sections",
  attach_net: "libbpf 1.1 does not know its tcx/ingress program; the others load one by one",
  attach_umulti: "libbpf 1.1 does not know the uprobe.multi sections",
};

/** Test objects that pin maps by name: load them only with a pin root from {@linkcode pinDir}. */
export const NEEDS_PIN_ROOT: ReadonlySet<string> = new Set(["pinned"]);

/** What libbpf did with one load: the programs it loaded, or the errno it was refused with. */
export type LibbpfVerdict =
  | {
    ok: true;
    /** Every program libbpf loaded: name, section, kernel tag, translated length. */
    // deno-lint-ignore no-explicit-any
    programs: any[];
    /** Every map it created, with the kernel's view of it. */
    // deno-lint-ignore no-explicit-any
    maps: any[];
  }
  | {
    ok: false;
    /** The errno libbpf's load failed with (positive). */
    errno: number;
    /** The program libbpf names in its "failed to load" line, or "". */
    program: string;
    /** The last lines of libbpf's log. */
    detail: string;
  };

const verdicts = new Map<string, LibbpfVerdict>();

/**
 * Asks libbpf (`libbpf_oracle load`) whether this kernel loads `file` (only `progs`, when given),
 * once per object and program list for the whole test run. Loads with a pin root are not cached.
 *
 * @example
 * ```ts
 * const v = libbpfLoad(testObject("net"), ["xdp_pass"]);
 * if (v.ok) assert.match(v.programs[0].tag, /^[0-9a-f]{16}$/);
 * ```
 */
export function libbpfLoad(
  file: string,
  progs: readonly string[] = [],
  opts: { pinRoot?: string; env?: Record<string, string> } = {},
): LibbpfVerdict {
  const key = `${file}\0${progs.join(",")}`;
  const cacheable = opts.pinRoot === undefined && opts.env === undefined;
  const hit = cacheable ? verdicts.get(key) : undefined;
  if (hit !== undefined) return hit;
  const r = oracle(
    ["load", file, ...(opts.pinRoot ? ["--pin-root", opts.pinRoot] : []), ...progs],
    { env: opts.env },
  );
  let v: LibbpfVerdict;
  if (r.code === 0 && r.json?.programs !== undefined) {
    v = { ok: true, programs: r.json.programs, maps: r.json.maps };
  } else if (r.json !== undefined && Number(r.json.errno) > 0) {
    v = {
      ok: false,
      errno: Number(r.json.errno),
      program: /prog '([^']+)': failed to load/.exec(r.stderr)?.[1] ?? "",
      detail: r.stderr.trim().split("\n").slice(-4).join(" | "),
    };
  } else {
    throw new Error(`libbpf_oracle load ${file} gave no verdict (${r.code}): ${r.stderr.trim()}`);
  }
  if (cacheable) verdicts.set(key, v);
  return v;
}

/** The errno an error carries, on itself or on a cause down its chain, or undefined. */
export function errnoOf(e: unknown): number | undefined {
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 8; depth++) {
    const n = (c as { errno?: unknown }).errno;
    if (typeof n === "number" && n > 0) return n;
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Writes a line of test output that says what a test checked (a pass, not a skip). */
export function note(msg: string): void {
  console.log(`note: ${msg}`);
}

/**
 * The oracle rule for loads: compares what tsbpf did (`got`: its loaded programs, or the error it
 * threw) with libbpf's verdict. Where libbpf loaded, tsbpf must have loaded the same programs with
 * the same kernel tags. Where libbpf was refused, tsbpf must have been refused with the same errno
 * (and, where both name it, for the same program); the test then says so and passes.
 *
 * @returns "loaded" or "refused", what both did.
 * @example
 * ```ts
 * // tsbpf refused where libbpf loads: a regression, whatever the kernel
 * const libbpf: LibbpfVerdict = { ok: true, programs: [], maps: [] };
 * assert.throws(() => expectLikeLibbpf(new Error("EPERM"), libbpf, "net.bpf.o"));
 * ```
 */
export function expectLikeLibbpf(
  got: readonly { name: string; tag: string }[] | Error,
  want: LibbpfVerdict,
  what: string,
): "loaded" | "refused" {
  if (want.ok) {
    if (got instanceof Error) {
      throw new assert.AssertionError({
        message: `${what}: libbpf loads it on this kernel, tsbpf was refused: ${got.message}`,
      });
    }
    const byName = (a: string[], b: string[]) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
    assert.deepEqual(
      got.map((p) => [p.name, p.tag]).sort(byName),
      want.programs.map((p: { name: string; tag: string }) => [p.name, p.tag]).sort(byName),
      `${what}: the kernel's tags differ from libbpf's`,
    );
    return "loaded";
  }
  if (!(got instanceof Error)) {
    throw new assert.AssertionError({
      message: `${what}: libbpf is refused on this kernel (errno ${want.errno}: ${want.detail}), ` +
        `tsbpf loaded ${got.map((p) => p.name).join(", ")}`,
    });
  }
  assert.equal(
    errnoOf(got),
    want.errno,
    `${what}: refused with another errno than libbpf (libbpf: ${want.detail}; tsbpf: ${got.message})`,
  );
  const prog = (got as { program?: unknown }).program;
  if (want.program !== "" && typeof prog === "string" && prog !== "") {
    assert.equal(prog, want.program, `${what}: libbpf and tsbpf name different programs`);
  }
  note(`${what}: refused by this kernel, as libbpf is (errno ${want.errno})`);
  return "refused";
}

/** The libbpf oracle's output for one call. */
export interface OracleResult extends RunResult {
  /** The parsed JSON on stdout, or undefined when stdout was not JSON. */
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** Runs `libbpf_oracle args...` (`info FILE`, `load FILE [PROG...]`, `--pin-root DIR`). */
export function oracle(args: string[], opts: RunOptions = {}): OracleResult {
  if (!existsSync(ORACLE)) {
    throw new Error(`The libbpf oracle is missing (${ORACLE}); ${SETUP_HINT}`);
  }
  const r = run(ORACLE, args, opts);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

/** libbpf's view of an object after open: `{ name, programs: [...], maps: [...] }`. Throws on failure. */
// deno-lint-ignore no-explicit-any
export function oracleInfo(file: string): any {
  const r = oracle(["info", file]);
  if (r.code !== 0 || r.json === undefined) {
    throw new Error(`libbpf_oracle info ${file} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return r.json;
}

/** Open fds of this process (`/proc/self/fd`), as fd → link target. */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync("/proc/self/fd")) {
    let target = "";
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // the fd of the directory listing itself is gone already
    }
    out.set(Number(name), target);
  }
  return out;
}

/** The number of open fds of this process. */
export function openFdCount(): number {
  return openFds().size;
}

/** Fds open now that were not in `before`, with their targets (`anon_inode:bpf-map`...). */
export function newFds(before: Map<number, string>): string[] {
  const out: string[] = [];
  for (const [fd, target] of openFds()) {
    if (before.get(fd) !== target) out.push(`${fd} -> ${target}`);
  }
  return out;
}

let pinSeq = 0;

/**
 * Makes a fresh directory under /sys/fs/bpf for one test's pins and returns it with a `remove()`
 * that deletes it and everything pinned in it: declare it with `using`, or call `remove()` in a
 * `finally`.
 */
export function pinDir(): { path: string; remove(): void; [Symbol.dispose](): void } {
  const path = `/sys/fs/bpf/tsbpf-test-${process.pid}-${++pinSeq}`;
  mkdirSync(path, { recursive: true });
  const remove = () => rmSync(path, { recursive: true, force: true });
  return { path, remove, [Symbol.dispose]: remove };
}

/** The bytes (a copy) of ELF section `name` in a little-endian ELF64 file, or undefined. */
export function elfSection(file: Uint8Array, name: string): Uint8Array | undefined {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const sh = (i: number) => shoff + i * shentsize;
  const strOff = Number(dv.getBigUint64(sh(shstrndx) + 0x18, true));
  const dec = new TextDecoder();
  for (let i = 1; i < shnum; i++) {
    const n = strOff + dv.getUint32(sh(i), true);
    if (dec.decode(file.subarray(n, file.indexOf(0, n))) !== name) continue;
    const off = Number(dv.getBigUint64(sh(i) + 0x18, true));
    const size = Number(dv.getBigUint64(sh(i) + 0x20, true));
    return Uint8Array.from(file.subarray(off, off + size));
  }
  return undefined;
}

/** Runs `fn` with a fresh temporary directory named after `prefix`, and removes it afterwards. */
export function withTmpDir<T>(prefix: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes C `source` to `dir/name.bpf.c` and compiles it with `clang-19 -g -O2 -target bpf`, as
 * setup builds the test objects (so `#include "common.h"` brings vmlinux.h and libbpf's headers);
 * fails the test with clang's errors when it does not compile.
 *
 * @returns The path of `dir/name.bpf.o`.
 */
export function compileBpfC(dir: string, name: string, source: string): string {
  const src = join(dir, `${name}.bpf.c`);
  const obj = join(dir, `${name}.bpf.o`);
  writeFileSync(src, source);
  const cc = spawnSync("clang-19", [
    "-g",
    "-O2",
    "-target",
    "bpf",
    "-I",
    BPF_BUILD,
    "-I",
    join(ROOT, "tests", "bpf"),
    "-c",
    src,
    "-o",
    obj,
  ], { encoding: "utf8" });
  assert.equal(cc.status, 0, `clang-19 failed on ${name}.bpf.c: ${cc.stderr}`);
  return obj;
}

/**
 * Asserts two texts are equal; on a difference fails with the first differing line and three
 * lines around it, to keep a failure readable on a dump of 100k lines and more.
 */
export function assertSameText(got: string, want: string, what: string): void {
  if (got === want) return;
  const g = got.split("\n");
  const w = want.split("\n");
  for (let i = 0; i < Math.max(g.length, w.length); i++) {
    if (g[i] !== w[i]) {
      const from = Math.max(0, i - 3);
      const show = (lines: string[]) =>
        lines.slice(from, i + 4).map((l, k) => `  ${from + k + 1}: ${l}`).join("\n");
      assert.fail(`${what}: line ${i + 1} differs\n--- got\n${show(g)}\n--- want\n${show(w)}`);
    }
  }
  assert.fail(`${what}: the texts differ`);
}

/** `n` as the 4 bytes of a u32 in the machine's byte order, as map keys and values are stored. */
export function u32(n: number): Uint8Array {
  return new Uint8Array(new Uint32Array([n]).buffer);
}

/** `n` as the 8 bytes of a u64 in the machine's byte order. */
export function u64(n: bigint): Uint8Array {
  return new Uint8Array(new BigUint64Array([n]).buffer);
}

/** The u32 at the start of `b` (little-endian), or undefined for an absent value. */
export function readU32(b: Uint8Array): number;
export function readU32(b: Uint8Array | undefined): number | undefined;
export function readU32(b: Uint8Array | undefined): number | undefined {
  return b === undefined ? undefined : new DataView(b.buffer, b.byteOffset).getUint32(0, true);
}

/** The u64 at the start of `b` (little-endian). */
export function readU64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
}

/** What `fn` throws, or undefined when it returns: for tests that inspect an error's fields. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
