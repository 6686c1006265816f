// Fault injection at the syscalls of the event streams: making a RingBuffer (mmap of each ring)
// and a PerfBuffer (perf_event_open, mmap, ioctl and the map update of each CPU) fails at each of
// its calls in turn, with EPERM to EINTR in rotation; each failure is a typed error and leaves no
// fd and no mapping.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { type Sys, withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { PerfBuffer } from "../live/perfbuf.ts";
import { RingBuffer } from "../live/ringbuf.ts";
import { newFds, openFds, requireKernel, testObject } from "./_util.ts";

const ERRNOS = [1, 22, 12, 7, 9, 11, 4];
const mappings = () => readdirSync("/proc/self/map_files").length;

function failingAt(real: Sys, n: number, errno: number, count: { calls: number }): Sys {
  const hit = () => (++count.calls === n ? errno : undefined);
  return withFaults(real, { bpf: hit, perfEventOpen: hit, ioctl: hit, mmap: hit });
}

for (const kind of ["RingBuffer", "PerfBuffer"] as const) {
  test(`making a ${kind} that fails at its Nth syscall leaves no fd and no mapping, for every N`, (t) => {
    if (!requireKernel(t)) return;
    using obj = BpfObject.open(testObject("ringbuf"));
    obj.load();
    const make = () =>
      kind === "RingBuffer"
        ? new RingBuffer(obj.map("rb"), () => {})
        : new PerfBuffer(obj.map("pb"), { sample() {} });
    make().close(); // warm: the CPU list and page size are read once
    const real = getSys();
    const counted = { calls: 0 };
    setSys(failingAt(real, 0, 0, counted));
    let total: number;
    try {
      const m = make();
      total = counted.calls; // the calls of construction (close() makes more)
      m.close();
    } finally {
      setSys(real);
    }
    assert.ok(total >= 1, `${kind} made no faultable call`);
    const fds = openFds();
    const maps = mappings();
    let failures = 0;
    for (let n = 1; n <= total; n++) {
      const errno = ERRNOS[n % ERRNOS.length];
      setSys(failingAt(real, n, errno, { calls: 0 }));
      let made: { close(): void } | undefined;
      try {
        made = make();
      } catch (e) {
        failures++;
        assert.ok(e instanceof BpfError, `call ${n}: ${e}`);
      } finally {
        setSys(real);
        made?.close();
      }
      assert.deepEqual(newFds(fds), [], `fds left after failing call ${n} with errno ${errno}`);
      assert.equal(mappings(), maps, `mappings left after failing call ${n}`);
    }
    assert.equal(failures, total, `${failures} of ${total} failed calls failed the construction`);
  });
}
