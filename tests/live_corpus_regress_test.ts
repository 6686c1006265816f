// Regressions found by loading bcc's libbpf-tools with tsbpf and with libbpf 1.1 side by side.
// Each case is a minimal object written for the test, compiled here, and checked against the
// libbpf oracle on the same file.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NotSupportedError, SyscallError } from "../errors.ts";
import { mapInfo } from "../ffi/bpf.ts";
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

// A stack map sized by user space (profile, offcputime, wakeuptime...): neither value size nor
// max_entries in the object. The same map with both declared is what libbpf loads for comparison.
const stackMapSource = (sized: boolean) => `
typedef unsigned int __u32;
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
static long (*bpf_get_stackid)(void *ctx, void *map, unsigned long long flags) = (void *)27;
struct {
  __uint(type, 7); /* BPF_MAP_TYPE_STACK_TRACE */
  __type(key, __u32);
  ${sized ? "__uint(value_size, 127 * 8); __uint(max_entries, 1024);" : ""}
} stackmap SEC(".maps");
SEC("perf_event")
int sample(void *ctx) { return bpf_get_stackid(ctx, &stackmap, 0) < 0; }
char LICENSE[] SEC("license") = "GPL";
`;

test("load() names the unset max_entries and value size of a map user space must size, as libbpf fails", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-regress", (dir) => {
    const file = compileBpfC(dir, "stack_unsized", stackMapSource(false));
    assert.notEqual(oracle(["load", file]).code, 0, "libbpf loaded a map with max_entries 0");
    const before = openFds();
    const obj = BpfObject.open(file);
    const e = thrown(() => obj.load());
    obj.close();
    assert.ok(e instanceof SyscallError, `not a SyscallError: ${e}`);
    assert.match(
      e.message,
      /^Creating map 'stackmap' failed: .*setMaxEntries\(\).*setValueSize\(\)/,
    );
    assert.deepEqual(newFds(before), []);
  });
});

test("setValueSize() (open option) and setMaxEntries() give the map and program libbpf makes from declared sizes", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-regress", (dir) => {
    const sized = compileBpfC(dir, "stack_sized", stackMapSource(true));
    const unsized = compileBpfC(dir, "stack_unsized", stackMapSource(false));
    const theirs = oracle(["load", sized]);
    assert.equal(theirs.code, 0, theirs.stderr);
    using obj = BpfObject.open(unsized, { valueSize: { stackmap: 127 * 8 } });
    obj.setMaxEntries("stackmap", 1024);
    obj.load();
    const info = mapInfo(obj.map("stackmap").fd);
    const want = theirs.json.maps[0];
    assert.deepEqual(
      [info.type, info.keySize, info.valueSize, info.maxEntries, info.flags],
      [want.typeId, want.keySize, want.valueSize, want.kernelMaxEntries, want.kernelFlags],
    );
    const p = obj.programs.get("sample")!.info();
    assert.deepEqual(
      [p.tag, p.insnCount],
      [theirs.json.programs[0].tag, theirs.json.programs[0].xlatedInsns],
    );
  });
});

test("setValueSize() refuses a global-data map and an unknown map", () => {
  withTmpDir("tsbpf-regress", (dir) => {
    const file = compileBpfC(
      dir,
      "with_data",
      `${stackMapSource(false)}\nint counter = 1;\n`,
    );
    using obj = BpfObject.open(file);
    assert.throws(() => obj.setValueSize(".data", 8), /resizeData\(\)/);
    assert.throws(() => obj.setValueSize("nope", 8), /has no map 'nope'/);
    assert.throws(() => obj.setValueSize("stackmap", -1), RangeError);
  });
});
