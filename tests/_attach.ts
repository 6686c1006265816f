/**
 * Helpers of the attach tests (`tests/attach_*_test.ts`): loading test objects, reading counters
 * from maps and global data, counting kernel objects, and a child process that waits for a go.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { getFdById, getNextId, linkInfo } from "../ffi/bpf.ts";
import { getSys } from "../ffi/runtime.ts";
import { BpfObject } from "../live/object.ts";
import { expectLikeLibbpf, libbpfLoad, testObject } from "./_util.ts";

/** Opens and loads a test object; `setup` runs between open and load. */
export function loadObject(name: string, setup?: (obj: BpfObject) => void): BpfObject {
  const obj = BpfObject.open(testObject(name));
  try {
    setup?.(obj);
    obj.load();
  } catch (e) {
    obj.close();
    throw e;
  }
  return obj;
}

/**
 * Loads only `progs` of test object `name`, where this kernel lets libbpf load them: asks libbpf
 * first (once per run). Where libbpf loads them, tsbpf must load them with the same kernel tags, and
 * the loaded object is returned. Where libbpf is refused, tsbpf must be refused with the same errno,
 * and this returns undefined: the caller's test then ends, a pass that says "refused by this kernel,
 * as libbpf is".
 */
export function loadLikeLibbpf(name: string, progs: readonly string[]): BpfObject | undefined {
  const file = testObject(name);
  const want = libbpfLoad(file, progs);
  let obj: BpfObject | undefined;
  let got: { name: string; tag: string }[] | Error;
  try {
    obj = loadObject(name, (o) => {
      for (const n of o.programNames) o.setAutoload(n, progs.includes(n));
    });
    got = progs.map((n) => ({ name: n, tag: obj!.program(n).info().tag }));
  } catch (e) {
    got = e as Error;
  }
  try {
    if (expectLikeLibbpf(got, want, `${name}.bpf.o ${progs.join(",")}`) === "refused") return;
  } catch (e) {
    obj?.close();
    throw e;
  }
  return obj;
}

/**
 * Opens and loads tests/bpf/ringbuf.bpf.o with its `target_tgid` set to this process, so that its
 * tracepoint sends a ring buffer record and a perf sample for each getpid() of this process.
 */
export function loadRingObject(): BpfObject {
  return loadObject("ringbuf", (o) => {
    const ro = o.data(".rodata")!;
    const v = o.spec.datasecs.find((d) => d.name === ".rodata")!.vars
      .find((x) => x.name === "target_tgid")!;
    new DataView(ro.buffer, ro.byteOffset).setUint32(v.offset, getSys().getpid(), true);
  });
}

/**
 * Runs ringbuf.bpf.o's `produce` program (BPF_PROG_TEST_RUN): `count` records numbered from
 * `start`, of 16 + 8 * (seq % `sizes`) bytes, every `discardEvery`-th one discarded (0: none).
 */
export function produce(
  obj: BpfObject,
  count: number,
  sizes: number,
  discardEvery: number,
  start: number,
): void {
  const args = new BigUint64Array([
    BigInt(count),
    BigInt(sizes),
    BigInt(discardEvery),
    BigInt(start),
  ]);
  obj.program("produce").testRun({ ctxIn: new Uint8Array(args.buffer) });
}

/** Reads slot `slot` of an ARRAY map with u64 values. */
export function arrayU64(obj: BpfObject, map: string, slot: number): bigint {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, slot, true);
  const v = obj.map(map).lookup(key);
  if (v === undefined) throw new Error(`No slot ${slot} in ${map}`);
  return new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(0, true);
}

function varOf(obj: BpfObject, section: string, name: string) {
  const ds = obj.spec.datasecs.find((d) => d.name === section);
  const v = ds?.vars.find((x) => x.name === name);
  if (v === undefined) throw new Error(`No variable ${name} in ${section}`);
  const bytes = obj.data(section);
  if (bytes === null) throw new Error(`${section} is not mapped`);
  return { v, dv: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

/** Reads a 64-bit global variable (signed when `signed`). */
export function globalU64(obj: BpfObject, section: string, name: string, signed = false): bigint {
  const { v, dv } = varOf(obj, section, name);
  return signed ? dv.getBigInt64(v.offset, true) : dv.getBigUint64(v.offset, true);
}

/** Writes a 32-bit global variable (before load for `.rodata`; any time for mapped `.bss`). */
export function setGlobalU32(obj: BpfObject, section: string, name: string, value: number): void {
  const { v, dv } = varOf(obj, section, name);
  dv.setUint32(v.offset, value, true);
}

/** How many programs, maps and links the kernel has (by walking their ids). */
export function kernelObjectCounts(): { prog: number; map: number; link: number } {
  const count = (kind: "prog" | "map" | "link") => {
    let n = 0;
    for (let id = getNextId(kind, 0); id !== 0; id = getNextId(kind, id)) n++;
    return n;
  };
  return { prog: count("prog"), map: count("map"), link: count("link") };
}

/**
 * The ids of the kernel's links whose program is one of `progIds` (links of other processes are
 * left out, so tests running next to each other do not disturb this).
 */
export function linksOfPrograms(progIds: number[]): number[] {
  const out: number[] = [];
  for (let id = getNextId("link", 0); id !== 0; id = getNextId("link", id)) {
    try {
      using fd = getFdById("link", id);
      if (progIds.includes(linkInfo(fd).progId)) out.push(id);
    } catch {
      // The link went away between the two calls.
    }
  }
  return out;
}

/** The ids of the kernel's links. */
export function linkIds(): Set<number> {
  const out = new Set<number>();
  for (let id = getNextId("link", 0); id !== 0; id = getNextId("link", id)) out.add(id);
  return out;
}

/** A child that printed "ready" and waits for a byte on stdin before it goes on. */
export interface WaitingChild {
  /** Its pid. */
  pid: number;
  /** Lets it go on and resolves with its exit code and output. */
  go(): Promise<{ code: number; stdout: string }>;
  /** Kills it (cleanup). */
  kill(): void;
}

/** Spawns `cmd args` (which prints "ready" then waits on stdin) and resolves once it is ready. */
export function spawnWaiting(cmd: string, args: string[]): Promise<WaitingChild> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    let ready = false;
    const done = new Promise<{ code: number; stdout: string }>((res) => {
      child.on("close", (code) => res({ code: code ?? -1, stdout: out }));
    });
    child.on("error", reject);
    child.stdout!.on("data", (d) => {
      out += String(d);
      if (!ready && out.includes("ready\n")) {
        ready = true;
        resolve({
          pid: child.pid!,
          go: () => {
            child.stdin!.end("g");
            return done;
          },
          kill: () => {
            if (child.exitCode === null) child.kill("SIGKILL");
          },
        });
      }
    });
  });
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
