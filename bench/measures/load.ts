/**
 * Measures of open+load (issue: Speed): `BpfObject.open()` + `load()` + `close()` of a CO-RE object
 * with task_struct reads, a ring buffer, `.rodata`, `.data` and `.bss`
 * (`tests/bpf/build/load_globals.bpf.o`), against libbpf's `bpf_object__open_file` +
 * `bpf_object__load` + `bpf_object__close` of the same file (`bench/c/open_load.c`).
 *
 * "First object" runs in fresh processes (the median of 21): tsbpf's clock starts before the
 * library's first import (a dynamic import inside the timed region), libbpf's at the start of main,
 * so both pay for reading the kernel's BTF and probing. tsbpf is timed importing its one-file build
 * for the runtime (`bundle/tsbpf.js` on Deno, `bundle/tsbpf.bun.js` on Bun: what a program that
 * starts and exits should import) and its sources (`mod.ts`), and importing the bundle with
 * `load({ coreInKernel: true })` (the kernel applies CO-RE; no kernel BTF is read in the process);
 * the other tsbpf rows are of the bundle with the default load. "Library already imported" times the same
 * first open+load from after the import returned (libc is opened inside it, on the first syscall);
 * for libbpf, whose library the dynamic linker loads before main, it is the same number as the
 * first. "Each after" is the median over a loop of 40 in one process (the median of three such
 * processes).
 * The kernel's part is the time spent inside bpf() (a timing `Sys` wrapper for tsbpf, a
 * `syscall()` interposer for libbpf); the userspace part is the wall time minus that. The system
 * CPU time from rusage is given too: it also holds reading `/sys/kernel/btf/vmlinux`.
 *
 * Each tsbpf sample is a child process running a generated script (`bench/build/*.mjs`) that loads
 * nothing before its clock starts; it prints one JSON line.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import process from "node:process";
import { cref, freshProcessMs, type Measure, ROOT, runtimeArgs } from "../_measure.ts";
import { median } from "../_stats.ts";

const OBJECT = `${ROOT}tests/bpf/build/load_globals.bpf.o`;
const FRESH_RUNS = 21;
const LOOP_RUNS = 40;

/**
 * One sample set: wall ms (for the first object also the part spent importing the library), ms
 * inside bpf(), bpf() calls, system CPU ms; for the first object and the median of the later ones.
 */
interface Sample {
  first: number;
  firstImport: number;
  firstImported: number;
  firstBpf: number;
  firstCalls: number;
  firstSys: number;
  next: number;
  nextBpf: number;
  nextCalls: number;
  nextSys: number;
}

type Field = keyof Sample;

// The child that takes one sample, written to bench/build/ as a plain .mjs script with no static
// imports, so that nothing is loaded before the clock starts: it imports the library only inside
// the timed region. System CPU time comes from getrusage: on Deno through a one-symbol FFI binding
// made before the clock (Deno's `process.cpuUsage` would start its Node compatibility layer, some
// 12 ms that the library itself no longer pays), on Bun from `process.cpuUsage`. The bpf() timing
// wrapper reaches the real entry point lazily, on the first syscall, so that opening libc is timed
// as part of open+load, not of the import.
const CHILD = `
const systemUs = (() => {
  if (typeof globalThis.Deno === "object") {
    const lib = Deno.dlopen("libc.so.6", { getrusage: { parameters: ["i32", "buffer"], result: "i32" } });
    const ru = new BigInt64Array(18);
    return () => { lib.symbols.getrusage(0, ru); return Number(ru[2]) * 1e6 + Number(ru[3]); };
  }
  return () => globalThis.process.cpuUsage().system;
})();
const t0 = performance.now();
const c0 = systemUs();
const mode = MODE, n = COUNT;
const median = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length === 0 ? 0 : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const { getSys, setSys, BpfObject } = await import(LIB_URL);
const t1 = performance.now();
let real;
let inBpf = 0, calls = 0;
const bpf = (cmd, attr) => {
  const t = performance.now();
  try { return real.bpf(cmd, attr); } finally { inBpf += performance.now() - t; calls++; }
};
const cache = new Map();
const timed = new Proxy({}, {
  get(_, key) {
    if (real === undefined) { setSys(undefined); real = getSys(); setSys(timed); }
    if (key === "bpf") return bpf;
    let f = cache.get(key);
    if (f === undefined) {
      const v = real[key];
      if (typeof v !== "function") return v;
      f = v.bind(real);
      cache.set(key, f);
    }
    return f;
  },
});
setSys(timed);
const firstImport = t1 - t0;
const once = () => {
  inBpf = 0;
  calls = 0;
  const obj = BpfObject.open(OBJECT_PATH);
  try { obj.load(LOAD_OPTS); } finally { obj.close(); }
};
once();
const t2 = performance.now();
const first = t2 - t0;
const firstSys = (systemUs() - c0) / 1000;
const out = { first, firstImport, firstImported: t2 - t1, firstBpf: inBpf, firstCalls: calls, firstSys, next: 0, nextBpf: 0, nextCalls: 0, nextSys: 0 };
if (mode === "loop") {
  const wall = [], bpf = [], ncalls = [], sys = [];
  for (let i = 0; i < n; i++) {
    const c = systemUs();
    const t = performance.now();
    once();
    wall.push(performance.now() - t);
    sys.push((systemUs() - c) / 1000);
    bpf.push(inBpf);
    ncalls.push(calls);
  }
  out.next = median(wall); out.nextBpf = median(bpf); out.nextCalls = median(ncalls); out.nextSys = median(sys);
}
console.log(JSON.stringify(out));
`;

/**
 * What the child imports: the library's sources (`mod.ts`) or its one-file build for this runtime
 * (`bundle/tsbpf.js` on Deno, `bundle/tsbpf.bun.js` with its bytecode on Bun).
 */
type Lib = "mod" | "bundle" | "kcore";
const BUNDLE = process.versions.bun ? "../../bundle/tsbpf.bun.js" : "../../bundle/tsbpf.js";
const LIBS: Record<Lib, string> = { mod: "../../mod.ts", bundle: BUNDLE, kcore: BUNDLE };
/** "kcore" is the bundle loading with `load({ coreInKernel: true })`. */
const LOAD_OPTS: Record<Lib, string> = { mod: "{}", bundle: "{}", kcore: "{ coreInKernel: true }" };

function childScript(mode: "first" | "loop", n: number, lib: Lib): string {
  const code = CHILD.replace("MODE", JSON.stringify(mode))
    .replace("COUNT", String(n))
    .replace("LIB_URL", JSON.stringify(new URL(LIBS[lib], import.meta.url).href))
    .replace("LOAD_OPTS", LOAD_OPTS[lib])
    .replace("OBJECT_PATH", JSON.stringify(OBJECT));
  const dir = `${ROOT}bench/build`;
  mkdirSync(dir, { recursive: true });
  const rt = process.versions.bun ? "bun" : "deno";
  const path = `${dir}/open_load_child_${mode}_${n}_${lib}_${rt}.mjs`;
  writeFileSync(path, code);
  return path;
}

// The runtime's fixed first-use costs, with no BPF work: import the bundle, open libc (binding the
// start-up symbols) and instantiate the wasm core (parsing an empty BTF blob). Whatever a first
// open+load costs beyond this is tsbpf's own work, and the JavaScript it compiles on first run.
const FLOOR_CHILD = `
const t0 = performance.now();
const lib = await import(LIB_URL);
lib.getSys().sysconf(30); // _SC_PAGESIZE: a call of the group bound at start-up
const empty = new Uint8Array(25); // header, no types, a string section of one empty string
const dv = new DataView(empty.buffer);
dv.setUint32(0, 0x0001eb9f, true);
dv.setUint32(4, 24, true);
dv.setUint32(20, 1, true);
lib.Btf.parse(empty).close();
console.log(performance.now() - t0);
`;

function floorScript(): string {
  const dir = `${ROOT}bench/build`;
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/floor_child.mjs`;
  writeFileSync(
    path,
    FLOOR_CHILD.replace("LIB_URL", JSON.stringify(new URL(LIBS.bundle, import.meta.url).href)),
  );
  return path;
}

function parseLast(stdout: string): Sample {
  return JSON.parse(stdout.trim().split("\n").pop()!) as Sample;
}

/** Fresh-process samples of this runtime and of C, taken once per process and shared. */
const cache = new Map<string, Sample>();

function medianOf(samples: Sample[]): Sample {
  const out = {} as Sample;
  for (const k of Object.keys(samples[0]) as Field[]) out[k] = median(samples.map((s) => s[k]));
  return out;
}

function tsbpf(lib: Lib = "bundle"): Sample {
  let s = cache.get(`tsbpf:${lib}`);
  if (s !== undefined) return s;
  const run = (mode: "first" | "loop", n: number) => {
    const [cmd, args] = runtimeArgs(childScript(mode, n, lib));
    const r = spawnSync(cmd, args, { encoding: "utf8", cwd: ROOT });
    if (r.status !== 0) throw new Error(`The open+load child failed: ${r.stderr}`);
    return parseLast(r.stdout);
  };
  run("first", 0); // warm the runtime's compile cache
  const firsts: Sample[] = [];
  for (let i = 0; i < FRESH_RUNS; i++) firsts.push(run("first", 0));
  // The "each after" rows are of the bundle's default load only.
  const loop = lib === "bundle"
    ? pick(medianOf([1, 2, 3].map(() => run("loop", LOOP_RUNS))), "next")
    : {};
  s = { ...medianOf(firsts), ...loop };
  cache.set(`tsbpf:${lib}`, s);
  return s;
}

function libbpf(): Sample {
  let s = cache.get("c");
  if (s !== undefined) return s;
  const bin = cref("open_load", ["-lbpf", "-lelf", "-lz", "-ldl"]);
  const run = (n: number) => {
    const r = spawnSync(bin, [OBJECT, String(n)], { encoding: "utf8", cwd: ROOT });
    if (r.status !== 0) throw new Error(`bench/build/open_load failed: ${r.stderr}`);
    return parseLast(r.stdout);
  };
  run(0);
  const firsts: Sample[] = [];
  for (let i = 0; i < FRESH_RUNS; i++) firsts.push(run(0));
  const loop = medianOf([1, 2, 3].map(() => run(LOOP_RUNS)));
  s = { ...medianOf(firsts), ...pick(loop, "next") };
  cache.set("c", s);
  return s;
}

function pick(s: Sample, prefix: "next"): Partial<Sample> {
  const out: Partial<Sample> = {};
  for (const k of Object.keys(s) as Field[]) if (k.startsWith(prefix)) out[k] = s[k];
  return out;
}

function measure(name: string, value: (s: Sample) => number, lib: Lib = "bundle"): Measure {
  return {
    measure: name,
    unit: "ms",
    run: () => value(tsbpf(lib)),
    reference: () => value(libbpf()),
  };
}

/** The open+load measures. */
export const MEASURES: Measure[] = [
  measure(
    "open+load first object in a process, importing the bundle (fresh process, import included)",
    (s) => s.first,
  ),
  {
    measure: "open+load first object: of which importing the bundle",
    unit: "ms",
    run: () => tsbpf("bundle").firstImport,
    reference: () => null,
  },
  measure(
    "open+load first object, importing the bundle, load({ coreInKernel: true }) (fresh process)",
    (s) => s.first,
    "kcore",
  ),
  measure(
    "open+load first object in a process, importing mod.ts (fresh process, import included)",
    (s) => s.first,
    "mod",
  ),
  {
    measure: "open+load first object: of which importing mod.ts",
    unit: "ms",
    run: () => tsbpf("mod").firstImport,
    reference: () => null,
  },
  measure(
    "open+load first object, library already imported (fresh process, clock after import)",
    (s) => s.firstImported,
  ),
  {
    measure:
      "first-use floor: import the bundle, open libc, instantiate the core; no BPF work (fresh process)",
    unit: "ms",
    run: () => {
      const script = floorScript();
      freshProcessMs(script, 1); // warm the runtime's compile cache
      return freshProcessMs(script, FRESH_RUNS);
    },
    reference: () => libbpf().first,
  },
  measure("open+load first object: time inside bpf()", (s) => s.firstBpf),
  measure("open+load first object: userspace (wall minus bpf())", (s) => s.first - s.firstBpf),
  measure("open+load first object: system CPU (rusage)", (s) => s.firstSys),
  measure("open+load each object after the first (same process)", (s) => s.next),
  measure("open+load each after: time inside bpf()", (s) => s.nextBpf),
  measure("open+load each after: userspace (wall minus bpf())", (s) => s.next - s.nextBpf),
  measure("open+load each after: system CPU (rusage)", (s) => s.nextSys),
];
