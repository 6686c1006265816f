// Fault injection at every syscall of attach(): for each call that attach() makes, in turn, that
// call fails with an errno (EPERM, EINVAL, ENOMEM, E2BIG, EBADF, EAGAIN, EINTR in rotation). After
// each failure no fd is left, no link of the object's programs is left in the kernel, and the error
// is a BpfError that names the program and its section. And BPF_PROG_LOAD is retried on EAGAIN, as
// libbpf retries it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import { BpfCmd } from "../ffi/constants.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { type Sys, withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { linksOfPrograms, loadObject } from "./_attach.ts";
import { newFds, openFds, requireKernel, testObject } from "./_util.ts";

const ERRNOS = [1, 22, 12, 7, 9, 11, 4]; // EPERM EINVAL ENOMEM E2BIG EBADF EAGAIN EINTR

/** A Sys whose every call that reaches the OS is counted; call `n` (of any kind) fails with `errno`. */
function failingAt(real: Sys, n: number, errno: number, count: { calls: number }): Sys {
  const hit = () => (++count.calls === n ? errno : undefined);
  return withFaults(real, { syscall: hit });
}

for (const name of ["tracing", "iter", "attach_mixed"]) {
  test(`attach() of ${name}.bpf.o that fails at its Nth syscall leaves no fd and no link, for every N`, (t) => {
    if (!requireKernel(t)) return;
    const real = getSys();
    using obj = loadObject(name, (o) => {
      // attach_mixed's kprobe attaches only where the kernel has kprobes: keep the tracepoint.
      if (name === "attach_mixed") o.setAutoload("mixed_kprobe", false);
    });
    const ids = [...obj.programs.values()].map((p) => p.info().id);
    // Count the calls of an attach that succeeds.
    const counted = { calls: 0 };
    setSys(failingAt(real, 0, 0, counted));
    try {
      obj.attach();
    } finally {
      setSys(real);
    }
    obj.detach();
    const total = counted.calls;
    assert.ok(total >= 1, `attach() made no syscall for ${name}`);
    const fds = openFds();
    let failures = 0;
    for (let n = 1; n <= total; n++) {
      const errno = ERRNOS[n % ERRNOS.length];
      setSys(failingAt(real, n, errno, { calls: 0 }));
      let failed: unknown;
      try {
        obj.attach();
      } catch (e) {
        failed = e;
      } finally {
        setSys(real);
      }
      if (failed !== undefined) {
        failures++;
        assert.ok(failed instanceof BpfError, `call ${n}: not a BpfError: ${failed}`);
        assert.match(
          (failed as Error).message,
          /'[^']+' \(section [^)]+\)/,
          `call ${n}: the error names no program`,
        );
      }
      obj.detach();
      assert.deepEqual(newFds(fds), [], `fds left after failing call ${n} with errno ${errno}`);
      assert.deepEqual(linksOfPrograms(ids), [], `links left after failing call ${n}`);
    }
    assert.ok(failures > 0, `none of ${total} faults failed attach()`);
  });
}

test("load() retries BPF_PROG_LOAD that the kernel answers with EAGAIN, as libbpf does", (t) => {
  if (!requireKernel(t)) return;
  loadObject("net").close(); // the feature probes run once per process: outside the faults
  const real = getSys();
  let loads = 0;
  setSys(withFaults(real, {
    bpf: (cmd) => (cmd === BpfCmd.BPF_PROG_LOAD && ++loads <= 2 ? 11 : undefined),
  }));
  try {
    using obj = BpfObject.open(testObject("net"));
    for (const n of obj.programNames) obj.setAutoload(n, n === "xdp_pass");
    obj.load();
    assert.ok(obj.program("xdp_pass").fd > 0);
  } finally {
    setSys(real);
  }
  assert.ok(loads >= 3, `only ${loads} BPF_PROG_LOAD calls`);
});
