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

/** The part of a node:test context that {@linkcode requireKernel} uses. */
export interface SkippableContext {
  /** Marks the test skipped. */
  skip(message?: string): void;
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
  // deno reports a test that calls t.skip() as passed, so say it on stderr as well
  console.warn(`skip: ${msg}`);
  t?.skip(msg);
  return false;
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
  console.warn(`skip: ${msg}`);
  t.skip(msg);
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
 * Test objects that libbpf 1.1 cannot load on this test kernel, with the reason. Kernel tests that
 * loop over {@linkcode testObjects} expect these to fail (or skip them).
 */
export const UNLOADABLE_OBJECTS: Readonly<Record<string, string>> = {
  core_poison: "program 'unguarded' reaches a poisoned CO-RE relocation; 'guarded' alone loads",
  fentry: "fentry/fexit/fmod_ret/lsm are refused with EPERM by the test kernel",
  ksym_typed: "typed __ksym variables need CONFIG_KALLSYMS_ALL",
  tcx: "libbpf 1.1 does not know the tcx/* sections",
  attach_net: "libbpf 1.1 does not know its tcx/ingress program; the others load one by one",
  attach_umulti: "libbpf 1.1 does not know the uprobe.multi sections",
  pinned: "pins maps under /sys/fs/bpf; load it only with a pin root from pinDir()",
};

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
 * setup builds the test objects; fails the test with clang's errors when it does not compile.
 *
 * @returns The path of `dir/name.bpf.o`.
 */
export function compileBpfC(dir: string, name: string, source: string): string {
  const src = join(dir, `${name}.bpf.c`);
  const obj = join(dir, `${name}.bpf.o`);
  writeFileSync(src, source);
  const cc = spawnSync("clang-19", ["-g", "-O2", "-target", "bpf", "-c", src, "-o", obj], {
    encoding: "utf8",
  });
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
