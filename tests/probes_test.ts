// Feature probes (live/probes.ts) against the real 6.18 kernel, which has every probed feature but kprobes.
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { release } from "node:os";
import {
  type Feature,
  FEATURES,
  kernelVersion,
  probe,
  probeAll,
  resetProbes,
} from "../live/probes.ts";
import { getSys, setSys, withFaults } from "../ffi/mod.ts";
import { newFds, openFds, requireKernel } from "./_util.ts";

// Features this 6.18 kernel has. syscall_wrapper is decided through kprobes, which it lacks.
const KPROBE_FEATURES: readonly Feature[] = ["syscall_wrapper"];

for (const feature of Object.keys(FEATURES) as Feature[]) {
  if (KPROBE_FEATURES.includes(feature)) continue;
  test(`probe("${feature}") is true on this kernel`, (t) => {
    if (!requireKernel(t)) return;
    assert.equal(probe(feature), true);
  });
}

test('probe("syscall_wrapper") is true exactly when kprobes exist and kallsyms lists __<arch>_sys_bpf', (t) => {
  if (!requireKernel(t)) return;
  const kprobes = existsSync("/sys/bus/event_source/devices/kprobe/type") ||
    existsSync("/sys/kernel/tracing/kprobe_events") ||
    existsSync("/sys/kernel/debug/tracing/kprobe_events");
  const wrapped = / __(x64|arm64)_sys_bpf$/m.test(readFileSync("/proc/kallsyms", "utf8"));
  assert.equal(probe("syscall_wrapper"), kprobes && wrapped);
});

test("probes answer false when the kernel refuses every bpf() call", (t) => {
  if (!requireKernel(t)) return;
  const real = getSys();
  resetProbes();
  setSys(withFaults(real, { bpf: () => 22 }));
  try {
    const all = probeAll();
    for (const [f, ok] of Object.entries(all)) {
      // syscall_wrapper makes no bpf() call: it looks at kprobes and kallsyms.
      if (!KPROBE_FEATURES.includes(f as Feature)) assert.equal(ok, false, f);
    }
  } finally {
    setSys(real);
    resetProbes();
  }
});

test("a probe runs once per process and then answers from its cache", (t) => {
  if (!requireKernel(t)) return;
  const real = getSys();
  resetProbes();
  let calls = 0;
  setSys(withFaults(real, {
    bpf: () => {
      calls++;
      return undefined;
    },
  }));
  try {
    assert.equal(probe("btf_datasec"), true);
    const first = calls;
    assert.ok(first > 0);
    assert.equal(probe("btf_datasec"), true);
    assert.equal(calls, first);
  } finally {
    setSys(real);
  }
});

test("running every probe leaves no fd open", (t) => {
  if (!requireKernel(t)) return;
  resetProbes();
  const before = openFds();
  probeAll();
  assert.deepEqual(newFds(before), []);
});

test("probe() rejects a name that is not a feature", () => {
  assert.throws(() => probe("no_such_feature" as Feature), RangeError);
});

test("kernelVersion() reads uname's release as KERNEL_VERSION(major, minor, patch)", (t) => {
  if (!requireKernel(t)) return;
  const v = kernelVersion();
  assert.equal(v.release, release());
  const [maj, min, pat] = release().split(/[.-]/).map(Number);
  assert.equal(v.major, maj);
  assert.equal(v.minor, min);
  assert.equal(v.patch, Math.min(pat, 255));
  assert.equal(v.code, (maj << 16) | (min << 8) | Math.min(pat, 255));
});
