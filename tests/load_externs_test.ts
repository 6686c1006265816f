// Externs: .kconfig values from the kernel config and libbpf's virtual LINUX_* ones, with
// libbpf's type checks; typeless __ksym from kallsyms; kfunc prototypes checked against the kernel.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { BpfError } from "../errors.ts";
import { getSys } from "../ffi/runtime.ts";
import { kernelVersionCode, resolveKconfig } from "../live/kconfig.ts";
import { kallsymAddress, typesAreCompat } from "../live/ksyms.ts";
import { BpfObject } from "../live/object.ts";
import { open } from "../spec/open.ts";
import type { ExternSpec } from "../spec/types.ts";
import { requireKernel, testObject } from "./_util.ts";

function kernelConfig(): Map<string, string> {
  let text: string;
  try {
    text = gunzipSync(readFileSync("/proc/config.gz")).toString();
  } catch {
    text = readFileSync(`/boot/config-${getSys().uname().release}`, "utf8");
  }
  return new Map(
    text.split("\n").filter((l) => l.startsWith("CONFIG_")).map((
      l,
    ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

test("load() fills .kconfig from the kernel config and LINUX_KERNEL_VERSION from uname", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("externs"));
  obj.load();
  const kc = obj.data(".kconfig")!;
  const dv = new DataView(kc.buffer, kc.byteOffset, kc.byteLength);
  const at = (n: string) => obj.spec.externs.find((e) => e.name === n)!.offset;
  const config = kernelConfig();
  assert.equal(
    dv.getUint32(at("LINUX_KERNEL_VERSION"), true),
    kernelVersionCode(getSys().uname().release),
  );
  assert.equal(dv.getUint32(at("CONFIG_HZ"), true), Number(config.get("CONFIG_HZ")));
  assert.equal(kc[at("CONFIG_BPF_SYSCALL")], config.get("CONFIG_BPF_SYSCALL") === "y" ? 1 : 0);
  assert.equal(dv.getUint32(at("CONFIG_TSBPF_DOES_NOT_EXIST"), true), 0, "weak and missing: zero");
  const lsm = config.get("CONFIG_BPF_LSM");
  assert.equal(dv.getUint32(at("CONFIG_BPF_LSM"), true), lsm === "y" ? 1 : lsm === "m" ? 2 : 0);
  const host = config.get("CONFIG_DEFAULT_HOSTNAME");
  if (host !== undefined) {
    const off = at("CONFIG_DEFAULT_HOSTNAME");
    const bytes = kc.subarray(off, off + 16);
    assert.equal(
      new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0))),
      host.slice(1, -1).slice(0, 15),
    );
  }
});

function externsSpec() {
  const spec = open(testObject("externs"));
  const byName = (n: string) => spec.externs.find((e) => e.name === n)!;
  return { spec, byName };
}

const env = { release: "6.1.0", hasBpfCookie: () => true, hasSyscallWrapper: () => false };

test("resolveKconfig() refuses values that do not fit the extern's type, as libbpf does", () => {
  const { spec, byName } = externsSpec();
  try {
    const img = new Uint8Array(64);
    const hz = byName("CONFIG_HZ");
    const bool = byName("CONFIG_BPF_SYSCALL");
    // 'y' into an int
    const asBool: ExternSpec = { ...hz, name: "CONFIG_BPF_SYSCALL" };
    assert.throws(
      () => resolveKconfig(spec.btf!, [asBool], img, env),
      /implies bool, tristate, or char type/,
    );
    // 250 into a bool: a config integer needs an int or char extern
    const asInt: ExternSpec = { ...bool, name: "CONFIG_HZ" };
    assert.throws(() => resolveKconfig(spec.btf!, [asInt], img, env), /implies integer type/);
    // a LINUX_ name libbpf does not know, strong
    const virt: ExternSpec = { ...hz, name: "LINUX_NOT_A_THING", weak: false };
    assert.throws(() => resolveKconfig(spec.btf!, [virt], img, env), BpfError);
    assert.deepEqual([...resolveKconfig(spec.btf!, [{ ...virt, weak: true }], img, env)], []);
    // LINUX_KERNEL_VERSION from the release
    const kv = byName("LINUX_KERNEL_VERSION");
    resolveKconfig(spec.btf!, [kv], img, env);
    assert.equal(new DataView(img.buffer).getUint32(kv.offset, true), (6 << 16) | (1 << 8));
  } finally {
    spec.btf?.close();
  }
});

test("typesAreCompat() accepts a kfunc's own prototype and refuses another's", (t) => {
  if (!requireKernel(t)) return;
  const { spec, byName } = externsSpec();
  try {
    const k = Btf.kernel();
    const acquire = k.refType(k.findByName("bpf_task_acquire", BtfKind.Func));
    const release = k.refType(k.findByName("bpf_task_release", BtfKind.Func));
    const localAcquire = byName("bpf_task_acquire").btfTypeId;
    assert.equal(typesAreCompat(spec.btf!, localAcquire, k, acquire), true);
    assert.equal(typesAreCompat(spec.btf!, byName("bpf_task_release").btfTypeId, k, release), true);
    assert.equal(typesAreCompat(spec.btf!, localAcquire, k, release), false);
  } finally {
    spec.btf?.close();
  }
});

test("kallsymAddress() finds symbols in /proc/kallsyms and says undefined for absent ones", (t) => {
  if (!requireKernel(t)) return;
  const line = readFileSync("/proc/kallsyms", "utf8").split("\n").find((l) => / T _stext$/.test(l));
  if (line !== undefined) assert.equal(kallsymAddress("_stext"), BigInt("0x" + line.split(" ")[0]));
  assert.equal(kallsymAddress("tsbpf_missing_symbol"), undefined);
});

test("the kconfig open option sets .kconfig externs before the kernel's config", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("externs"), {
    kconfig: 'CONFIG_HZ=1000\nCONFIG_DEFAULT_HOSTNAME="tsbpf"\n',
  });
  obj.load();
  const kc = obj.data(".kconfig")!;
  const at = (n: string) => obj.spec.externs.find((e) => e.name === n)!.offset;
  assert.equal(new DataView(kc.buffer, kc.byteOffset).getUint32(at("CONFIG_HZ"), true), 1000);
  const host = kc.subarray(at("CONFIG_DEFAULT_HOSTNAME"), at("CONFIG_DEFAULT_HOSTNAME") + 6);
  assert.deepEqual([...host], [..."tsbpf\0"].map((c) => c.charCodeAt(0)));
  assert.equal(kc[at("CONFIG_BPF_SYSCALL")], 1, "the rest still comes from the kernel's config");
});
