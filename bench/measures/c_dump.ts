/**
 * Measures of the BTF-to-C generator (issue: BTF to C).
 *
 * @module
 */
import { Btf } from "../../btf/btf.ts";
import { btfToC } from "../../gen/c_dump.ts";
import { commandMs, type Measure, ROOT, runtimeArgs } from "../_measure.ts";
import { medianMs } from "../_stats.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const DUMP_ARGS = ["btf", "dump", "file", VMLINUX, "format", "c"];

/** The bpftool process printing vmlinux as C: the reference of both measures. */
function bpftoolMs(): number {
  return commandMs("bpftool", DUMP_ARGS, 10);
}

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
    reference: bpftoolMs,
  },
  {
    // Cold: a fresh runtime process runs the CLI, so start-up, module loading, wasm compilation and
    // the engine's first (unoptimized) run all count, as they do for bpftool's process.
    measure: "btf dump format c vmlinux, CLI end to end (fresh process)",
    unit: "ms",
    run: () => {
      const [cmd, args] = runtimeArgs(`${ROOT}cli.ts`);
      return commandMs(cmd, [...args, ...DUMP_ARGS], 10);
    },
    reference: bpftoolMs,
  },
];
