// Fault injection at the syscalls of the event streams: making a RingBuffer (epoll, eventfd, mmap
// of each ring) and a PerfBuffer (also perf_event_open, ioctl and the map update of each CPU) fails at each of
// its calls in turn, with EPERM to EINTR in rotation; each failure is a typed error and leaves no
// fd and no mapping. And epoll_wait: an EINTR is waited again by poll() and wait() of both (as
// libbpf's users retry it), and any other errno is a SyscallError naming epoll_wait.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { BpfError, SyscallError } from "../errors.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { type Sys, withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { PerfBuffer } from "../live/perfbuf.ts";
import { RingBuffer } from "../live/ringbuf.ts";
import { loadRingObject } from "./_attach.ts";
import { newFds, openFds, requireKernel, testObject } from "./_util.ts";

const ERRNOS = [1, 22, 12, 7, 9, 11, 4];
const mappings = () => readdirSync("/proc/self/map_files").length;

function failingAt(
  real: Sys,
  n: number,
  errno: number,
  count: { calls: number; names?: string[] },
): Sys {
  const hit = (call: string) => {
    count.names?.push(call);
    return ++count.calls === n ? errno : undefined;
  };
  return withFaults(real, { syscall: hit });
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
    const counted = { calls: 0, names: [] as string[] };
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
    // Closing a file read to the end cannot fail a read (the fd is released whatever close says).
    const closes = counted.names.slice(0, total).filter((c) => c === "close").length;
    assert.equal(
      failures,
      total - closes,
      `${failures} of ${total} failed calls (${closes} closes) failed the construction`,
    );
  });
}

type Consumer = { poll(ms: number): number; wait(ms: number): Promise<number>; close(): void };

/**
 * A loaded ringbuf object, attached, and a consumer of `kind` counting what it gets, made over an
 * entry point whose epoll_wait fails as `plan.fail` says (a consumer keeps the entry point it was
 * made with). Call `restore()` after closing.
 */
function attachedConsumer(kind: "RingBuffer" | "PerfBuffer") {
  const real = getSys();
  const plan = { fail: (): number | undefined => undefined };
  setSys(withFaults(real, { epollWait: () => plan.fail() }));
  const obj = loadRingObject();
  obj.attach();
  const got = { n: 0 };
  const c: Consumer = kind === "RingBuffer"
    ? new RingBuffer(obj.map("rb"), () => void got.n++)
    : new PerfBuffer(obj.map("pb"), { sample: () => void got.n++ });
  return { obj, c, got, plan, real, restore: () => setSys(real) };
}

const EINTR = 4;

/** One wait() first: on Bun the first one starts the waiter thread, whose own fds then stay. */
async function warmWaiter(): Promise<void> {
  const { obj, c, restore } = attachedConsumer("RingBuffer");
  try {
    await c.wait(1);
  } finally {
    c.close();
    obj.close();
    restore();
  }
}

for (const kind of ["RingBuffer", "PerfBuffer"] as const) {
  for (const how of ["poll", "wait"] as const) {
    test(`${kind}.${how}() waits again when epoll_wait is interrupted (EINTR), and gets the records`, async (t) => {
      if (!requireKernel(t)) return;
      if (how === "wait") await warmWaiter();
      const fds = openFds();
      const { obj, c, got, plan, real, restore } = attachedConsumer(kind);
      try {
        for (let i = 0; i < 10; i++) real.getpid(); // records are waiting before the first wait
        let waits = 0;
        plan.fail = () => (++waits <= 2 ? EINTR : undefined);
        const r = how === "poll" ? c.poll(5000) : await c.wait(5000);
        assert.equal(waits, 3, "two interrupted waits, then the one that returned");
        assert.ok(r >= 1 && got.n >= 1, `${how}() returned ${r}; ${got.n} records`);
      } finally {
        c.close();
        obj.close();
        restore();
      }
      assert.deepEqual(newFds(fds), []);
    });

    test(`${kind}.${how}(): an epoll_wait failure other than EINTR is a SyscallError naming epoll_wait; the consumer still works`, async (t) => {
      if (!requireKernel(t)) return;
      if (how === "wait") await warmWaiter();
      const fds = openFds();
      const { obj, c, got, plan, real, restore } = attachedConsumer(kind);
      try {
        for (const errno of [1, 22, 12, 7, 9, 11]) { // EPERM EINVAL ENOMEM E2BIG EBADF EAGAIN
          let waits = 0;
          plan.fail = () => (++waits === 1 ? errno : undefined);
          let failed: unknown;
          try {
            if (how === "poll") c.poll(5000);
            else await c.wait(5000);
          } catch (e) {
            failed = e;
          }
          assert.ok(failed instanceof SyscallError, `errno ${errno}: ${failed}`);
          assert.equal(failed.errno, errno);
          assert.match(failed.message, /^epoll_wait failed: E/);
          assert.equal(waits, 1, `errno ${errno} was not retried`);
        }
        plan.fail = () => undefined;
        for (let i = 0; i < 10; i++) real.getpid();
        const r = how === "poll" ? c.poll(5000) : await c.wait(5000);
        assert.ok(r >= 1 && got.n >= 1, "the consumer works after the failures");
      } finally {
        c.close();
        obj.close();
        restore();
      }
      assert.deepEqual(newFds(fds), []);
    });
  }
}
