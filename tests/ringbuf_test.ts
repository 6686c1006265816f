// Ring buffers on the real kernel (live/ringbuf.ts, tests/bpf/ringbuf.bpf.c): known sequences made
// by a syscall program with bpf_loop and by a tracepoint the test fires, consumed exactly once and
// in order across many wraparounds, discarded records skipped, an overflowing ring's failures
// counted; waiting that leaves the event loop running and ends at close(); typed records; a user
// ring buffer drained by a BPF program.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { codecByName } from "../btf/codec.ts";
import { BpfError } from "../errors.ts";
import { getSys } from "../ffi/runtime.ts";
import type { BpfObject } from "../live/object.ts";
import { loadRingObject, produce } from "./_attach.ts";
import { RingBuffer, UserRingBuffer } from "../live/ringbuf.ts";
import {
  newFds,
  openFds,
  requireKernel,
  ROOT,
  run,
  runtimeCommand,
  testObject,
  withTmpDir,
} from "./_util.ts";

const loadRing = loadRingObject;

function bss(obj: BpfObject, name: string): bigint {
  const b = obj.data(".bss")!;
  const v = obj.spec.datasecs.find((d) => d.name === ".bss")!.vars.find((x) => x.name === name)!;
  return new DataView(b.buffer, b.byteOffset).getBigUint64(v.offset, true);
}

interface Rec {
  seq: number;
  size: number;
  ok: boolean;
}

/** A callback that checks each record's contents against what produce_one writes. */
function collector(out: Rec[]) {
  return (view: DataView, off: number, size: number) => {
    const seq = view.getUint32(off, true);
    let ok = view.getUint32(off + 4, true) === size &&
      view.getBigUint64(off + 8, true) === ((BigInt(seq) << 32n) | 0xabcdn);
    for (let k = 2; k < size / 8; k++) {
      ok &&= view.getBigUint64(off + 8 * k, true) === ((BigInt(seq) << 8n) | BigInt(k));
    }
    out.push({ seq, size, ok });
  };
}

test("every record of a known sequence arrives once, in order, with its contents, across many wraparounds; discarded ones are skipped", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  const got: Rec[] = [];
  using rb = new RingBuffer(obj.map("rb"), collector(got));
  const rounds = 40;
  const per = 600; // about 40 KiB a round in a 64 KiB ring: every round wraps
  for (let r = 0; r < rounds; r++) {
    produce(obj, per, 7, 5, r * per);
    rb.consume();
  }
  assert.equal(bss(obj, "failed"), 0n);
  const want: number[] = [];
  for (let s = 0; s < rounds * per; s++) if (s % 5 !== 4) want.push(s);
  assert.equal(got.length, want.length);
  assert.deepEqual(got.map((r) => r.seq), want);
  assert.ok(got.every((r) => r.ok), "a record's contents differ from what the program wrote");
  assert.deepEqual([...new Set(got.map((r) => r.size))].sort((a, b) => a - b), [
    16,
    24,
    32,
    40,
    48,
    56,
    64,
  ]);
  assert.equal(bss(obj, "produced"), BigInt(want.length));
  assert.equal(bss(obj, "discarded"), BigInt(rounds * per - want.length));
});

test("an overflowing ring: the producer counts its failed reservations and the consumer loses nothing silently", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  const got: Rec[] = [];
  using rb = new RingBuffer(obj.map("rb"), collector(got));
  produce(obj, 5000, 7, 0, 0); // far more than 64 KiB
  const failed = Number(bss(obj, "failed"));
  assert.ok(failed > 0, "the ring never filled");
  rb.consume();
  assert.equal(got.length + failed, 5000);
  assert.equal(BigInt(got.length), bss(obj, "produced"));
  assert.deepEqual(got.map((r) => r.seq), [...Array(got.length).keys()]);
  // After draining, the producer has room again.
  produce(obj, 10, 1, 0, 9000);
  assert.equal(rb.consume(), 10);
});

test("a callback's negative return stops consumption and is returned; the rest stays for the next consume", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  const seen: number[] = [];
  using rb = new RingBuffer(obj.map("rb"), (view, off) => {
    seen.push(view.getUint32(off, true));
    return seen.length === 3 ? -7 : 0;
  });
  produce(obj, 10, 1, 0, 0);
  assert.equal(rb.consume(), -7);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(rb.consume(), 7);
  assert.deepEqual(seen, [...Array(10).keys()]);
});

test("tracepoint records: each getpid of this process sends one, and poll() consumes them", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  obj.attach();
  const got: number[] = [];
  using rb = new RingBuffer(obj.map("rb"), (view, off) => void got.push(view.getUint32(off, true)));
  for (let i = 0; i < 100; i++) getSys().getpid();
  let n = 0;
  while (n < 100) {
    const r = rb.poll(1000);
    assert.ok(r > 0, `poll() timed out after ${n} records`);
    n += r;
  }
  rb.consume();
  // The runtime may call getpid itself too: every call it made is a record as well.
  const sent = Number(bss(obj, "tp_sent"));
  assert.ok(sent >= 100);
  assert.equal(bss(obj, "tp_failed"), 0n);
  assert.deepEqual(got, [...Array(sent).keys()]);
});

test("wait() leaves the event loop running, wakes on records, and close() ends a pending wait at once", async (t) => {
  if (!requireKernel(t)) return;
  {
    // On Bun a wait runs in a pooled worker thread, whose own event loop holds two fds for the
    // worker's life: make it before counting.
    using obj = loadRing();
    using warm = new RingBuffer(obj.map("rb"), () => {});
    await warm.wait(0);
  }
  const fds = openFds();
  {
    using obj = loadRing(); // not attached: only produce() makes records
    const rb = new RingBuffer(obj.map("rb"), () => {});
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      // Records wake it: one made 100 ms into a 20 s wait, by a timer on this thread.
      setTimeout(() => produce(obj, 1, 1, 0, 0), 100);
      const t0 = Date.now();
      assert.equal(await rb.wait(20_000), 1);
      assert.ok(Date.now() - t0 < 10_000, "the wait did not wake on the record");
      assert.ok(ticks >= 5, `the event loop ran ${ticks} timer ticks during the wait`);
      // close() ends a pending wait: it resolves with 0.
      const pending = rb.wait(20_000);
      setTimeout(() => rb.close(), 50);
      const t1 = Date.now();
      assert.equal(await pending, 0);
      assert.ok(Date.now() - t1 < 10_000, "close() did not end the wait");
      assert.throws(() => rb.consume(), (e) => e instanceof BpfError && /closed/.test(e.message));
      rb.close();
    } finally {
      clearInterval(timer);
      rb.close();
    }
  }
  assert.deepEqual(newFds(fds), []);
});

test("a process whose ring buffer wait is ended by close() exits at once, on this runtime", (t) => {
  if (!requireKernel(t)) return;
  const r = withTmpDir("tsbpf-rb-exit", (dir) => {
    const file = join(dir, "exit.ts");
    writeFileSync(
      file,
      `import { BpfObject, RingBuffer } from "${join(ROOT, "mod.ts")}";
       const obj = BpfObject.open("${testObject("ringbuf")}");
       obj.load();
       const rb = new RingBuffer(obj.map("rb"), () => {});
       const t0 = Date.now();
       setTimeout(() => rb.close(), 100);
       await rb.wait(60_000);
       obj.close();
       console.log(Date.now() - t0);`,
    );
    const [cmd, args] = runtimeCommand(file);
    const t0 = Date.now();
    const res = run(cmd, args, { timeoutMs: 50_000 });
    return { ...res, wall: Date.now() - t0 };
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number(r.stdout.trim()) < 5000, `the wait took ${r.stdout.trim()} ms to end`);
  assert.ok(r.wall < 40_000, `the process took ${r.wall} ms to exit`);
});

test("the async iterator yields copies of the records of rings added without a callback", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  using rb = new RingBuffer(obj.map("rb"));
  produce(obj, 5, 3, 0, 100);
  const seqs: number[] = [];
  for await (const rec of rb) {
    seqs.push(new DataView(rec.buffer, rec.byteOffset).getUint32(0, true));
    if (seqs.length === 5) break;
  }
  assert.deepEqual(seqs, [100, 101, 102, 103, 104]);
  assert.equal(rb.closed, false, "leaving the loop keeps the manager");
});

test("addTyped() decodes each record with the object's BTF type", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  const events: { seq: number; size: number; tag: bigint }[] = [];
  using rb = new RingBuffer().addTyped(
    obj.map("rb"),
    codecByName<{ seq: number; size: number; tag: bigint }>(obj.spec.btf!, "event"),
    (e) => void events.push(e),
  );
  produce(obj, 3, 2, 0, 7);
  assert.equal(rb.consume(), 3);
  assert.deepEqual(events, [
    { seq: 7, size: 24, tag: (7n << 32n) | 0xabcdn },
    { seq: 8, size: 16, tag: (8n << 32n) | 0xabcdn },
    { seq: 9, size: 24, tag: (9n << 32n) | 0xabcdn },
  ]);
});

test("one manager owns several rings and poll() consumes the one that has records", (t) => {
  if (!requireKernel(t)) return;
  using a = loadRing();
  using b = loadRing();
  const from: string[] = [];
  using rb = new RingBuffer()
    .add(a.map("rb"), () => void from.push("a"))
    .add(b.map("rb"), () => void from.push("b"));
  assert.equal(rb.size, 2);
  produce(b, 2, 1, 0, 0);
  assert.equal(rb.poll(1000), 2);
  assert.deepEqual(from, ["b", "b"]);
  produce(a, 1, 1, 0, 0);
  produce(b, 1, 1, 0, 0);
  assert.equal(rb.consume(), 2);
  assert.deepEqual(from, ["b", "b", "a", "b"]);
});

test("a user ring buffer: TypeScript reserves, submits and discards; the BPF program drains what was submitted", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  using urb = new UserRingBuffer(obj.map("urb"));
  let sum = 0n;
  for (let i = 1; i <= 10; i++) {
    const rec = urb.reserve(8)!;
    assert.ok(rec !== undefined);
    rec.view.setBigUint64(rec.offset, BigInt(i * 1000), true);
    if (i % 5 === 0) urb.discard(rec);
    else {
      urb.submit(rec);
      sum += BigInt(i * 1000);
    }
  }
  assert.throws(() => urb.submit({ view: new DataView(new ArrayBuffer(16)), offset: 8, size: 8 }));
  obj.program("drain_user").testRun({ ctxIn: new Uint8Array(8) });
  assert.equal(bss(obj, "drained"), 8n);
  assert.equal(bss(obj, "drained_sum"), sum);
  // A record larger than the ring can never fit; a full ring says so with undefined.
  assert.throws(
    () => urb.reserve(1 << 20),
    (e) => e instanceof BpfError && /can never fit/.test(e.message),
  );
  let reserved = 0;
  while (urb.reserve(4096) !== undefined) reserved++;
  assert.ok(reserved > 0 && reserved < 16, `${reserved} reservations of 4 KiB fit in 64 KiB`);
});

test("RingBuffer refuses a map that is not a ring buffer, naming what reads it", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRing();
  assert.throws(
    () => new RingBuffer(obj.map("pb")),
    (e) => e instanceof BpfError && /"pb" is not a ring buffer.*PerfBuffer/.test(e.message),
  );
  assert.throws(
    () => new UserRingBuffer(obj.map("rb")),
    (e) => e instanceof BpfError && /is not a user ring buffer/.test(e.message),
  );
});
