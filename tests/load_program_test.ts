// BpfProgram beyond loading: test runs on real input, and pins that outlive the object.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { objGet, progInfo } from "../ffi/bpf.ts";
import { BpfObject } from "../live/object.ts";
import { pinDir, readU64, requireKernel, testObject, u32 } from "./_util.ts";

const XDP_PASS = 2;

test("BpfProgram.testRun() runs xdp_pass on a frame, which counts its bytes in pkt_count", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("net"));
  obj.load();
  const frame = new Uint8Array(64);
  frame[12] = 0x08; // ethertype IPv4: no redirect
  const out = new Uint8Array(64);
  const r = obj.program("xdp_pass").testRun({ dataIn: frame, dataOut: out, repeat: 3 });
  assert.equal(r.retval, XDP_PASS);
  assert.equal(r.dataSizeOut, 64);
  assert.deepEqual(out, frame);
  // pkt_count is a per-CPU array: the runs landed on whichever CPU this thread was on.
  const perCpu = obj.map("pkt_count").lookup(u32(0))!;
  let sum = 0n;
  for (let off = 0; off < perCpu.length; off += 8) sum += readU64(perCpu.subarray(off, off + 8));
  assert.equal(sum, 3n * 64n);
});

test("BpfProgram.testRun() on a program type the kernel cannot test-run is a SyscallError", (t) => {
  if (!requireKernel(t)) return;
  using obj = BpfObject.open(testObject("tracing"));
  obj.load();
  const name = obj.programNames.find((n) => obj.program(n).section.startsWith("tp/"))!;
  assert.throws(() => obj.program(name).testRun(), (e: Error) => {
    assert.equal(e.name, "SyscallError");
    assert.match(e.message, /BPF_PROG_TEST_RUN/);
    return true;
  });
});

test("BpfProgram.pin() keeps the program alive after close(), and unpin() removes the pin", (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  const path = `${pins.path}/xdp_pass`;
  let id: number;
  {
    using obj = BpfObject.open(testObject("net"));
    obj.load();
    const prog = obj.program("xdp_pass");
    id = prog.info().id;
    prog.pin(path);
  }
  // The object and its fds are gone; the pin still holds the same program.
  {
    using again = objGet(path);
    assert.equal(progInfo(again).id, id);
  }
  using obj = BpfObject.open(testObject("net"));
  obj.load();
  const prog = obj.program("xdp_pass");
  const second = `${pins.path}/second`;
  prog.pin(second);
  {
    using pinned = objGet(second);
    assert.equal(progInfo(pinned).id, prog.info().id, "the pin holds this program");
  }
  prog.unpin(second);
  assert.ok(!existsSync(second));
  assert.throws(
    () => prog.pin(path),
    (e: Error) => e.name === "SyscallError" && /EEXIST/.test(e.message),
  );
});
