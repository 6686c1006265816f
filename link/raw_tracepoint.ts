/**
 * Raw tracepoints (`raw_tp/<name>`, `raw_tracepoint/<name>`): BPF_RAW_TRACEPOINT_OPEN with the
 * tracepoint's name.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { rawTracepointOpen } from "../ffi/bpf.ts";
import { BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";

/**
 * Attaches a raw tracepoint program (libbpf's `bpf_program__attach_raw_tracepoint`).
 *
 * @param prog a RAW_TRACEPOINT (or RAW_TRACEPOINT_WRITABLE) program.
 * @param name the tracepoint (`sched_switch`).
 * @param opts the BPF cookie (Linux 6.10).
 * @returns the link (a kernel bpf_link).
 * @throws {BpfError} no such tracepoint (ENOENT).
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachRawTracepoint } from "./raw_tracepoint.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/tracing.bpf.o");
 * obj.load();
 * using link = attachRawTracepoint(obj.program("raw_tp_switch"), "sched_switch");
 * assert.equal(link.info().name, "sched_switch");
 * ```
 */
export function attachRawTracepoint(
  prog: ProgramRef,
  name: string,
  opts: { cookie?: bigint } = {},
): BpfLink {
  if (name === "") {
    throw new BpfError(`Raw tracepoint program ${progLabel(prog)} names no tracepoint`);
  }
  try {
    const fd = rawTracepointOpen(name, prog.fd, opts.cookie ?? 0n);
    return new BpfLink({
      kind: "raw_tracepoint",
      program: prog.name ?? "",
      target: name,
      fd,
      bpfLink: true,
    });
  } catch (e) {
    if (isErrno(e, "ENOENT")) {
      throw new BpfError(
        `Attaching ${progLabel(prog)}: the kernel has no raw tracepoint ${name}`,
        { cause: e },
      );
    }
    throw e;
  }
}
