// Tests of the test infrastructure itself: setup's outputs, the libbpf oracle and tests/_util.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import {
  LIBBPF_UNKNOWN_SECTIONS,
  libbpfLoad,
  NEEDS_PIN_ROOT,
  newFds,
  openFdCount,
  openFds,
  oracle,
  oracleInfo,
  pinDir,
  requireKernel,
  ROOT,
  run,
  runCli,
  testObjects,
  UPROBE_TARGET,
} from "./_util.ts";

const sources = readdirSync(join(ROOT, "tests", "bpf")).filter((f) => f.endsWith(".bpf.c")).sort();

test("setup builds one object per tests/bpf/*.bpf.c", () => {
  const built = testObjects().map((p) => basename(p, ".o"));
  assert.deepEqual(built, sources.map((s) => s.replace(/\.c$/, "")));
});

test("libbpf_oracle info lists programs and maps of every test object", () => {
  for (const obj of testObjects()) {
    const info = oracleInfo(obj);
    assert.ok(info.programs.length > 0, `${obj} has no programs`);
    for (const p of info.programs) {
      assert.equal(typeof p.section, "string");
      assert.ok(p.insns > 0, `${obj} ${p.name} has no instructions`);
    }
    for (const m of info.maps) assert.equal(typeof m.type, "string", `${obj} ${m.name}`);
  }
});

test("libbpf_oracle info marks the data sections as internal maps", () => {
  const info = oracleInfo(testObjects().find((p) => p.endsWith("/globals.bpf.o"))!);
  const secs = info.maps.filter((m: { internal: boolean }) => m.internal).map((
    m: { datasec: string },
  ) => m.datasec).sort();
  assert.deepEqual(secs, [
    ".bss",
    ".data",
    ".data.custom",
    ".data.other",
    ".rodata",
    ".rodata.custom",
  ]);
});

test("libbpf_oracle info fails with an error for a file that is not ELF", () => {
  const r = oracle(["info", join(ROOT, "package.json")]);
  assert.notEqual(r.code, 0);
  assert.equal(typeof r.json?.error, "string");
});

test("libbpf_oracle load gives a verdict on every test object: its programs with tags, or an errno", (t) => {
  if (!requireKernel(t)) return;
  for (const obj of testObjects()) {
    const name = basename(obj, ".bpf.o");
    if (NEEDS_PIN_ROOT.has(name)) continue;
    const v = libbpfLoad(obj);
    if (!v.ok) {
      assert.ok(v.errno > 0 && v.errno < 4096, `${name}: errno ${v.errno}`);
      continue;
    }
    assert.ok(v.programs.length > 0, name);
    for (const p of v.programs) {
      assert.match(p.tag, /^[0-9a-f]{16}$/, `${name} ${p.name}`);
      assert.ok(p.id > 0 && p.xlatedInsns > 0, `${name} ${p.name}`);
    }
  }
});

test("libbpf_oracle load refuses, on any kernel, the objects with sections libbpf 1.1 does not know", (t) => {
  if (!requireKernel(t)) return;
  for (const name of Object.keys(LIBBPF_UNKNOWN_SECTIONS)) {
    const v = libbpfLoad(testObjects().find((p) => p.endsWith(`/${name}.bpf.o`))!);
    assert.equal(v.ok, false, `${name}: ${LIBBPF_UNKNOWN_SECTIONS[name]}, yet libbpf loaded it`);
    assert.equal(v.ok === false && v.errno, 22, name); // libbpf: "missing BPF prog type" is EINVAL
  }
});

test("libbpf_oracle loads core_poison's guarded program and rejects the unguarded one", (t) => {
  if (!requireKernel(t)) return;
  const obj = testObjects().find((p) => p.endsWith("/core_poison.bpf.o"))!;
  const ok = oracle(["load", obj, "guarded"]);
  assert.equal(ok.code, 0, ok.stderr);
  const bad = oracle(["load", obj, "unguarded"]);
  assert.notEqual(bad.code, 0);
  assert.equal(bad.json.errno, 22);
});

test("libbpf_oracle load with one program name loads only that program", (t) => {
  if (!requireKernel(t)) return;
  const obj = testObjects().find((p) => p.endsWith("/net.bpf.o"))!;
  const r = oracle(["load", obj, "xdp_pass"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.programs.map((p: { name: string }) => p.name), ["xdp_pass"]);
});

test("pinned.bpf.o pins its maps by name under the pin root and pinDir() removes them", (t) => {
  if (!requireKernel(t)) return;
  const obj = testObjects().find((p) => p.endsWith("/pinned.bpf.o"))!;
  const dir = pinDir();
  try {
    const r = oracle(["load", obj, "--pin-root", dir.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(dir.path).sort(), ["tsbpf_pinned_array", "tsbpf_pinned_hash"]);
  } finally {
    dir.remove();
  }
  assert.equal(existsSync(dir.path), false);
});

test("uprobe_target calls tsbpf_add COUNT times and prints the sum", () => {
  const r = run(UPROBE_TARGET, ["4"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), String(1 + 3 + 5 + 7));
});

test("uprobe_target --wait waits for stdin before calling", () => {
  const r = run(UPROBE_TARGET, ["2", "--wait"], { input: "x" });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["ready", "4"]);
});

test("runCli runs cli.ts on the current runtime and --help exits 0", () => {
  const r = runCli(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: tsbpf/);
});

test("openFds() sees an fd opened by the test and newFds() reports it", async () => {
  const { openSync, closeSync } = await import("node:fs");
  const before = openFds();
  const count = openFdCount();
  const fd = openSync(join(ROOT, "package.json"), "r");
  try {
    assert.equal(openFdCount(), count + 1);
    assert.ok(newFds(before).some((s) => s.endsWith("/package.json")));
  } finally {
    closeSync(fd);
  }
  assert.equal(newFds(before).length, 0);
});

test("setup.sh run a second time rebuilds nothing", () => {
  const first = run("bash", [join(ROOT, "scripts", "setup.sh")], { timeoutMs: 600_000 });
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const second = run("bash", [join(ROOT, "scripts", "setup.sh")], { timeoutMs: 600_000 });
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.deepEqual(
    second.stdout.trim().split("\n").filter((l) => !/^setup: (ok|not root)/.test(l)),
    [
      `setup: bpf objects: 0 rebuilt, ${sources.length} total`,
    ],
  );
});

test("uprobe_target carries the USDT note tsbpf:add with two arguments", () => {
  const r = run("readelf", ["-n", UPROBE_TARGET]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Provider: tsbpf\s+Name: add\s+Location: 0x[0-9a-f]+, Base: 0x[0-9a-f]+/);
  assert.match(r.stdout, /Arguments: -?8@\S+ -?8@\S+/);
});

test("libbpf_oracle load --insns names the maps its ld_imm64 instructions point at", (t) => {
  if (!requireKernel(t)) return;
  const obj = testObjects().find((p) => p.endsWith("/subprogs.bpf.o"))!;
  const r = oracle(["load", obj, "--insns", "call_subprogs"]);
  assert.equal(r.code, 0, r.stderr);
  const [prog] = r.json.programs;
  assert.equal(prog.insnList.length, prog.insnCount);
  const named = prog.insnList.filter((i: unknown[]) => i.length === 6).map((i: unknown[]) => i[5]);
  assert.deepEqual([...new Set(named)].sort(), ["subprogs.bss", "values"]);
});

test("no test calls t.skip() itself: every skip goes through skip() so the summary counts it", () => {
  const offenders: string[] = [];
  for (const f of readdirSync(join(ROOT, "tests")).filter((f) => f.endsWith(".ts"))) {
    if (f === "_util.ts" || f === "setup_test.ts") continue;
    const text = readFileSync(join(ROOT, "tests", f), "utf8");
    text.split("\n").forEach((line, i) => {
      if (/\bt\.skip\(|\btest\.skip\(|\{ skip: true/.test(line)) offenders.push(`${f}:${i + 1}`);
    });
  }
  assert.deepEqual(offenders, []);
});
