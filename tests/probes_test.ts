// Feature probes (live/probes.ts) against the real kernel: a kernel new enough for a feature must have it.
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { release } from "node:os";
import {
  _probeBlobs,
  type Feature,
  FEATURES,
  kernelVersion,
  probe,
  probeAll,
  resetProbes,
} from "../live/probes.ts";
import { getSys, setSys, withFaults } from "../ffi/mod.ts";
import { newFds, note, openFds, requireKernel } from "./_util.ts";

// The kernel release that brought each feature (upstream). A kernel at least that new must have it:
// a probe that answers no there is a broken probe. An older kernel may or may not (backports), so
// there the test only checks that the probe answers. syscall_wrapper is decided through kprobes.
const KPROBE_FEATURES: readonly Feature[] = ["syscall_wrapper"];
const SINCE: Readonly<Record<Exclude<Feature, "syscall_wrapper">, [number, number]>> = {
  btf: [4, 18],
  btf_func: [5, 0],
  btf_func_global: [5, 6],
  btf_datasec: [5, 2],
  btf_float: [5, 13],
  btf_decl_tag: [5, 16],
  btf_type_tag: [5, 17],
  btf_enum64: [6, 0],
  btf_func_info: [5, 0],
  btf_line_info: [5, 0],
  core_relos: [5, 17],
  global_data: [5, 2],
  array_mmap: [5, 5],
  prog_name: [4, 15],
  bpf_cookie: [5, 15],
  perf_link: [5, 15],
  memcg_account: [5, 11],
  prog_bind_map: [5, 10],
};

for (const feature of Object.keys(FEATURES) as Feature[]) {
  if (KPROBE_FEATURES.includes(feature)) continue;
  const since = SINCE[feature as keyof typeof SINCE];
  test(`probe("${feature}") is true on every kernel since ${since.join(".")}`, (t) => {
    if (!requireKernel(t)) return;
    assert.ok(since !== undefined, `no release recorded for ${feature}`);
    const [major, minor] = release().split(".").map((x) => parseInt(x, 10));
    const got = probe(feature);
    assert.equal(typeof got, "boolean");
    if (major > since[0] || (major === since[0] && minor >= since[1])) {
      assert.equal(
        got,
        true,
        `${feature} came with Linux ${since.join(".")}; this is ${release()}`,
      );
    } else {
      note(`${feature}: Linux ${release()} predates ${since.join(".")}; the probe said ${got}`);
    }
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

// Each BTF probe's blob, byte for byte, as little-endian u32 words in hex: the header, one type
// record a line, then the string section. These are the bytes the probes sent when they built
// their blobs by hand, before BtfBuilder; a change to the builder that alters a blob fails here.
const PINNED_BLOBS: Record<keyof typeof _probeBlobs, string[]> = {
  btf: [
    "9feb0100 18000000 00000000 10000000 10000000 05000000", // header
    "01000000 00000001 04000000 20000001", // [1] INT int, 4 bytes, signed, 32 bits
    "00696e74 00", // "\0int\0"
  ],
  btf_func: [
    "9feb0100 18000000 00000000 30000000 30000000 10000000",
    "01000000 00000001 04000000 20000001", // [1] INT int
    "00000000 0100000d 01000000 05000000 01000000", // [2] FUNC_PROTO int (int x)
    "07000000 0000000c 02000000", // [3] FUNC probe_fn, static
    "00696e74 00780070 726f6265 5f666e00", // "\0int\0x\0probe_fn\0"
  ],
  btf_func_global: [
    "9feb0100 18000000 00000000 30000000 30000000 10000000",
    "01000000 00000001 04000000 20000001", // [1] INT int
    "00000000 0100000d 01000000 05000000 01000000", // [2] FUNC_PROTO int (int x)
    "07000000 0100000c 02000000", // [3] FUNC probe_fn, global
    "00696e74 00780070 726f6265 5f666e00", // "\0int\0x\0probe_fn\0"
  ],
  btf_datasec: [
    "9feb0100 18000000 00000000 38000000 38000000 0d000000",
    "01000000 00000001 04000000 20000001", // [1] INT int
    "05000000 0000000e 01000000 01000000", // [2] VAR x: int, global
    "07000000 0100000f 04000000 02000000 00000000 04000000", // [3] DATASEC .data, 4: x at 0
    "00696e74 0078002e 64617461 00", // "\0int\0x\0.data\0"
  ],
  btf_float: [
    "9feb0100 18000000 00000000 0c000000 0c000000 07000000",
    "01000000 00000010 04000000", // [1] FLOAT float, 4 bytes
    "00666c6f 617400", // "\0float\0"
  ],
  btf_decl_tag: [
    "9feb0100 18000000 00000000 30000000 30000000 0b000000",
    "01000000 00000001 04000000 20000001", // [1] INT int
    "05000000 0000000e 01000000 01000000", // [2] VAR x: int, global
    "07000000 00000011 02000000 ffffffff", // [3] DECL_TAG tag on x itself
    "00696e74 00780074 616700", // "\0int\0x\0tag\0"
  ],
  btf_type_tag: [
    "9feb0100 18000000 00000000 28000000 28000000 09000000",
    "01000000 00000001 04000000 20000001", // [1] INT int
    "05000000 00000012 01000000", // [2] TYPE_TAG tag over int
    "00000000 00000002 02000000", // [3] PTR to [2]
    "00696e74 00746167 00", // "\0int\0tag\0"
  ],
  btf_enum64: [
    "9feb0100 18000000 00000000 18000000 18000000 05000000",
    "03000000 01000013 08000000 01000000 01000000 01000000", // [1] ENUM64 e, 8: V = 0x100000001
    "00560065 00", // "\0V\0e\0": the enumerator's name first
  ],
  btf_func_info: [
    "9feb0100 18000000 00000000 28000000 28000000 10000000",
    "01000000 00000001 04000000 20000001", // [1] INT int
    "00000000 0000000d 01000000", // [2] FUNC_PROTO int (void)
    "05000000 0100000c 02000000", // [3] FUNC probe_main, global
    "00696e74 0070726f 62655f6d 61696e00", // "\0int\0probe_main\0"
  ],
  btf_line_info: [
    "9feb0100 18000000 00000000 28000000 28000000 22000000",
    "01000000 00000001 04000000 20000001", // [1] INT int
    "00000000 0000000d 01000000", // [2] FUNC_PROTO int (void)
    "05000000 0100000c 02000000", // [3] FUNC probe_main, global
    // "\0int\0probe_main\0probe.c\0return 0;\0"
    "00696e74 0070726f 62655f6d 61696e00 70726f62 652e6300 72657475 726e2030 3b00",
  ],
};

/** The bytes in hex, a space after every 4. */
function words(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (x) => x.toString(16).padStart(2, "0")).join("");
  return hex.match(/.{1,8}/g)!.join(" ");
}

test("every btf* feature's probe has a pinned BTF blob", () => {
  const btfFeatures = Object.keys(FEATURES).filter((f) => f.startsWith("btf"));
  assert.deepEqual(Object.keys(_probeBlobs).sort(), btfFeatures.sort());
  assert.deepEqual(Object.keys(PINNED_BLOBS).sort(), btfFeatures.sort());
});

for (const [feature, make] of Object.entries(_probeBlobs)) {
  test(`probe("${feature}") has the pinned BTF blob, byte for byte`, () => {
    assert.equal(words(make()), PINNED_BLOBS[feature as keyof typeof _probeBlobs].join(" "));
  });
}
