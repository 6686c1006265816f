// Global data through BpfObject's views: bytes written before load reach the program, values the
// program writes are seen through the same views after load; read-only sections are frozen.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfError, VerifierError } from "../errors.ts";
import { progTestRun } from "../ffi/bpf.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { resetProbes } from "../live/probes.ts";
import { oracle, requireKernel, testObject, thrown } from "./_util.ts";

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
