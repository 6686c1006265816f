/**
 * Kernel probes: `kprobe/`, `kretprobe/`, `ksyscall/`, `kretsyscall/` (one perf event of the
 * kprobe PMU, or a tracefs `kprobe_events` probe on kernels without it) and `kprobe.multi/`
 * (BPF_TRACE_KPROBE_MULTI links with symbol globs).
 *
 * @module
 */
import { host } from "../_host.ts";
import { BpfError, NotSupportedError } from "../errors.ts";
import { linkCreate } from "../ffi/bpf.ts";
import { BpfAttachFlags, BpfAttachType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { hasKallsym } from "../live/ksyms.ts";
import { attachTypeName, BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";
import { attachProbe, globToRegExp } from "./_probe.ts";
import { probePmu } from "./pmu.ts";
import { tracefsRoot } from "./tracefs.ts";

/** Options of {@linkcode attachKprobe}. */
export interface KprobeOptions {
  /** A return probe (kretprobe). Default false. */
  retprobe?: boolean;
  /** Offset into the function. Default 0. */
  offset?: number;
  /** The BPF cookie. */
  cookie?: bigint;
}

let legacySeq = 0;

function noKprobes(prog: ProgramRef, what: string): NotSupportedError {
  return new NotSupportedError(
    "kprobes",
    `Attaching ${
      progLabel(prog)
    } to ${what} failed: this kernel has no kprobes (no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in tracefs); it needs CONFIG_KPROBES and CONFIG_KPROBE_EVENTS, or use a tracepoint (tp/, raw_tp/, tp_btf/) instead`,
  );
}

function kprobesAvailable(): boolean {
  if (probePmu("kprobe") !== undefined) return true;
  try {
    return host().exists(`${tracefsRoot()}/kprobe_events`);
  } catch {
    return false;
  }
}

/**
 * Attaches a kprobe or kretprobe (libbpf's `bpf_program__attach_kprobe_opts`): a perf event of
 * the kprobe PMU, or on kernels without it a tracefs probe.
 *
 * @param prog a KPROBE program.
 * @param func the kernel function.
 * @param opts return probe, offset, cookie.
 * @returns the link.
 * @throws {NotSupportedError} the kernel has no kprobes.
 * @throws {SyscallError} the kernel refused the probe (ENOENT: no such function).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachKprobe } from "./kprobe.ts";
 * import { NotSupportedError } from "../errors.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/kprobe.bpf.o");
 * obj.load();
 * try {
 *   using link = attachKprobe(obj.program("kprobe_openat"), "do_sys_openat2");
 *   assert.equal(link.kind, "kprobe");
 * } catch (e) {
 *   // A kernel built without kprobes says so.
 *   assert(e instanceof NotSupportedError && e.feature === "kprobes", String(e));
 * }
 * ```
 */
export function attachKprobe(prog: ProgramRef, func: string, opts: KprobeOptions = {}): BpfLink {
  const retprobe = opts.retprobe ?? false;
  const what = `${retprobe ? "kretprobe" : "kprobe"} ${func}${
    opts.offset ? `+${opts.offset}` : ""
  }`;
  if (func === "") throw new BpfError(`Kprobe program ${progLabel(prog)} names no function`);
  if (!/^[A-Za-z0-9_.]+$/.test(func)) {
    throw new BpfError(
      `Kprobe program ${progLabel(prog)}: ${
        JSON.stringify(func)
      } is not a kernel function name (letters, digits, '_' and '.' only)`,
    );
  }
  const pmu = probePmu("kprobe");
  if (pmu === undefined && !kprobesAvailable()) throw noKprobes(prog, what);
  return attachProbe(prog, {
    pmu,
    name: func,
    offset: opts.offset ?? 0,
    retprobe,
    tracefs: {
      file: "kprobe_events",
      group: "tsbpf_kprobes",
      event: `tsbpf_${getSys().getpid()}_${func.replace(/\W/g, "_")}_${++legacySeq}`,
      definition: `${func}+${opts.offset ?? 0}`,
    },
    kind: "kprobe",
    what,
    cookie: opts.cookie,
    hint: (e) => isErrno(e, "ENOENT", "EINVAL") ? `; is ${func} a traceable kernel function?` : "",
  });
}

let syscallPrefix: string | undefined;

/**
 * The kernel function behind a system call: `__x64_sys_<name>` (or `__arm64_sys_<name>`) on
 * kernels with syscall wrappers, else `sys_<name>`.
 *
 * @param name the system call (`openat`).
 * @returns the function name.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syscallFunction } from "./kprobe.ts";
 * assert.match(syscallFunction("openat"), /^(__x64_sys_|__arm64_sys_|sys_)openat$/); // __x64_sys_openat
 * ```
 */
export function syscallFunction(name: string): string {
  if (syscallPrefix === undefined) {
    const arch = getSys().arch === "aarch64" ? "arm64" : "x64";
    // The kallsyms index the loader keeps for ksyms: read once per process, shared.
    try {
      syscallPrefix = hasKallsym(`__${arch}_sys_bpf`) ? `__${arch}_sys_` : "sys_";
    } catch {
      syscallPrefix = "sys_"; // without kallsyms, keep the plain name
    }
  }
  return syscallPrefix + name;
}

/**
 * Attaches a ksyscall or kretsyscall program (libbpf's `bpf_program__attach_ksyscall`): a kprobe
 * on the syscall's kernel function, with the arch prefix when the kernel has syscall wrappers.
 *
 * @param prog a KPROBE program written with BPF_KSYSCALL.
 * @param name the system call (`getpid`).
 * @param opts return probe and cookie.
 * @returns the link.
 * @throws {NotSupportedError} the kernel has no kprobes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachKsyscall } from "./kprobe.ts";
 * import { NotSupportedError } from "../errors.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/kprobe.bpf.o");
 * obj.load();
 * try {
 *   using link = attachKsyscall(obj.program("ksyscall_getpid"), "getpid");
 *   assert.equal(link.kind, "kprobe");
 * } catch (e) {
 *   // A kernel built without kprobes says so.
 *   assert(e instanceof NotSupportedError && e.feature === "kprobes", String(e));
 * }
 * ```
 */
export function attachKsyscall(
  prog: ProgramRef,
  name: string,
  opts: { retprobe?: boolean; cookie?: bigint } = {},
): BpfLink {
  if (!kprobesAvailable()) {
    throw noKprobes(prog, `${opts.retprobe ? "kretsyscall" : "ksyscall"} ${name}`);
  }
  return attachKprobe(prog, syscallFunction(name), opts);
}

/**
 * The traceable kernel functions matching a glob (`available_filter_functions`).
 *
 * @param pattern a glob with `*` and `?`.
 * @returns the names, without duplicates, in file order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchKernelFunctions } from "./kprobe.ts";
 * import { NotSupportedError } from "../errors.ts";
 * try {
 *   const names = matchKernelFunctions("do_sys_open*");
 *   assert(names.length > 0 && names.every((n) => n.startsWith("do_sys_open")));
 * } catch (e) {
 *   // A kernel without the function tracer has no list of traceable functions.
 *   assert(e instanceof NotSupportedError, String(e));
 * }
 * ```
 */
export function matchKernelFunctions(pattern: string): string[] {
  const re = globToRegExp(pattern);
  const seen = new Set<string>();
  const path = `${tracefsRoot()}/available_filter_functions`;
  let text: string;
  try {
    text = host().readText(path);
  } catch (e) {
    throw new NotSupportedError(
      "ftrace",
      `Cannot read ${path} (${
        (e as { code?: string }).code ?? (e as Error).message
      }): this kernel's function tracer is not available, and kprobe.multi needs it (CONFIG_FUNCTION_TRACER and CONFIG_FPROBE); attach single kprobes or tracepoints instead`,
      { cause: e },
    );
  }
  for (const line of text.split("\n")) {
    const name = line.split(/\s/)[0];
    if (name && !name.startsWith("__ftrace_invalid_address") && re.test(name)) seen.add(name);
  }
  return [...seen];
}

/** Options of {@linkcode attachKprobeMulti}. */
export interface KprobeMultiOptions {
  /** Return probes. */
  retprobe?: boolean;
  /** One cookie per symbol. */
  cookies?: bigint[];
}

/**
 * Attaches a kprobe.multi (or kprobe.session) program to every function a glob matches, with one
 * BPF_TRACE_KPROBE_MULTI (or BPF_TRACE_KPROBE_SESSION) link (libbpf's
 * `bpf_program__attach_kprobe_multi_opts`).
 *
 * @param prog a KPROBE program with expected attach type TRACE_KPROBE_MULTI.
 * @param pattern a glob (`tcp_*`) or an exact function name.
 * @param opts return probes, cookies.
 * @returns the link.
 * @throws {NotSupportedError} the kernel has no fprobe-based kprobe.multi (EOPNOTSUPP).
 * @throws {BpfError} the glob matched nothing.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachKprobeMulti } from "./kprobe.ts";
 * import { NotSupportedError, SyscallError } from "../errors.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/attach_netns.bpf.o");
 * obj.load();
 * try {
 *   using link = attachKprobeMulti(obj.program("kmulti"), "do_nanosleep*");
 *   assert(link.fd > 0);
 * } catch (e) {
 *   // A kernel without fprobe (CONFIG_FPROBE) refuses kprobe.multi links.
 *   assert(e instanceof NotSupportedError || e instanceof SyscallError, String(e));
 * }
 * ```
 */
export function attachKprobeMulti(
  prog: ProgramRef,
  pattern: string,
  opts: KprobeMultiOptions = {},
): BpfLink {
  const what = `kprobe.multi ${pattern}`;
  const names = /[*?]/.test(pattern) ? matchKernelFunctions(pattern) : [pattern];
  if (names.length === 0) {
    throw new BpfError(`Attaching ${progLabel(prog)}: no kernel function matches '${pattern}'`);
  }
  const enc = new TextEncoder();
  const strs = names.map((n) => enc.encode(n + "\0"));
  const sys = getSys();
  const syms = new BigUint64Array(strs.map((s) => sys.ptrOf(s)));
  const cookies = opts.cookies ? new BigUint64Array(opts.cookies) : undefined;
  try {
    const at = attachTypeName(prog) === "TRACE_KPROBE_SESSION"
      ? BpfAttachType.BPF_TRACE_KPROBE_SESSION
      : BpfAttachType.BPF_TRACE_KPROBE_MULTI;
    const fd = linkCreate(prog.fd, 0, at, {
      kprobeMulti: {
        flags: opts.retprobe ? BpfAttachFlags.BPF_F_KPROBE_MULTI_RETURN : 0,
        cnt: names.length,
        syms: new Uint8Array(syms.buffer),
        cookies: cookies ? new Uint8Array(cookies.buffer) : undefined,
      },
    });
    void strs;
    return new BpfLink({
      kind: "kprobe_multi",
      program: prog.name ?? "",
      target: `${pattern} (${names.length} functions)`,
      fd,
      bpfLink: true,
    });
  } catch (e) {
    if (isErrno(e, "EOPNOTSUPP", "ENOTSUPP")) {
      throw new NotSupportedError(
        "kprobe.multi",
        `Attaching ${progLabel(prog)} to ${what} failed: this kernel has no multi-kprobe links (${
          (e as Error).message
        }); it needs CONFIG_FPROBE (Linux 5.18), or attach single kprobes`,
        { cause: e },
      );
    }
    throw e;
  }
}
