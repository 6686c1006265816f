// Perf buffers on the real kernel (live/perfbuf.ts): a tracepoint sends one sample per getpid of
// this process into a PERF_EVENT_ARRAY; every sample arrives, with its contents, and when the
// per-CPU rings are too small, samples and lost counts add up to what the program sent.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import { getSys } from "../ffi/runtime.ts";
import type { BpfObject } from "../live/object.ts";
import { loadRingObject } from "./_attach.ts";
import { PerfBuffer } from "../live/perfbuf.ts";
import { newFds, openFds, requireKernel } from "./_util.ts";

const loadRing = loadRingObject;

function tpSent(obj: BpfObject): number {
  const b = obj.data(".bss")!;
  const v = obj.spec.datasecs.find((d) => d.name === ".bss")!.vars.find((x) =>
    x.name === "tp_sent"
  )!;
  return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(v.offset, true));
}

test("every sample a tracepoint sends arrives once, on its CPU, with its contents", (t) => {
  if (!requireKernel(t)) return;
  const fds = openFds();
  {
    using obj = loadRing();
    const seqs: number[] = [];
    let bad = 0;
    using pb = new PerfBuffer(obj.map("pb"), {
      sample(cpu, view, off, size) {
        if (
          size < 16 || view.getUint32(off + 4, true) !== 16 ||
          view.getBigUint64(off + 8, true) !== 0x5eedn
        ) bad++;
        if (!pb.cpus.includes(cpu)) bad++;
        seqs.push(view.getUint32(off, true));
      },
      lost() {
        bad++;
      },
    });
    assert.ok(pb.cpus.length >= 1);
    obj.attach();
    for (let i = 0; i < 300; i++) getSys().getpid();
    let got = 0;
    for (let tries = 0; tries < 50 && got < 300; tries++) got += pb.poll(200);
    pb.consume();
    const sent = tpSent(obj);
    assert.ok(sent >= 300);
    assert.equal(bad, 0);
    assert.deepEqual(seqs.sort((a, b) => a - b), [...Array(sent).keys()]);
  }
  assert.deepEqual(newFds(fds), []);
});

test("with one page per CPU, samples and lost counts add up to what the program sent", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  let samples = 0;
  let lost = 0n;
  using pb = new PerfBuffer(obj.map("pb"), {
    sample() {
      samples++;
    },
    lost(_cpu, n) {
      lost += n;
    },
    pageCount: 1,
  });
  obj.attach();
  for (let i = 0; i < 5000; i++) getSys().getpid(); // about 200 KiB of samples into 4 KiB rings
  pb.consume();
  // The kernel writes a ring's lost record with the next sample that fits on that CPU: send a few
  // more, giving the thread time to run on each CPU again, until every loss is reported.
  for (let round = 0; round < 400 && BigInt(samples) + lost < BigInt(tpSent(obj)); round++) {
    for (let i = 0; i < 20; i++) getSys().getpid();
    pb.consume();
    await new Promise((r) => setTimeout(r, round % 10 === 9 ? 20 : 1));
  }
  obj.detach();
  pb.consume();
  assert.ok(lost > 0n, "nothing was lost: the rings did not fill");
  assert.equal(BigInt(samples) + lost, BigInt(tpSent(obj)));
});

test("wait() resolves when samples come, and close() ends a pending wait", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  const pb = new PerfBuffer(obj.map("pb"), { sample() {} });
  try {
    obj.attach();
    setTimeout(() => getSys().getpid(), 50);
    assert.ok((await pb.wait(20_000)) >= 1);
    obj.detach();
    const pending = pb.wait(20_000);
    setTimeout(() => pb.close(), 50);
    assert.equal(await pending, 0);
    assert.throws(() => pb.consume(), (e) => e instanceof BpfError && /closed/.test(e.message));
  } finally {
    pb.close();
  }
});

test("PerfBuffer refuses a map that is not a perf event array, and a pageCount that is not a power of 2", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  assert.throws(
    () => new PerfBuffer(obj.map("rb"), { sample() {} }),
    (e) => e instanceof BpfError && /"rb" is not a perf event array.*RingBuffer/.test(e.message),
  );
  assert.throws(
    () => new PerfBuffer(obj.map("pb"), { sample() {}, pageCount: 3 }),
    (e) => e instanceof BpfError && /power of 2/.test(e.message),
  );
});
