/**
 * Why the kernel refused a BPF trampoline (fentry, fexit, fmod_ret) or BPF LSM program: the causes
 * that the machine can confirm, and what was checked. A hint names only causes the machine does not
 * contradict: each is read from the kernel config, the active LSM list and the JIT sysctl (the
 * lockdown state is reported too), and where nothing checked explains the refusal the hint says so.
 *
 * @module
 */
import { host } from "../_host.ts";
import { readKernelConfig } from "./kconfig.ts";

/** Where {@linkcode explainTrampolineRefusal} reads the machine's facts; tests pass fakes. */
export interface KernelFacts {
  /** A file's text (`/sys/kernel/security/lsm`...), or undefined when it cannot be read. */
  read(path: string): string | undefined;
  /** The kernel config (`CONFIG_X` → value), or undefined when it cannot be read. */
  config(): Map<string, string> | undefined;
  /** The kernel release (`uname -r`). */
  release(): string;
}

/** The running machine's facts, read through the host's file access. */
export const machineFacts: KernelFacts = {
  read(path) {
    try {
      return host().readText(path);
    } catch {
      return undefined;
    }
  },
  config() {
    try {
      return readKernelConfig(this.release());
    } catch {
      return undefined;
    }
  },
  release() {
    return (this.read("/proc/sys/kernel/osrelease") ?? "").trim();
  },
};

const LSM_LIST = "/sys/kernel/security/lsm";
const LOCKDOWN = "/sys/kernel/security/lockdown";
const JIT = "/proc/sys/net/core/bpf_jit_enable";

/**
 * Explains a refusal (EPERM, ENOTSUPP...) of a BPF LSM program (`kind` "lsm") or of a BPF
 * trampoline program (`kind` "trampoline": fentry, fexit, fmod_ret), from what this machine shows.
 *
 * @param kind which kind of program.
 * @param code the errno name the kernel answered.
 * @param facts where to read the machine's facts (default: this machine).
 * @returns a sentence to append to the error: the confirmed causes and what to do, or, where
 *   nothing checked explains it, that the kernel or a security policy refused, with what was checked.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { explainTrampolineRefusal } from "./refusal.ts";
 * const facts = {
 *   read: (p: string) => (p.endsWith("/lsm") ? "lockdown,capability,yama" : undefined),
 *   config: () => new Map([["CONFIG_BPF_LSM", "y"]]),
 *   release: () => "6.18.0",
 * };
 * const hint = explainTrampolineRefusal("lsm", "EPERM", facts);
 * assert.match(hint, /'bpf' is not in the active LSM list/);
 * ```
 */
export function explainTrampolineRefusal(
  kind: "lsm" | "trampoline",
  code: string,
  facts: KernelFacts = machineFacts,
): string {
  const causes: string[] = [];
  const allows: string[] = [];
  const unknown: string[] = [];
  const config = facts.config();
  const option = (name: string, what: string) => {
    if (config === undefined) return;
    const v = config.get(name);
    if (v === "y") allows.push(`${name}=y`);
    else causes.push(`the kernel is built without ${name} (${what})`);
  };
  if (config === undefined) {
    unknown.push("the kernel config (no /boot/config-<release> or /proc/config.gz)");
  }
  if (kind === "lsm") {
    option("CONFIG_BPF_LSM", "rebuild it with the option set");
    const lsm = facts.read(LSM_LIST);
    if (lsm === undefined) {
      unknown.push(
        `the active LSM list (${LSM_LIST}; mount securityfs there to read it: mount -t securityfs securityfs /sys/kernel/security)`,
      );
    } else {
      const list = lsm.trim();
      if (list.split(",").includes("bpf")) allows.push(`'bpf' is in the active LSM list (${list})`);
      else {
        causes.push(
          `'bpf' is not in the active LSM list (${LSM_LIST}: ${list}): add it to the lsm= boot parameter`,
        );
      }
    }
  } else {
    option("CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS", "BPF trampolines need it");
    option("CONFIG_BPF_JIT", "BPF trampolines need the JIT");
    const jit = facts.read(JIT)?.trim();
    if (jit === undefined) unknown.push(JIT);
    else if (jit === "0") causes.push(`the JIT is off (${JIT} is 0): set it to 1`);
    else allows.push(`the JIT is on (${JIT} is ${jit})`);
  }
  const lockdownText = facts.read(LOCKDOWN);
  const lockdown = /\[(\w+)\]/.exec(lockdownText ?? "")?.[1];
  if (lockdownText === undefined) unknown.push(`the lockdown state (${LOCKDOWN})`);
  // Lockdown at integrity blocks no BPF program load; confidentiality blocks kernel reads, perf and
  // tracefs, which surface as other errors (unknown helpers, refused perf events). So lockdown is a
  // fact to report, never named as this refusal's cause.
  if (lockdown !== undefined) allows.push(`lockdown is ${lockdown}`);
  const what = kind === "lsm" ? "BPF LSM programs" : "BPF trampolines (fentry/fexit/fmod_ret)";
  const instead = "or use a tracepoint (tp/, raw_tp/, tp_btf/) instead";
  const notChecked = unknown.length > 0 ? `; could not check ${unknown.join(", ")}` : "";
  if (causes.length > 0) {
    return `this kernel refuses ${what} (${code}): ${causes.join("; ")}${notChecked}; ${instead}`;
  }
  return `the kernel or a security policy refused ${what} (${code}), though what tsbpf checked allows them (${
    allows.join(", ") || "nothing could be checked"
  })${notChecked}; ${instead}`;
}
