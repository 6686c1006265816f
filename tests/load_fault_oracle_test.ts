// The oracle rule under injected faults: tsbpf is told EPERM for every XDP program load (withFaults)
// and libbpf is told the same (an LD_PRELOAD shim on its syscall()); then both are refused alike and
// the expectation passes. Where only tsbpf is refused, or only libbpf, the expectation must fail:
// the mechanism that turns a kernel's refusal into a pass cannot hide a regression.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { BpfCmd, BpfProgType } from "../ffi/constants.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { expectLikeLibbpf, libbpfLoad, requireKernel, ROOT, testObject } from "./_util.ts";

const EPERM = 1;
const XDP = BpfProgType.BPF_PROG_TYPE_XDP;
const SHIM = join(ROOT, "tests", "oracle", "build", "fault_prog_load.so");
const TOLD = {
  LD_PRELOAD: SHIM,
  TSBPF_FAULT_PROG_TYPE: String(XDP),
  TSBPF_FAULT_ERRNO: String(EPERM),
};

/** Loads xdp_pass of net.bpf.o; with `faulty`, every XDP BPF_PROG_LOAD is answered EPERM. */
function ours(faulty: boolean): { name: string; tag: string }[] | Error {
  const real = getSys();
  if (faulty) {
    setSys(withFaults(real, {
      bpf: (cmd, _n, attr) =>
        cmd === BpfCmd.BPF_PROG_LOAD &&
          new DataView(attr.buffer, attr.byteOffset).getUint32(0, true) === XDP
          ? EPERM
          : undefined,
    }));
  }
  const obj = BpfObject.open(testObject("net"));
  try {
    for (const n of obj.programNames) obj.setAutoload(n, n === "xdp_pass");
    obj.load();
    return [{ name: "xdp_pass", tag: obj.program("xdp_pass").info().tag }];
  } catch (e) {
    return e as Error;
  } finally {
    obj.close();
    setSys(real);
  }
}

test("an XDP load refused with EPERM in tsbpf and in libbpf alike passes as 'refused, as libbpf is'", (t) => {
  if (!requireKernel(t)) return;
  const want = libbpfLoad(testObject("net"), ["xdp_pass"], { env: TOLD });
  assert.equal(want.ok, false, "the shim did not refuse libbpf's XDP load");
  assert.equal(want.ok === false && want.errno, EPERM);
  assert.equal(expectLikeLibbpf(ours(true), want, "net.bpf.o xdp_pass"), "refused");
});

test("tsbpf refused where libbpf loads fails the expectation: a refusal cannot hide a regression", (t) => {
  if (!requireKernel(t)) return;
  const want = libbpfLoad(testObject("net"), ["xdp_pass"]);
  assert.equal(want.ok, true, "libbpf loads xdp_pass on this kernel");
  const got = ours(true);
  assert.ok(got instanceof Error);
  assert.throws(
    () => expectLikeLibbpf(got, want, "net.bpf.o xdp_pass"),
    (e) => e instanceof assert.AssertionError && /libbpf loads it on this kernel/.test(e.message),
  );
});

test("tsbpf loading where libbpf is refused fails the expectation", (t) => {
  if (!requireKernel(t)) return;
  const want = libbpfLoad(testObject("net"), ["xdp_pass"], { env: TOLD });
  const got = ours(false);
  assert.ok(!(got instanceof Error), String(got));
  assert.throws(
    () => expectLikeLibbpf(got, want, "net.bpf.o xdp_pass"),
    (e) => e instanceof assert.AssertionError && /tsbpf loaded xdp_pass/.test(e.message),
  );
});

test("a refusal with another errno than libbpf's fails the expectation", (t) => {
  if (!requireKernel(t)) return;
  const want = libbpfLoad(testObject("net"), ["xdp_pass"], {
    env: { ...TOLD, TSBPF_FAULT_ERRNO: "22" },
  });
  assert.equal(want.ok === false && want.errno, 22);
  assert.throws(
    () => expectLikeLibbpf(ours(true), want, "net.bpf.o xdp_pass"),
    (e) => e instanceof assert.AssertionError && /another errno/.test(e.message),
  );
});
