// Ring buffer lifecycles on the real kernel (live/ringbuf.ts): close() unmaps the ring, a process
// that leaves while a wait is pending is not held by it, leaving an async iteration ends its wait
// and keeps the manager; per-ring drain loops (compiled once per ring) and the shared one agree.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { RingBuffer } from "../live/ringbuf.ts";
import { useSharedDrain } from "../live/_ring_drain.ts";
import { loadRingObject, produce } from "./_attach.ts";
import { requireKernel, ROOT, run, runtimeCommand, testObject, withTmpDir } from "./_util.ts";

/** The address ranges of this process's mappings of BPF maps. */
function mapMappings(): Set<string> {
  return new Set(
    readFileSync("/proc/self/maps", "utf8").split("\n")
      .filter((l) => l.includes("bpf-map"))
      .map((l) => l.split(" ")[0]),
  );
}

const added = (before: Set<string>, after: Set<string>) => [...after].filter((r) => !before.has(r));

test("close() unmaps a ring: its mappings leave /proc/self/maps, also when close() ends a pending wait", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRingObject();
  for (const pending of [false, true]) {
    const before = mapMappings();
    const rb = new RingBuffer(obj.map("rb"), () => {});
    const mine = added(before, mapMappings());
    assert.equal(mine.length, 2, "the consumer page and the data pages are mapped");
    if (pending) {
      const wait = rb.wait(20_000);
      rb.close();
      assert.equal(await wait, 0);
    } else {
      rb.close();
    }
    const left = mapMappings();
    assert.deepEqual(
      mine.filter((r) => left.has(r)),
      [],
      `still mapped (pending wait: ${pending})`,
    );
    rb.close(); // twice is fine
  }
});

test("a process that ends (process.exit, no close()) while a ring buffer wait is pending is not held by it, on this runtime", (t) => {
  if (!requireKernel(t)) return;
  const r = withTmpDir("tsbpf-rb-leave", (dir) => {
    const file = join(dir, "leave.ts");
    writeFileSync(
      file,
      `import process from "node:process";
       import { BpfObject, RingBuffer } from "${join(ROOT, "mod.ts")}";
       const obj = BpfObject.open("${testObject("ringbuf")}");
       obj.load();
       const rb = new RingBuffer(obj.map("rb"), () => {});
       setTimeout(() => {
         console.log("leaving");
         process.exit(3);
       }, 100);
       await rb.wait(-1);
       console.log("the wait ended");`,
    );
    const [cmd, args] = runtimeCommand(file);
    return run(cmd, args, { timeoutMs: 60_000 });
  });
  // Held by the wait, the process would run until the 60 s kill (code 137).
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout.trim(), "leaving");
});

test("leaving a for await loop keeps the manager open and usable; records that come later wait for the next loop", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRingObject();
  using rb = new RingBuffer(obj.map("rb"));
  const seq = (rec: Uint8Array) => new DataView(rec.buffer, rec.byteOffset).getUint32(0, true);
  produce(obj, 3, 1, 0, 10);
  const first: number[] = [];
  for await (const rec of rb) {
    first.push(seq(rec));
    if (first.length === 2) break;
  }
  assert.deepEqual(first, [10, 11]);
  assert.equal(rb.closed, false);
  produce(obj, 2, 1, 0, 13);
  const second: number[] = [];
  for await (const rec of rb) {
    second.push(seq(rec));
    if (second.length === 3) break;
  }
  assert.deepEqual(second, [12, 13, 14]);
});

test("the iterator's return() ends the wait its pending next() is in at once; the manager stays usable", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadRingObject();
  using rb = new RingBuffer(obj.map("rb"));
  const it = rb[Symbol.asyncIterator]();
  const next = it.next(); // no records: it waits
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(await it.return!(), { done: true, value: undefined });
  assert.deepEqual(await next, { done: true, value: undefined });
  // The wait has ended: a new one may start (a pending one would make wait() throw).
  assert.equal(await rb.wait(0), 0);
  assert.equal(rb.closed, false);
  produce(obj, 2, 1, 0, 0);
  assert.equal(await rb.wait(5_000), 2);
  const again: number[] = [];
  for await (const rec of rb) {
    again.push(new DataView(rec.buffer, rec.byteOffset).getUint32(0, true));
    if (again.length === 2) break;
  }
  assert.deepEqual(again, [0, 1]);
});

test("several rings with different callbacks drain the same records through per-ring loops and through the shared loop", (t) => {
  if (!requireKernel(t)) return;
  const results: string[] = [];
  for (const shared of [false, true]) {
    useSharedDrain(shared);
    try {
      using a = loadRingObject();
      using b = loadRingObject();
      const sums = new Float64Array(1);
      const ints = new Int32Array(1);
      const sizes: number[] = [];
      using rb = new RingBuffer()
        .add(a.map("rb"), (view, offset) => {
          sums[0] += view.getUint32(offset, true);
        })
        .add(b.map("rb"), (view, offset, size) => {
          ints[0] = (ints[0] + view.getInt32(offset, true)) | 0;
          sizes.push(size);
          return ints[0] > 1_000_000 ? -1 : undefined;
        });
      let total = 0;
      for (let round = 0; round < 5; round++) {
        produce(a, 1000, 3, 7, round * 1000);
        produce(b, 1000, 2, 5, round * 1000);
        total += rb.consume();
      }
      assert.ok(total > 0);
      results.push(JSON.stringify({ total, sum: sums[0], int: ints[0], sizes }));
    } finally {
      useSharedDrain(false);
    }
  }
  assert.equal(results[0], results[1]);
});
