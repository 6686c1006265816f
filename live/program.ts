/**
 * {@linkcode BpfProgram}: a live program, and {@linkcode loadProgram}, BPF_PROG_LOAD done the way
 * libbpf's `bpf_object_load_prog` does it (name when the kernel takes names, func_info and
 * line_info with the object's BTF, flags from the section definition, the BTF id of the attach
 * target, and a second load with a verifier log when the first fails).
 *
 * @module
 */
import { host } from "../_host.ts";
import { BtfKind } from "../btf/types.ts";
import {
  BpfError,
  NotSupportedError,
  type SyscallError,
  VerifierError,
  verifierLogTail,
} from "../errors.ts";
import {
  type Fd,
  objPin,
  type ProgInfo,
  progInfo,
  progLoad,
  progTestRun,
  type TestRunOptions,
  type TestRunResult,
} from "../ffi/bpf.ts";
import { BpfAttachType, BpfProgFlags, BpfProgType } from "../ffi/constants.ts";
import type { RelocatedProgram } from "../reloc/types.ts";
import type { KernelBtfs, ModuleBtf } from "./kernel_btf.ts";
import { explainTrampolineRefusal } from "./refusal.ts";

/** libbpf's BPF_LOG_BUF_SIZE: the first verifier log buffer (16 MiB - 1). */
export const LOG_BUF_SIZE = 0xffffffff >>> 8;

/**
 * The kernel BTF type that an attach-BTF program (tp_btf, fentry, fexit, fmod_ret, lsm, iter)
 * names, with libbpf's prefixes: `btf_trace_<tp>` typedefs for raw tracepoints, `bpf_lsm_<hook>`
 * for LSM, `bpf_iter_<name>` for iterators, the function itself otherwise.
 *
 * @param kernel the kernel BTFs.
 * @param attachType the expected attach type number.
 * @param target the name after the section's `/`.
 * @returns the type id and its module (undefined for vmlinux).
 * @throws {NotSupportedError} no such target in the running kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findAttachBtfId } from "./program.ts";
 * import { KernelBtfs } from "./kernel_btf.ts";
 * const k = new KernelBtfs();
 * try {
 *   // BPF_TRACE_RAW_TP (23): the typedef btf_trace_sched_switch
 *   const { id } = findAttachBtfId(k, 23, "sched_switch");
 *   assert.equal(k.vmlinux.name(id), "btf_trace_sched_switch");
 * } finally {
 *   k.close();
 * }
 * ```
 */
export function findAttachBtfId(
  kernel: KernelBtfs,
  attachType: number,
  target: string,
): { id: number; module: ModuleBtf | undefined } {
  let prefix = "";
  let kind: BtfKind = BtfKind.Func;
  if (attachType === BpfAttachType.BPF_TRACE_RAW_TP) {
    prefix = "btf_trace_";
    kind = BtfKind.Typedef;
  } else if (
    attachType === BpfAttachType.BPF_LSM_MAC || attachType === BpfAttachType.BPF_LSM_CGROUP
  ) {
    prefix = "bpf_lsm_";
  } else if (attachType === BpfAttachType.BPF_TRACE_ITER) {
    prefix = "bpf_iter_";
  }
  const ref = kernel.find(prefix + target, kind);
  if (ref === undefined) {
    throw new NotSupportedError(
      `BTF ${prefix}${target}`,
      `Attach target '${target}' (BTF ${prefix}${target}) is not in the kernel's or any module's BTF; check the section name or setAttachTarget()`,
    );
  }
  return { id: ref.id, module: ref.module };
}

/** Everything BPF_PROG_LOAD gets for one program. */
export interface ProgramLoadSpec {
  /** The program's name (truncated to 15 bytes by the kernel attr). */
  name: string;
  /** Its ELF section. */
  section: string;
  /** BPF_PROG_TYPE_*. */
  type: number;
  /** BPF_* expected attach type. */
  expectedAttachType: number;
  /** The relocated instructions and BTF records. */
  relocated: RelocatedProgram;
  /** The license. */
  license: string;
  /** kern_version. */
  kernVersion: number;
  /** prog_flags. */
  flags: number;
  /** The object's BTF fd, or -1. */
  btfFd: number;
  /** attach_btf_id, 0 when none. */
  attachBtfId: number;
  /** attach_btf_obj_fd (module BTF), 0 for vmlinux. */
  attachBtfObjFd: number;
  /** fd_array, empty when none. */
  fdArray: number[];
  /** Whether the kernel takes program names. */
  names: boolean;
  /** log_level for the first attempt (0: none, as libbpf). */
  logLevel: number;
}

/**
 * Loads one program as libbpf does: first without a log (unless `logLevel` asks for one); on
 * failure again with log level 1 and a 16 MiB buffer, doubled on ENOSPC.
 *
 * @param s what to load.
 * @returns the fd and the verifier log of a logged load ("" otherwise).
 * @throws {VerifierError} the kernel refused it; carries the full log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadProgram } from "./program.ts";
 * // r0 = 0; exit
 * const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
 * const { fd } = loadProgram({
 *   name: "ret0",
 *   section: "socket",
 *   type: 1, // SOCKET_FILTER
 *   expectedAttachType: 0,
 *   license: "GPL",
 *   kernVersion: 0,
 *   relocated: {
 *     insns,
 *     funcInfo: new Uint8Array(0),
 *     funcInfoRecSize: 8,
 *     lineInfo: new Uint8Array(0),
 *     lineInfoRecSize: 16,
 *     fdArray: [],
 *   },
 *   flags: 0,
 *   btfFd: -1,
 *   attachBtfId: 0,
 *   attachBtfObjFd: 0,
 *   fdArray: [],
 *   names: true,
 *   logLevel: 0,
 * });
 * assert(fd.value > 0);
 * fd.close();
 * ```
 */
export function loadProgram(s: ProgramLoadSpec): { fd: Fd; log: string } {
  let logLevel = s.logLevel;
  let size = 0;
  const fdArray = s.fdArray.length > 0 ? Int32Array.from(s.fdArray) : undefined;
  // As libbpf's sys_bpf_prog_load: a load the verifier gave up on because a signal came (EAGAIN)
  // is tried again, up to five attempts in all.
  let attempts = 5;
  for (;;) {
    let logBuf: Uint8Array | undefined;
    if (logLevel > 0) {
      size = Math.max(LOG_BUF_SIZE, size * 2);
      logBuf = new Uint8Array(size);
    }
    const withBtf = s.btfFd >= 0;
    try {
      const fd = progLoad({
        type: s.type,
        insns: s.relocated.insns,
        license: s.license,
        name: s.names ? s.name : undefined,
        logLevel,
        logBuf,
        kernVersion: s.kernVersion,
        flags: s.flags,
        expectedAttachType: s.expectedAttachType,
        btfFd: withBtf ? s.btfFd : 0,
        funcInfo: withBtf ? s.relocated.funcInfo : undefined,
        funcInfoRecSize: s.relocated.funcInfoRecSize,
        lineInfo: withBtf ? s.relocated.lineInfo : undefined,
        lineInfoRecSize: s.relocated.lineInfoRecSize,
        coreRelos: withBtf ? s.relocated.coreRelos : undefined,
        attachBtfId: s.attachBtfId,
        attachBtfObjFd: s.attachBtfObjFd,
        fdArray,
      });
      return { fd, log: logBuf ? cstr(logBuf) : "" };
    } catch (e) {
      const se = e as SyscallError;
      if (typeof se.errno !== "number") throw e;
      if (se.code === "EAGAIN" && --attempts > 0) continue;
      if (logLevel === 0) {
        logLevel = 1;
        continue;
      }
      if (se.code === "ENOSPC" && size <= 0xffffffff / 2) continue;
      const log = logBuf ? cstr(logBuf) : "";
      throw new VerifierError({
        program: s.name,
        section: s.section,
        errno: se.errno,
        code: se.code,
        log,
        hint: refusalHint(s.expectedAttachType, se.code, log) ?? licenseHint(s.license, log),
        cause: e,
      });
    }
  }
}

const TRAMPOLINE_ATTACH_TYPES: ReadonlySet<number> = new Set([
  BpfAttachType.BPF_TRACE_FENTRY,
  BpfAttachType.BPF_TRACE_FEXIT,
  BpfAttachType.BPF_MODIFY_RETURN,
  BpfAttachType.BPF_LSM_MAC,
]);

/**
 * A trampoline or LSM program that the kernel refused outright (EPERM/ENOTSUPP with no verifier
 * message) gets what this machine shows about why; other refusals speak through their log.
 */
function refusalHint(attachType: number, code: string, log: string): string | undefined {
  if (!TRAMPOLINE_ATTACH_TYPES.has(attachType)) return undefined;
  if (!["EPERM", "ENOTSUPP", "EOPNOTSUPP"].includes(code)) return undefined;
  if (verifierLogTail(log, 1).length > 0 && !/processed 0 insns/.test(log)) return undefined;
  return explainTrampolineRefusal(
    attachType === BpfAttachType.BPF_LSM_MAC ? "lsm" : "trampoline",
    code,
  );
}

/** A GPL-only helper called from an object whose license is not GPL-compatible: say how to fix it. */
function licenseHint(license: string, log: string): string | undefined {
  if (!/GPL-restricted|non-GPL compatible/.test(log)) return undefined;
  return `the program calls a GPL-only helper, and the object's license (${
    license === "" ? 'none: no "license" section' : JSON.stringify(license)
  }) is not GPL-compatible; add char LICENSE[] SEC("license") = "GPL"; (or "Dual BSD/GPL") to the C source`;
}

function cstr(b: Uint8Array): string {
  const z = b.indexOf(0);
  return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
}

/**
 * A program type name (`"XDP"`) as its number, or -1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progTypeNumber } from "./program.ts";
 * assert(progTypeNumber("XDP") === 6);
 * ```
 */
export function progTypeNumber(name: string): number {
  const v = (BpfProgType as Record<string, number>)[`BPF_PROG_TYPE_${name}`];
  return v === undefined ? -1 : v;
}

/**
 * An attach type name (`"TRACE_ITER"`) as its number; "" is 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTypeNumber } from "./program.ts";
 * assert(attachTypeNumber("TRACE_ITER") === 28);
 * ```
 */
export function attachTypeNumber(name: string): number {
  if (name === "") return 0;
  const v = (BpfAttachType as Record<string, number>)[`BPF_${name}`];
  if (v === undefined) throw new BpfError(`Unknown attach type '${name}'`);
  return v;
}

/**
 * prog_flags for a section definition's flags, as libbpf's `libbpf_prepare_prog_load`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progFlagsFor } from "./program.ts";
 * assert(progFlagsFor(["sleepable"], 26) === 16); // BPF_F_SLEEPABLE
 * ```
 */
export function progFlagsFor(defFlags: readonly string[], progType: number): number {
  let f = 0;
  if (defFlags.includes("sleepable")) f |= BpfProgFlags.BPF_F_SLEEPABLE;
  if (progType === BpfProgType.BPF_PROG_TYPE_XDP && defFlags.includes("xdpFrags")) {
    f |= BpfProgFlags.BPF_F_XDP_HAS_FRAGS;
  }
  return f;
}

/**
 * A loaded program: its fd and what it was loaded as. Owned by its `BpfObject`, which closes it;
 * `close()` is safe to call twice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject } from "../mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * assert.match(obj.program("xdp_pass").info().tag, /^[0-9a-f]{16}$/);
 * ```
 */
export class BpfProgram {
  /** The C function name. */
  readonly name: string;
  /** The ELF section. */
  readonly section: string;
  /** BPF_PROG_TYPE_*. */
  readonly type: number;
  /** BPF_* expected attach type. */
  readonly expectedAttachType: number;
  /** The BTF id of the attach target, 0 when none. */
  readonly attachBtfId: number;
  /** The number of instructions loaded. */
  readonly insnCount: number;
  /** The verifier log of the load, when a log level was asked for; else "". */
  readonly log: string;
  #fd: Fd | undefined;

  /**
   * Wraps a loaded program's fd, which it now owns.
   *
   * @param fd the fd.
   * @param s what it was loaded as.
   */
  constructor(
    fd: Fd,
    s: {
      name: string;
      section: string;
      type: number;
      expectedAttachType: number;
      attachBtfId: number;
      insnCount: number;
      log?: string;
    },
  ) {
    this.#fd = fd;
    this.name = s.name;
    this.section = s.section;
    this.type = s.type;
    this.expectedAttachType = s.expectedAttachType;
    this.attachBtfId = s.attachBtfId;
    this.insnCount = s.insnCount;
    this.log = s.log ?? "";
  }

  /** The fd number. Throws once closed. */
  get fd(): number {
    if (this.#fd === undefined) throw new BpfError(`Program '${this.name}' is closed`);
    return this.#fd.value;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#fd === undefined;
  }

  /**
   * The kernel's view of the program (BPF_OBJ_GET_INFO_BY_FD): id, tag, translated size...
   *
   * @returns the info.
   * @throws {SyscallError} the kernel refused.
   */
  info(): ProgInfo {
    return progInfo(this.fd);
  }

  /**
   * Runs the program once (or `repeat` times) in the kernel on given input, with
   * BPF_PROG_TEST_RUN: XDP, tc, socket filter, cgroup_skb, raw_tp, syscall, flow_dissector...
   *
   * @param opts the input data or context, buffers for the output, repeat count.
   * @returns the program's return value, the mean duration of a run and the output sizes.
   * @throws {SyscallError} the kernel refused (ENOTSUPP or EINVAL for types it cannot test-run).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpfObject } from "../mod.ts";
   * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
   * obj.load();
   * const r = obj.program("xdp_pass").testRun({ dataIn: new Uint8Array(64) });
   * assert.equal(r.retval, 2); // XDP_PASS
   * ```
   */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    return progTestRun(this.fd, opts);
  }

  /**
   * Pins the program at `path` on a BPF filesystem, so that it outlives this process.
   *
   * @param path the pin path, such as `/sys/fs/bpf/my_prog`.
   * @throws {SyscallError} the kernel refused (EEXIST when the path is taken, EPERM off bpffs).
   */
  pin(path: string): void {
    objPin(this.fd, path);
  }

  /**
   * Removes a pin made by {@linkcode BpfProgram.pin}.
   *
   * @param path the pin path.
   * @throws {Error} the path does not exist.
   */
  unpin(path: string): void {
    host().unlink(path);
  }

  /** Closes the fd. Safe to call twice. */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    fd?.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
