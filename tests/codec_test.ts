import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { BtfBuilder, member } from "../btf/builder.ts";
import { BtfKind } from "../btf/types.ts";
import {
  type Codec,
  CODEC_MAX_VALUES,
  codecByName,
  codecFor,
  type CodecShape,
  codecShape,
} from "../btf/codec.ts";
import { CodecError } from "../errors.ts";
import * as lib from "../mod.ts";
import { open } from "../spec/open.ts";
import { compileBpfC, elfSection, ROOT, skip, testObjects, thrown, withTmpDir } from "./_util.ts";

const ORACLE_DIR = join(ROOT, "tests", "oracle");

interface CLayout {
  size: number;
  align: number;
  bytes: Uint8Array;
  offsets: Map<string, number>;
}

/** Compiles tests/oracle/codec_layout.h twice: with clang for BPF (the BTF), with gcc (C's bytes). */
function oracle(): { btf: Btf; c: CLayout } {
  return withTmpDir("tsbpf-codec", (dir) => {
    const header = readFileSync(join(ORACLE_DIR, "codec_layout.h"), "utf8");
    const obj = compileBpfC(dir, "layout", `${header}\nstruct all g_all;\nunion num g_num;\n`);
    const btf = Btf.parse(elfSection(readFileSync(obj), ".BTF")!);
    const exe = join(dir, "codec_layout");
    const cc = spawnSync("gcc", [
      "-Wall",
      "-o",
      exe,
      join(ORACLE_DIR, "codec_layout.c"),
    ], { encoding: "utf8" });
    assert.equal(cc.status, 0, `gcc failed: ${cc.stderr}`);
    const run = spawnSync(exe, [], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const c: CLayout = { size: 0, align: 0, bytes: new Uint8Array(), offsets: new Map() };
    for (const line of run.stdout.trim().split("\n")) {
      const [what, a, b] = line.split(" ");
      if (what === "size") c.size = Number(a);
      else if (what === "align") c.align = Number(a);
      else if (what === "bytes") {
        c.bytes = Uint8Array.from(a.match(/../g)!.map((h) => parseInt(h, 16)));
      } else if (what === "off") c.offsets.set(a, Number(b));
    }
    return { btf, c };
  });
}

const PI_BITS = 0x40490fdb;
const piF32 = new DataView(new Uint32Array([PI_BITS]).buffer).getFloat32(0, true);

/** The values codec_layout.c writes, as the codec represents them. */
const EXPECTED = {
  u8v: 200,
  s8v: -100,
  u16v: 60000,
  s16v: -30000,
  u32v: 4000000000,
  s32v: -2000000000,
  u64v: 18000000000000000000n,
  s64v: -9000000000000000000n,
  flag: true,
  ch: 65,
  f32: 1.5,
  f64: -2.25,
  ptr: 0x1122334455667788n,
  color: 7,
  big: 0x100000000n,
  neg: -5,
  name: "h\u00e9llo",
  ints: new Int32Array([-1, 2, -3]),
  grid: [new Uint16Array([1, 2, 3]), new Uint16Array([11, 12, 13])],
  names: ["abcd", "xy"],
  in: { a: 0xbeef, b: 0x12, c: 0xdeadbeef },
  ins: [{ a: 1, b: 2, c: 3 }, { a: 4, b: 5, c: 6 }],
  pk: { a: 7, b: 0x01020304, c: 0x0506 },
  bits: {
    a: 5,
    b: -9,
    c: 0xabc,
    d: 0xfedcba9876n,
    e: -4294967296n,
    f: 1,
    g: true,
    h: 0x155,
    en: -5,
  },
  num: { u: PI_BITS, s: PI_BITS, f: piF32, b: new Uint8Array([0xdb, 0x0f, 0x49, 0x40]) },
  anon_u: 0x01020304,
  anon_h: new Uint16Array([0x0304, 0x0102]),
  x: 9,
  y: 10,
  z: 0xf0,
  zs: -16,
  u128: (0x0102030405060708n << 64n) | 0x090a0b0c0d0e0f10n,
  tail: new BigUint64Array(0),
};

type All = typeof EXPECTED;

let cached: { btf: Btf; c: CLayout; all: Codec<All> } | undefined;
function layout(): { btf: Btf; c: CLayout; all: Codec<All> } {
  if (cached === undefined) {
    const o = oracle();
    cached = { ...o, all: codecByName<All>(o.btf, "all") };
  }
  return cached;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

test("a codec has C's size and alignment for struct all", { timeout: 60_000 }, () => {
  const { c, all } = layout();
  assert.equal(all.size, c.size);
  assert.equal(all.align, c.align);
  assert.equal(all.name, "all");
});

test("codecShape puts every member at C's offsetof, anonymous members flattened", () => {
  const { btf, c, all } = layout();
  const sh = codecShape(btf, all.typeId);
  assert.equal(sh.kind, "object");
  if (sh.kind !== "object") return;
  const got = new Map(sh.fields.map((f) => [f.key, f.bitOffset / 8]));
  assert.deepEqual([...got.keys()].sort(), [...c.offsets.keys()].sort());
  for (const [k, off] of c.offsets) assert.equal(got.get(k), off, `offset of ${k}`);
  assert.equal(sh.fields.find((f) => f.key === "zs")?.via, 2);
});

test("decode() of C's bytes gives the values C wrote", () => {
  const { c, all } = layout();
  assert.deepEqual(all.fromBytes(c.bytes), EXPECTED);
});

test("encode() of those values gives C's bytes, byte for byte (padding zeroed)", () => {
  const { c, all } = layout();
  assert.equal(hex(all.toBytes(EXPECTED)), hex(c.bytes));
  // Into a dirty view at an offset: every byte of the range is written, nothing outside it.
  const buf = new Uint8Array(c.size + 16).fill(0xaa);
  all.encode(EXPECTED, new DataView(buf.buffer), 8);
  assert.equal(hex(buf.subarray(8, 8 + c.size)), hex(c.bytes));
  assert.ok(buf.subarray(0, 8).every((x) => x === 0xaa));
  assert.ok(buf.subarray(8 + c.size).every((x) => x === 0xaa));
  assert.deepEqual(all.decode(new DataView(buf.buffer), 8), EXPECTED);
});

test("codecFor is cached per Btf and type id; a VAR decodes as its type under its own name", () => {
  const { btf, all } = layout();
  assert.equal(codecFor(btf, all.typeId), all);
  const v = codecByName<All>(btf, "g_all");
  assert.equal(v.name, "g_all");
  assert.equal(v.size, all.size);
  assert.deepEqual(v.fromBytes(layout().c.bytes), EXPECTED);
});

test("a union value writes its given members in declaration order, the last one winning", () => {
  const { btf } = layout();
  const num = codecByName<Record<string, unknown>>(btf, "num");
  assert.equal(num.size, 4);
  assert.equal(hex(num.toBytes({ u: 0x01020304 })), "04030201");
  assert.equal(hex(num.toBytes({ u: 0x01020304, b: new Uint8Array([9, 9, 9, 9]) })), "09090909");
  // Declaration order decides (u, s, f, b), not the order of the keys in the value.
  assert.equal(hex(num.toBytes({ b: new Uint8Array([9, 9, 9, 9]), s: -1 })), "09090909");
  const e = thrown(() => num.toBytes({ nothing: 1 }));
  assert.ok(e instanceof CodecError);
  assert.equal(e.path, "num");
  assert.match(e.message, /one of its members \(u, s, f, b\)/);
});

test("codecByName refuses an absent or ambiguous name with a CodecError", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const s = b.struct("dup", 4, [member("a", int, 0)]);
  b.union("dup", 4, [member("b", int, 0)]);
  b.typedef("same", s);
  b.struct("same", 4, [member("c", int, 0)]);
  const t = b.struct("one", 4, [member("d", int, 0)]);
  b.typedef("one", t);
  using btf = Btf.parse(b.build());
  const absent = thrown(() => codecByName(btf, "nope"));
  assert.ok(absent instanceof CodecError && /No struct, union/.test(absent.message));
  const amb = thrown(() => codecByName(btf, "dup"));
  assert.ok(amb instanceof CodecError && /ambiguous: struct \d+, union \d+/.test(amb.message));
  assert.ok(thrown(() => codecByName(btf, "same")) instanceof CodecError);
  // typedef struct one one: one type, the struct is taken.
  assert.equal(codecByName(btf, "one").typeId, t);
});

/** Expects `fn` to throw a CodecError with `path`, and a message matching `msg`. */
function codecError(fn: () => unknown, path: string, msg?: RegExp): CodecError {
  const e = thrown(fn);
  assert.ok(e instanceof CodecError, `expected a CodecError, got ${e}`);
  assert.equal(e.path, path);
  if (msg !== undefined) assert.match(e.message, msg);
  return e;
}

function withChange(path: (string | number)[], value: unknown): All {
  const v = structuredClone(EXPECTED) as unknown as Record<string | number, unknown>;
  let o = v;
  for (let i = 0; i < path.length - 1; i++) o = o[path[i]] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
  return v as unknown as All;
}

test("encode() names the field of a wrong shape in the CodecError's path", () => {
  const { all } = layout();
  const enc = (v: All) => all.toBytes(v);
  codecError(() => enc(withChange(["in", "c"], undefined)), "all.in.c", /missing/);
  codecError(() => enc(withChange(["u64v"], 1)), "all.u64v", /bigint/);
  codecError(() => enc(withChange(["u8v"], 256)), "all.u8v", /0 to 255/);
  codecError(() => enc(withChange(["s8v"], -129)), "all.s8v", /-128 to 127/);
  codecError(() => enc(withChange(["u32v"], 1.5)), "all.u32v");
  codecError(() => enc(withChange(["flag"], 1)), "all.flag", /boolean/);
  codecError(() => enc(withChange(["name"], "x".repeat(13))), "all.name", /longer/);
  codecError(() => enc(withChange(["name"], "\u00e9".repeat(7))), "all.name", /14 UTF-8 bytes/);
  codecError(() => enc(withChange(["ints"], new Int32Array(4))), "all.ints", /3 elements/);
  codecError(() => enc(withChange(["ints"], [1, 2, 2 ** 31])), "all.ints[2]");
  codecError(() => enc(withChange(["grid", 1], new Uint16Array(2))), "all.grid[1]");
  codecError(() => enc(withChange(["ins", 1, "c"], -1)), "all.ins[1].c");
  codecError(() => enc(withChange(["ins"], [{ a: 1, b: 2, c: 3 }])), "all.ins", /2 elements/);
  codecError(() => enc(withChange(["names", 0], 5)), "all.names[0]", /string/);
  codecError(() => enc(withChange(["bits", "a"], 8)), "all.bits.a", /0 to 7/);
  codecError(() => enc(withChange(["bits", "b"], -17)), "all.bits.b", /-16 to 15/);
  codecError(() => enc(withChange(["bits", "d"], 1 << 41)), "all.bits.d", /bigint/);
  codecError(() => enc(withChange(["bits", "e"], 1n << 32n)), "all.bits.e");
  codecError(() => enc(withChange(["num"], {})), "all.num", /none is given/);
  codecError(() => enc(withChange(["in"], null)), "all.in", /object/);
  codecError(() => enc(withChange(["ptr"], -1n)), "all.ptr");
  codecError(() => enc(withChange(["tail"], new BigUint64Array(1))), "all.tail");
  // A flattened union needs one of its members; a flattened struct in a union all of them.
  const v = withChange(["anon_u"], undefined) as unknown as Record<string, unknown>;
  delete v.anon_h;
  codecError(() => enc(v as unknown as All), "all", /unnamed union needs one of its members/);
  codecError(() => enc(withChange(["x"], undefined)), "all.x", /missing/);
  // Plain arrays and other typed arrays encode when they fit.
  assert.deepEqual(all.fromBytes(enc(withChange(["ints"], [-1, 2, -3]))), EXPECTED);
  assert.deepEqual(all.fromBytes(enc(withChange(["ints"], new Int8Array([-1, 2, -3])))), EXPECTED);
});

test("decode() and encode() refuse a view too small with a CodecError", () => {
  const { all } = layout();
  codecError(() => all.fromBytes(new Uint8Array(all.size - 1)), "all", /needs 208 bytes/);
  codecError(() => all.decode(new DataView(new ArrayBuffer(300)), 100), "all");
  codecError(() => all.encode(EXPECTED, new DataView(new ArrayBuffer(10))), "all");
  codecError(() => all.decode(new DataView(new ArrayBuffer(300)), -1), "all");
});

test("char arrays decode to the first NUL, replace invalid UTF-8, and fill with zeros", () => {
  const b = new BtfBuilder();
  const char = b.int("char", 1, { signed: true });
  const u8 = b.int("unsigned char", 1);
  const u8t = b.typedef("__u8", u8);
  const cchar = b.const(char);
  const s = b.struct("s", 24, [
    member("a", b.array(char, 8, u8), 0),
    member("b", b.array(u8t, 8, u8), 64),
    member("c", b.array(cchar, 8, u8), 128),
  ]);
  using btf = Btf.parse(b.build());
  const c = codecFor<{ a: string; b: Uint8Array; c: string }>(btf, s);
  const bytes = new Uint8Array(24);
  bytes.set([0x61, 0xff, 0x62, 0, 0x63], 0);
  bytes.set([1, 2, 0, 4], 8);
  bytes.set([0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a], 16);
  const v = c.fromBytes(bytes);
  assert.equal(v.a, "a\ufffdb");
  assert.deepEqual(v.b, new Uint8Array([1, 2, 0, 4, 0, 0, 0, 0]));
  assert.equal(v.c, "zzzzzzzz"); // all eight bytes, no NUL
  const out = c.toBytes(v);
  assert.equal(hex(out.subarray(0, 8)), "61efbfbd62000000");
  assert.equal(hex(out.subarray(8)), hex(bytes.subarray(8)));
  assert.equal(c.fromBytes(out).a, "a\ufffdb");
});

test("members with names that are not identifiers get safe, unique keys", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const inner = b.struct("", 4, [member("x", int, 0)]);
  const s = b.struct("h", 24, [
    member("__proto__", int, 0),
    member("a-b", int, 32),
    member("a_b", int, 64),
    member("1x", int, 96),
    member("x", int, 128),
    member("", inner, 160),
  ]);
  using btf = Btf.parse(b.build());
  const c = codecFor<Record<string, number>>(btf, s);
  const bytes = new Uint8Array(new Int32Array([1, 2, 3, 4, 5, 6]).buffer);
  const v = c.fromBytes(bytes);
  assert.deepEqual(Object.keys(v), ["__proto___", "a_b", "a_b_2", "_1x", "x", "x_2"]);
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.values(v), [1, 2, 3, 4, 5, 6]);
  assert.equal(hex(c.toBytes(v)), hex(bytes));
});

/** Builds BTF and expects codecFor(id) to throw a CodecError quickly, with `msg`. */
function hostile(build: (b: BtfBuilder) => number, msg: RegExp): CodecError {
  const b = new BtfBuilder();
  const id = build(b);
  using btf = Btf.parse(b.build(), { validate: "records" });
  const e = thrown(() => codecFor(btf, id));
  assert.ok(e instanceof CodecError, `expected a CodecError, got ${e}`);
  assert.match(e.message, msg);
  // The failure is remembered, and asked again it gives the same answer.
  const again = thrown(() => codecFor(btf, id));
  assert.ok(again instanceof CodecError && again.message === e.message);
  return e;
}

test("hostile BTF gives a CodecError, not a hang: self-containment, depth, size, loops", () => {
  hostile((b) => {
    const s = b.struct("self", 8);
    b.setMembers(s, [member("me", s, 0)]);
    return s;
  }, /contains itself/);
  hostile((b) => {
    const s = b.struct("self", 8);
    const arr = b.array(s, 2, s);
    b.setMembers(s, [member("me", arr, 0)]);
    return s;
  }, /contains itself/);
  hostile((b) => {
    const int = b.int("int", 4);
    let t = b.struct("s0", 4, [member("v", int, 0)]);
    for (let i = 1; i < 200; i++) t = b.struct(`s${i}`, 4, [member("v", t, 0)]);
    return t;
  }, /nest more than 64/);
  const e = hostile((b) => {
    const int = b.int("int", 4);
    let t = b.struct("s0", 4, [member("v", int, 0)]);
    // Each level holds two of the one below: 2^60 values at the top.
    for (let i = 1; i < 60; i++) {
      t = b.struct(`s${i}`, 4, [member("a", t, 0), member("b", t, 0)]);
    }
    return t;
  }, new RegExp(`more than ${CODEC_MAX_VALUES}`));
  assert.match(e.path, /^s59(\.a)+/);
  hostile((b) => {
    const empty = b.struct("empty", 0);
    const row = b.array(empty, 0xffffffff, empty);
    return b.array(row, 0xffffffff, empty);
  }, /more than/);
  hostile((b) => {
    const int = b.int("int", 4);
    const t1 = b.typedef("a", 3);
    b.typedef("b", t1);
    b.struct("s", 4, [member("v", int, 0)]);
    return b.struct("u", 4, [member("v", t1, 0)]);
  }, /longer than|contains itself|out of range/);
  hostile((b) => {
    const int = b.int("int", 4);
    const fp = b.funcProto(int, []);
    return b.struct("cb", 8, [member("fn", fp, 0)]);
  }, /function prototype/);
  hostile((b) => b.struct("v", 8, [member("nothing", 0, 0)]), /Void has no codec/);
  hostile((b) => {
    const f = b.fwd("later");
    return b.struct("v", 8, [member("f", f, 0)]);
  }, /forward declaration/);
  hostile((b) => {
    const int = b.int("long", 8);
    return b.struct("short", 4, [member("x", int, 0)]);
  }, /does not fit in 4 bytes/);
  hostile((b) => {
    const int = b.int("int", 4);
    return b.struct("bf", 4, [member("x", int, 30, 8)]);
  }, /does not fit/);
  hostile((b) => b.int("int24", 3), /3 bytes has no codec/);
  hostile((b) => b.enum("e", 3, [["A", 1]]), /enum of 3 bytes/);
  // Deeply nested unnamed members.
  hostile((b) => {
    const int = b.int("int", 4);
    let t = b.struct("", 4, [member("v", int, 0)]);
    for (let i = 0; i < 100; i++) t = b.struct("", 4, [member("", t, 0)]);
    return b.struct("top", 4, [member("", t, 0)]);
  }, /nest more than 64/);
  assert.ok(thrown(() => codecFor(layout().btf, 1 << 30)) instanceof CodecError);
});

function hasControl(s: string): boolean {
  return [...s].some((c) =>
    c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f)
  );
}

test("names from the object reach error messages escaped", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  const evil = "ev\u001b[31mil\n\u009b";
  const s = b.struct(evil, 4, [member("x\u001b", int, 0)]);
  const f = b.fwd(`fwd\u001b[2J`);
  const bad = b.struct("bad", 8, [member("f", f, 0)]);
  using btf = Btf.parse(b.build());
  const e = codecError(() => codecFor(btf, s).toBytes({}), `"ev\\u001b[31mil\\u000a\\u009b".x_`);
  assert.ok(!hasControl(e.message), e.message);
  const e2 = thrown(() => codecFor(btf, bad));
  assert.ok(e2 instanceof CodecError);
  assert.match(e2.message, /struct "fwd\\u001b\[2J"/);
  assert.ok(!hasControl(e2.message), e2.message);
});

test("a build error names the member path that leads to it", () => {
  const e = hostile((b) => {
    const int = b.int("int", 4);
    const fp = b.funcProto(int, []);
    const inner = b.struct("inner", 8, [member("ok", int, 0), member("fn", fp, 32)]);
    const arr = b.array(inner, 2, int);
    return b.struct("outer", 16, [member("items", arr, 0)]);
  }, /at outer\.items\[\]\.fn/);
  assert.equal(e.path, "outer.items[].fn");
});

/**
 * Marks the bits whose value survives encode(decode(bytes)), from the shape (module doc), and the
 * bytes of char arrays in `strings`.
 */
function exactBits(
  btf: Btf,
  shape: CodecShape,
  size: number,
  bit: number,
  mask: Uint8Array,
  strings: Uint8Array,
): void {
  const set = (from: number, n: number, on: boolean) => {
    for (let i = from; i < from + n; i++) {
      if (on) mask[i >> 3] |= 1 << (i & 7);
      else mask[i >> 3] &= ~(1 << (i & 7));
    }
  };
  switch (shape.kind) {
    case "number":
    case "bigint":
    case "enum":
    case "typedArray":
    case "bytes":
      set(bit, size * 8, true);
      return;
    case "boolean":
      set(bit, size * 8, false);
      return;
    case "string":
      set(bit, size * 8, false);
      strings.fill(1, bit / 8, bit / 8 + size);
      return;
    case "array": {
      const es = shape.length === 0 ? 0 : size / shape.length;
      for (let i = 0; i < shape.length; i++) {
        exactBits(btf, shape.element, es, bit + i * es * 8, mask, strings);
      }
      return;
    }
    case "object":
      // In declaration order: where union members overlap, the last one decides.
      for (const f of shape.fields) {
        if (f.bitSize > 0) {
          set(bit + f.bitOffset, f.bitSize, f.shape.kind !== "boolean");
        } else {
          const size = btf.resolveSize(f.memberTypeId);
          exactBits(btf, f.shape, size, bit + f.bitOffset, mask, strings);
        }
      }
  }
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s >>> 24;
  };
}

function roundTrip(btf: Btf, id: number, what: string, rnd: () => number): number {
  const c = codecFor(btf, id);
  const mask = new Uint8Array(c.size);
  const strings = new Uint8Array(c.size);
  exactBits(btf, codecShape(btf, id), c.size, 0, mask, strings);
  let exact = 0;
  for (let round = 0; round < 4; round++) {
    // Random bytes, ASCII in char arrays: invalid UTF-8 decodes to U+FFFD, three bytes long, and
    // the string may then not fit back (tested on its own above).
    const bytes = new Uint8Array(c.size).map((_, i) => strings[i] ? rnd() & 0x7f : rnd());
    const out = c.toBytes(c.fromBytes(bytes));
    for (let i = 0; i < c.size; i++) {
      if ((out[i] & mask[i]) !== (bytes[i] & mask[i])) {
        assert.fail(`${what}: byte ${i} changed in encode(decode(x)): ${bytes[i]} to ${out[i]}`);
      }
    }
    // Canonical bytes are a fixed point.
    assert.equal(hex(c.toBytes(c.fromBytes(out))), hex(out), what);
  }
  for (const m of mask) exact += m === 0xff ? 1 : 0;
  return exact;
}

test("every map key and value and every data section variable of the test objects round-trips", () => {
  const rnd = seeded(42);
  let types = 0;
  let exactBytes = 0;
  for (const file of testObjects()) {
    const spec = open(file);
    const btf = spec.btf;
    if (btf === undefined) continue;
    try {
      for (const m of spec.maps) {
        for (const [what, id] of [["key", m.btfKeyTypeId], ["value", m.btfValueTypeId]] as const) {
          if (id === 0) continue;
          const c: Codec = codecFor(btf, id);
          assert.equal(
            c.size,
            what === "key" ? m.keySize : m.valueSize,
            `${file} ${m.name} ${what}`,
          );
          exactBytes += roundTrip(btf, id, `${file} map ${m.name} ${what}`, rnd);
          types++;
        }
      }
      for (const d of spec.datasecs) {
        for (const v of d.vars) {
          if (v.btfTypeId === 0) continue;
          const c: Codec = codecFor(btf, v.btfVarId);
          assert.equal(c.name, v.name);
          assert.equal(c.size, v.size, `${file} ${d.name} ${v.name}`);
          if (d.image.length >= v.offset + v.size) {
            c.decode(
              new DataView(d.image.buffer, d.image.byteOffset, d.image.byteLength),
              v.offset,
            );
          }
          exactBytes += roundTrip(btf, v.btfTypeId, `${file} ${d.name} ${v.name}`, rnd);
          types++;
        }
      }
    } finally {
      btf.close();
    }
  }
  assert.ok(types > 100, `only ${types} types`);
  assert.ok(exactBytes > 1000, `only ${exactBytes} bytes checked exactly`);
});

test("globals.bpf.o's initialized data decodes to the values in its C source", () => {
  const spec = open(join(ROOT, "tests", "bpf", "build", "globals.bpf.o"));
  try {
    const values = (name: string) => {
      const sec = spec.datasecs.find((d) => d.name === name)!;
      const dv = new DataView(sec.image.buffer, sec.image.byteOffset, sec.image.byteLength);
      const got: Record<string, unknown> = {};
      for (const v of sec.vars) got[v.name] = codecFor(spec.btf!, v.btfVarId).decode(dv, v.offset);
      return got;
    };
    const hist = new Uint32Array(8);
    assert.deepEqual(values(".data"), {
      data_counter: 7n,
      data_stats: { calls: 1n, bytes: 0n, last_fd: -1, hist },
      static_data: 12345,
      greeting: "hello, tsbpf",
    });
    assert.deepEqual(values(".rodata"), {
      filter_pid: 0,
      cfg: { target_pid: 0, port: 8080, enabled: 1, tag: "abcd" },
      thresholds: new BigUint64Array([10n, 100n, 1000n, 10000n]),
      static_ro: 0xdeadbeef,
    });
    assert.deepEqual(values(".data.custom"), {
      custom_data_a: 99n,
      custom_data_b: new Uint32Array([1, 2, 3, 4]),
    });
  } finally {
    spec.btf?.close();
  }
});

test("bitfields of every width and shift decode and encode like shifts and masks", () => {
  const rnd = seeded(7);
  for (const signed of [false, true]) {
    for (const size of [1, 2, 4, 8]) {
      const b = new BtfBuilder();
      const int = b.int(`i${size}`, size, { signed });
      const ids: [number, number, number][] = [];
      for (let bits = 1; bits <= size * 8; bits += bits < 10 ? 1 : 7) {
        for (const shift of [0, 1, 3, 7, 8, 13]) {
          ids.push([
            b.struct(`s${bits}_${shift}`, 16, [member("v", int, shift, bits)]),
            bits,
            shift,
          ]);
        }
      }
      using btf = Btf.parse(b.build());
      for (const [id, bits, shift] of ids) {
        const c = codecFor<{ v: number | bigint }>(btf, id);
        const bytes = new Uint8Array(16).map(rnd);
        let raw = 0n;
        for (let i = 15; i >= 0; i--) raw = (raw << 8n) | BigInt(bytes[i]);
        let want = (raw >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
        if (signed) want = BigInt.asIntN(bits, want);
        const v = c.fromBytes(bytes).v;
        assert.equal(typeof v, bits > 32 ? "bigint" : "number", `${bits} bits`);
        assert.equal(BigInt(v), want, `${signed ? "s" : "u"}${size} ${bits} bits at ${shift}`);
        const out = c.toBytes({ v });
        let rawOut = 0n;
        for (let i = 15; i >= 0; i--) rawOut = (rawOut << 8n) | BigInt(out[i]);
        const m = ((1n << BigInt(bits)) - 1n) << BigInt(shift);
        assert.equal(rawOut, raw & m, `${bits} bits at ${shift}: only the field's bits are set`);
      }
    }
  }
});

test("mod.ts exports codecFor, codecByName and CodecError", () => {
  assert.equal(lib.codecFor, codecFor);
  assert.equal(lib.codecByName, codecByName);
  assert.equal(lib.CodecError, CodecError);
  assert.ok(new lib.CodecError("x", { path: "p" }) instanceof lib.BpfError);
});

test(
  "every struct and union of the kernel's BTF has a codec; zeros decode and encode back to zeros",
  {
    timeout: 120_000,
  },
  (t) => {
    if (!existsSync("/sys/kernel/btf/vmlinux")) {
      return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
    }
    const k = Btf.kernel();
    let n = 0;
    for (let id = 1; id < k.typeCount; id++) {
      const kind = k.kind(id);
      if (kind !== BtfKind.Struct && kind !== BtfKind.Union) continue;
      const c = codecFor(k, id);
      const zeros = new Uint8Array(c.size);
      const out = c.toBytes(c.fromBytes(zeros));
      assert.ok(out.every((x) => x === 0), `${k.name(id)} (${id})`);
      n++;
    }
    assert.ok(n > 1000, `only ${n} structs and unions`);
  },
);

test("decode works on a DataView over a SharedArrayBuffer, UTF-8 strings included", () => {
  const { all, c } = layout();
  const sab = new SharedArrayBuffer(c.size);
  new Uint8Array(sab).set(c.bytes);
  assert.deepEqual(all.decode(new DataView(sab)), EXPECTED);
  all.encode(EXPECTED, new DataView(sab));
  assert.equal(hex(new Uint8Array(sab).slice()), hex(c.bytes));
});

test("an unnamed struct in a union counts as given when one of its members is, then needs all", () => {
  const b = new BtfBuilder();
  const u8 = b.int("unsigned char", 1);
  const u32 = b.int("unsigned int", 4);
  const pair = b.struct("", 2, [member("a", u8, 0), member("b", u8, 8)]);
  const u = b.union("reg", 4, [member("", pair, 0), member("w", u32, 0)]);
  using btf = Btf.parse(b.build());
  const c = codecFor<Record<string, number>>(btf, u);
  assert.deepEqual(c.fromBytes(new Uint8Array([1, 2, 3, 4])), { a: 1, b: 2, w: 0x04030201 });
  assert.equal(hex(c.toBytes({ w: 0x04030201 })), "01020304");
  assert.equal(hex(c.toBytes({ a: 9, b: 8 })), "09080000");
  // Both given: the struct first, then w over it (declaration order).
  assert.equal(hex(c.toBytes({ w: 0x04030201, b: 8, a: 9 })), "01020304");
  codecError(() => c.toBytes({ a: 9 }), "reg.b", /missing/);
  codecError(() => c.toBytes({}), "reg", /The union needs one of its members \(a, b, w\)/);
});

test("an object decodes alike through its compiled decoder and, past 256 keys, through the generic loop", () => {
  const b = new BtfBuilder();
  const u8 = b.int("unsigned char", 1);
  const s16 = b.int("short", 2, { signed: true });
  const u32 = b.int("unsigned int", 4);
  const u64 = b.int("unsigned long long", 8);
  const dbl = b.float("double", 8);
  const arr = b.array(u8, 3);
  const small = b.struct("small", 32, [
    member("a", u8, 0),
    member("b", s16, 16),
    member("c", u32, 32),
    member("d", u64, 64),
    member("e", dbl, 128),
    member("f", arr, 192),
  ]);
  const wide = b.struct(
    "wide",
    4 * 300,
    [...Array(300).keys()].map((i) => member(`m${i}`, u32, 32 * i)),
  );
  using btf = Btf.parse(b.build());
  const bytes = new Uint8Array(32);
  const dv = new DataView(bytes.buffer);
  dv.setUint8(0, 200);
  dv.setInt16(2, -3, true);
  dv.setUint32(4, 0xfffffffe, true);
  dv.setBigUint64(8, 1n << 63n, true);
  dv.setFloat64(16, 1.5, true);
  bytes.set([7, 8, 9], 24);
  const v = codecFor<Record<string, unknown>>(btf, small).fromBytes(bytes);
  assert.deepEqual(Object.keys(v), ["a", "b", "c", "d", "e", "f"]);
  assert.deepEqual([v.a, v.b, v.c, v.d, v.e], [200, -3, 0xfffffffe, 1n << 63n, 1.5]);
  assert.equal(v.f, "\x07\x08\x09"); // a char array
  const w = codecFor<Record<string, number>>(btf, wide);
  const wb = new Uint8Array(new Uint32Array([...Array(300).keys()].map((i) => i * 3)).buffer);
  const wv = w.fromBytes(wb);
  assert.equal(Object.keys(wv).length, 300);
  assert.equal(wv.m0, 0);
  assert.equal(wv.m299, 897);
  assert.equal(hex(w.toBytes(wv)), hex(wb));
});
