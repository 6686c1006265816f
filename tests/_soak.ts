/**
 * The lifecycle soak: cycles of open, load, attach, event consumption (a tracepoint fires into a
 * ring buffer and a perf buffer, each consumed) and destroy. Afterwards the process holds as many fds and mappings as before
 * (after a GC), none of the programs, maps, links and BTF objects the cycles made is left in the
 * kernel (each is recorded by id as it is made), and RSS is reported. tests/soak_test.ts runs a
 * short soak; `scripts/soak.sh [CYCLES]` runs the full one on both runtimes.
 *
 * @module
 */
import { readdirSync } from "node:fs";
import process from "node:process";
import { btfInfo, getNextId, linkInfo, mapInfo, progInfo } from "../ffi/bpf.ts";
import { BpfCmd } from "../ffi/constants.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import type { Sys } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { PerfBuffer } from "../live/perfbuf.ts";
import { RingBuffer } from "../live/ringbuf.ts";
import { testObject } from "./_util.ts";

/** What the soak measured: before and after, and what stayed. */
export interface SoakReport {
  cycles: number;
  fds: [number, number];
  mappings: [number, number];
  rssMB: [number, number];
  /** Kernel objects the cycles made that still exist, as "kind id". */
  leftInKernel: string[];
  /** Kernel objects the cycles made. */
  made: number;
  /** Cycles in which both the ring buffer and the perf buffer got the tracepoint's event. */
  cyclesWithHits: number;
}

type Kind = "prog" | "map" | "link" | "btf";
const MAKES: Partial<Record<number, Kind>> = {
  [BpfCmd.BPF_MAP_CREATE]: "map",
  [BpfCmd.BPF_PROG_LOAD]: "prog",
  [BpfCmd.BPF_BTF_LOAD]: "btf",
  [BpfCmd.BPF_LINK_CREATE]: "link",
  [BpfCmd.BPF_RAW_TRACEPOINT_OPEN]: "link",
};

const fdCount = () => readdirSync("/proc/self/fd").length;
const mappingCount = () => readdirSync("/proc/self/map_files").length;
const rssMB = () => Math.round(process.memoryUsage().rss / 1e6);

async function collect(): Promise<void> {
  const g = globalThis as { gc?: () => void; Bun?: { gc(full: boolean): void } };
  for (let i = 0; i < 3; i++) {
    if (g.Bun) g.Bun.gc(true);
    else g.gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A Sys that records the kernel id of every program, map, link and BTF object made through it. */
function recording(real: Sys, made: Map<Kind, Set<number>>): Sys {
  const w: Sys = Object.create(real);
  w.bpf = (cmd, attr) => {
    const fd = real.bpf(cmd, attr);
    const kind = MAKES[cmd];
    if (kind !== undefined) {
      const id = kind === "map"
        ? mapInfo(fd).id
        : kind === "prog"
        ? progInfo(fd).id
        : kind === "btf"
        ? btfInfo(fd).id
        : linkInfo(fd).id;
      made.get(kind)!.add(id);
    }
    return fd;
  };
  return w;
}

function alive(made: Map<Kind, Set<number>>): string[] {
  const out: string[] = [];
  for (const [kind, ids] of made) {
    if (ids.size === 0) continue;
    for (let id = getNextId(kind, Math.min(...ids) - 1); id !== 0; id = getNextId(kind, id)) {
      if (ids.has(id)) out.push(`${kind} ${id}`);
    }
  }
  return out;
}

/**
 * Runs `cycles` lifecycles of ringbuf.bpf.o (its tracepoint sends a ring buffer record and a perf
 * sample per getpid of this process) with a RingBuffer and a PerfBuffer, and reports what stayed.
 */
export async function soak(cycles: number): Promise<SoakReport> {
  const file = testObject("ringbuf");
  const pid = getSys().getpid();
  const one = (): boolean => {
    using obj = BpfObject.open(file);
    const ro = obj.data(".rodata")!;
    new DataView(ro.buffer, ro.byteOffset).setUint32(0, pid, true); // target_tgid
    obj.load();
    obj.attach();
    let records = 0;
    let samples = 0;
    using rb = new RingBuffer(obj.map("rb"), () => void records++);
    using pb = new PerfBuffer(obj.map("pb"), { sample: () => void samples++ });
    getSys().getpid();
    rb.consume();
    pb.consume();
    return records >= 1 && samples >= 1;
  };
  for (let i = 0; i < 5; i++) one(); // warm: probes, kernel BTF, the runtime's first mappings
  await collect();
  const before = { fds: fdCount(), mappings: mappingCount(), rss: rssMB() };
  const made = new Map<Kind, Set<number>>(
    (["prog", "map", "link", "btf"] as const).map((k) => [k, new Set<number>()]),
  );
  const real = getSys();
  setSys(recording(real, made));
  let cyclesWithHits = 0;
  try {
    for (let i = 0; i < cycles; i++) {
      if (one()) cyclesWithHits++;
      if (i % 200 === 199) await collect();
    }
  } finally {
    setSys(real);
  }
  await collect();
  // Programs and maps go after an RCU grace period: give the kernel time.
  let left = alive(made);
  for (let tries = 0; tries < 100 && left.length > 0; tries++) {
    await new Promise((r) => setTimeout(r, 20));
    left = alive(made);
  }
  return {
    cycles,
    fds: [before.fds, fdCount()],
    mappings: [before.mappings, mappingCount()],
    rssMB: [before.rss, rssMB()],
    leftInKernel: left,
    made: [...made.values()].reduce((n, s) => n + s.size, 0),
    cyclesWithHits,
  };
}
