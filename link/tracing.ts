/**
 * BTF-typed tracing programs: `tp_btf/`, `fentry/`, `fexit/`, `fmod_ret/`, `lsm/` and `freplace/`.
 * The target was fixed at load time (attach_btf_id); attaching is BPF_LINK_CREATE with the
 * program's attach type, or BPF_RAW_TRACEPOINT_OPEN with no name on kernels without tracing links.
 *
 * @module
 */
import { BpfError, NotSupportedError, type SyscallError } from "../errors.ts";
import { type Fd, linkCreate, rawTracepointOpen } from "../ffi/bpf.ts";
import { BpfAttachType } from "../ffi/constants.ts";
import { explainTrampolineRefusal } from "../live/refusal.ts";
import { attachTypeName, BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";

const TRAMPOLINE_KINDS = new Set(["TRACE_FENTRY", "TRACE_FEXIT", "MODIFY_RETURN", "LSM_MAC"]);

function attachTypeNumber(name: string): number {
  const v = (BpfAttachType as Record<string, number>)[`BPF_${name}`];
  if (v === undefined) throw new BpfError(`Unknown attach type ${name}`);
  return v;
}

/** Options of {@linkcode attachTracing}. */
export interface TracingOptions {
  /** The expected attach type name (`TRACE_FENTRY`); default the program spec's. */
  attachType?: string;
  /** The BPF cookie (Linux 6.0). */
  cookie?: bigint;
  /** freplace: the program whose function this one replaces, and the function's BTF id. */
  target?: { progFd: number; btfId: number };
}

/**
 * Attaches a BTF-typed tracing program (libbpf's `bpf_program__attach_trace` /
 * `bpf_program__attach_lsm` / `bpf_program__attach_freplace`).
 *
 * @param prog a TRACING, LSM or EXT program, loaded with its attach target.
 * @param opts attach type, cookie, freplace target.
 * @returns the link.
 * @throws {NotSupportedError} the kernel refuses BPF trampolines (EPERM / ENOTSUPP for fentry,
 *   fexit, fmod_ret, lsm): the message says which feature and what to do.
 * @throws {SyscallError} the kernel refused for another reason.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTracing } from "./tracing.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/tracing.bpf.o");
 * obj.load();
 * using link = attachTracing(obj.program("tp_btf_switch")); // tp_btf/sched_switch
 * assert(link.isBpfLink);
 * ```
 */
export function attachTracing(prog: ProgramRef, opts: TracingOptions = {}): BpfLink {
  const at = opts.attachType ?? attachTypeName(prog);
  const kind = at === "LSM_MAC" ? "lsm" : "tracing";
  const target = prog.spec?.attachTo || at.toLowerCase() || "btf target";
  let fd: Fd;
  try {
    if (at === "" && opts.target === undefined) {
      fd = rawTracepointOpen(null, prog.fd);
    } else {
      try {
        fd = linkCreate(
          prog.fd,
          opts.target?.progFd ?? 0,
          at === "" ? 0 : attachTypeNumber(at),
          {
            targetBtfId: opts.target?.btfId,
            tracing: opts.cookie !== undefined
              ? { targetBtfId: opts.target?.btfId ?? 0, cookie: opts.cookie }
              : undefined,
          },
        );
      } catch (e) {
        if (!isErrno(e, "EINVAL") || opts.cookie !== undefined || opts.target !== undefined) {
          throw e;
        }
        // Kernels before 5.x without tracing links take BPF_RAW_TRACEPOINT_OPEN with no name.
        fd = rawTracepointOpen(null, prog.fd);
      }
    }
  } catch (e) {
    if (TRAMPOLINE_KINDS.has(at) && isErrno(e, "EPERM", "ENOTSUPP", "EOPNOTSUPP", "ENODEV")) {
      throw new NotSupportedError(
        at === "LSM_MAC" ? "BPF LSM" : "BPF trampoline",
        `Attaching ${progLabel(prog)} failed: ${
          explainTrampolineRefusal(
            at === "LSM_MAC" ? "lsm" : "trampoline",
            (e as SyscallError).code,
          )
        }`,
        { cause: e },
      );
    }
    throw e;
  }
  return new BpfLink({ kind, program: prog.name ?? "", target, fd, bpfLink: true });
}

/**
 * Explains a program the kernel refused to load, for BPF trampoline and LSM programs refused with
 * EPERM or ENOTSUPP: the causes this machine confirms (kernel config, active LSM list, JIT,
 * lockdown), or that the kernel or a security policy refused, with what was checked. Other errors
 * keep their message.
 *
 * @param e the load error.
 * @param attachType the program's expected attach type name (`TRACE_FENTRY`).
 * @returns the message to show.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { explainLoadError } from "./tracing.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/fentry.bpf.o");
 * try {
 *   obj.load(); // some kernels refuse BPF trampolines
 * } catch (e) {
 *   const why = explainLoadError(e as Error, "TRACE_FENTRY");
 *   assert(why.length > 0);
 *   console.error(why);
 * }
 * ```
 */
export function explainLoadError(e: Error, attachType: string): string {
  const code = (e as SyscallError).code;
  if (TRAMPOLINE_KINDS.has(attachType) && ["EPERM", "ENOTSUPP", "EOPNOTSUPP"].includes(code)) {
    if (e.message.includes("refused BPF") || e.message.includes("refuses BPF")) return e.message;
    return `${e.message.split("\n")[0]}: ${
      explainTrampolineRefusal(attachType === "LSM_MAC" ? "lsm" : "trampoline", code)
    }`;
  }
  return e.message;
}
