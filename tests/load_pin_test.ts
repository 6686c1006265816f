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
import { mapCreate, mapInfo, objGet, objPin } from "../ffi/bpf.ts";
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
  const PINNED = ["tsbpf_pinned_array", "tsbpf_pinned_hash"];
  const pinnedId = (dir: string, name: string) => {
    using fd = objGet(`${dir}/${name}`);
    return mapInfo(fd).id;
  };
  {
    // libbpf pins, tsbpf reuses: the very maps behind the pins.
    using pins = pinDir();
    const r = oracle(["load", testObject("pinned"), "--pin-root", pins.path]);
    assert.equal(r.code, 0, r.stderr);
    using obj = BpfObject.open(testObject("pinned"), { pinRoot: pins.path });
    obj.load();
    for (const name of PINNED) {
      const m = obj.map(name);
      assert.equal(m.reused, true, name);
      assert.equal(mapInfo(m.fd).id, pinnedId(pins.path, name), name);
    }
  }
  {
    // tsbpf pins, libbpf reuses: the maps libbpf loads with are tsbpf's.
    using pins = pinDir();
    using obj = BpfObject.open(testObject("pinned"), { pinRoot: pins.path });
    obj.load();
    const r = oracle(["load", testObject("pinned"), "--pin-root", pins.path]);
    assert.equal(r.code, 0, r.stderr);
    for (const name of PINNED) {
      const theirs = r.json.maps.find((m: { name: string }) => m.name === name);
      assert.equal(theirs.id, mapInfo(obj.map(name).fd).id, name);
    }
  }
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

/** The fields of the one pinned map of a test object built by {@linkcode pinObject}. */
interface PinDef {
  type: number;
  key?: string;
  value: string;
  maxEntries: number;
  flags: number;
  mapExtra?: number;
}

/** Compiles an object whose only map, `tsbpf_pin_compat`, is pinned by name with `d`'s fields. */
function pinObject(dir: string, name: string, d: PinDef): string {
  return compileBpfC(
    dir,
    name,
    `#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct {
	__uint(type, ${d.type});
	${d.key ? `__type(key, ${d.key});` : ""}
	__type(value, ${d.value});
	__uint(max_entries, ${d.maxEntries});
	__uint(map_flags, ${d.flags});
	${d.mapExtra !== undefined ? `__uint(map_extra, ${d.mapExtra});` : ""}
	__uint(pinning, 1);
} tsbpf_pin_compat SEC(".maps");
char LICENSE[] SEC("license") = "GPL";
`,
  );
}

const HASH: PinDef = {
  type: BpfMapType.BPF_MAP_TYPE_HASH,
  key: "unsigned int",
  value: "unsigned long long",
  maxEntries: 8,
  flags: 0,
};
const BLOOM: PinDef = {
  type: BpfMapType.BPF_MAP_TYPE_BLOOM_FILTER,
  value: "unsigned int",
  maxEntries: 8,
  flags: 0,
  mapExtra: 3,
};
/** A pinned map, then a map of the same name that differs in one field, and the mismatch named. */
const MISMATCHES: { what: string; pinned: PinDef; wanted: PinDef; message: RegExp }[] = [
  {
    what: "type",
    pinned: HASH,
    wanted: { ...HASH, type: BpfMapType.BPF_MAP_TYPE_ARRAY },
    message: /type 1 != 2/,
  },
  {
    what: "key size",
    pinned: HASH,
    wanted: { ...HASH, key: "unsigned long long" },
    message: /key size 4 != 8/,
  },
  {
    what: "value size",
    pinned: HASH,
    wanted: { ...HASH, value: "unsigned int" },
    message: /value size 8 != 4/,
  },
  {
    what: "max entries",
    pinned: HASH,
    wanted: { ...HASH, maxEntries: 16 },
    message: /max entries 8 != 16/,
  },
  {
    what: "map_flags",
    pinned: HASH,
    wanted: { ...HASH, flags: 1 }, // BPF_F_NO_PREALLOC
    message: /flags 0x0 != 0x1/,
  },
  {
    what: "map_extra",
    pinned: BLOOM,
    wanted: { ...BLOOM, mapExtra: 5 },
    message: /map_extra 3 != 5/,
  },
];

for (const { what, pinned, wanted, message } of MISMATCHES) {
  test(`load() refuses a pinned map whose ${what} differs, as libbpf refuses it, and reuses an equal one`, (t) => {
    if (!requireKernel(t)) return;
    withTmpDir("tsbpf-pincompat", (dir) => {
      using pins = pinDir();
      const path = `${pins.path}/tsbpf_pin_compat`;
      const base = pinObject(dir, "base", pinned);
      const other = pinObject(dir, "other", wanted);
      // libbpf pins the base map; its pin outlives the oracle.
      const made = oracle(["load", base, "--pin-root", pins.path]);
      assert.equal(made.code, 0, made.stderr);
      using pin = objGet(path);
      const pinnedId = mapInfo(pin).id;
      // The same definition: libbpf and tsbpf both reuse the pinned map.
      assert.equal(oracle(["load", base, "--pin-root", pins.path]).code, 0);
      {
        using same = BpfObject.open(base, { pinRoot: pins.path });
        same.load();
        const m = same.map("tsbpf_pin_compat");
        assert.equal(m.reused, true);
        assert.equal(mapInfo(m.fd).id, pinnedId);
      }
      // A different one: libbpf refuses to load, and so must tsbpf.
      const theirs = oracle(["load", other, "--pin-root", pins.path]);
      assert.notEqual(theirs.code, 0, `libbpf reused the pinned map despite its ${what}`);
      assert.match(theirs.stderr, /couldn't reuse pinned map/);
      const obj = BpfObject.open(other, { pinRoot: pins.path });
      try {
        assert.throws(() => obj.load(), (e: unknown) => {
          assert.ok(e instanceof BpfError, String(e));
          assert.match(e.message, /Map 'tsbpf_pin_compat'/);
          assert.match(e.message, message);
          return true;
        });
      } finally {
        obj.close();
      }
      // The pinned map is still the one libbpf made.
      using again = objGet(path);
      assert.equal(mapInfo(again).id, pinnedId);
    });
  });
}
