/**
 * Measures of relocation (issue: relocation in the core): one `relocateProgram` pass over every
 * program of `tests/bpf/build/load_globals.bpf.o` in a fresh process, the first pass (code run for
 * the first time) and the second (warm), each the median of 15 processes. The object is opened and
 * the kernel BTF read before the clock starts. A third row runs one CO-RE lookup in the kernel BTF
 * before the clock too (wasm work only: the core's first scan of the kernel's names), which
 * separates that one-time cost from the first run of the relocation code. libbpf has no separate
 * step to compare with.
 *
 * @module
 */
import { freshProcessMs, type Measure, ROOT } from "../_measure.ts";

const SCRIPT = `${ROOT}bench/_reloc_first.ts`;

/** The relocation measures. */
export const MEASURES: Measure[] = [
  {
    measure: "relocate all programs, first call in a fresh process",
    unit: "ms",
    run: () => freshProcessMs(SCRIPT, 15, ["first"]),
    reference: () => null,
  },
  {
    measure: "relocate all programs, warm (second call in the same process)",
    unit: "ms",
    run: () => freshProcessMs(SCRIPT, 15, ["warm"]),
    reference: () => null,
  },
  {
    measure: "relocate all programs, first call in a fresh process, one CO-RE lookup run before",
    unit: "ms",
    run: () => freshProcessMs(SCRIPT, 15, ["first", "index"]),
    reference: () => null,
  },
];
