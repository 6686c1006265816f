/**
 * Measures of generated skeletons: "skeleton global read and write" is the time of one access
 * (a read or a write) of a `.bss` variable through a loaded skeleton (`skel.bss.runs = skel.bss.runs
 * + 1`: two accesses), against bpftool's C skeleton of the same object doing the same through its
 * pointer (`bench/c/skel_access.c`). The measure fails when an access makes a bpf() call (counted
 * through a `withFaults` wrapper of the syscall entry point).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { genSkeleton } from "../../gen/skeleton.ts";
import { getSys, setSys } from "../../ffi/runtime.ts";
import { withFaults } from "../../ffi/sys.ts";
import { type Measure, ROOT, runNumber } from "../_measure.ts";
import { median } from "../_stats.ts";

const OBJECT = `${ROOT}tests/bpf/build/skel_globals.bpf.o`;
const BUILD = `${ROOT}bench/build`;
const N = 5_000_000;

interface GlobalsSkel {
  bss: { runs: number };
  destroy(): void;
}

async function skeletonNs(): Promise<number> {
  mkdirSync(BUILD, { recursive: true });
  const path = `${BUILD}/skel_globals.skel.ts`;
  writeFileSync(
    path,
    genSkeleton(readFileSync(OBJECT), {
      file: "skel_globals.bpf.o",
      importFrom: pathToFileURL(`${ROOT}mod.ts`).href,
    }),
  );
  const mod = await import(pathToFileURL(path).href);
  const real = getSys();
  let calls = 0;
  setSys(withFaults(real, { bpf: () => void calls++ }));
  let skel: GlobalsSkel;
  try {
    skel = mod.SkelGlobalsSkel.openAndLoad() as GlobalsSkel;
  } finally {
    setSys(real);
  }
  try {
    const bss = skel.bss;
    const times: number[] = [];
    for (let round = 0; round < 7; round++) {
      calls = 0;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) bss.runs = bss.runs + 1;
      const ns = (performance.now() - t0) * 1e6 / (2 * N);
      if (calls !== 0) throw new Error(`Skeleton accesses made ${calls} bpf() calls`);
      if (round > 0) times.push(ns);
    }
    return median(times);
  } finally {
    skel.destroy();
  }
}

function referenceNs(): number {
  mkdirSync(BUILD, { recursive: true });
  const src = `${ROOT}bench/c/skel_access.c`;
  const bin = `${BUILD}/skel_access`;
  if (
    !existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs ||
    statSync(bin).mtimeMs < statSync(OBJECT).mtimeMs
  ) {
    const gen = (args: string[], out: string) =>
      writeFileSync(`${BUILD}/${out}`, execFileSync("bpftool", args, { maxBuffer: 1 << 28 }));
    gen(["gen", "skeleton", OBJECT], "skel_globals.skel.h");
    gen(["btf", "dump", "file", OBJECT, "format", "c"], "skel_globals.types.h");
    execFileSync("gcc", ["-O2", `-I${BUILD}`, "-o", bin, src, "-lbpf", "-lelf", "-lz"], {
      stdio: "inherit",
    });
  }
  const t: number[] = [];
  for (let i = 0; i < 5; i++) t.push(runNumber(bin, [String(N)]));
  return median(t);
}

/** The skeleton measures. */
export const MEASURES: Measure[] = [
  {
    measure: "skeleton global read and write",
    unit: "ns/access",
    run: skeletonNs,
    reference: referenceNs,
  },
];
