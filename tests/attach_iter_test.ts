// Attach tests for BPF iterators: iter/task and iter/bpf_map, read to the end.
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { mapCreate } from "../ffi/bpf.ts";
import { attachIter, attachProgram, readIter, readIterBytes } from "../link/mod.ts";
import { loadLikeLibbpf, loadObject } from "./_attach.ts";
import { newFds, openFds, requireKernel } from "./_util.ts";

test("iter/task lists this process with its tgid, pid and comm", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("iter");
  const spec = obj.spec.programs.find((p) => p.name === "dump_task")!;
  using link = attachProgram({ fd: obj.program("dump_task").fd, name: "dump_task", spec })!;
  assert.equal(link.kind, "iter");
  const text = readIter(link);
  const lines = text.split("\n");
  assert.equal(lines[0], "tgid pid comm");
  const mine = lines.filter((l) => l.startsWith(`${process.pid} ${process.pid} `));
  assert.equal(mine.length, 1, `no line for pid ${process.pid}`);
  assert.ok(lines.filter((l) => /^\d+ \d+ /.test(l)).length > 3, "too few tasks");
});

test("iter/bpf_map lists a map made just before, and reading twice gives a fresh run each time", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("iter");
  using map = mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 77, name: "tsbpf_itest" });
  using link = attachIter({ fd: obj.program("dump_bpf_map").fd, name: "dump_bpf_map" });
  const first = readIter(link);
  assert.match(first, /^\d+ tsbpf_itest 77$/m);
  map.close();
  const second = new TextDecoder().decode(readIterBytes(link));
  assert.doesNotMatch(second, /tsbpf_itest/);
});

test("reading an iterator closes every fd it opened", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("iter");
  using link = attachIter({ fd: obj.program("dump_task").fd, name: "dump_task" });
  const fds = openFds();
  for (let i = 0; i < 3; i++) readIter(link);
  assert.deepEqual(newFds(fds), []);
});

test("iter/bpf_map_elem walks the map given to attachIter(), or is refused as libbpf is", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadLikeLibbpf("attach_iter", ["dump_elems"]);
  if (obj === undefined) return;
  const map = obj.map("iter_vals");
  for (const [k, v] of [[0, 5n], [1, 6n], [2, 7n]] as const) {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, k, true);
    const val = new Uint8Array(8);
    new DataView(val.buffer).setBigUint64(0, v, true);
    map.update(key, val);
  }
  using elems = attachIter({ fd: obj.program("dump_elems").fd, name: "dump_elems" }, {
    mapFd: map.fd,
  });
  assert.equal(readIter(elems), "0=5\n1=6\n2=7\n");
});

test("iter/task can be limited to one process, or is refused as libbpf is", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadLikeLibbpf("attach_iter", ["dump_tids"]);
  if (obj === undefined) return;
  using tids = attachIter({ fd: obj.program("dump_tids").fd, name: "dump_tids" }, {
    task: { pid: process.pid },
  });
  const lines = readIter(tids).trim().split("\n");
  assert.ok(lines.length >= 1);
  assert.deepEqual([...new Set(lines)], [String(process.pid)]);
});
