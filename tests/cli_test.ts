// The command line's own contract: usage, unknown verbs, and misuse of every verb exit 2 with an
// error on stderr and no stack trace; --help exits 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pinDir, requireKernel, ROOT, runCli, runtimeCommand, testObject } from "./_util.ts";

test("tsbpf with no arguments prints the usage and exits 2", () => {
  const r = runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^Usage: tsbpf OBJECT VERB/);
});

test("tsbpf --help prints the usage and exits 0", () => {
  const r = runCli(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /tsbpf btf dump file FILE/);
});

test("an unknown object or verb exits 2 and names it", () => {
  const obj = runCli(["prog", "show"]);
  assert.equal(obj.code, 2);
  assert.match(obj.stderr, /^Error: unknown object 'prog'/);
  const verb = runCli(["object", "dance"]);
  assert.equal(verb.code, 2);
  assert.match(
    verb.stderr,
    /^Error: unknown verb 'dance' for 'object'; expected one of: show, load, run/,
  );
});

const MISUSE: string[][] = [
  ["object", "show", "x.bpf.o", "--bogus"],
  ["object", "load", "x.bpf.o", "--bogus"],
  ["object", "run", "x.bpf.o", "--seconds", "-1"],
  ["object", "run", "x.bpf.o", "--bogus"],
  ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "--bogus"],
];

for (const args of MISUSE) {
  test(`tsbpf ${args.join(" ")} exits 2 with an error and no stack trace`, () => {
    const r = runCli(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^Error: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}

test("every verb's --help exits 0 and prints its usage", () => {
  for (const args of [["object", "show"], ["object", "load"], ["object", "run"], ["btf", "dump"]]) {
    const r = runCli([...args, "--help"]);
    assert.equal(r.code, 0, `${args.join(" ")} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage|usage/, args.join(" "));
  }
});

test("a missing file exits 1 with an error naming it", () => {
  for (const args of [["object", "show"], ["btf", "dump", "file"]]) {
    const r = runCli([...args, "/nonexistent/x.bpf.o"]);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^Error: .*\/nonexistent\/x\.bpf\.o/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test("a reader that closes the pipe early (| head) ends the CLI quietly with status 0", () => {
  const [cmd, pre] = runtimeCommand(join(ROOT, "cli.ts"));
  const line = [cmd, ...pre, "btf", "dump", "file", "/sys/kernel/btf/vmlinux"]
    .map((a) => `'${a}'`)
    .join(" ");
  const r = spawnSync("bash", ["-c", `set -o pipefail; ${line} | head -1`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\[1\] INT /);
  assert.doesNotMatch(r.stderr, /EPIPE|Uncaught/);
});

test("object load and object run pin by-name maps under --pin-root and list each pin", (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  const file = testObject("pinned");
  const first = runCli(["object", "load", file, "--pin-root", pins.path]);
  assert.equal(first.code, 0, first.stderr);
  for (const m of ["tsbpf_pinned_hash", "tsbpf_pinned_array"]) {
    assert.ok(first.stdout.includes(`pinned: map ${m} at ${pins.path}/${m} (new)\n`), first.stdout);
  }
  assert.deepEqual(readdirSync(pins.path).sort(), ["tsbpf_pinned_array", "tsbpf_pinned_hash"]);
  const run = runCli(["object", "run", file, "--pin-root", pins.path, "--seconds", "0", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(
    JSON.parse(run.stdout).pinned.map((p: { map: string; path: string; reused: boolean }) => [
      p.map,
      p.path,
      p.reused,
    ]).sort(),
    [
      ["tsbpf_pinned_array", `${pins.path}/tsbpf_pinned_array`, true],
      ["tsbpf_pinned_hash", `${pins.path}/tsbpf_pinned_hash`, true],
    ],
  );
});
