// Regressions found by loading bcc's libbpf-tools with tsbpf and with libbpf 1.1 side by side.
// Each case is a minimal object written for the test, compiled here, and checked against the
// libbpf oracle on the same file.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NotSupportedError } from "../errors.ts";
import { BpfObject } from "../live/object.ts";
import {
  compileBpfC,
  newFds,
  openFds,
  oracle,
  requireKernel,
  runCli,
  thrown,
  withTmpDir,
} from "./_util.ts";

// A feature probe as libbpf-tools write them (fsslower, readahead): an fentry program on a
// function this kernel does not have, beside a tracepoint program that loads anywhere.
const MISSING_TARGET = `
typedef unsigned int __u32;
#define SEC(n) __attribute__((section(n), used))
SEC("fentry/tsbpf_no_such_kernel_function")
int probe_missing(void *ctx) { return 0; }
SEC("tp/syscalls/sys_enter_getpid")
int on_getpid(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

test("load() fails with a NotSupportedError naming the program and section when an fentry target is missing, as libbpf fails", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-regress", (dir) => {
    const file = compileBpfC(dir, "missing_target", MISSING_TARGET);
    const theirs = oracle(["load", file]);
    assert.notEqual(theirs.code, 0, "libbpf loaded a program with a missing attach target");
    const before = openFds();
    const obj = BpfObject.open(file);
    const e = thrown(() => obj.load());
    obj.close();
    assert.ok(e instanceof NotSupportedError, `not a NotSupportedError: ${e}`);
    assert.equal(e.feature, "BTF tsbpf_no_such_kernel_function");
    assert.deepEqual([e.program, e.section], [
      "probe_missing",
      "fentry/tsbpf_no_such_kernel_function",
    ]);
    assert.match(
      e.message,
      /^Loading program 'probe_missing' \(section fentry\/tsbpf_no_such_kernel_function\) failed: its attach target 'tsbpf_no_such_kernel_function'/,
    );
    assert.deepEqual(newFds(before), []);
  });
});

test("load() with the missing-target program's autoload off gives the other program libbpf's tag", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-regress", (dir) => {
    const file = compileBpfC(dir, "missing_target", MISSING_TARGET);
    const theirs = oracle(["load", file, "on_getpid"]);
    assert.equal(theirs.code, 0, theirs.stderr);
    using obj = BpfObject.open(file);
    obj.setAutoload("probe_missing", false);
    obj.load();
    const info = obj.programs.get("on_getpid")!.info();
    assert.deepEqual(
      [info.tag, info.insnCount],
      [theirs.json.programs[0].tag, theirs.json.programs[0].xlatedInsns],
    );
    assert.equal(obj.programs.has("probe_missing"), false);
  });
});

test("object run reports a program with a missing attach target and still runs the others", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-regress", (dir) => {
    const file = compileBpfC(dir, "missing_target", MISSING_TARGET);
    const r = runCli(["object", "run", file, "--seconds", "0.2", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const progs = JSON.parse(r.stdout).programs as {
      name: string;
      attached: boolean;
      error: string | null;
    }[];
    const missing = progs.find((p) => p.name === "probe_missing")!;
    assert.equal(missing.attached, false);
    assert.match(missing.error ?? "", /attach target 'tsbpf_no_such_kernel_function'/);
    const other = progs.find((p) => p.name === "on_getpid")!;
    assert.deepEqual([other.attached, other.error], [true, null]);
  });
});
