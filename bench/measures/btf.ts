/**
 * Measures of the core and the BTF reader (issue: foundation).
 *
 * @module
 */
import { Btf } from "../../btf/btf.ts";
import { cref, freshProcessMs, type Measure, ROOT, runNumber } from "../_measure.ts";
import { medianMs } from "../_stats.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";

/** The BTF measures. */
export const MEASURES: Measure[] = [
  {
    measure: "wasm instantiate (fresh process)",
    unit: "ms",
    run: () => freshProcessMs(`${ROOT}bench/_instantiate.ts`, 10),
    reference: () => null,
  },
  {
    measure: "btf parse+index vmlinux (file read included)",
    unit: "ms",
    run: () => medianMs(() => Btf.load(VMLINUX).close(), 60, 10),
    reference: () => runNumber(cref("btf_parse"), [VMLINUX, "60"]),
  },
  {
    // What Btf.kernel() does: the kernel already checked its own BTF, so ids inside records are
    // not checked again (accessors stay bounds-checked).
    measure: "btf parse+index vmlinux, kernel path (validate: records)",
    unit: "ms",
    run: () => medianMs(() => Btf.load(VMLINUX, { validate: "records" }).close(), 60, 10),
    reference: () => runNumber(cref("btf_parse"), [VMLINUX, "60"]),
  },
];
