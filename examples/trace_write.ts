/**
 * The live demo: traces every write() on the running kernel with a tracepoint program
 * (examples/trace_write.bpf.c) and prints, once per second, the processes that write the most.
 *
 * It walks libbpf's whole lifecycle: `open()` the embedded object, set the `.rodata` filters
 * through the data view (between open and load, so the verifier sees them as constants),
 * `load()`, `attach()`, read the `writers` hash map (bpf() syscalls) and the `.bss` totals (plain
 * loads from the map's own memory, mmapped: no syscall), then detach and close with `using`.
 *
 * Run as root, after scripts/setup.sh (which builds the object and embeds it in
 * `examples/build/trace_write_bpf.gen.ts`). Deno needs only `--allow-ffi`: tsbpf reads the kernel's
 * files through libc.
 *
 * ```sh
 * deno run --allow-ffi examples/trace_write.ts
 * bun examples/trace_write.ts --seconds 5
 * bun build --compile examples/trace_write.ts --outfile dist/trace_write && dist/trace_write
 * ```
 *
 * Options: `--seconds N` (default 3), `--top N` rows (default 5), `--min-bytes N` (count only
 * writes of at least N bytes; default 1), `--pid N` (count only that process; default 0, all).
 *
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { BpfObject } from "../mod.ts";
import { OBJECT } from "./build/trace_write_bpf.gen.ts";

const USAGE = "usage: trace_write [--seconds N] [--top N] [--min-bytes N] [--pid N]";

/** The demo's own writes, to /dev/null, each second: the table is never empty. */
const OWN_WRITES_PER_TICK = 100;
const OWN_WRITE_SIZE = 64;

/**
 * /dev/null for writing. Deno asks --allow-write for it, which `deno run --allow-ffi` does not
 * grant: there the writes go through libc (FFI is granted, or tsbpf could not have loaded).
 */
function devNullSink(): { write(b: Uint8Array): void; close(): void } {
  try {
    const fd = openSync("/dev/null", "w");
    return { write: (b) => void writeSync(fd, b), close: () => closeSync(fd) };
  } catch (e) {
    if (typeof Deno === "undefined") throw e;
    const libc = Deno.dlopen("libc.so.6", {
      open: { parameters: ["buffer", "i32"], result: "i32" },
      write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
      close: { parameters: ["i32"], result: "i32" },
    });
    const fd = libc.symbols.open(new TextEncoder().encode("/dev/null\0"), 1 /* O_WRONLY */);
    if (fd < 0) throw e;
    return {
      write: (b) => void libc.symbols.write(fd, b, BigInt(b.length)),
      close: () => {
        libc.symbols.close(fd);
        libc.close();
      },
    };
  }
}

interface Row {
  pid: number;
  comm: string;
  count: bigint;
  bytes: bigint;
}

function parseOptions(
  argv: string[],
): { seconds: number; top: number; minBytes: number; pid: number } {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: "string", default: "3" },
      top: { type: "string", default: "5" },
      "min-bytes": { type: "string", default: "1" },
      pid: { type: "string", default: "0" },
    },
  });
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      throw new RangeError(`Bad --${name} '${v}': expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
  return {
    seconds: num("seconds", values.seconds, 1, 3600),
    top: num("top", values.top, 1, 100),
    minBytes: num("min-bytes", values["min-bytes"], 0, 2 ** 32),
    pid: num("pid", values.pid, 0, 2 ** 32 - 1),
  };
}

/** The offset of a variable in one of the object's data sections. */
function varOffset(obj: BpfObject, section: string, name: string): number {
  const v = obj.spec.datasecs.find((d) => d.name === section)?.vars.find((x) => x.name === name);
  if (v === undefined) throw new Error(`The demo object has no ${section} variable '${name}'`);
  return v.offset;
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const decoder = new TextDecoder();

/** Every entry of the `writers` map (key: tgid; value: count, bytes, comm[16]). */
function readWriters(obj: BpfObject): Row[] {
  const rows: Row[] = [];
  for (const [k, v] of obj.map("writers").entries()) {
    const dv = dataView(v);
    const comm = v.subarray(16, 32);
    const z = comm.indexOf(0);
    rows.push({
      pid: dataView(k).getUint32(0, true),
      count: dv.getBigUint64(0, true),
      bytes: dv.getBigUint64(8, true),
      comm: decoder.decode(z < 0 ? comm : comm.subarray(0, z)),
    });
  }
  return rows;
}

function printTable(rows: Row[], top: number, self: number): void {
  rows.sort((a, b) => (b.count > a.count ? 1 : b.count < a.count ? -1 : a.pid - b.pid));
  const shown = rows.slice(0, top);
  const mine = rows.find((r) => r.pid === self);
  if (mine !== undefined && !shown.includes(mine)) shown.push(mine);
  console.log(
    `  ${"PID".padStart(8)}  ${"COMM".padEnd(16)}  ${"WRITES".padStart(9)}  ${
      "BYTES".padStart(12)
    }`,
  );
  for (const r of shown) {
    console.log(
      `  ${String(r.pid).padStart(8)}  ${r.comm.padEnd(16)}  ${String(r.count).padStart(9)}  ${
        String(r.bytes).padStart(12)
      }${r.pid === self ? "  <- this demo" : ""}`,
    );
  }
}

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  return `node ${process.versions.node}`;
}

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const self = process.pid;
  console.log(`tsbpf live demo on ${runtime()}: counting write() calls on this kernel`);

  // open: parse the embedded object; the data sections get writable views, nothing is in the
  // kernel yet
  using obj = BpfObject.open(OBJECT, { name: "trace_write" });
  const maps = obj.spec.maps.map((m) => m.name).join(", ");
  console.log(
    `opened:   trace_write.bpf.o (${OBJECT.length} bytes, embedded), programs: ${
      obj.programNames.join(", ")
    }, maps: ${maps}, data: ${obj.dataSections.join(", ")}`,
  );

  // between open and load: the .rodata filters, written through the view
  const rodata = dataView(obj.data(".rodata")!);
  rodata.setBigUint64(varOffset(obj, ".rodata", "min_bytes"), BigInt(opts.minBytes), true);
  rodata.setUint32(varOffset(obj, ".rodata", "target_tgid"), opts.pid, true);
  console.log(
    `filter:   .rodata min_bytes=${opts.minBytes} target_tgid=${opts.pid}${
      opts.pid === 0 ? " (all processes)" : ""
    }, set before load`,
  );

  obj.load();
  const info = obj.program("count_write").info();
  console.log(
    `loaded:   program count_write id ${info.id} tag ${info.tag} (${info.insnCount} insns), map writers fd ${
      obj.map("writers").fd
    }`,
  );
  const links = obj.attach();
  for (const l of links.values()) console.log(`attached: ${l.program} -> ${l.kind} ${l.target}`);

  // After load the .bss view is the map's own memory (MAP_SHARED): reading it is a plain load.
  const bss = dataView(obj.data(".bss")!);
  const totalWritesOff = varOffset(obj, ".bss", "total_writes");
  const totalBytesOff = varOffset(obj, ".bss", "total_bytes");
  const totalWrites = () => bss.getBigUint64(totalWritesOff, true);

  console.log(
    `this process: pid ${self}; each second it writes ${OWN_WRITES_PER_TICK}×${OWN_WRITE_SIZE} bytes to /dev/null`,
  );
  const sink = devNullSink();
  try {
    const chunk = new Uint8Array(OWN_WRITE_SIZE).fill(0x2e);
    for (let s = 1; s <= opts.seconds; s++) {
      const before = totalWrites();
      for (let i = 0; i < OWN_WRITES_PER_TICK; i++) sink.write(chunk);
      const moved = totalWrites() - before;
      await sleep(1000);
      console.log(`\n[${s}/${opts.seconds}s] top writers since attach:`);
      printTable(readWriters(obj), opts.top, self);
      console.log(
        `  total: ${totalWrites()} writes, ${
          bss.getBigUint64(totalBytesOff, true)
        } bytes (read from the mmapped .bss, no syscall; our ${OWN_WRITES_PER_TICK} writes moved it by ${moved})`,
      );
    }
  } finally {
    sink.close();
  }

  obj.detach();
  console.log(`\ndetached; closing the object (programs, maps and mappings go with it)`);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  console.error(`error: ${(e as Error).message ?? e}`);
  process.exitCode = 1;
}
