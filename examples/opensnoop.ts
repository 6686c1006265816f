/**
 * opensnoop: traces open() calls system-wide, in the style of libbpf-tools' opensnoop, with the BPF
 * side in examples/opensnoop.bpf.c.
 *
 * Tracepoints on `syscalls/sys_enter_openat` and `sys_exit_openat` (and on openat2 where the kernel
 * has it) send one typed event per call through a ring buffer: pid, thread, uid, command, flags,
 * the result (fd or errno), the path and the latency from entry to exit. The filters (`--pid`,
 * `--comm`, `--failed`) are `const volatile` globals in `.rodata`, written between open and load so
 * that the verifier sees them as constants. A hash map counts opens per process, and `.bss` holds a
 * log2 histogram of the latency; on exit the tool prints both, the histogram as bcc's tools do.
 *
 * Untrusted text (command names, paths) is escaped before it reaches the terminal.
 *
 * It uses the object's generated skeleton (`OpensnoopSkel`: typed `.rodata`/`.bss` accessors,
 * `maps`, `progs`, the object embedded) and its typed codecs (`skel.codecs.Event` decodes each
 * record the library's `RingBuffer` hands over in place, `skel.mapCodecs.counts` the hash map's keys
 * and values, from the object's BTF).
 *
 * Run as root, after scripts/setup.sh (which builds the object and generates its skeleton,
 * `examples/build/opensnoop.skel.ts`). Deno needs `-A`: it opens `/sys` (the kernel's BTF, tracefs)
 * only with all permissions.
 *
 * ```sh
 * deno run --allow-ffi examples/opensnoop.ts --seconds 5
 * bun examples/opensnoop.ts --failed --comm cat
 * bun build --compile examples/opensnoop.ts --outfile dist/opensnoop && dist/opensnoop --pid 1
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { getSys, RingBuffer, SyscallError, tracepointId } from "../mod.ts";
import { errnoName } from "../ffi/errno.ts";
import { escapeText, jsonString, log2HistLines } from "./_format.ts";
import { type Counts, type Event, OpensnoopSkel } from "./build/opensnoop.skel.ts";

const USAGE = `usage: opensnoop [--pid PID] [--comm COMM] [--failed] [--seconds N] [--json] [--demo]

Traces openat() and openat2() on this kernel and prints one line per call, then a summary and a
log2 histogram of the open latency.

  --pid PID      trace only this process (thread group id)
  --comm COMM    trace only commands named COMM (the kernel keeps 15 bytes of a name)
  --failed       only failed opens
  --seconds N    stop after N seconds (default 0: run until Ctrl-C)
  --json         one JSON object per line: each event, then the summary
  --demo         also open /proc/self/comm and a missing file every 100 ms, so that this
                 process's own opens show up
  -h, --help     this text`;

/** The files `--demo` opens. */
const DEMO_PATHS = ["/proc/self/comm", "/proc/self/opensnoop-demo-missing"];
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

interface Options {
  pid: number;
  comm: string;
  failed: boolean;
  seconds: number;
  json: boolean;
  demo: boolean;
  help: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      pid: { type: "string", default: "0" },
      comm: { type: "string", default: "" },
      failed: { type: "boolean", default: false },
      seconds: { type: "string", default: "0" },
      json: { type: "boolean", default: false },
      demo: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const num = (name: string, v: string, max: number): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > max) {
      throw new RangeError(`Bad --${name} '${v}': expected a whole number from 0 to ${max}`);
    }
    return n;
  };
  return {
    pid: num("pid", values.pid, 2 ** 32 - 1),
    comm: values.comm,
    failed: values.failed,
    seconds: num("seconds", values.seconds, 86400),
    json: values.json,
    demo: values.demo,
    help: values.help,
  };
}

/** Whether this kernel has a tracepoint (tracefs lists it). */
function hasTracepoint(category: string, name: string): boolean {
  try {
    tracepointId(category, name);
    return true;
  } catch {
    return false;
  }
}

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  return `node ${process.versions.node}`;
}

function errText(ret: number): string {
  return ret >= 0 ? "0" : errnoName(-ret);
}

const TABLE_HEADER = `${"PID".padEnd(7)} ${"COMM".padEnd(16)} ${"FD".padStart(3)} ${
  "ERR".padEnd(7)
} ${"LAT(us)".padStart(9)} ${"FLAGS".padStart(8)} PATH`;

function tableLine(e: Event): string {
  const ret = Number(e.ret);
  const us = (Number(e.latency_ns) / 1000).toFixed(1);
  return `${String(e.pid).padEnd(7)} ${escapeText(e.comm).padEnd(16)} ${
    String(ret >= 0 ? ret : -1).padStart(3)
  } ${errText(ret).padEnd(7)} ${us.padStart(9)} ${e.flags.toString(8).padStart(8, "0")} ${
    escapeText(e.fname)
  }`;
}

function jsonLine(e: Event): string {
  const ret = Number(e.ret);
  return `{"type":"open","pid":${e.pid},"tid":${e.tid},"uid":${e.uid},"comm":${
    jsonString(e.comm)
  },"syscall":"${e.syscall === 1 ? "openat2" : "openat"}","flags":${e.flags},"fd":${
    ret >= 0 ? ret : -1
  },"errno":${ret >= 0 ? 0 : -ret},"err":"${errText(ret)}","latency_ns":${e.latency_ns},"path":${
    jsonString(e.fname)
  }}`;
}

interface ProcessCount extends Counts {
  pid: number;
}

/** Every entry of the `counts` map (key: tgid), most opens first. */
function readCounts(skel: OpensnoopSkel): ProcessCount[] {
  const { key, value } = skel.mapCodecs.counts;
  const rows: ProcessCount[] = [];
  for (const [k, v] of skel.maps.counts.entries()) {
    rows.push({ pid: key.fromBytes(k), ...value.fromBytes(v) });
  }
  return rows.sort((a, b) => (b.opens > a.opens ? 1 : b.opens < a.opens ? -1 : a.pid - b.pid));
}

async function main(argv: string[]): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  // Ctrl-C (or SIGTERM) from here on ends the tracing and prints the summary
  const stop = { requested: false };
  const onSignal = () => {
    stop.requested = true;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await trace(opts, stop);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function trace(opts: Options, stop: { requested: boolean }): Promise<void> {
  const commBytes = new TextEncoder().encode(opts.comm).subarray(0, 15);
  const self = process.pid;

  // open: the skeleton parses its embedded object; nothing is in the kernel yet
  using skel = OpensnoopSkel.open();
  const events = skel.codecs.Event; // struct event, from the object's BTF

  // between open and load: the .rodata filters, through the skeleton's typed accessors
  skel.rodata.targ_tgid = opts.pid;
  commBytes.forEach((b, i) => (skel.rodata.targ_comm_bytes[i] = b));
  skel.rodata.targ_failed = opts.failed;

  // openat2 is optional: load its programs only where the kernel has its tracepoints
  const syscalls = ["openat"];
  if (
    hasTracepoint("syscalls", "sys_enter_openat2") && hasTracepoint("syscalls", "sys_exit_openat2")
  ) {
    syscalls.push("openat2");
  } else {
    skel.setAutoload("enter_openat2", false);
    skel.setAutoload("exit_openat2", false);
  }

  skel.load();
  // the library's RingBuffer: records read in place, each decoded by the skeleton's codec
  using ring = new RingBuffer();
  const out: string[] = [];
  ring.add(skel.maps.events, (view, offset) => {
    const e = events.decode(view, offset);
    out.push(opts.json ? jsonLine(e) : tableLine(e));
  });
  skel.attach();

  if (!opts.json) {
    const filters = [
      opts.pid ? `pid ${opts.pid}` : "",
      opts.comm ? `comm ${escapeText(opts.comm)}` : "",
      opts.failed ? "failed only" : "",
    ].filter((s) => s !== "").join(", ");
    console.log(
      `opensnoop (tsbpf on ${runtime()}): tracing ${syscalls.join(", ")}${
        filters ? ` (${filters})` : ""
      }${opts.seconds ? ` for ${opts.seconds} s` : ""}; Ctrl-C to end`,
    );
    if (opts.demo) {
      console.log(`demo: pid ${self} opens ${DEMO_PATHS.join(" and ")} every 100 ms`);
    }
    console.log(TABLE_HEADER);
  }

  const demo = opts.demo ? setInterval(openDemoFiles, 100) : undefined;
  if (opts.demo) openDemoFiles();
  const started = Date.now();
  const deadline = opts.seconds ? started + opts.seconds * 1000 : Infinity;
  try {
    while (!stop.requested) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      // records that are there already, else wait for some off-thread (the demo timer goes on)
      if (ring.consume() === 0) await ring.wait(Math.min(100, left));
      flush(out);
    }
  } finally {
    clearInterval(demo);
  }
  skel.detach();
  ring.consume(); // what came in before detach
  flush(out);
  printSummary(skel, opts, self, (Date.now() - started) / 1000);
}

function flush(out: string[]): void {
  if (out.length === 0) return;
  console.log(out.join("\n"));
  out.length = 0;
}

/**
 * `--demo`: this process opens a file that exists and one that does not, through libc (the same
 * FFI tsbpf uses), so that it needs no file-system permission on Deno.
 */
function openDemoFiles(): void {
  const sys = getSys();
  for (const p of DEMO_PATHS) {
    try {
      sys.close(sys.open(p, O_RDONLY | O_CLOEXEC));
    } catch (e) {
      if (!(e instanceof SyscallError && e.code === "ENOENT")) throw e;
    }
  }
}

function printSummary(skel: OpensnoopSkel, opts: Options, self: number, seconds: number): void {
  // .bss is the map's own memory, mmapped: plain loads, no syscall
  const slots = skel.bss.latency_slots.toArray();
  const total = skel.bss.total_events;
  const lost = skel.bss.dropped_events;
  const procs = readCounts(skel);
  const failed = procs.reduce((s, p) => s + p.fails, 0n);
  if (opts.json) {
    const hist = slots.map((count, s) => ({
      low: s === 0 ? 0 : 2 ** s,
      high: 2 ** (s + 1) - 1,
      count,
    }))
      .filter((_, s) => s <= slots.findLastIndex((v) => v > 0n));
    console.log(
      `{"type":"summary","seconds":${
        seconds.toFixed(3)
      },"events":${total},"failed":${failed},"lost":${lost},"processes":[${
        procs.map((p) =>
          `{"pid":${p.pid},"comm":${jsonString(p.comm)},"opens":${p.opens},"fails":${p.fails}}`
        ).join(",")
      }],"latency_usecs_log2":[${
        hist.map((h) => `{"low":${h.low},"high":${h.high},"count":${h.count}}`).join(",")
      }]}`,
    );
    return;
  }
  console.log(
    `\n${total} opens traced in ${
      seconds.toFixed(1)
    } s, ${failed} failed, ${lost} lost (ring buffer full)`,
  );
  if (procs.length > 0) {
    console.log(
      `\n${"PID".padEnd(7)} ${"COMM".padEnd(16)} ${"OPENS".padStart(8)} ${"FAILED".padStart(8)}`,
    );
    // the top 10, and this process wherever it ranks
    const shown = procs.slice(0, 10);
    const mine = procs.find((p) => p.pid === self);
    if (mine !== undefined && !shown.includes(mine)) shown.push(mine);
    for (const p of shown) {
      console.log(
        `${String(p.pid).padEnd(7)} ${escapeText(p.comm).padEnd(16)} ${
          String(p.opens).padStart(8)
        } ${String(p.fails).padStart(8)}${p.pid === self ? "  <- opensnoop" : ""}`,
      );
    }
    if (procs.length > shown.length) {
      console.log(`(${procs.length - shown.length} more processes)`);
    }
  }
  const hist = log2HistLines(slots, "usecs");
  if (hist.length > 0) console.log(`\n${hist.join("\n")}`);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  console.error(`error: ${(e as Error).message ?? e}`);
  process.exitCode = 1;
}
