/**
 * Dynamic perf PMUs (`kprobe`, `uprobe`): their type number and the bit that makes a probe a
 * return probe, from `/sys/bus/event_source/devices/<pmu>/`.
 *
 * @module
 */
import { host } from "../_host.ts";

/** A dynamic PMU: its perf type and the config bit of return probes. */
export interface ProbePmu {
  /** The `type` of perf_event_attr. */
  type: number;
  /** The bit of `config` that asks for a return probe. */
  retprobeBit: number;
}

/**
 * Reads a probe PMU, or returns undefined when the kernel has none by that name.
 *
 * @param name `kprobe` or `uprobe`.
 * @returns the PMU, or undefined.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probePmu } from "./pmu.ts";
 * const uprobe = probePmu("uprobe"); // undefined on a kernel without the uprobe PMU
 * assert(uprobe === undefined || uprobe.type > 0);
 * ```
 */
export function probePmu(name: "kprobe" | "uprobe"): ProbePmu | undefined {
  const dir = `/sys/bus/event_source/devices/${name}`;
  if (!host().exists(`${dir}/type`)) return undefined;
  const type = Number(host().readText(`${dir}/type`).trim());
  let retprobeBit = 0;
  try {
    const m = /^config:(\d+)/.exec(host().readText(`${dir}/format/retprobe`).trim());
    if (m) retprobeBit = Number(m[1]);
  } catch {
    // Kernels always had bit 0; keep it.
  }
  return { type, retprobeBit };
}
