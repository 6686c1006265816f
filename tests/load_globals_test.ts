// Global data through BpfObject's views: bytes written before load reach the program, values the
// program writes are seen through the same views after load; read-only sections are frozen.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfError, VerifierError } from "../errors.ts";
import { progTestRun } from "../ffi/bpf.ts";
import { Libc } from "../ffi/constants.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { resetProbes } from "../live/probes.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  oracle,
  requireKernel,
  ROOT,
  run,
  runtimeCommand,
  runtimeName,
  testObject,
  thrown,
  withTmpDir,
} from "./_util.ts";

function u64(view: Uint8Array, off: number): bigint {
  return new DataView(view.buffer, view.byteOffset, view.byteLength).getBigUint64(off, true);
}

function setU64(view: Uint8Array, off: number, v: bigint): void {
  new DataView(view.buffer, view.byteOffset, view.byteLength).setBigUint64(off, v, true);
}

function varOffset(obj: BpfObject, section: string, name: string): number {
  const v = obj.spec.datasecs.find((d) => d.name === section)?.vars.find((x) => x.name === name);
  assert.ok(v, `no variable ${name} in ${section}`);
  return v.offset;
}

test("load(): .rodata and .data written through the views before load are what the program reads", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("load_globals"));
  const rodata = obj.data(".rodata")!;
  const data = obj.data(".data")!;
  const bss = obj.data(".bss")!;
  assert.equal(u64(rodata, varOffset(obj, ".rodata", "ro_value")), 1n, "initial image");
  setU64(rodata, varOffset(obj, ".rodata", "ro_value"), 0x1122334455667788n);
  setU64(data, varOffset(obj, ".data", "data_value"), 4242n);
  obj.load();
  // The same views now show the maps' memory.
  assert.equal(obj.data(".bss"), bss);
  progTestRun(obj.program("copy_globals").fd, { ctxIn: new Uint8Array(8) });
  assert.equal(u64(bss, varOffset(obj, ".bss", "bss_out_ro")), 0x1122334455667788n);
  assert.equal(u64(bss, varOffset(obj, ".bss", "bss_out_data")), 4242n);
  assert.equal(u64(data, varOffset(obj, ".data", "data_value")), 4243n, "program's write to .data");
  // A write to .data through the view after load reaches the program.
  setU64(data, varOffset(obj, ".data", "data_value"), 7n);
  progTestRun(obj.program("copy_globals").fd, { ctxIn: new Uint8Array(8) });
  assert.equal(u64(bss, varOffset(obj, ".bss", "bss_out_data")), 7n);
  const runs = new DataView(bss.buffer, bss.byteOffset).getUint32(
    varOffset(obj, ".bss", "runs"),
    true,
  );
  assert.equal(runs, 2);
  // The map agrees with the view.
  const fromMap = obj.map(".bss").lookup(new Uint8Array(4))!;
  assert.deepEqual(fromMap, bss.slice());
});

test("load(): .rodata is frozen, so user space cannot update its map", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("load_globals"));
  obj.load();
  const ro = obj.map(".rodata");
  assert.ok(ro.flags & 0x80, "BPF_F_RDONLY_PROG");
  assert.throws(() => ro.update(new Uint8Array(4), new Uint8Array(ro.valueSize)), {
    code: "EPERM",
  });
});

test("resizeData() grows a data section before load and keeps its bytes", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("load_globals"));
  const old = obj.data(".data")!.slice();
  const grown = obj.resizeData(".data", old.length + 64);
  assert.equal(grown.length, old.length + 64);
  assert.deepEqual(grown.subarray(0, old.length), old);
  obj.load();
  assert.equal(obj.map(".data").valueSize, old.length + 64);
  assert.equal(obj.data(".data")!.length, old.length + 64);
});

test("load() throws VerifierError with the program, section and log tail for a rejected program", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("load_globals"));
  for (const n of obj.programNames) obj.setAutoload(n, n === "rejected");
  const e = thrown(() => obj.load());
  assert.ok(e instanceof VerifierError, String(e));
  assert.equal(e.program, "rejected");
  assert.equal(e.section, "socket");
  assert.equal(e.code, "EACCES");
  assert.match(e.log, /invalid mem access 'scalar'/);
  assert.match(e.message, /invalid mem access 'scalar'$/m);
  assert.equal(obj.state, "failed");
  assert.throws(() => obj.map(".bss"), BpfError);
});

test("BpfObject settings: unknown programs and maps are refused, and nothing changes after load", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("load_globals"));
  assert.throws(() => obj.setAutoload("nope", true), /no program 'nope'/);
  assert.throws(() => obj.setMaxEntries("nope", 4), /no map 'nope'/);
  assert.throws(() => obj.setProgramType("copy_globals", "NOPE"), /Unknown program type/);
  assert.equal(obj.autoload("rejected"), false);
  obj.setMaxEntries("events", 8192); // rounded up to a page multiple, as libbpf does
  obj.load();
  assert.equal(obj.map("events").maxEntries, 8192);
  assert.throws(() => obj.setAutoload("copy_globals", false), /not loaded|opened/);
  assert.throws(() => obj.program("rejected"), /autoload is off/);
  obj.close();
  obj.close();
  assert.equal(obj.state, "closed");
});

test("load() on a kernel without mmapable arrays initializes data maps by update, and the views go null", (t) => {
  if (!requireKernel(t)) return;
  const real = getSys();
  resetProbes();
  // The kernel refuses BPF_F_MMAPABLE (0x400 in map_flags at offset 16 of the attr).
  setSys(withFaults(real, {
    bpf: (cmd, _n, attr) =>
      cmd === 0 && (new DataView(attr.buffer, attr.byteOffset).getUint32(16, true) & 0x400)
        ? 22
        : undefined,
  }));
  try {
    using obj = BpfObject.open(testObject("load_globals"));
    setU64(obj.data(".rodata")!, varOffset(obj, ".rodata", "ro_value"), 99n);
    obj.load();
    assert.equal(obj.data(".rodata"), null);
    assert.equal(obj.data(".bss"), null);
    assert.equal(obj.map(".bss").flags & 0x400, 0);
    progTestRun(obj.program("copy_globals").fd, { ctxIn: new Uint8Array(8) });
    const bss = obj.map(".bss").lookup(new Uint8Array(4))!;
    assert.equal(u64(bss, varOffset(obj, ".bss", "bss_out_ro")), 99n);
  } finally {
    setSys(real);
    resetProbes();
  }
});

test("a program stopped at a poisoned CO-RE relocation gets libbpf's log lines for it", (t) => {
  if (!requireKernel(t)) return;
  const file = testObject("core_poison");
  const theirs = oracle(["load", file, "unguarded"]).stderr.split("\n")
    .filter((l) => /<invalid CO-RE relocation>|failed to resolve CO-RE relocation/.test(l));
  assert.equal(theirs.length, 2, "libbpf's log has the two lines");
  using obj = BpfObject.open(file);
  for (const n of obj.programNames) obj.setAutoload(n, n === "unguarded");
  const e = thrown(() => obj.load());
  assert.ok(e instanceof VerifierError, String(e));
  const ours = e.log.split("\n").filter((l) =>
    /<invalid CO-RE relocation>|failed to resolve CO-RE relocation/.test(l)
  );
  assert.deepEqual(ours, theirs);
  assert.match(
    e.message,
    /failed to resolve CO-RE relocation <byte_off> \[\d+\] struct task_struct___gone\./,
  );
});

test("views never fault: a write to .rodata after load reaches nothing, and views kept past close() or resizeData() read zeros", (t) => {
  if (!requireKernel(t)) return;
  // In a child process: a regression kills the process with SIGSEGV.
  const script = `
    import { BpfObject } from "${join(ROOT, "live", "object.ts")}";
    import { progTestRun } from "${join(ROOT, "ffi", "bpf.ts")}";
    const out = [];
    const obj = BpfObject.open("${testObject("load_globals")}");
    const off = (sec, name) => obj.spec.datasecs.find((d) => d.name === sec).vars.find((v) => v.name === name).offset;
    const dv = (b) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const resized = obj.data(".bss");
    obj.resizeData(".bss", obj.spec.datasecs.find((d) => d.name === ".bss").size);
    dv(resized).setUint32(0, 7, true); // the old view: private zeros now
    out.push(dv(resized).getUint32(0, true));
    const ro = obj.data(".rodata");
    dv(ro).setBigUint64(off(".rodata", "ro_value"), 5n, true);
    obj.load();
    dv(ro).setBigUint64(off(".rodata", "ro_value"), 99n, true); // after load: reaches nothing
    progTestRun(obj.program("copy_globals").fd, { ctxIn: new Uint8Array(8) });
    const bss = obj.data(".bss");
    out.push(dv(bss).getBigUint64(off(".bss", "bss_out_ro"), true).toString());
    const data = obj.data(".data");
    obj.close();
    out.push(dv(bss).getBigUint64(off(".bss", "bss_out_ro"), true).toString());
    dv(data).setBigUint64(0, 1n, true);
    dv(ro).setBigUint64(0, 1n, true);
    out.push(dv(data).getBigUint64(0, true).toString(), dv(ro).getBigUint64(0, true).toString());
    console.log(JSON.stringify(out));
  `;
  const r = withTmpDir("tsbpf-views", (dir) => {
    const file = join(dir, "views.ts");
    writeFileSync(file, script);
    const [cmd, args] = runtimeCommand(file);
    return run(cmd, args);
  });
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  // old view after resize: 7 written into private memory; the program saw the value written
  // before load (5), not the one after (99); after close the .bss view reads zeros; stale .data
  // and .rodata views take writes.
  assert.equal(r.stdout.trim(), JSON.stringify([7, "5", "0", "1", "1"]));
});

test("close() unmaps the views it never handed out itself: a loop that never yields leaves no placeholders", (t) => {
  if (!requireKernel(t)) return;
  const real = getSys();
  const counting = Object.create(real);
  let unmapped = 0;
  let placeholders = 0;
  counting.munmap = (addr: bigint, len: number) => {
    unmapped++;
    return real.munmap(addr, len);
  };
  // A placeholder is private anonymous memory put over a view's range (MAP_FIXED).
  const PLACEHOLDER = Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_FIXED;
  counting.mmap = (...a: Parameters<typeof real.mmap>) => {
    if ((a[2] & PLACEHOLDER) === PLACEHOLDER) placeholders++;
    return real.mmap(...a);
  };
  setSys(counting);
  let sections = 0;
  try {
    for (let i = 0; i < 20; i++) {
      using obj = BpfObject.open(testObject("load_globals"));
      sections += obj.dataSections.length;
      obj.load();
    }
  } finally {
    setSys(real);
  }
  assert.ok(sections >= 60, `only ${sections} views made`);
  assert.equal(placeholders, 0, "close() left placeholders for views nobody held");
  assert.ok(unmapped >= sections, `close() unmapped ${unmapped} of ${sections} views`);
});

test("the placeholders of retired views are unmapped once the views are collected", (t) => {
  if (!requireKernel(t)) return;
  const script = `
    import { BpfObject } from "${join(ROOT, "live", "object.ts")}";
    import { getSys, setSys } from "${join(ROOT, "ffi", "runtime.ts")}";
    const gc = globalThis.Bun ? () => Bun.gc(true) : globalThis.gc;
    const real = getSys();
    const counting = Object.create(real);
    let unmapped = 0;
    counting.munmap = (addr, len) => { unmapped++; return real.munmap(addr, len); };
    setSys(counting);
    let views = 0;
    for (let i = 0; i < 50; i++) {
      const obj = BpfObject.open("${testObject("load_globals")}");
      views += obj.dataSections.map((s) => obj.data(s)).length;
      obj.load();
      obj.close();
    }
    const atClose = unmapped;
    for (let i = 0; i < 5 && unmapped < views; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(JSON.stringify({ views, atClose, unmapped }));
  `;
  const r = withTmpDir("tsbpf-views-gc", (dir) => {
    const file = join(dir, "views_gc.ts");
    writeFileSync(file, script);
    const [cmd] = runtimeCommand(file);
    const args = runtimeName() === "deno"
      ? ["run", "-A", "--quiet", "--v8-flags=--expose-gc", file]
      : [file];
    return run(cmd, args);
  });
  assert.equal(r.code, 0, r.stderr);
  const { views, atClose, unmapped } = JSON.parse(r.stdout);
  assert.ok(views >= 150, `only ${views} views made`);
  // close() leaves each view a placeholder; collecting the views unmaps every one.
  assert.ok(atClose < views, `close() unmapped ${atClose} of ${views} views itself`);
  assert.ok(unmapped >= views, `${unmapped} of ${views} placeholders unmapped after collection`);
});
