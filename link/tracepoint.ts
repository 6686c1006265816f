/**
 * Tracepoints (`tp/<category>/<name>`, `tracepoint/<category>/<name>`): a perf event of type
 * PERF_TYPE_TRACEPOINT with the tracepoint's tracefs id, and the program attached to it.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Perf } from "../ffi/constants.ts";
import { type BpfLink, progLabel, type ProgramRef } from "./link.ts";
import { attachPerfEvent, perfEventOpen } from "./perf_event.ts";
import { tracepointId } from "./tracefs.ts";

/** Options of {@linkcode attachTracepoint}. */
export interface TracepointOptions {
  /** The BPF cookie. */
  cookie?: bigint;
}

/**
 * Attaches a tracepoint program (libbpf's `bpf_program__attach_tracepoint`).
 *
 * @param prog a TRACEPOINT program.
 * @param category the tracepoint's category (`syscalls`).
 * @param name the tracepoint (`sys_enter_write`).
 * @param opts the cookie.
 * @returns the link.
 * @throws {BpfError} no such tracepoint.
 * @throws {SyscallError} perf_event_open or the attach failed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTracepoint } from "./tracepoint.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * using link = attachTracepoint(obj.program("touch_maps"), "syscalls", "sys_enter_write");
 * assert.equal(link.kind, "tracepoint");
 * ```
 */
export function attachTracepoint(
  prog: ProgramRef,
  category: string,
  name: string,
  opts: TracepointOptions = {},
): BpfLink {
  const id = tracepointId(category, name);
  let fd;
  try {
    fd = perfEventOpen({
      type: Perf.PERF_TYPE_TRACEPOINT,
      config: id,
      samplePeriod: 1,
      wakeupEvents: 1,
    });
  } catch (e) {
    throw new BpfError(
      `Opening the tracepoint ${category}/${name} for ${progLabel(prog)} failed: ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
  return attachPerfEvent(prog, fd, {
    cookie: opts.cookie,
    kind: "tracepoint",
    target: `${category}/${name}`,
  });
}

/**
 * Splits a section's tracepoint target `category/name`.
 *
 * @param target what follows `tp/`.
 * @returns the two parts.
 * @throws {BpfError} the target is not `category/name`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitTracepoint } from "./tracepoint.ts";
 * assert(splitTracepoint("syscalls/sys_enter_write")[1] === "sys_enter_write");
 * ```
 */
export function splitTracepoint(target: string): [string, string] {
  const i = target.indexOf("/");
  if (i <= 0 || i === target.length - 1) {
    throw new BpfError(
      `Tracepoint section target '${target}' is not 'category/name' (SEC("tp/syscalls/sys_enter_write"))`,
    );
  }
  return [target.slice(0, i), target.slice(i + 1)];
}
