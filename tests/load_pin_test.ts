// Maps with pinning = LIBBPF_PIN_BY_NAME: pinned under the pin root at load, a compatible pinned map
// is reused (same kernel map, data kept), an incompatible one is refused with a clear error.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import { mapCreate, mapInfo, objPin } from "../ffi/bpf.ts";
import { BpfMapType } from "../ffi/constants.ts";
import { BpfObject } from "../live/object.ts";
import { spawnWaiting } from "./_attach.ts";
import {
  compileBpfC,
  newFds,
  openFds,
  oracle,
  pinDir,
  requireKernel,
  ROOT,
  runtimeCommand,
  testObject,
  u32,
  withTmpDir,
} from "./_util.ts";

test("load() pins maps by name under pinRoot, and a second load reuses them", (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  let firstId: number;
  {
    using a = BpfObject.open(testObject("pinned"), { pinRoot: pins.path });
    a.load();
    assert.deepEqual(readdirSync(pins.path).sort(), ["tsbpf_pinned_array", "tsbpf_pinned_hash"]);
    const m = a.map("tsbpf_pinned_hash");
    assert.equal(m.pinPath, `${pins.path}/tsbpf_pinned_hash`);
    assert.equal(m.reused, false);
    m.update(u32(7), new Uint8Array(new BigUint64Array([99n]).buffer));
    firstId = mapInfo(m.fd).id;
  }
  // The pins outlive the object that made them.
  assert.ok(existsSync(`${pins.path}/tsbpf_pinned_hash`));
  using b = BpfObject.open(testObject("pinned"), { pinRoot: pins.path });
  b.load();
  const m = b.map("tsbpf_pinned_hash");
  assert.equal(m.reused, true);
  assert.equal(mapInfo(m.fd).id, firstId);
  assert.deepEqual(m.lookup(u32(7)), new Uint8Array(new BigUint64Array([99n]).buffer));
  assert.equal(b.map("not_pinned").pinPath, "");
});

test("load() reuses maps that libbpf pinned, as libbpf reuses ours", (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  const r = oracle(["load", testObject("pinned"), "--pin-root", pins.path]);
  assert.equal(r.code, 0, r.stderr);
  using obj = BpfObject.open(testObject("pinned"), { pinRoot: pins.path });
  obj.load();
  assert.equal(obj.map("tsbpf_pinned_array").reused, true);
  assert.equal(obj.map("tsbpf_pinned_hash").reused, true);
});

test("load() refuses an incompatible pinned map with an error naming the map, path and mismatch", (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  // The second pinned map, with max_entries 3 instead of 2: the first one is pinned by then.
  using wrong = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_ARRAY,
    keySize: 4,
    valueSize: 4,
    maxEntries: 3,
  });
  objPin(wrong, `${pins.path}/tsbpf_pinned_array`);
  const obj = BpfObject.open(testObject("pinned"), { pinRoot: pins.path });
  try {
    assert.throws(() => obj.load(), (e: unknown) => {
      assert.ok(e instanceof BpfError);
      assert.match(e.message, /Map 'tsbpf_pinned_array'/);
      assert.match(e.message, new RegExp(`${pins.path}/tsbpf_pinned_array`));
      assert.match(e.message, /max entries 3 != 2/);
      return true;
    });
    // The failed load removed what it pinned itself, and left the foreign pin alone.
    assert.deepEqual(readdirSync(pins.path), ["tsbpf_pinned_array"]);
    assert.equal(obj.state, "failed");
  } finally {
    obj.close();
  }
});

test("load() makes a missing pin directory, and refuses one that is not on a BPF filesystem", (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  const sub = `${pins.path}/made-by-load`;
  {
    using obj = BpfObject.open(testObject("pinned"), { pinRoot: sub });
    obj.load();
    assert.ok(existsSync(`${sub}/tsbpf_pinned_hash`));
  }
  withTmpDir("tsbpf-pin", (tmp) => {
    using obj = BpfObject.open(testObject("pinned"), { pinRoot: tmp });
    assert.throws(() => obj.load(), /is not on a BPF filesystem/);
  });
});

test("load() refuses a map pinned by name whose name would leave the pin root, before making anything", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-pin-escape", (dir) => {
    const obj = compileBpfC(
      dir,
      "escape",
      `#include "common.h"
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} aaaaaaaaaaaaaa SEC(".maps");
SEC("tp/syscalls/sys_enter_getpid")
int touch(void *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&aaaaaaaaaaaaaa, &k);
  if (v) *v = 1;
  return 0;
}
`,
    );
    // Rename the map everywhere (BTF and symbol strings) to a path with the same length.
    const bytes = readFileSync(obj);
    const from = new TextEncoder().encode("aaaaaaaaaaaaaa");
    const to = new TextEncoder().encode("../victim/vmap");
    let renamed = 0;
    for (let i = bytes.indexOf(from[0]); i >= 0; i = bytes.indexOf(from[0], i + 1)) {
      if (from.every((b, k) => bytes[i + k] === b)) {
        bytes.set(to, i);
        renamed++;
      }
    }
    assert.ok(renamed >= 2, "the map's name was not found in the object");
    using pins = pinDir();
    mkdirSync(`${pins.path}/sub`);
    const fds = openFds();
    using o = BpfObject.open(bytes, { pinRoot: `${pins.path}/sub` });
    assert.equal(o.spec.maps.find((m) => m.pinning === 1)?.name, "../victim/vmap");
    assert.throws(
      () => o.load(),
      (e) =>
        e instanceof BpfError && e.message.includes('"../victim/vmap"') &&
        e.message.includes("letters, digits and '_' only"),
    );
    assert.deepEqual(readdirSync(pins.path), ["sub"]);
    assert.deepEqual(readdirSync(`${pins.path}/sub`), []);
    assert.deepEqual(newFds(fds), []);
  });
});

test("two processes loading one object with maps pinned by name at the same moment both succeed and share the maps", async (t) => {
  if (!requireKernel(t)) return;
  using pins = pinDir();
  await withTmpDirAsync("tsbpf-pin-race", async (dir) => {
    const script = join(dir, "race.ts");
    writeFileSync(
      script,
      `import { BpfObject } from "${join(ROOT, "live", "object.ts")}";
       import { mapInfo } from "${join(ROOT, "ffi", "bpf.ts")}";
       const obj = BpfObject.open("${testObject("pinned")}", { pinRoot: "${pins.path}" });
       console.log("ready");
       const buf = new Uint8Array(1);
       const fs = await import("node:fs");
       fs.readSync(0, buf); // wait for go
       obj.load();
       console.log(JSON.stringify([...obj.maps.values()].filter((m) => m.pinPath).map((m) => [m.name, mapInfo(m.fd).id, m.reused]).sort()));
       obj.close();`,
    );
    for (let round = 0; round < 5; round++) {
      for (const f of readdirSync(pins.path)) rmSync(join(pins.path, f));
      const [cmd, args] = runtimeCommand(script);
      const a = await spawnWaiting(cmd, args);
      const b = await spawnWaiting(cmd, args);
      const [ra, rb] = await Promise.all([a.go(), b.go()]);
      assert.equal(ra.code, 0, `round ${round}: first process failed`);
      assert.equal(rb.code, 0, `round ${round}: second process failed`);
      const ma = JSON.parse(ra.stdout.split("\n")[1]) as [string, number, boolean][];
      const mb = JSON.parse(rb.stdout.split("\n")[1]) as [string, number, boolean][];
      // The same kernel maps, each pinned once: one process made it, the other reused it.
      assert.deepEqual(ma.map(([n, id]) => [n, id]), mb.map(([n, id]) => [n, id]));
      for (let i = 0; i < ma.length; i++) assert.notEqual(ma[i][2], mb[i][2], ma[i][0]);
    }
  });
});

async function withTmpDirAsync(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
