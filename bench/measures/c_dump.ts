/**
 * Measures of the BTF-to-C generator (issue: BTF to C).
 *
 * @module
 */
import { Btf } from "../../btf/btf.ts";
import { btfToC } from "../../gen/c_dump.ts";
import { commandMs, type Measure } from "../_measure.ts";
import { medianMs } from "../_stats.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";

/** The BTF-to-C measures. */
export const MEASURES: Measure[] = [
  {
    measure: "btf dump format c vmlinux (parse included)",
    unit: "ms",
    run: () =>
      medianMs(
        () => {
          const btf = Btf.load(VMLINUX);
          btfToC(btf);
          btf.close();
        },
        10,
        2,
      ),
    reference: () => commandMs("bpftool", ["btf", "dump", "file", VMLINUX, "format", "c"], 10),
  },
];
