/**
 * Measures of the event streams (`live/ringbuf.ts`, `live/perfbuf.ts`) against libbpf, tsbpf and C
 * interleaved (A B A B...) inside each measure; the C samples go to `bench/build/` and the
 * reference is their median over the Deno and Bun runs of the same bench.
 *
 * - "ring buffer drain": a 256 MiB ring pre-filled with 4M 16-byte records by the `fill` program
 *   (bpf_loop, BPF_RB_NO_WAKEUP), then `consume()` with a callback summing one field into a
 *   Float64Array, against `ring_buffer__consume` with a C callback (`bench/c/ringbuf_drain.c`).
 *   "ring buffer drain (int32 sum)" sums into an Int32Array with `(a + b) | 0` instead; "ring buffer
 *   drain (typed)" goes through `addTyped` and the codec of `struct event`.
 * - "perf buffer drain": 1M samples sent by the `on_getpid` tracepoint into per-CPU rings of 32 MiB,
 *   then `consume()`, against `perf_buffer__consume`.
 *
 * - "ring buffer live": a C process calls getpid 1M times; the `on_getpid` tracepoint sends each call
 *   to a 256 KiB ring, consumed meanwhile by tsbpf (a `poll()` loop) or by libbpf (`ring_buffer__poll`,
 *   `bench/c/ringbuf_live.c`), each in its own process; the value is the percent dropped (the
 *   program's failed outputs, `tp_failed`), and every record is accounted for (received + dropped
 *   = sent).
 *
 * The drains are in ns per event (lower is better); events/s is 1e9 over it.
 *
 * @module
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { setImmediate } from "node:timers";
import { codecByName } from "../../btf/codec.ts";
import { getSys } from "../../ffi/runtime.ts";
import { BpfObject } from "../../live/object.ts";
import { PerfBuffer } from "../../live/perfbuf.ts";
import { RingBuffer } from "../../live/ringbuf.ts";
import { cref, type Measure, ROOT } from "../_measure.ts";
import { median } from "../_stats.ts";

const OBJECT = `${ROOT}tests/bpf/build/ringbuf.bpf.o`;
const RING_RECORDS = 4_000_000;
const PERF_SAMPLES = 1_000_000;
const PERF_PAGES = 8192;
/** Timed rounds of each side; each is preceded by untimed ones that fault the ring's pages in. */
const ROUNDS = 5;
const WARMUP = 4;

const runtime = () => (process.versions.bun ? "bun" : "deno");
const samplesFile = (slug: string, rt: string) => `${ROOT}bench/build/${slug}.${rt}.json`;

/** One C round: a fresh process, WARMUP untimed rounds, then the median of 2 timed ones. */
function cRound(args: string[]): number {
  const bin = cref("ringbuf_drain");
  const out = execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const t = out.trim().split("\n").map(Number);
  return median(t.slice(WARMUP));
}

function openObject(ringBytes?: number): BpfObject {
  const obj = BpfObject.open(OBJECT);
  try {
    const ro = obj.data(".rodata")!;
    const v = obj.spec.datasecs.find((d) => d.name === ".rodata")!.vars
      .find((x) => x.name === "target_tgid")!;
    new DataView(ro.buffer, ro.byteOffset).setUint32(v.offset, getSys().getpid(), true);
    if (ringBytes !== undefined) obj.setMaxEntries("rb", ringBytes);
    obj.load();
  } catch (e) {
    obj.close();
    throw e;
  }
  return obj;
}

/** Interleaves `ts` rounds and C rounds; records the C samples; returns tsbpf's median. */
function interleave(slug: string, ts: () => number, cArgs: string[]): number {
  const mine: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < WARMUP; i++) ts();
  for (let r = 0; r < ROUNDS; r++) {
    mine.push(ts());
    c.push(cRound(cArgs));
  }
  writeFileSync(samplesFile(slug, runtime()), JSON.stringify(c));
  const m = median(mine);
  process.stderr.write(
    `${slug} ${runtime()}: tsbpf ${(1e3 / m).toFixed(1)} M events/s, libbpf ${
      (1e3 / median(c)).toFixed(1)
    } M events/s\n`,
  );
  return m;
}

function reference(slug: string): number {
  const all: number[] = [];
  for (const rt of ["deno", "bun"]) {
    const f = samplesFile(slug, rt);
    if (existsSync(f)) all.push(...JSON.parse(readFileSync(f, "utf8")));
  }
  return all.length ? median(all) : NaN;
}

/** tsbpf's ring drain: fill, then time consume(); ns per record. */
export function ringDrainNs(mode: "f64" | "i32" | "typed"): number {
  using obj = openObject(256 << 20);
  const sums = new Float64Array(1);
  const ints = new Int32Array(1);
  using rb = new RingBuffer();
  if (mode === "typed") {
    const codec = codecByName<{ seq: number; size: number; tag: bigint }>(obj.spec.btf!, "event");
    rb.addTyped(obj.map("rb"), codec, (e) => {
      sums[0] += e.seq;
    });
  } else if (mode === "i32") {
    rb.add(obj.map("rb"), (view, offset) => {
      ints[0] = (ints[0] + view.getInt32(offset, true)) | 0;
    });
  } else {
    rb.add(obj.map("rb"), (view, offset) => {
      sums[0] += view.getUint32(offset, true);
    });
  }
  const fill = obj.program("fill");
  const args = new Uint8Array(new BigUint64Array([BigInt(RING_RECORDS), 0n, 0n, 0n]).buffer);
  const slug = mode === "f64" ? "ringbuf_drain" : `ringbuf_drain_${mode}`;
  return interleave(slug, () => {
    fill.testRun({ ctxIn: args });
    const t0 = performance.now();
    const n = rb.consume();
    const dt = performance.now() - t0;
    if (n < RING_RECORDS * 0.9) throw new Error(`The ring drain saw only ${n} records`);
    return dt * 1e6 / n;
  }, ["ring", OBJECT, String(RING_RECORDS), String(WARMUP + 2)]);
}

/** tsbpf's perf buffer drain: getpid PERF_SAMPLES times, then time consume(); ns per sample. */
export function perfDrainNs(): number {
  using obj = openObject();
  const sums = new Float64Array(1);
  using pb = new PerfBuffer(obj.map("pb"), {
    sample: (_cpu, view, offset) => {
      sums[0] += view.getUint32(offset, true);
    },
    pageCount: PERF_PAGES,
  });
  obj.attach();
  const sys = getSys();
  return interleave("perfbuf_drain", () => {
    for (let i = 0; i < PERF_SAMPLES; i++) sys.getpid();
    const t0 = performance.now();
    const n = pb.consume();
    const dt = performance.now() - t0;
    if (n < PERF_SAMPLES / 2) throw new Error(`The perf drain saw only ${n} samples`);
    return dt * 1e6 / n;
  }, ["perf", OBJECT, String(PERF_SAMPLES), String(WARMUP + 2), String(PERF_PAGES)]);
}

const LIVE_CALLS = 1_000_000;
const LIVE_ROUNDS = 3;

function bssValue(obj: BpfObject, name: string): number {
  const b = obj.data(".bss")!;
  const v = obj.spec.datasecs.find((d) => d.name === ".bss")!.vars.find((x) => x.name === name)!;
  return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(v.offset, true));
}

/** One tsbpf live round: [received, dropped, sent]. */
async function tsLiveRound(bin: string): Promise<[number, number, number]> {
  const child = spawn(bin, ["produce", String(LIVE_CALLS)], {
    stdio: ["pipe", "ignore", "inherit"],
  });
  let exited = false;
  const done = new Promise<void>((resolve) =>
    child.on("exit", () => {
      exited = true;
      resolve();
    })
  );
  const obj = BpfObject.open(OBJECT);
  try {
    const ro = obj.data(".rodata")!;
    const v = obj.spec.datasecs.find((d) => d.name === ".rodata")!.vars
      .find((x) => x.name === "target_tgid")!;
    new DataView(ro.buffer, ro.byteOffset).setUint32(v.offset, child.pid!, true);
    obj.setMaxEntries("rb", 256 << 10);
    obj.load();
    obj.attach();
    const count = new Float64Array(1);
    using rb = new RingBuffer(obj.map("rb"), () => {
      count[0]++;
    });
    child.stdin!.end("g");
    // poll() drains on this thread as soon as epoll says so (wait() hops through another thread);
    // yielding between polls lets the child's exit event run.
    while (!exited) {
      rb.poll(20);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await done;
    rb.consume();
    return [count[0], bssValue(obj, "tp_failed"), bssValue(obj, "tp_sent")];
  } finally {
    if (!exited) child.kill();
    obj.close();
  }
}

/** "ring buffer live": percent of the tracepoint's records dropped, tsbpf and libbpf interleaved. */
export async function ringLiveDropped(): Promise<number> {
  const bin = cref("ringbuf_live");
  const mine: number[] = [];
  const c: number[] = [];
  const lines: string[] = [];
  for (let r = 0; r < LIVE_ROUNDS; r++) {
    const [got, dropped, sent] = await tsLiveRound(bin);
    if (got + dropped !== sent) throw new Error(`received ${got} + dropped ${dropped} != ${sent}`);
    mine.push(100 * dropped / sent);
    const out = execFileSync(bin, ["consume", OBJECT, String(LIVE_CALLS)], { encoding: "utf8" });
    const [cGot, cDropped, cSent] = out.trim().split(" ").map(Number);
    c.push(100 * cDropped / cSent);
    lines.push(
      `tsbpf ${got}/${sent} (dropped ${dropped}), libbpf ${cGot}/${cSent} (dropped ${cDropped})`,
    );
  }
  writeFileSync(samplesFile("ringbuf_live", runtime()), JSON.stringify(c));
  process.stderr.write(`ringbuf_live ${runtime()}: ${lines.join("; ")}\n`);
  return median(mine);
}

/** The event stream measures. */
export const MEASURES: Measure[] = [
  {
    measure: "ring buffer drain",
    unit: "ns/event",
    run: () => ringDrainNs("f64"),
    reference: () => reference("ringbuf_drain"),
  },
  {
    measure: "ring buffer drain (int32 sum)",
    unit: "ns/event",
    run: () => ringDrainNs("i32"),
    reference: () => reference("ringbuf_drain_i32"),
  },
  {
    measure: "ring buffer drain (typed)",
    unit: "ns/event",
    run: () => ringDrainNs("typed"),
    reference: () => reference("ringbuf_drain_typed"),
  },
  {
    measure: "ring buffer live (getpid tracepoint, 1M calls, 256 KiB ring)",
    unit: "% dropped",
    run: ringLiveDropped,
    reference: () => reference("ringbuf_live"),
  },
  {
    measure: "perf buffer drain",
    unit: "ns/event",
    run: perfDrainNs,
    reference: () => reference("perfbuf_drain"),
  },
];
