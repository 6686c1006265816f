// Attach tests for tracing programs on the real kernel: tracepoints, raw and BTF tracepoints,
// perf events, links (pin, open, info, detach), auto-attach and its rollback, the clear errors
// for kprobes and trampolines, and `tsbpf object run`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";
import { BpfError, NotSupportedError, SyscallError } from "../errors.ts";
import { BpfCmd, BpfLinkType } from "../ffi/constants.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { withFaults } from "../ffi/sys.ts";
import type { BpfObject } from "../live/object.ts";
import {
  attachAll,
  attachPerfEvent,
  attachPerfEventAllCpus,
  attachProgram,
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  BpfLink,
  detachAll,
  onlineCpus,
  perfEventOpen,
  syscallFunction,
  tracepointId,
} from "../link/mod.ts";
import { arrayU64, linkIds, linksOfPrograms, loadObject, setGlobalU32, sleep } from "./_attach.ts";
import { newFds, note, openFds, pinDir, requireKernel, runCli, testObject } from "./_util.ts";

const HIT_TP = 0, HIT_RAW_TP = 1, HIT_TP_BTF = 2, HIT_PERF = 5;

function specOf(obj: BpfObject, name: string) {
  const spec = obj.spec.programs.find((p) => p.name === name)!;
  const p = obj.program(name);
  return { fd: p.fd, name, section: spec.section, spec };
}

function loadTracing(): BpfObject {
  return loadObject("tracing", (o) => setGlobalU32(o, ".rodata", "target_tgid", process.pid));
}

test("a tracepoint on sys_enter_write counts this process's write() calls and stops at close()", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadTracing();
  const link = attachProgram(specOf(obj, "tp_write"))!;
  try {
    assert.equal(link.kind, "tracepoint");
    assert.equal(link.target, "syscalls/sys_enter_write");
    const before = arrayU64(obj, "hits", HIT_TP);
    for (let i = 0; i < 25; i++) writeFileSync("/dev/null", "x");
    assert.ok(arrayU64(obj, "hits", HIT_TP) - before >= 25n);
    assert.equal(link.info().type, BpfLinkType.BPF_LINK_TYPE_PERF_EVENT);
  } finally {
    link.close();
    link.close();
  }
  const after = arrayU64(obj, "hits", HIT_TP);
  for (let i = 0; i < 10; i++) writeFileSync("/dev/null", "x");
  assert.equal(arrayU64(obj, "hits", HIT_TP), after);
});

test("attachTracepoint() rejects a tracepoint the kernel does not have", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadTracing();
  assert.throws(
    () => attachTracepoint(specOf(obj, "tp_write"), "syscalls", "sys_enter_nonexistent"),
    (e) => e instanceof BpfError && /No tracepoint syscalls\/sys_enter_nonexistent/.test(e.message),
  );
  assert.ok(tracepointId("syscalls", "sys_enter_write") > 0);
});

test("raw_tp and tp_btf programs on sched_switch run, as raw tracepoint and tracing links", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadTracing();
  using raw = attachRawTracepoint(specOf(obj, "raw_tp_switch"), "sched_switch");
  using btf = attachTracing(specOf(obj, "tp_btf_switch"));
  for (let i = 0; i < 3; i++) {
    spawnSync("true");
    await sleep(10);
  }
  assert.ok(arrayU64(obj, "hits", HIT_RAW_TP) > 0n);
  assert.ok(arrayU64(obj, "hits", HIT_TP_BTF) > 0n);
  assert.equal(raw.info().type, BpfLinkType.BPF_LINK_TYPE_RAW_TRACEPOINT);
  assert.equal(btf.info().type, BpfLinkType.BPF_LINK_TYPE_RAW_TRACEPOINT);
  assert.equal(raw.info().progId, obj.program("raw_tp_switch").info().id);
});

test("a perf_event program samples cpu-clock on every online CPU", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadTracing();
  using link = attachPerfEventAllCpus(specOf(obj, "perf_sample"), "cpu-clock", {
    sampleFreq: 1000,
  });
  assert.equal(link.children.length, onlineCpus().length);
  const end = Date.now() + 300;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  await sleep(50);
  assert.ok(arrayU64(obj, "hits", HIT_PERF) > 0n, `no samples (${x})`);
});

test("a link pinned in bpffs outlives close(), opens again with BpfLink.open() and detach() ends it", async (t) => {
  if (!requireKernel(t)) return;
  const dir = pinDir();
  try {
    using obj = loadTracing();
    const path = `${dir.path}/raw_link`;
    const link = attachRawTracepoint(specOf(obj, "raw_tp_switch"), "sched_switch");
    link.pin(path);
    const id = link.info().id;
    link.close();
    assert.ok(linkIds().has(id), "the pinned link went away with its fd");
    using again = BpfLink.open(path);
    assert.equal(again.info().id, id);
    assert.equal(again.kind, "raw_tracepoint");
    again.unpin();
    assert.ok(!existsSync(path));
    const n = arrayU64(obj, "hits", HIT_RAW_TP);
    spawnSync("true");
    await sleep(10);
    assert.ok(arrayU64(obj, "hits", HIT_RAW_TP) > n);
    again.detach();
    assert.ok(!linkIds().has(id));
    assert.throws(() => again.fd, BpfError);
  } finally {
    dir.remove();
  }
});

// Whether this kernel has kprobes: the kprobe PMU, or the legacy tracefs interface.
const hasKprobes = () =>
  existsSync("/sys/bus/event_source/devices/kprobe/type") ||
  existsSync("/sys/kernel/tracing/kprobe_events");

test("kprobe, kretprobe and ksyscall attach where the kernel has kprobes, and fail with NotSupportedError naming kprobes where it has none, leaking nothing", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("kprobe");
  const fds = openFds();
  const names = ["kprobe_openat", "kretprobe_openat", "ksyscall_getpid"];
  const ids = names.map((n) => obj.program(n).info().id);
  if (hasKprobes()) {
    note("this kernel has kprobes: each program attaches, and close() detaches it");
    for (const name of names) {
      const link = attachProgram(specOf(obj, name));
      assert.ok(link !== undefined, name);
      assert.ok(linksOfPrograms(ids).length >= 1 || !link.isBpfLink, name);
      link.close();
    }
  } else {
    for (const name of names) {
      assert.throws(
        () => attachProgram(specOf(obj, name)),
        (e) =>
          e instanceof NotSupportedError && e.feature === "kprobes" &&
          e.message.includes(`'${name}'`) && e.message.includes("CONFIG_KPROBES"),
      );
    }
  }
  assert.deepEqual(newFds(fds), []);
  assert.deepEqual(linksOfPrograms(ids), []);
});

test("fentry, fexit, fmod_ret and lsm programs refused by the kernel are reported with the missing feature by object run", (t) => {
  if (!requireKernel(t)) return;
  const r = runCli(["object", "run", testObject("fentry"), "--json", "--seconds", "0"]);
  const doc = JSON.parse(r.stdout);
  // Exit status 1 when nothing attached, so that scripts can tell.
  const any = doc.programs.some((p: { attached: boolean }) => p.attached);
  assert.equal(r.code, any ? 0 : 1, r.stderr);
  if (!any) assert.match(r.stderr, /no program of ".*fentry\.bpf\.o" attached/);
  assert.ok(doc.programs.length >= 2);
  for (const p of doc.programs) {
    if (p.attached) continue; // a kernel with trampolines attaches them
    assert.match(p.error, p.section.startsWith("lsm") ? /BPF LSM/ : /BPF trampolines/);
    assert.match(p.error, /tracepoint/);
  }
});

test("attachAll() closes the links it made when a later program fails, and names that program", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_mixed");
  const ids = ["mixed_tp", "mixed_kprobe"].map((n) => obj.program(n).info().id);
  const fds = openFds();
  // Without kprobes mixed_kprobe fails by itself; with them, its perf_event_open (the second one:
  // mixed_tp's tracepoint makes the first) is made to fail.
  const real = getSys();
  if (hasKprobes()) setSys(withFaults(real, { perfEventOpen: (n) => (n >= 2 ? 22 : undefined) }));
  try {
    assert.throws(
      () => attachAll(obj),
      (e) =>
        e instanceof BpfError &&
        e.message.includes("'mixed_kprobe' (section kprobe/do_nanosleep)"),
    );
  } finally {
    setSys(real);
  }
  assert.deepEqual(linksOfPrograms(ids), []);
  assert.deepEqual(newFds(fds), []);
});

test("attachAll() attaches every auto-attachable program and detachAll() detaches them", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadTracing();
  const links = attachAll(obj);
  try {
    assert.deepEqual([...links.keys()].sort(), ["raw_tp_switch", "tp_btf_switch", "tp_write"]);
  } finally {
    detachAll(links);
  }
  for (const l of links.values()) assert.ok(l.closed);
  const n = arrayU64(obj, "hits", HIT_RAW_TP);
  spawnSync("true");
  await sleep(10);
  assert.equal(arrayU64(obj, "hits", HIT_RAW_TP), n);
});

test("tsbpf object run reports attached programs with run counts and the rest as not auto-attachable", (t) => {
  if (!requireKernel(t)) return;
  const r = runCli(["object", "run", testObject("tracing"), "--json", "--seconds", "0.3"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const by = new Map(doc.programs.map((p: { name: string }) => [p.name, p]));
  // deno-lint-ignore no-explicit-any
  const raw = by.get("raw_tp_switch") as any;
  assert.equal(raw.attached, true);
  assert.equal(raw.error, null);
  assert.ok(raw.runCount > 0);
  // deno-lint-ignore no-explicit-any
  const up = by.get("uprobe_add") as any;
  assert.equal(up.attached, false);
  assert.equal(up.autoAttach, false);
  const text = runCli(["object", "run", testObject("kprobe"), "--seconds", "0"]);
  assert.equal(text.code, /\battached, /.test(text.stdout) ? 0 : 1, text.stderr);
  assert.match(
    text.stdout,
    hasKprobes()
      ? /kprobe_openat \(kprobe\/do_sys_openat2\) +attached/
      : /kprobe_openat \(kprobe\/do_sys_openat2\) +not attached: .*no kprobes/,
  );
});

test("BpfObject.attach() attaches once, detach() and close() end the links", async (t) => {
  if (!requireKernel(t)) return;
  const obj = loadTracing();
  const links = obj.attach();
  assert.equal(obj.attach(), links);
  assert.deepEqual([...links.keys()].sort(), ["raw_tp_switch", "tp_btf_switch", "tp_write"]);
  const ids = [...links.keys()].map((n) => obj.program(n).info().id);
  assert.equal(linksOfPrograms(ids).length, 3);
  obj.detach();
  obj.detach();
  assert.deepEqual(linksOfPrograms(ids), []);
  obj.attach();
  assert.equal(linksOfPrograms(ids).length, 3);
  obj.close();
  await sleep(1);
  assert.deepEqual(linksOfPrograms(ids), []);
});

test("the legacy PERF_EVENT_IOC_SET_BPF path attaches a tracepoint program and close() detaches it", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadTracing();
  const fd = perfEventOpen({
    type: 2, // PERF_TYPE_TRACEPOINT
    config: tracepointId("syscalls", "sys_enter_write"),
    samplePeriod: 1,
    wakeupEvents: 1,
  });
  const link = attachPerfEvent(specOf(obj, "tp_write"), fd, { legacy: true });
  try {
    assert.equal(link.isBpfLink, false);
    assert.throws(() => link.info(), NotSupportedError);
    const before = arrayU64(obj, "hits", HIT_TP);
    for (let i = 0; i < 5; i++) writeFileSync("/dev/null", "x");
    assert.ok(arrayU64(obj, "hits", HIT_TP) - before >= 5n);
  } finally {
    link.close();
  }
  assert.ok(fd.closed);
  const after = arrayU64(obj, "hits", HIT_TP);
  for (let i = 0; i < 5; i++) writeFileSync("/dev/null", "x");
  assert.equal(arrayU64(obj, "hits", HIT_TP), after);
});

test("kprobe.multi fails with a NotSupportedError on a kernel without fprobe or ftrace, naming the program", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_netns");
  const fds = openFds();
  let attached;
  try {
    attached = attachAll({
      spec: obj.spec,
      programs: new Map([["kmulti", obj.program("kmulti")]]),
    });
  } catch (e) {
    assert.ok(e instanceof NotSupportedError, String(e));
    assert.match(e.message, /'kmulti' \(section kprobe\.multi\/do_nanosleep\*\)/);
    assert.match(e.message, /CONFIG_FPROBE/);
    assert.deepEqual(newFds(fds), []);
    return;
  }
  // This kernel has kprobe.multi: then the program must have attached.
  assert.equal(attached.get("kmulti")?.kind, "kprobe_multi");
  detachAll(attached);
});

test("BpfLink.open() refuses a pinned map and a missing path", (t) => {
  if (!requireKernel(t)) return;
  const dir = pinDir();
  try {
    using obj = loadTracing();
    obj.map("hits").pin(`${dir.path}/hits`);
    const fds = openFds();
    assert.throws(
      () => BpfLink.open(`${dir.path}/hits`),
      /is not a pinned BPF link \(it is anon_inode:bpf-map\)/,
    );
    assert.throws(
      () => BpfLink.open(`${dir.path}/nothing`),
      (e) => e instanceof SyscallError && e.code === "ENOENT",
    );
    assert.deepEqual(newFds(fds), []);
  } finally {
    dir.remove();
  }
});

test("without BPF_LINK_CREATE (faked EINVAL) tp_btf falls back to BPF_RAW_TRACEPOINT_OPEN and tracepoints to PERF_EVENT_IOC_SET_BPF", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadTracing();
  const real = getSys();
  setSys(withFaults(real, { bpf: (cmd) => (cmd === BpfCmd.BPF_LINK_CREATE ? 22 : undefined) }));
  try {
    using btf = attachTracing(specOf(obj, "tp_btf_switch"));
    using tp = attachProgram(specOf(obj, "tp_write"))!;
    assert.equal(btf.isBpfLink, true);
    assert.equal(tp.isBpfLink, false);
    const n = arrayU64(obj, "hits", HIT_TP_BTF);
    const w = arrayU64(obj, "hits", HIT_TP);
    spawnSync("true");
    await sleep(10);
    for (let i = 0; i < 3; i++) writeFileSync("/dev/null", "x");
    assert.ok(arrayU64(obj, "hits", HIT_TP_BTF) > n);
    assert.ok(arrayU64(obj, "hits", HIT_TP) - w >= 3n);
  } finally {
    setSys(real);
  }
});

test("syscallFunction() adds the arch prefix exactly when the kernel has syscall wrappers", () => {
  const kallsyms = readFileSync("/proc/kallsyms", "utf8");
  const wrapped = / __(x64|arm64)_sys_bpf$/m.exec(kallsyms);
  const name = syscallFunction("getpid");
  if (wrapped) assert.equal(name, `__${wrapped[1]}_sys_getpid`);
  else assert.equal(name, "sys_getpid");
});

test("tsbpf object run rejects a bad --seconds and a missing FILE with status 2", () => {
  const bad = runCli(["object", "run", "x.bpf.o", "--seconds", "soon"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--seconds wants a number of seconds/);
  const none = runCli(["object", "run"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /expected one FILE/);
});
