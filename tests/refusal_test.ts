// Hints for refused BPF trampoline and LSM programs (live/refusal.ts): they name only causes that
// the machine does not contradict. The facts are faked for each kind of machine, then the real
// kernel's refusals are checked against the real machine's facts.
import assert from "node:assert/strict";
import { basename } from "node:path";
import { test } from "node:test";
import { VerifierError } from "../errors.ts";
import { BpfObject } from "../live/object.ts";
import { explainTrampolineRefusal, type KernelFacts, machineFacts } from "../live/refusal.ts";
import { expectLikeLibbpf, libbpfLoad, requireKernel, testObject } from "./_util.ts";

function fake(files: Record<string, string>, config?: Record<string, string>): KernelFacts {
  return {
    read: (p) => files[p],
    config: () => (config === undefined ? undefined : new Map(Object.entries(config))),
    release: () => "6.18.0",
  };
}

const LSM = "/sys/kernel/security/lsm";
const LOCKDOWN = "/sys/kernel/security/lockdown";
const JIT = "/proc/sys/net/core/bpf_jit_enable";
const GOOD_CONFIG = {
  CONFIG_BPF_LSM: "y",
  CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS: "y",
  CONFIG_BPF_JIT: "y",
};

test("an LSM refusal on a machine with 'bpf' in the LSM list blames no boot parameter and says what was checked", () => {
  const facts = fake(
    { [LSM]: "lockdown,capability,bpf\n", [LOCKDOWN]: "none [integrity]" },
    GOOD_CONFIG,
  );
  const hint = explainTrampolineRefusal("lsm", "EPERM", facts);
  assert.doesNotMatch(hint, /lsm= boot parameter/);
  assert.doesNotMatch(hint, /without/);
  assert.match(hint, /^the kernel or a security policy refused BPF LSM programs \(EPERM\)/);
  assert.match(hint, /CONFIG_BPF_LSM=y/);
  assert.match(hint, /'bpf' is in the active LSM list \(lockdown,capability,bpf\)/);
  assert.match(hint, /lockdown is integrity/);
});

test("an LSM refusal on a machine without 'bpf' in the LSM list says to add it to lsm=", () => {
  const facts = fake(
    { [LSM]: "lockdown,capability,yama", [LOCKDOWN]: "[none] integrity" },
    GOOD_CONFIG,
  );
  const hint = explainTrampolineRefusal("lsm", "EPERM", facts);
  assert.match(
    hint,
    /^this kernel refuses BPF LSM programs \(EPERM\): 'bpf' is not in the active LSM list/,
  );
  assert.match(hint, /\(\/sys\/kernel\/security\/lsm: lockdown,capability,yama\)/);
  assert.match(hint, /add it to the lsm= boot parameter/);
  assert.doesNotMatch(hint, /CONFIG_BPF_LSM \(/);
});

test("an LSM refusal on a kernel built without CONFIG_BPF_LSM names the option", () => {
  const facts = fake({ [LSM]: "capability,bpf" }, { CONFIG_BPF_JIT: "y" });
  const hint = explainTrampolineRefusal("lsm", "ENOTSUPP", facts);
  assert.match(
    hint,
    /this kernel refuses BPF LSM programs \(ENOTSUPP\): the kernel is built without CONFIG_BPF_LSM/,
  );
});

test("an LSM refusal where securityfs and the config cannot be read says what could not be checked", () => {
  const hint = explainTrampolineRefusal("lsm", "EPERM", fake({}));
  assert.match(hint, /^the kernel or a security policy refused BPF LSM programs \(EPERM\)/);
  assert.match(hint, /nothing could be checked/);
  assert.match(
    hint,
    /could not check the kernel config .*the active LSM list .*mount -t securityfs/,
  );
});

test("a trampoline refusal names the missing direct calls or a JIT that is off, and only those", () => {
  const noDirect = explainTrampolineRefusal(
    "trampoline",
    "EPERM",
    fake({ [JIT]: "1\n" }, { CONFIG_BPF_JIT: "y" }),
  );
  assert.match(noDirect, /built without CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS/);
  assert.doesNotMatch(noDirect, /JIT is off|without CONFIG_BPF_JIT/);
  const jitOff = explainTrampolineRefusal(
    "trampoline",
    "EPERM",
    fake({ [JIT]: "0\n" }, GOOD_CONFIG),
  );
  assert.match(
    jitOff,
    /^this kernel refuses BPF trampolines .*: the JIT is off \(\/proc\/sys\/net\/core\/bpf_jit_enable is 0\): set it to 1/,
  );
  assert.doesNotMatch(jitOff, /DIRECT_CALLS \(/);
  const allGood = explainTrampolineRefusal(
    "trampoline",
    "EPERM",
    fake({ [JIT]: "1", [LOCKDOWN]: "[none]" }, GOOD_CONFIG),
  );
  assert.match(allGood, /^the kernel or a security policy refused BPF trampolines/);
  assert.match(
    allGood,
    /CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y, CONFIG_BPF_JIT=y, the JIT is on/,
  );
});

// What each cause a hint can name says about the machine, checked against the real files.
function contradicted(hint: string): string[] {
  const out: string[] = [];
  const config = machineFacts.config();
  for (const m of hint.matchAll(/built without (CONFIG_\w+)/g)) {
    if (config?.get(m[1]) === "y") out.push(`${m[1]} is set in the kernel config`);
  }
  const lsm = machineFacts.read(LSM);
  if (
    /'bpf' is not in the active LSM list/.test(hint) &&
    lsm?.split(",").map((s) => s.trim()).includes("bpf")
  ) {
    out.push(`${LSM} lists bpf`);
  }
  if (/the JIT is off/.test(hint) && machineFacts.read(JIT)?.trim() !== "0") {
    out.push("the JIT is on");
  }
  return out;
}

for (const prog of ["fentry_unlinkat", "fexit_unlinkat", "fmod_ret_file_open", "lsm_file_open"]) {
  test(`${prog}: loads as libbpf does here, and a refusal's hint names no cause this machine contradicts`, (t) => {
    if (!requireKernel(t)) return;
    const file = testObject("fentry");
    const want = libbpfLoad(file, [prog]);
    const obj = BpfObject.open(file);
    let got: { name: string; tag: string }[] | Error;
    try {
      for (const n of obj.programNames) obj.setAutoload(n, n === prog);
      obj.load();
      got = [{ name: prog, tag: obj.program(prog).info().tag }];
    } catch (e) {
      got = e as Error;
    } finally {
      obj.close();
    }
    if (expectLikeLibbpf(got, want, `${basename(file)} ${prog}`) === "loaded") return;
    assert.ok(got instanceof VerifierError, String(got));
    if (got.code !== "EPERM" && got.code !== "ENOTSUPP" && got.code !== "EOPNOTSUPP") return;
    assert.match(got.message, /refuse[sd] BPF (LSM programs|trampolines)/);
    assert.deepEqual(contradicted(got.message), [], got.message);
  });
}
