/**
 * What kprobes and uprobes share: one probe as a perf event of the dynamic PMU (`kprobe` or
 * `uprobe`), or on kernels without it a tracefs `*_events` probe opened as a tracepoint; and the
 * globs of the multi-probe links.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Perf } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { type BpfLink, progLabel, type ProgramRef } from "./link.ts";
import { attachPerfEvent, perfEventOpen } from "./perf_event.ts";
import type { ProbePmu } from "./pmu.ts";
import { addTracefsProbe } from "./tracefs.ts";

/** One kprobe or uprobe for {@linkcode attachProbe}. */
export interface ProbeSpec {
  /** The PMU to open the probe on; undefined for the tracefs fallback. */
  pmu: ProbePmu | undefined;
  /** The kernel function (kprobe) or the binary's path (uprobe), passed by address in config1. */
  name: string;
  /** Offset into the function (kprobe) or file offset (uprobe), config2. */
  offset: number;
  /** A return probe. */
  retprobe: boolean;
  /** Extra config bits (a uprobe's semaphore offset in bits 32..63). Default 0. */
  config?: bigint;
  /** Only this process (default -1: every process). */
  pid?: number;
  /** The tracefs fallback: the `*_events` file, the group, the event and its definition. */
  tracefs: {
    file: "kprobe_events" | "uprobe_events";
    group: string;
    event: string;
    definition: string;
  };
  /** The link's kind (`kprobe`, `uprobe`, `usdt`). */
  kind: string;
  /** What the link reports as its target, and errors name (`kprobe do_unlinkat`). */
  what: string;
  /** The BPF cookie. */
  cookie?: bigint;
  /** Extra words for the error when the PMU refuses the probe. */
  hint?: (e: unknown) => string;
}

/**
 * Opens a probe (on the PMU, or through tracefs when `spec.pmu` is undefined) and attaches `prog`
 * to it. Closing the link closes the perf event and removes a tracefs probe.
 *
 * @param prog a KPROBE program.
 * @param spec the probe.
 * @returns the link.
 * @throws {BpfError} the PMU refused the probe, or tracefs could not add it.
 * @throws {SyscallError} the tracefs probe's perf event or the attachment failed.
 */
export function attachProbe(prog: ProgramRef, spec: ProbeSpec): BpfLink {
  const { pmu, retprobe, pid } = spec;
  const common = { cookie: spec.cookie, kind: spec.kind, target: spec.what };
  if (pmu !== undefined) {
    const name = new TextEncoder().encode(spec.name + "\0");
    let fd;
    try {
      fd = perfEventOpen({
        type: pmu.type,
        config: (retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n) | (spec.config ?? 0n),
        config1: getSys().ptrOf(name),
        config2: BigInt(spec.offset),
        samplePeriod: 1,
        wakeupEvents: 1,
        pid,
        keep: [name],
      });
    } catch (e) {
      throw new BpfError(
        `Creating the ${spec.what} for ${progLabel(prog)} failed: ${(e as Error).message}${
          spec.hint?.(e) ?? ""
        }`,
        { cause: e },
      );
    }
    return attachPerfEvent(prog, fd, common);
  }
  const t = spec.tracefs;
  const probe = addTracefsProbe(t.file, t.group, t.event, t.definition, retprobe);
  let fd;
  try {
    fd = perfEventOpen({
      type: Perf.PERF_TYPE_TRACEPOINT,
      config: probe.id,
      samplePeriod: 1,
      wakeupEvents: 1,
      pid,
    });
  } catch (e) {
    try {
      probe.remove();
    } catch {
      // The perf event's error is the one to report.
    }
    throw e;
  }
  return attachPerfEvent(prog, fd, { ...common, cleanup: probe.remove });
}

/**
 * A glob with `*` and `?` as an anchored regular expression; other characters match themselves.
 *
 * @param glob the glob.
 * @returns the expression.
 */
export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`);
}
