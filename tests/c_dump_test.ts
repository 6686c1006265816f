import { test } from "node:test";
import assert from "node:assert/strict";
import { execSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { btfToC } from "../gen/c_dump.ts";
import { ROOT, runCli, testObjects } from "./_util.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const hasVmlinux = existsSync(VMLINUX);
const hasBpftool = spawnSync("bpftool", ["version"]).status === 0;

function bpftoolC(file: string): string {
  const r = spawnSync("bpftool", ["btf", "dump", "file", file, "format", "c"], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  assert.equal(r.status, 0, `bpftool failed on ${file}: ${r.stderr}`);
  return r.stdout;
}

/** Fails with the first differing lines, to keep a failure readable on a 130k-line header. */
function assertSameText(got: string, want: string, what: string): void {
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

test("btfToC() of vmlinux is byte-identical to bpftool btf dump format c", (t) => {
  if (!hasVmlinux) return t.skip("This kernel has no /sys/kernel/btf/vmlinux");
  if (!hasBpftool) return t.skip("bpftool is not installed");
  const want = bpftoolC(VMLINUX);
  using btf = Btf.load(VMLINUX);
  assertSameText(btfToC(btf), want, VMLINUX);
});

test("btfToC() of every test object is byte-identical to bpftool btf dump format c", (t) => {
  if (!hasBpftool) return t.skip("bpftool is not installed");
  const objects = testObjects();
  assert.ok(objects.length > 0);
  for (const file of objects) {
    using btf = Btf.load(file);
    assertSameText(btfToC(btf), bpftoolC(file), file);
  }
});

test("tsbpf btf dump file OBJECT format c prints what bpftool prints", (t) => {
  if (!hasBpftool) return t.skip("bpftool is not installed");
  const file = testObjects()[0];
  const r = runCli(["btf", "dump", "file", file, "format", "c"]);
  assert.equal(r.code, 0, r.stderr);
  assertSameText(r.stdout, bpftoolC(file), file);
});

test("every test program compiles with clang-19 against tsbpf's own vmlinux.h", (t) => {
  if (!hasVmlinux) return t.skip("This kernel has no /sys/kernel/btf/vmlinux");
  if (spawnSync("clang-19", ["--version"]).status !== 0) return t.skip("clang-19 is not installed");
  const bpfDir = join(ROOT, "tests", "bpf");
  const sources = readdirSync(bpfDir).filter((f) => f.endsWith(".bpf.c")).map((f) =>
    join(bpfDir, f)
  );
  assert.ok(sources.length > 0);
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-vmlinux-h-"));
  try {
    {
      using btf = Btf.load(VMLINUX);
      writeFileSync(join(dir, "vmlinux.h"), btfToC(btf));
    }
    const triple = execSync("gcc -dumpmachine", { encoding: "utf8" }).trim();
    // One clang run checks every file (a syntax and type check: what the header decides).
    const r = spawnSync("clang-19", [
      "-g",
      "-O2",
      "-target",
      "bpf",
      "-D__TARGET_ARCH_x86",
      "-fsyntax-only",
      "-I",
      dir,
      "-I",
      bpfDir,
      "-idirafter",
      `/usr/include/${triple}`,
      ...sources,
    ], { encoding: "utf8", maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr.split("\n").slice(0, 20).join("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
