// What Deno must grant tsbpf: `--allow-ffi` alone for everything live (the library reads /sys,
// /proc and the user's files through libc), only a read of the input file for the offline verbs,
// and without --allow-ffi a live verb says to grant it. Bun has no permission model: there the same
// scripts run as a smoke test, and the permission-specific checks skip with the reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { libcHost } from "../ffi/_libc_host.ts";
import { genSkeleton } from "../gen/skeleton.ts";
import { getSys } from "../ffi/runtime.ts";
import {
  pinDir,
  requireKernel,
  ROOT,
  run,
  type RunResult,
  runtimeName,
  skip,
  UPROBE_TARGET,
  withTmpDir,
} from "./_util.ts";

const DEMO = join(ROOT, "examples", "trace_write.ts");
const CLI = join(ROOT, "cli.ts");
const SCRIPT = join(ROOT, "tests", "perm", "load_attach_read.ts");
const OBJ = join(ROOT, "tests", "bpf", "build", "maps.bpf.o");
// Not process.execPath: Deno's node:child_process gives a child spawned through its own path the
// parent's permissions (all of them under `deno test -A`), which would make these tests pass blindly.
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const NO_PERMISSIONS_ON_BUN = "Bun has no permission model: only the smoke runs apply";

/**
 * Runs a script with exactly the given Deno permissions (`--no-prompt`: a missing one fails
 * instead of asking), or plainly on Bun.
 */
function runWith(
  perms: string[],
  script: string,
  args: string[],
  env: Record<string, string> = {},
): RunResult {
  if (runtimeName() === "bun") return run(process.execPath, [script, ...args], { env });
  return run(DENO, ["run", "--quiet", "--no-prompt", ...perms, script, ...args], { env });
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

test("the demo runs with --allow-ffi only and counts its own writes", (t) => {
  if (!requireKernel(t)) return;
  const out = ok(runWith(["--allow-ffi"], DEMO, ["--seconds", "1"]), "demo");
  const pid = /^this process: pid (\d+);/m.exec(out);
  assert.ok(pid, out);
  const row = new RegExp(`^ +${pid[1]} +\\S+ +(\\d+) +(\\d+)  <- this demo$`, "m").exec(out);
  assert.ok(row && Number(row[1]) >= 100, `no row with its 100 writes:\n${out}`);
  assert.match(out, /^detached; closing the object/m);
});

test("cli object load runs with --allow-ffi only", (t) => {
  if (!requireKernel(t)) return;
  const out = ok(runWith(["--allow-ffi"], CLI, ["object", "load", OBJ]), "object load");
  assert.match(out, /^\d+: touch_maps +section tp\/syscalls\/sys_enter_write +tag [0-9a-f]{16}/m);
});

test("load, attach (tracepoint, libc uprobes) and map reads run with --allow-ffi only", (t) => {
  if (!requireKernel(t)) return;
  const out = ok(runWith(["--allow-ffi"], SCRIPT, []), "load_attach_read");
  const last = out.trim().split("\n").at(-1)!;
  const r = JSON.parse(last) as {
    links: string[];
    rows: number;
    ownWrites: string;
    uprobes: string[];
  };
  assert.deepEqual(r.links, ["tracepoint syscalls/sys_enter_write"]);
  assert.ok(BigInt(r.ownWrites) >= 20n, `its 20 writes not counted: ${last}`);
  assert.equal(r.uprobes.length, 2, last);
  assert.ok(r.uprobes.every((u) => /libc\.so\.6:(printf|read)$/.test(u)), last);
});

for (
  const [verb, args, expect] of [
    ["object show", ["object", "show", OBJ], /touch_maps/],
    ["object show --json", ["object", "show", OBJ, "--json"], /"touch_maps"/],
    ["btf dump file", ["btf", "dump", "file", OBJ], /DATASEC 'license'/],
    [
      "btf dump file format c",
      ["btf", "dump", "file", OBJ, "format", "c"],
      /#ifndef __VMLINUX_H__/,
    ],
  ] as const
) {
  test(`offline ${verb} needs only a read of its input file`, () => {
    const out = ok(runWith([`--allow-read=${OBJ}`], CLI, [...args]), verb);
    assert.match(out, expect);
  });
}

test("on Deno without --allow-ffi, a live verb says to grant --allow-ffi", (t) => {
  if (runtimeName() !== "deno") {
    skip(t, NO_PERMISSIONS_ON_BUN);
    return;
  }
  for (const perms of [[], [`--allow-read=${OBJ}`], ["--allow-read", "--allow-env"]]) {
    const r = runWith(perms, CLI, ["object", "load", OBJ]);
    assert.notEqual(r.code, 0, `${perms}: loaded without FFI?\n${r.stdout}`);
    assert.match(
      r.stderr + r.stdout,
      /Deno denied FFI access.*run with --allow-ffi \(tsbpf needs no other permission\)/,
      `${perms}`,
    );
  }
  const demo = runWith([], DEMO, ["--seconds", "1"]);
  assert.notEqual(demo.code, 0);
  assert.match(demo.stderr + demo.stdout, /run with --allow-ffi/);
});

test("the libc host reads, stats and writes as node:fs does, with errno codes", (t) => {
  if (!requireKernel(t)) return;
  const h = libcHost(getSys(), (b) => b);
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-libc-host-"));
  try {
    assert.deepEqual(h.readFile(OBJ), new Uint8Array(readFileSync(OBJ)));
    assert.equal(h.size(OBJ), statSync(OBJ).size);
    const f = h.open(OBJ);
    try {
      const at = new Uint8Array(16);
      assert.equal(f.readAt(at, 100), 16);
      assert.deepEqual(at, new Uint8Array(readFileSync(OBJ)).subarray(100, 116));
      assert.equal(f.readAt(new Uint8Array(64), f.size - 10), 10);
    } finally {
      f.close();
    }
    // procfs reports size 0: read to the end all the same.
    assert.match(h.readText("/proc/self/status"), /^Pid:\s+\d+$/m);
    assert.equal(h.readText("/proc/self/mounts"), readFileSync("/proc/self/mounts", "utf8"));
    assert.equal(h.env("PATH"), process.env.PATH);
    assert.equal(h.env("TSBPF_SURELY_UNSET_VARIABLE"), undefined);
    const sub = join(dir, "d");
    h.mkdir(sub, 0o700);
    assert.equal(statSync(sub).mode & 0o777, 0o700);
    assert.throws(() => h.mkdir(sub, 0o700), (e: { code?: string }) => e.code === "EEXIST");
    assert.throws(() => h.open(join(dir, "none")), (e: { code?: string }) => e.code === "ENOENT");
    assert.equal(h.exists(sub), true);
    assert.equal(h.exists(join(dir, "none")), false);
    const file = join(dir, "f");
    writeFileSync(file, "a");
    h.appendText(file, "bc\n");
    assert.equal(readFileSync(file, "utf8"), "abc\n");
    symlinkSync(file, join(dir, "l"));
    assert.equal(h.readlink(join(dir, "l")), file);
    h.unlink(file);
    assert.equal(existsSync(file), false);
    assert.equal(h.fsType("/proc/self"), 0x9fa0); // PROC_SUPER_MAGIC
    assert.equal(h.fsType(dir), Number(statfsSync(dir).type));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a generated skeleton and a RingBuffer consumer run with --allow-ffi only", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-perm-skel", (dir) => {
    const skel = genSkeleton(readFileSync(join(ROOT, "tests", "bpf", "build", "ringbuf.bpf.o")), {
      file: "ringbuf.bpf.o",
      importFrom: pathToFileURL(join(ROOT, "mod.ts")).href,
    });
    writeFileSync(join(dir, "ringbuf.skel.ts"), skel);
    const main = join(dir, "main.ts");
    writeFileSync(
      main,
      `import { getSys, RingBuffer } from ${
        JSON.stringify(pathToFileURL(join(ROOT, "mod.ts")).href)
      };
import { RingbufSkel } from "./ringbuf.skel.ts";
using skel = RingbufSkel.open();
skel.rodata.target_tgid = getSys().getpid();
skel.load();
skel.attach();
let n = 0;
using rb = new RingBuffer(skel.maps.rb, () => void n++);
for (let i = 0; i < 5; i++) getSys().getpid();
while (n < 5) await rb.wait(2000);
console.log("records " + n + ", tp_sent " + skel.bss.tp_sent);
`,
    );
    const out = ok(runWith(["--allow-ffi"], main, []), "skeleton + RingBuffer");
    assert.match(out, /^records [5-9]\d*, tp_sent [5-9]\d*n?$/m);
  });
});

test("with --allow-ffi only, a missing file reads 'Cannot read \"P\": ENOENT' as on the runtimes' own file API", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-perm-missing", (dir) => {
    const main = join(dir, "missing.ts");
    writeFileSync(
      main,
      `import { BpfObject, Btf, getSys } from ${
        JSON.stringify(pathToFileURL(join(ROOT, "mod.ts")).href)
      };
getSys(); // the libc file layer from here on (on Deno)
for (const f of [() => BpfObject.open("/nonexistent/x.bpf.o"), () => Btf.load("/nonexistent/x.btf")]) {
  try { f(); } catch (e) { console.log((e as Error).message); }
}
`,
    );
    const out = ok(runWith(["--allow-ffi"], main, []), "missing files");
    assert.deepEqual(out.trim().split("\n"), [
      'Cannot read "/nonexistent/x.bpf.o": ENOENT; check the path and its permissions',
      'Cannot read "/nonexistent/x.btf": ENOENT; check the path and its permissions',
    ]);
  });
});

test("with --allow-ffi only, btf dump file reads /sys/kernel/btf/vmlinux through libc", (t) => {
  if (runtimeName() !== "deno") return skip(t, NO_PERMISSIONS_ON_BUN);
  const r = runWith(["--allow-ffi"], CLI, ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\[1\] INT /);
});

test("pins, kconfig/ksym externs and USDT run with --allow-ffi only; the environment needs no --allow-env", (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  // One level below an existing bpffs directory: load() makes it (mkdir through libc).
  const root = join(pins.path, "made-by-load");
  const script = join(ROOT, "tests", "perm", "pins_usdt_externs.ts");
  const r = runWith(["--allow-ffi"], script, [root, UPROBE_TARGET], {
    TSBPF_PERM_PROBE: "a=b c",
  });
  const last = ok(r, "pins_usdt_externs").trim().split("\n").at(-1)!;
  const got = JSON.parse(last) as { pinned: string; externs: string[]; usdt: string; env: string };
  assert.equal(got.pinned, `${root}/tsbpf_pinned_hash`);
  assert.deepEqual(readdirSync(root), ["tsbpf_pinned_hash"], "unpin() left the array's pin");
  assert.equal(got.externs[0], "loaded", last);
  assert.ok(got.externs.includes("read_externs"), last);
  assert.equal(got.usdt, `usdt ${UPROBE_TARGET}:tsbpf:add (1 sites)`, last);
  // Deno without --allow-env: the environment the process started with, from /proc/self/environ.
  assert.equal(got.env, "a=b c");
});
