import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BpfError, BtfError } from "../errors.ts";
import { Btf, BtfExt, BtfKind } from "../btf/mod.ts";
import { BtfBuilder, member } from "../btf/builder.ts";
import {
  elfSection,
  ROOT,
  run,
  runtimeCommand,
  skip,
  testObject,
  testObjects,
  withTmpDir,
} from "./_util.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const hasVmlinux = existsSync(VMLINUX);

/** A blob with the common C types: int (1), long (2), char (3). */
function basics(): BtfBuilder {
  const b = new BtfBuilder();
  b.int("int", 4, { signed: true });
  b.int("long int", 8, { signed: true });
  b.int("char", 1, { char: true });
  return b;
}

function throwsBtf(fn: () => unknown, check: (e: BtfError) => void = () => {}): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BtfError, `expected a BtfError, got ${caught}`);
  assert.ok(!/Internal error/.test(caught.message), caught.message);
  check(caught);
}

test("parse() decodes every kind of a hand-built blob", () => {
  const b = basics();
  const ptr = b.ptr(1); // 4
  const arr = b.array(3, 16, 1); // 5
  const st = b.struct("pair", 16, [
    member("a", 1, 0),
    member("flags", 1, 32, 3),
    member("p", ptr, 64),
  ]); // 6
  const en = b.enum("color", 4, [["RED", -1], ["BLUE", 2]], { signed: true }); // 7
  const e64 = b.enum64("big", 8, [["HUGE", 0xffffffffffn]]); // 8
  const fwd = b.fwd("later", true); // 9
  const td = b.typedef("pair_t", st); // 10
  const proto = b.funcProto(1, [["x", 1], ["", 0]]); // 11
  const fn = b.func("f", proto, 1); // 12
  const v = b.var("gv", 1, 1); // 13
  const ds = b.datasec(".data", 4, [[v, 0, 4]]); // 14
  const fl = b.float("double", 8); // 15
  const tag = b.declTag("tag", st, 1); // 16
  const tt = b.typeTag("user", 1); // 17
  using btf = Btf.parse(b.build());
  assert.equal(btf.startId, 1);
  assert.equal(btf.typeCount, 18);
  assert.equal(btf.kind(0), BtfKind.Unknown);
  assert.equal(btf.kind(1), BtfKind.Int);
  assert.equal(btf.name(1), "int");
  assert.deepEqual(btf.type(1), {
    id: 1,
    name: "int",
    kind: BtfKind.Int,
    size: 4,
    encoding: 1,
    bitOffset: 0,
    bits: 32,
  });
  assert.deepEqual(btf.type(ptr), { id: ptr, name: "", kind: BtfKind.Ptr, type: 1 });
  assert.deepEqual(btf.type(arr), {
    id: arr,
    name: "",
    kind: BtfKind.Array,
    type: 3,
    indexType: 1,
    nelems: 16,
  });
  assert.deepEqual(btf.type(st), {
    id: st,
    name: "pair",
    kind: BtfKind.Struct,
    size: 16,
    kflag: true,
    members: [
      { name: "a", type: 1, bitOffset: 0, bitSize: 0 },
      { name: "flags", type: 1, bitOffset: 32, bitSize: 3 },
      { name: "p", type: ptr, bitOffset: 64, bitSize: 0 },
    ],
  });
  assert.equal(btf.vlen(st), 3);
  assert.equal(btf.kflag(st), true);
  assert.equal(btf.size(st), 16);
  assert.deepEqual(btf.type(en), {
    id: en,
    name: "color",
    kind: BtfKind.Enum,
    size: 4,
    signed: true,
    values: [{ name: "RED", value: -1n }, { name: "BLUE", value: 2n }],
  });
  const t64 = btf.type(e64);
  assert.ok(t64.kind === BtfKind.Enum64);
  assert.deepEqual(t64.values, [{ name: "HUGE", value: 0xffffffffffn }]);
  assert.deepEqual(btf.type(fwd), { id: fwd, name: "later", kind: BtfKind.Fwd, union: true });
  assert.equal(btf.refType(td), st);
  assert.deepEqual(btf.type(proto), {
    id: proto,
    name: "",
    kind: BtfKind.FuncProto,
    returnType: 1,
    params: [{ name: "x", type: 1 }, { name: "", type: 0 }],
  });
  assert.deepEqual(btf.type(fn), {
    id: fn,
    name: "f",
    kind: BtfKind.Func,
    type: proto,
    linkage: 1,
  });
  assert.deepEqual(btf.type(v), { id: v, name: "gv", kind: BtfKind.Var, type: 1, linkage: 1 });
  assert.deepEqual(btf.type(ds), {
    id: ds,
    name: ".data",
    kind: BtfKind.Datasec,
    size: 4,
    vars: [{ type: v, offset: 0, size: 4 }],
  });
  assert.deepEqual(btf.type(fl), { id: fl, name: "double", kind: BtfKind.Float, size: 8 });
  assert.deepEqual(btf.type(tag), {
    id: tag,
    name: "tag",
    kind: BtfKind.DeclTag,
    type: st,
    componentIdx: 1,
  });
  assert.deepEqual(btf.type(tt), { id: tt, name: "user", kind: BtfKind.TypeTag, type: 1 });
});

test("accessors reject a type id out of range with a BtfError naming it", () => {
  using btf = Btf.parse(basics().build());
  throwsBtf(() => btf.kind(4), (e) => assert.equal(e.typeId, 4));
  throwsBtf(() => btf.type(99), (e) => assert.equal(e.typeId, 99));
  throwsBtf(() => btf.resolveSize(99), (e) => assert.equal(e.typeId, 99));
  throwsBtf(() => btf.str(9999));
});

test("resolveSize() follows typedefs, modifiers and arrays like btf__resolve_size", () => {
  const b = basics();
  const c = b.const(1); // const int (4)
  const v = b.volatile(c); // volatile const int (5)
  const td = b.typedef("vci", v); // 6
  const arr = b.array(td, 10, 1); // 7
  const arr2 = b.array(arr, 3, 1); // 8
  const ptr = b.ptr(arr2); // 9
  const st = b.struct("s", 24, [member("x", 1, 0)]); // 10
  const proto = b.funcProto(0, []); // 11
  const fn = b.func("fn", proto); // 12
  const fwd = b.fwd("opaque"); // 13
  const vr = b.var("v", arr2); // 14
  using btf = Btf.parse(b.build());
  assert.equal(btf.resolveSize(td), 4);
  assert.equal(btf.resolveSize(arr), 40);
  assert.equal(btf.resolveSize(arr2), 120);
  assert.equal(btf.resolveSize(ptr), 8);
  assert.equal(btf.resolveSize(st), 24);
  assert.equal(btf.resolveSize(vr), 120);
  throwsBtf(() => btf.resolveSize(fn), (e) => assert.equal(e.typeId, fn));
  throwsBtf(() => btf.resolveSize(fwd), (e) => assert.equal(e.typeId, fwd));
  throwsBtf(() => btf.resolveSize(0));
});

test("resolveSize() rejects an array whose size overflows 32 bits", () => {
  const b = basics();
  const a = b.array(2, 0x40000000, 1); // 8 * 2^30 = 2^33
  using btf = Btf.parse(b.build());
  throwsBtf(() => btf.resolveSize(a), (e) => assert.match(e.message, /overflows/));
});

test("alignOf() matches btf__align_of for scalars, arrays, packed and padded structs", () => {
  const b = basics();
  const st = b.struct("s", 16, [member("c", 3, 0), member("l", 2, 64)]); // 4: align 8
  const packed = b.struct("p", 5, [member("c", 3, 0), member("i", 1, 8)]); // 5: i misaligned → 1
  const odd = b.struct("o", 6, [member("i", 1, 0)]); // 6: size not a multiple of 4 → 1
  const bf = b.struct("bf", 4, [member("a", 1, 0, 3), member("b", 1, 3, 5)]); // 7: bitfields → 4
  const arr = b.array(2, 3, 1); // 8
  const td = b.typedef("st_t", st); // 9
  const un = b.union("u", 8, [member("c", 3, 0), member("i", 1, 0)]); // 10
  const e = b.enum("e", 4, [["A", 0]]); // 11
  using btf = Btf.parse(b.build());
  assert.equal(btf.alignOf(1), 4);
  assert.equal(btf.alignOf(3), 1);
  assert.equal(btf.alignOf(st), 8);
  assert.equal(btf.alignOf(packed), 1);
  assert.equal(btf.alignOf(odd), 1);
  assert.equal(btf.alignOf(bf), 4);
  assert.equal(btf.alignOf(arr), 8);
  assert.equal(btf.alignOf(td), 8);
  assert.equal(btf.alignOf(un), 4);
  assert.equal(btf.alignOf(e), 4);
  throwsBtf(() => btf.alignOf(0));
});

test("skipModsAndTypedefs() stops at the first type that is not a modifier or typedef", () => {
  const b = basics();
  const c = b.const(1); // 4
  const td = b.typedef("t", c); // 5
  const r = b.restrict(td); // 6
  const tag = b.typeTag("tag", r); // 7
  const p = b.ptr(tag); // 8
  using btf = Btf.parse(b.build());
  assert.equal(btf.skipModsAndTypedefs(tag), 1);
  assert.equal(btf.skipModsAndTypedefs(p), p);
  assert.equal(btf.skipModsAndTypedefs(0), 0);
});

test("a typedef loop makes resolveSize, alignOf and skipModsAndTypedefs throw instead of hanging", () => {
  const b = basics();
  // 4 -> 5 -> 4
  b.typedef("a", 5);
  b.typedef("b", 4);
  const s = b.struct("self", 4, [member("me", 6, 0)]); // 6: contains itself
  using btf = Btf.parse(b.build());
  throwsBtf(() => btf.resolveSize(4), (e) => assert.match(e.message, /loop/));
  throwsBtf(() => btf.skipModsAndTypedefs(4), (e) => assert.match(e.message, /loop/));
  throwsBtf(() => btf.alignOf(4), (e) => assert.match(e.message, /loop/));
  throwsBtf(() => btf.alignOf(s), (e) => assert.match(e.message, /loop/));
});

test("findByName() and findAllByName() filter by kind and return ids in order", () => {
  const b = basics();
  const s1 = b.struct("dup", 4, [member("x", 1, 0)]); // 4
  const t1 = b.typedef("dup", s1); // 5
  const s2 = b.struct("dup", 4, [member("y", 1, 0)]); // 6
  for (let i = 0; i < 200; i++) b.typedef(`filler_${i}`, 1);
  using btf = Btf.parse(b.build());
  assert.equal(btf.findByName("int"), 1);
  assert.equal(btf.findByName("int", BtfKind.Struct), -1);
  assert.equal(btf.findByName("dup"), s1);
  assert.equal(btf.findByName("dup", BtfKind.Typedef), t1);
  assert.deepEqual(btf.findAllByName("dup"), [s1, t1, s2]);
  assert.deepEqual(btf.findAllByName("dup", BtfKind.Struct), [s1, s2]);
  assert.equal(btf.findByName("filler_199"), 206);
  assert.equal(btf.findByName("missing"), -1);
  assert.equal(btf.findByName(""), -1);
  assert.deepEqual(btf.findAllByName("missing"), []);
  assert.equal(btf.findByName("dupx"), -1);
  assert.equal(btf.findByName("du"), -1);
});

test("split BTF continues the base's ids and strings and resolves across both", () => {
  const base = basics();
  const baseBlob = base.build();
  using b = Btf.parse(baseBlob);
  const split = new BtfBuilder({ startId: b.typeCount, strBase: base.strLen });
  const td = split.typedef("myint", 1); // 4
  const st = split.union("int", 8, [member("x", td, 0), member("y", 2, 0)]); // 5 (a union named int)
  const arr = split.array(td, 4, 1); // 6
  using s = Btf.parse(split.build(), { base: b });
  assert.equal(s.base, b);
  assert.equal(s.startId, 4);
  assert.equal(s.typeCount, 7);
  assert.equal(s.name(1), "int");
  assert.equal(s.name(td), "myint");
  assert.equal(s.kind(st), BtfKind.Union);
  assert.equal(s.resolveSize(arr), 16);
  assert.equal(s.alignOf(st), 8);
  assert.equal(s.findByName("int"), 1);
  assert.equal(s.findByName("int", BtfKind.Union), st);
  assert.deepEqual(s.findAllByName("int"), [1, st]);
  assert.equal(s.findByName("myint"), td);
});

test("split BTF rejects references past its own types", () => {
  using b = Btf.parse(basics().build());
  const split = new BtfBuilder({ startId: 4, strBase: 0 });
  split.raw([0, BtfBuilder.info(2, 0), 5]); // ptr to 5, which does not exist (4 is the last)
  throwsBtf(() => Btf.parse(split.build(), { base: b }), (e) => assert.equal(e.typeId, 4));
});

function withHeader(blob: Uint8Array, patch: (dv: DataView) => void): Uint8Array {
  const c = blob.slice();
  patch(new DataView(c.buffer));
  return c;
}

test("parse() rejects a truncated header", () => {
  throwsBtf(
    () => Btf.parse(basics().build().subarray(0, 20)),
    (e) => assert.match(e.message, /header/),
  );
  throwsBtf(() => Btf.parse(new Uint8Array(0)));
});

test("parse() rejects a bad magic, a wrong version and non-zero flags", () => {
  const blob = basics().build();
  throwsBtf(() => Btf.parse(withHeader(blob, (dv) => dv.setUint16(0, 0x1234, true))), (e) => {
    assert.match(e.message, /magic/);
    assert.equal(e.offset, 0);
  });
  throwsBtf(() => Btf.parse(withHeader(blob, (dv) => dv.setUint16(0, 0x9feb, true))), (e) => {
    assert.match(e.message, /Big-endian/);
  });
  throwsBtf(() => Btf.parse(withHeader(blob, (dv) => dv.setUint8(2, 2))), (e) => {
    assert.match(e.message, /version/);
  });
});

test("parse() rejects section offsets and lengths out of range", () => {
  const blob = basics().build();
  throwsBtf(() => Btf.parse(withHeader(blob, (dv) => dv.setUint32(4, 1000, true))));
  throwsBtf(() => Btf.parse(withHeader(blob, (dv) => dv.setUint32(12, 0xfffffff0, true))));
  throwsBtf(() => Btf.parse(withHeader(blob, (dv) => dv.setUint32(20, 0xffffffff, true))));
  throwsBtf(() => Btf.parse(withHeader(blob, (dv) => dv.setUint32(8, 2, true))));
  throwsBtf(() => Btf.parse(blob.subarray(0, blob.length - 1)));
});

test("parse() rejects a string section that is not NUL-terminated or does not start empty", () => {
  const blob = basics().build();
  const last = blob.slice();
  last[last.length - 1] = 0x41;
  throwsBtf(() => Btf.parse(last), (e) => assert.equal(e.offset, blob.length - 1));
  const dv = new DataView(blob.buffer);
  const strStart = 24 + dv.getUint32(16, true);
  const first = blob.slice();
  first[strStart] = 0x41;
  throwsBtf(() => Btf.parse(first), (e) => assert.match(e.message, /empty string/));
});

test("parse() rejects a name offset out of the string section, naming the type", () => {
  const b = basics();
  b.raw([9999, BtfBuilder.info(2, 0), 1]); // 4
  throwsBtf(() => Btf.parse(b.build()), (e) => assert.equal(e.typeId, 4));
  const m = basics();
  m.raw([0, BtfBuilder.info(4, 1), 4, 9999, 1, 0]); // member name out of range
  throwsBtf(() => Btf.parse(m.build()), (e) => {
    assert.equal(e.typeId, 4);
    assert.match(e.message, /member name/);
  });
});

test("parse() rejects references to type ids that do not exist, naming the type", () => {
  const b = basics();
  b.ptr(1);
  b.ptr(77); // 5
  throwsBtf(() => Btf.parse(b.build()), (e) => {
    assert.equal(e.typeId, 5);
    assert.match(e.message, /does not exist/);
  });
  const s = basics();
  s.struct("s", 4, [member("x", 500, 0)]);
  throwsBtf(() => Btf.parse(s.build()), (e) => assert.equal(e.typeId, 4));
  const a = basics();
  a.array(1, 3, 1000);
  throwsBtf(() => Btf.parse(a.build()), (e) => assert.equal(e.typeId, 4));
});

test("parse() rejects an absurd vlen and an unknown kind, naming the type", () => {
  const b = basics();
  b.raw([0, BtfBuilder.info(4, 0xffff), 4, 0, 1, 0]);
  throwsBtf(() => Btf.parse(b.build()), (e) => {
    assert.equal(e.typeId, 4);
    assert.match(e.message, /vlen/);
  });
  const k = basics();
  k.raw([0, BtfBuilder.info(25, 0), 0]);
  throwsBtf(() => Btf.parse(k.build()), (e) => {
    assert.equal(e.typeId, 4);
    assert.match(e.message, /kind/);
  });
  const z = basics();
  z.raw([0, BtfBuilder.info(0, 0), 0]);
  throwsBtf(() => Btf.parse(z.build()), (e) => assert.equal(e.typeId, 4));
  const t = basics().build();
  // Cut the last type record in half: type_len no longer ends on a record.
  throwsBtf(() =>
    Btf.parse(withHeader(t, (dv) => {
      dv.setUint32(12, dv.getUint32(12, true) - 8, true);
    }))
  );
});

test("random corruption of a blob gives a BtfError or a valid Btf, never a trap", () => {
  const b = basics();
  const st = b.struct("s", 16, [member("a", 1, 0), member("b", 2, 64)]);
  b.typedef("s_t", st);
  b.array(st, 4, 1);
  b.enum64("e", 8, [["X", 5n]]);
  b.funcProto(1, [["p", 2]]);
  const blob = b.build();
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let errors = 0;
  for (let i = 0; i < 400; i++) {
    const c = blob.slice(0, i % 7 === 0 ? rnd(blob.length) : blob.length);
    for (let j = 0; j < 1 + rnd(4); j++) if (c.length > 0) c[rnd(c.length)] = rnd(256);
    try {
      using btf = Btf.parse(c);
      for (let id = 1; id < btf.typeCount; id++) {
        btf.type(id);
        for (const f of [() => btf.resolveSize(id), () => btf.alignOf(id)]) {
          try {
            f();
          } catch (e) {
            assert.ok(e instanceof BtfError, String(e));
          }
        }
      }
    } catch (e) {
      assert.ok(e instanceof BtfError, String(e));
      assert.ok(!/Internal error/.test((e as Error).message), (e as Error).message);
      errors++;
    }
  }
  assert.ok(errors > 0);
});

test("close() twice is safe and a closed Btf refuses further use", () => {
  const btf = Btf.parse(basics().build());
  btf.close();
  btf.close();
  assert.throws(() => btf.resolveSize(1), BpfError);
  assert.throws(() => btf.kind(1), BpfError);
  assert.throws(() => btf.rawBytes(), BpfError);
});

test("rawBytes() returns the blob, and parsing it again gives the same types", () => {
  const blob = basics().build();
  using btf = Btf.parse(blob);
  assert.deepEqual(btf.rawBytes(), blob);
  assert.deepEqual(btf.header(), {
    version: 1,
    flags: 0,
    hdrLen: 24,
    typeOff: 0,
    typeLen: blob.length - 24 - 19,
    strOff: blob.length - 24 - 19,
    strLen: 19,
  });
});

test("load() reports an unreadable file and a file that is not BTF, naming it", () => {
  withTmpDir("tsbpf-btf", (dir) => {
    assert.throws(() => Btf.load(join(dir, "missing")), (e: unknown) => {
      assert.ok(e instanceof BpfError);
      assert.match((e as Error).message, /missing/);
      return true;
    });
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, "hello world, this is not BTF at all");
    throwsBtf(() => Btf.load(junk), (e) => {
      assert.match(e.message, /junk\.bin/);
      assert.match(e.message, /magic/);
    });
  });
});

test("load() of a BPF object reads its .BTF section", () => {
  const file = testObject("maps");
  using a = Btf.load(file);
  const sec = elfSection(readFileSync(file), ".BTF")!;
  using b = Btf.parse(sec);
  assert.equal(a.typeCount, b.typeCount);
  assert.deepEqual(a.rawBytes(), sec);
});

test("Btf.kernel() is parsed once and finds task_struct with its size and alignment", (t) => {
  if (!hasVmlinux) return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  const k = Btf.kernel();
  assert.equal(Btf.kernel(), k);
  const id = k.findByName("task_struct", BtfKind.Struct);
  assert.deepEqual([k.name(id), k.kind(id)], ["task_struct", BtfKind.Struct]);
  assert.equal(k.resolveSize(id), k.size(id));
  assert.ok(k.size(id) > 1000, `task_struct is ${k.size(id)} bytes`);
  // Two pointers: 8-byte aligned on a 64-bit kernel.
  assert.equal(k.alignOf(k.findByName("list_head", BtfKind.Struct)), 8);
  assert.ok(k.typeCount > 1000);
  const pid = k.findByName("pid_t", BtfKind.Typedef);
  assert.deepEqual([k.name(pid), k.kind(pid)], ["pid_t", BtfKind.Typedef]);
  assert.equal(k.resolveSize(pid), 4);
});

test("Btf.kernelModule() splits a module's BTF over vmlinux", (t) => {
  const mods = existsSync("/sys/kernel/btf")
    ? readdirSync("/sys/kernel/btf").filter((n) => n !== "vmlinux")
    : [];
  if (mods.length === 0) return skip(t, "This kernel has no module BTF (no modules loaded)");
  using m = Btf.kernelModule(mods[0]);
  assert.equal(m.startId, Btf.kernel().typeCount);
  assert.equal(m.name(1), Btf.kernel().name(1));
});

const LAYOUT_C = `
#include <bpf/btf.h>
#include <stdio.h>
int main(int argc, char **argv) {
  struct btf *btf = btf__parse(argv[1], NULL);
  if (!btf) return 1;
  int n = btf__type_cnt(btf);
  for (int id = 1; id < n; id++) {
    const struct btf_type *t = btf__type_by_id(btf, id);
    int k = btf_kind(t);
    if (k == BTF_KIND_FUNC || k == BTF_KIND_FUNC_PROTO || k == BTF_KIND_FWD || k == BTF_KIND_DATASEC ||
        k == BTF_KIND_VAR || k == BTF_KIND_DECL_TAG) continue;
    const char *nm = btf__name_by_offset(btf, t->name_off);
    long long sz = btf__resolve_size(btf, id);
    int al = btf__align_of(btf, id);
    printf("%d ", id);
    if (sz < 0) printf("E "); else printf("%lld ", sz);
    if (al <= 0) printf("E "); else printf("%d ", al);
    printf("%d\\n", nm[0] ? btf__find_by_name_kind(btf, nm, k) : -2);
  }
  return 0;
}
`;

test("resolveSize(), alignOf() and findByName() agree with libbpf on every vmlinux type", (t) => {
  if (!hasVmlinux) return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  withTmpDir("tsbpf-btf", (dir) => {
    writeFileSync(join(dir, "layout.c"), LAYOUT_C);
    execFileSync("gcc", ["-O1", "-o", join(dir, "layout"), join(dir, "layout.c"), "-lbpf"]);
    const want = execFileSync(join(dir, "layout"), [VMLINUX], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const k = Btf.kernel();
    const got: string[] = [];
    for (let id = 1; id < k.typeCount; id++) {
      const kind = k.kind(id);
      if (
        kind === BtfKind.Func || kind === BtfKind.FuncProto || kind === BtfKind.Fwd ||
        kind === BtfKind.Datasec || kind === BtfKind.Var || kind === BtfKind.DeclTag
      ) continue;
      const name = k.name(id);
      const orE = (f: () => number) => {
        try {
          return String(f());
        } catch (e) {
          assert.ok(e instanceof BtfError);
          return "E";
        }
      };
      const found = name === "" ? -2 : k.findByName(name, kind);
      got.push(`${id} ${orE(() => k.resolveSize(id))} ${orE(() => k.alignOf(id))} ${found}`);
    }
    const wantLines = want.trimEnd().split("\n");
    const gotLines = got;
    assert.equal(gotLines.length, wantLines.length);
    for (let i = 0; i < gotLines.length; i++) assert.equal(gotLines[i], wantLines[i]);
  });
});

test("BtfExt.parse() decodes func_info, line_info and CO-RE relocations of each test object", () => {
  let sawCore = false;
  for (const file of testObjects()) {
    const bytes = readFileSync(file);
    const btfBytes = elfSection(bytes, ".BTF");
    const extBytes = elfSection(bytes, ".BTF.ext");
    if (btfBytes === undefined || extBytes === undefined) continue;
    using btf = Btf.parse(btfBytes);
    const ext = BtfExt.parse(extBytes, btf);
    assert.ok(ext.funcInfo.size > 0, file);
    for (const [sec, list] of ext.funcInfo) {
      assert.ok(sec.length > 0);
      for (const f of list) {
        assert.equal(btf.kind(f.typeId), BtfKind.Func, `${file} ${sec}`);
        assert.equal(f.insnOff % 8, 0);
      }
    }
    for (const [, list] of ext.lineInfo) {
      for (const l of list) {
        assert.match(btf.str(l.fileNameOff), /\.(c|h)$/);
        assert.ok(l.line > 0);
      }
    }
    for (const [, list] of ext.coreRelos) {
      sawCore = true;
      for (const r of list) {
        assert.match(r.accessStr, /^\d+(:\d+)*$/);
        assert.ok(r.kind >= 0 && r.kind <= 13);
        assert.ok(r.typeId > 0 && r.typeId < btf.typeCount);
      }
    }
  }
  assert.ok(sawCore, "no test object has CO-RE relocations");
});

test("BtfExt.parse() decodes every func_info, line_info and CO-RE record of core.bpf.o as written", () => {
  const bytes = readFileSync(testObject("core"));
  using btf = Btf.parse(elfSection(bytes, ".BTF")!);
  const ext = BtfExt.parse(elfSection(bytes, ".BTF.ext")!, btf);
  assert.deepEqual(ext.recordSizes, { func: 8, line: 16, core: 16 });
  const relos = [...ext.coreRelos.values()].flat();
  assert.ok(relos.length > 0);
  // Every relocation's root type is a struct, union, typedef, enum or int in the object's BTF.
  for (const r of relos) assert.ok(btf.kind(r.typeId) !== BtfKind.Unknown);
  // Every record equals the words of the section, read here straight from the bytes as
  // include/uapi/linux/btf.h and libbpf's btf.h lay them out.
  const raw = elfSection(bytes, ".BTF.ext")!;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const hdrLen = dv.getUint32(4, true);
  const area = (k: number) => {
    const off = hdrLen + dv.getUint32(8 + 8 * k, true);
    const end = off + dv.getUint32(12 + 8 * k, true);
    const recSize = dv.getUint32(off, true);
    const out = new Map<string, number[][]>();
    for (let p = off + 4; p < end;) {
      const name = btf.str(dv.getUint32(p, true));
      const n = dv.getUint32(p + 4, true);
      p += 8;
      const recs: number[][] = [];
      for (let i = 0; i < n; i++, p += recSize) {
        recs.push(Array.from({ length: recSize / 4 }, (_, w) => dv.getUint32(p + 4 * w, true)));
      }
      out.set(name, recs);
    }
    return out;
  };
  const asMap = <T>(m: Map<string, T[]>, f: (r: T) => unknown[]) =>
    new Map([...m].map(([k, v]) => [k, v.map(f)]));
  assert.deepEqual(asMap(ext.funcInfo, (r) => [r.insnOff, r.typeId]), area(0));
  assert.deepEqual(
    asMap(ext.lineInfo, (r) => [r.insnOff, r.fileNameOff, r.lineOff, (r.line << 10) | r.col]),
    area(1),
  );
  assert.deepEqual(
    asMap(ext.coreRelos, (r) => [r.insnOff, r.typeId, r.accessStrOff, r.kind]),
    area(2),
  );
  for (const r of relos) assert.equal(r.accessStr, btf.str(r.accessStrOff));
  // Line numbers start at 1, and clang gives statements a column.
  const lines = [...ext.lineInfo.values()].flat();
  assert.ok(lines.some((l) => l.col > 0) && lines.every((l) => l.line > 0));
});

function extBlob(parts: { func?: number[]; line?: number[]; core?: number[] }): Uint8Array {
  const areas = [parts.func ?? [], parts.line ?? [], parts.core ?? []];
  const hdr = 32;
  const words: number[] = [];
  const offs: [number, number][] = [];
  for (const a of areas) {
    offs.push([words.length * 4, a.length * 4]);
    words.push(...a);
  }
  const out = new Uint8Array(hdr + words.length * 4);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, true);
  dv.setUint8(2, 1);
  dv.setUint32(4, hdr, true);
  offs.forEach(([o, l], i) => {
    dv.setUint32(8 + 8 * i, o, true);
    dv.setUint32(12 + 8 * i, l, true);
  });
  words.forEach((w, i) => dv.setUint32(hdr + 4 * i, w >>> 0, true));
  return out;
}

test("BtfExt.parse() decodes a hand-built blob and rejects broken ones", () => {
  const b = basics();
  const proto = b.funcProto(1, []);
  const fn = b.func("f", proto); // 5
  const sec = b.str("xdp");
  const file = b.str("a.c");
  const acc = b.str("0:1");
  using btf = Btf.parse(b.build());
  const good = extBlob({
    func: [8, sec, 1, 0, fn],
    // line_col: the line in the high 22 bits, the column in the low 10 (up to 1023).
    line: [16, sec, 2, 0, file, file, (7 << 10) | 3, 8, file, file, (0x3fffff << 10) | 1000],
    core: [16, sec, 1, 16, 1, acc, 0],
  });
  const ext = BtfExt.parse(good, btf);
  assert.deepEqual(ext.funcInfo.get("xdp"), [{ insnOff: 0, typeId: fn }]);
  assert.deepEqual(ext.lineInfo.get("xdp"), [
    { insnOff: 0, fileNameOff: file, lineOff: file, line: 7, col: 3 },
    { insnOff: 8, fileNameOff: file, lineOff: file, line: 0x3fffff, col: 1000 },
  ]);
  assert.deepEqual(ext.coreRelos.get("xdp"), [{
    insnOff: 16,
    typeId: 1,
    accessStr: "0:1",
    accessStrOff: acc,
    kind: 0,
  }]);

  throwsBtf(() => BtfExt.parse(good.subarray(0, 6), btf));
  const badMagic = good.slice();
  badMagic[0] = 0;
  throwsBtf(() => BtfExt.parse(badMagic, btf), (e) => assert.match(e.message, /magic/));
  throwsBtf(() => BtfExt.parse(extBlob({ func: [4, sec, 1, 0] }), btf), (e) => {
    assert.match(e.message, /record size/);
  });
  throwsBtf(() => BtfExt.parse(extBlob({ func: [8, sec, 0] }), btf), (e) => {
    assert.match(e.message, /no records/);
  });
  throwsBtf(() => BtfExt.parse(extBlob({ func: [8, sec, 1000, 0, fn] }), btf), (e) => {
    assert.match(e.message, /past the end/);
  });
  throwsBtf(() => BtfExt.parse(extBlob({ func: [8, 5000, 1, 0, fn] }), btf), (e) => {
    assert.match(e.message, /section name/);
  });
  throwsBtf(() => BtfExt.parse(extBlob({ func: [8, sec, 1, 0, 99] }), btf), (e) => {
    assert.match(e.message, /type id/);
  });
  throwsBtf(() => BtfExt.parse(extBlob({ core: [16, sec, 1, 0, 1, 7777, 0] }), btf), (e) => {
    assert.match(e.message, /access string/);
  });
});

test('validate: "records" skips member checks, and a bad member id or name still throws when used', () => {
  const b = basics();
  const st = b.raw([b.str("s"), BtfBuilder.info(4, 2), 8, 0, 900, 0, 7777, 1, 32]); // 4
  const blob = b.build();
  throwsBtf(() => Btf.parse(blob), (e) => assert.equal(e.typeId, st));
  using btf = Btf.parse(blob, { validate: "records" });
  assert.equal(btf.kind(st), BtfKind.Struct);
  throwsBtf(() => btf.alignOf(st), (e) => assert.equal(e.typeId, 900));
  throwsBtf(() => btf.type(st), (e) => assert.equal(e.offset, 7777));
  // Type-level references are still checked.
  const p = basics();
  p.ptr(50);
  throwsBtf(() => Btf.parse(p.build(), { validate: "records" }), (e) => assert.equal(e.typeId, 4));
});

test("names outside ASCII are decoded as UTF-8 and found by name", () => {
  const b = basics();
  const td = b.typedef("café_t", 1);
  const plain = b.typedef("plain", 1);
  using btf = Btf.parse(b.build());
  assert.equal(btf.name(td), "café_t");
  assert.equal(btf.name(plain), "plain");
  assert.equal(btf.findByName("café_t"), td);
});

test("a name repeated by 300k types is indexed and found in O(N log N): crafted BTF cannot stall lookups", () => {
  // A child process with a cap: the old probing index needed about a minute for this blob.
  const script = `
    import { Btf, BtfBuilder, BtfKind } from "${join(ROOT, "btf", "mod.ts")}";
    const N = 300000;
    const b = new BtfBuilder();
    const int = b.int("int", 4, { signed: true });
    for (let i = 0; i < N; i++) b.typedef("same", int);
    const last = b.struct("same", 4, [{ name: "x", type: int, bitOffset: 0 }]);
    using btf = Btf.parse(b.build());
    const found = [
      btf.findByName("same", BtfKind.Struct) === last,
      btf.findByName("same") === int + 1,
      btf.findByName("same", BtfKind.Union) === -1,
      btf.findAllByName("same").length === N + 1,
      btf.findAllByName("same", BtfKind.Typedef).every((id, i) => id === int + 1 + i),
    ];
    for (let i = 0; i < 1000; i++) btf.findByName("same", BtfKind.Struct);
    console.log(JSON.stringify(found));
  `;
  const r = withTmpDir("tsbpf-btf-names", (dir) => {
    const file = join(dir, "names.ts");
    writeFileSync(file, script);
    const [cmd, args] = runtimeCommand(file);
    return run(cmd, args, { timeoutMs: 60_000 });
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "[true,true,true,true,true]");
});
