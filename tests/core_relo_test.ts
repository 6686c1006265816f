// CO-RE relocation in pure mode: hand-built local and target BTF, one instruction, one relocation,
// and the instruction libbpf 1.1 would produce.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { RelocationError } from "../errors.ts";
import { applyCoreRelocations, type CoreRelo } from "../reloc/mod.ts";
import { open } from "../spec/open.ts";
import { BtfBuilder, member } from "../btf/builder.ts";
import { ROOT, run, runtimeCommand, skip, testObject, withTmpDir } from "./_util.ts";

const K = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
};
const POISON = 0xbad2310;

interface Insn {
  code: number;
  dst?: number;
  src?: number;
  off?: number;
  imm?: number;
}

function encode(insns: Insn[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  const dv = new DataView(out.buffer);
  insns.forEach((i, k) => {
    dv.setUint8(k * 8, i.code);
    dv.setUint8(k * 8 + 1, ((i.src ?? 0) << 4) | (i.dst ?? 0));
    dv.setInt16(k * 8 + 2, i.off ?? 0, true);
    dv.setInt32(k * 8 + 4, i.imm ?? 0, true);
  });
  return out;
}

function decode(bytes: Uint8Array): Required<Insn>[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Required<Insn>[] = [];
  for (let o = 0; o < bytes.length; o += 8) {
    out.push({
      code: dv.getUint8(o),
      dst: dv.getUint8(o + 1) & 15,
      src: dv.getUint8(o + 1) >> 4,
      off: dv.getInt16(o + 2, true),
      imm: dv.getInt32(o + 4, true),
    });
  }
  return out;
}

const MOV64_IMM = 0xb7; // r = imm
const LDX_W = 0x61;
const LDX_DW = 0x79;
const LD_IMM64 = 0x18;

/** Relocates `insns` with one relocation on instruction 0. */
function relocate(
  local: BtfBuilder,
  target: BtfBuilder,
  insns: Insn[],
  relo: Omit<CoreRelo, "insnOff">,
): { insns: Required<Insn>[]; poisoned: number[] } {
  using l = Btf.parse(local.build());
  using t = Btf.parse(target.build());
  const r = applyCoreRelocations(l, t, encode(insns), [{ insnOff: 0, ...relo }]);
  return { insns: decode(r.insns), poisoned: r.poisoned };
}

/** int, and struct s { int a; int b; } locally; target has a leading long. */
function pair() {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("s", 8, [member("a", li, 0), member("b", li, 32)]);
  const target = new BtfBuilder();
  const ti = target.int("int", 4, { signed: true });
  const tl = target.int("long", 8, { signed: true });
  const ts = target.struct("s", 16, [member("x", tl, 0), member("a", ti, 64), member("b", ti, 96)]);
  return { local, target, ls, ts, li };
}

test("FIELD_BYTE_OFFSET moves a load's offset to where the target has the field", () => {
  const { local, target, ls } = pair();
  const r = relocate(local, target, [{ code: LDX_W, dst: 1, src: 2, off: 4 }], {
    typeId: ls,
    accessStr: "0:1",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].off, 12);
  assert.equal(r.insns[0].code, LDX_W);
  assert.deepEqual(r.poisoned, []);
});

test("FIELD_BYTE_OFFSET patches an ALU immediate (r += off)", () => {
  const { local, target, ls } = pair();
  const r = relocate(local, target, [{ code: 0x07, dst: 1, imm: 4 }], {
    typeId: ls,
    accessStr: "0:1",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].imm, 12);
});

test("a ___flavor local type matches the target type of its essential name", () => {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("s___v2", 4, [member("b", li, 0)]);
  const { target } = pair();
  const r = relocate(local, target, [{ code: LDX_W, off: 0 }], {
    typeId: ls,
    accessStr: "0:0",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].off, 12);
});

test("a field the target lacks poisons the instruction with call 0xbad2310", () => {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("s", 8, [member("a", li, 0), member("gone", li, 32)]);
  const { target } = pair();
  const r = relocate(local, target, [{ code: LDX_W, dst: 3, src: 4, off: 4 }], {
    typeId: ls,
    accessStr: "0:1",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.deepEqual(r.insns[0], { code: 0x85, dst: 0, src: 0, off: 0, imm: POISON });
  assert.deepEqual(r.poisoned, [0]);
});

test("a poisoned ld_imm64 poisons both of its halves", () => {
  const local = new BtfBuilder();
  const le = local.enum("e", 4, [["GONE", 7]]);
  const target = new BtfBuilder();
  target.enum("e", 4, [["HERE", 1]]);
  const r = relocate(local, target, [{ code: LD_IMM64, dst: 1, imm: 7 }, { code: 0 }], {
    typeId: le,
    accessStr: "0",
    kind: K.ENUMVAL_VALUE,
  });
  assert.deepEqual(r.insns[0], { code: 0x85, dst: 0, src: 0, off: 0, imm: POISON });
  assert.deepEqual(r.insns[1], { code: 0x85, dst: 0, src: 0, off: 0, imm: POISON });
});

test("FIELD_EXISTS is 1 for a present field and 0 for a missing one", () => {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("s", 8, [member("a", li, 0), member("gone", li, 32)]);
  const { target } = pair();
  const here = relocate(local, target, [{ code: MOV64_IMM, imm: 1 }], {
    typeId: ls,
    accessStr: "0:0",
    kind: K.FIELD_EXISTS,
  });
  assert.equal(here.insns[0].imm, 1);
  const gone = relocate(local, target, [{ code: MOV64_IMM, imm: 1 }], {
    typeId: ls,
    accessStr: "0:1",
    kind: K.FIELD_EXISTS,
  });
  assert.equal(gone.insns[0].imm, 0);
  assert.deepEqual(gone.poisoned, []);
});

test("a field found through the target's anonymous union gets its nested offset", () => {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("s", 8, [member("a", li, 0), member("b", li, 32)]);
  const target = new BtfBuilder();
  const ti = target.int("int", 4, { signed: true });
  const inner = target.struct("", 8, [member("z", ti, 0), member("b", ti, 32)]);
  const un = target.union("", 8, [member("w", ti, 0), member("", inner, 0)]);
  target.struct("s", 24, [member("a", ti, 0), member("", un, 64)]);
  const r = relocate(local, target, [{ code: LDX_W, off: 4 }], {
    typeId: ls,
    accessStr: "0:1",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].off, 12);
});

test("an array element access relocates by the target's array position", () => {
  const local = new BtfBuilder();
  const lc = local.int("char", 1);
  const li = local.int("int", 4, { signed: true });
  const la = local.array(lc, 16, li);
  const ls = local.struct("s", 20, [member("pad", li, 0), member("name", la, 32)]);
  const target = new BtfBuilder();
  const tc = target.int("char", 1);
  const ti = target.int("int", 4, { signed: true });
  const ta = target.array(tc, 16, ti);
  target.struct("s", 40, [member("x", ti, 0), member("y", ti, 32), member("name", ta, 128)]);
  const r = relocate(local, target, [{ code: 0x71, off: 7 }], {
    typeId: ls,
    accessStr: "0:1:3",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].off, 19);
});

test("an index past the target array's end does not match and poisons", () => {
  const local = new BtfBuilder();
  const lc = local.int("char", 1);
  const li = local.int("int", 4, { signed: true });
  const la = local.array(lc, 16, li);
  const ls = local.struct("s", 16, [member("name", la, 0)]);
  const target = new BtfBuilder();
  const tc = target.int("char", 1);
  const ti = target.int("int", 4, { signed: true });
  const ta = target.array(tc, 8, ti);
  target.struct("s", 8, [member("name", ta, 0)]);
  const r = relocate(local, target, [{ code: 0x71, off: 12 }], {
    typeId: ls,
    accessStr: "0:0:12",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].imm, POISON);
});

test("an unsigned field that shrinks in the target shrinks the load too", () => {
  const local = new BtfBuilder();
  const lu64 = local.int("unsigned long", 8);
  const ls = local.struct("s", 16, [member("v", lu64, 64)]);
  const target = new BtfBuilder();
  const tu32 = target.int("unsigned int", 4);
  target.struct("s", 8, [member("v", tu32, 32)]);
  const r = relocate(local, target, [{ code: LDX_DW, dst: 1, src: 2, off: 8 }], {
    typeId: ls,
    accessStr: "0:0",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].code, LDX_W);
  assert.equal(r.insns[0].off, 4);
});

test("a signed field that changes size poisons the load instead of resizing it", () => {
  const local = new BtfBuilder();
  const l64 = local.int("long", 8, { signed: true });
  const ls = local.struct("s", 8, [member("v", l64, 0)]);
  const target = new BtfBuilder();
  const t32 = target.int("int", 4, { signed: true });
  target.struct("s", 4, [member("v", t32, 0)]);
  const r = relocate(local, target, [{ code: LDX_DW, off: 0 }], {
    typeId: ls,
    accessStr: "0:0",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].imm, POISON);
});

/** A 3-bit signed bitfield at bit 5 locally, at bit 45 of an 8-byte struct in the target. */
function bitfields() {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const lu = local.int("unsigned int", 4);
  const ls = local.struct("bf", 8, [member("f", lu, 0, 5), member("g", li, 5, 3)]);
  const target = new BtfBuilder();
  const ti = target.int("int", 4, { signed: true });
  const tu = target.int("unsigned int", 4);
  target.struct("bf", 8, [member("f", tu, 0, 30), member("g", ti, 45, 3)]);
  return { local, target, ls };
}

test("bitfield relocations give libbpf's byte size, shifts and signedness", () => {
  const cases: [number, number, number][] = [
    // kind, local value the compiler wrote, target value
    [K.FIELD_BYTE_OFFSET, 0, 4],
    [K.FIELD_BYTE_SIZE, 4, 4],
    [K.FIELD_LSHIFT_U64, 56, 48],
    [K.FIELD_RSHIFT_U64, 61, 61],
    [K.FIELD_SIGNED, 1, 1],
  ];
  for (const [kind, before, after] of cases) {
    const { local, target, ls } = bitfields();
    const r = relocate(local, target, [{ code: MOV64_IMM, imm: before }], {
      typeId: ls,
      accessStr: "0:1",
      kind,
    });
    assert.equal(r.insns[0].imm, after, `kind ${kind}`);
  }
});

test("a bitfield that straddles 8 bytes widens the load up to 8 bytes", () => {
  const local = new BtfBuilder();
  const lu = local.int("unsigned int", 4);
  const ls = local.struct("bf", 8, [member("g", lu, 0, 3)]);
  const target = new BtfBuilder();
  const tu = target.int("unsigned int", 4);
  target.struct("bf", 8, [member("g", tu, 30, 4)]);
  const r = relocate(local, target, [{ code: MOV64_IMM, imm: 4 }], {
    typeId: ls,
    accessStr: "0:0",
    kind: K.FIELD_BYTE_SIZE,
  });
  assert.equal(r.insns[0].imm, 8);
});

test("TYPE_ID_LOCAL keeps the local id and TYPE_ID_TARGET gives the target's id", () => {
  const { local, target, ls, ts } = pair();
  const lid = relocate(local, target, [{ code: LD_IMM64, imm: 999 }, { code: 0 }], {
    typeId: ls,
    accessStr: "0",
    kind: K.TYPE_ID_LOCAL,
  });
  assert.equal(lid.insns[0].imm, ls);
  const tid = relocate(local, target, [{ code: LD_IMM64, imm: ls }, { code: 0 }], {
    typeId: ls,
    accessStr: "0",
    kind: K.TYPE_ID_TARGET,
  });
  assert.equal(tid.insns[0].imm, ts);
  assert.equal(tid.insns[1].imm, 0);
});

test("TYPE_EXISTS and TYPE_SIZE follow the target, and give 0 for a type it lacks", () => {
  const { local, target, ls } = pair();
  const gone = local.struct("nowhere", 4, []);
  const ex = relocate(local, target, [{ code: MOV64_IMM, imm: 1 }], {
    typeId: ls,
    accessStr: "0",
    kind: K.TYPE_EXISTS,
  });
  assert.equal(ex.insns[0].imm, 1);
  const sz = relocate(local, target, [{ code: MOV64_IMM, imm: 8 }], {
    typeId: ls,
    accessStr: "0",
    kind: K.TYPE_SIZE,
  });
  assert.equal(sz.insns[0].imm, 16);
  const none = relocate(local, target, [{ code: MOV64_IMM, imm: 4 }], {
    typeId: gone,
    accessStr: "0",
    kind: K.TYPE_SIZE,
  });
  assert.equal(none.insns[0].imm, 0);
});

test("TYPE_MATCHES needs every local member, by name and matching type", () => {
  const { local, target, li } = pair();
  const ok = local.struct("s___ok", 8, [member("b", li, 0)]);
  const lc = local.int("char", 1);
  const bad = local.struct("s___bad", 1, [member("b", lc, 0)]);
  const m = relocate(local, target, [{ code: MOV64_IMM, imm: 1 }], {
    typeId: ok,
    accessStr: "0",
    kind: K.TYPE_MATCHES,
  });
  assert.equal(m.insns[0].imm, 1);
  const n = relocate(local, target, [{ code: MOV64_IMM, imm: 1 }], {
    typeId: bad,
    accessStr: "0",
    kind: K.TYPE_MATCHES,
  });
  assert.equal(n.insns[0].imm, 0);
});

test("ENUMVAL_EXISTS and ENUMVAL_VALUE use the target's enumerators, signed and 64-bit", () => {
  const local = new BtfBuilder();
  const le = local.enum("e", 4, [["A", 1], ["B", 2], ["GONE", 3]]);
  const l64 = local.enum64("big", 8, [["HUGE", 1n]]);
  const target = new BtfBuilder();
  target.enum("e", 4, [["B", -5], ["A", 10]], { signed: true });
  target.enum64("big", 8, [["HUGE", 0x123456789n]]);
  const v = relocate(local, target, [{ code: MOV64_IMM, imm: 2 }], {
    typeId: le,
    accessStr: "1",
    kind: K.ENUMVAL_VALUE,
  });
  assert.equal(v.insns[0].imm, -5);
  const ex = relocate(local, target, [{ code: MOV64_IMM, imm: 1 }], {
    typeId: le,
    accessStr: "2",
    kind: K.ENUMVAL_EXISTS,
  });
  assert.equal(ex.insns[0].imm, 0);
  const big = relocate(local, target, [{ code: LD_IMM64, imm: 1 }, { code: 0 }], {
    typeId: l64,
    accessStr: "0",
    kind: K.ENUMVAL_VALUE,
  });
  assert.equal(big.insns[0].imm, 0x23456789);
  assert.equal(big.insns[1].imm, 1);
});

test("two target candidates that place a field differently are an ambiguity error", () => {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("s", 4, [member("a", li, 0)]);
  const target = new BtfBuilder();
  const ti = target.int("int", 4, { signed: true });
  target.struct("s", 8, [member("a", ti, 0)]);
  target.struct("s___2", 8, [member("a", ti, 32)]);
  assert.throws(
    () =>
      relocate(local, target, [{ code: LDX_W, off: 0 }], {
        typeId: ls,
        accessStr: "0:0",
        kind: K.FIELD_BYTE_OFFSET,
      }),
    (e: unknown) => e instanceof RelocationError && /ambiguous/.test(e.message) && e.insn === 0,
  );
});

test("two candidates that agree are not ambiguous", () => {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("s", 4, [member("a", li, 0)]);
  const target = new BtfBuilder();
  const ti = target.int("int", 4, { signed: true });
  target.struct("s", 8, [member("a", ti, 32)]);
  target.struct("s___2", 8, [member("a", ti, 32)]);
  const r = relocate(local, target, [{ code: LDX_W, off: 0 }], {
    typeId: ls,
    accessStr: "0:0",
    kind: K.FIELD_BYTE_OFFSET,
  });
  assert.equal(r.insns[0].off, 4);
});

test("an instruction that does not hold the compiler's value is an error", () => {
  const { local, target, ls } = pair();
  assert.throws(
    () =>
      relocate(local, target, [{ code: LDX_W, off: 6 }], {
        typeId: ls,
        accessStr: "0:1",
        kind: K.FIELD_BYTE_OFFSET,
      }),
    RelocationError,
  );
});

test("a malformed access string is a RelocationError, not a trap", () => {
  const { local, target, ls } = pair();
  for (const accessStr of ["", ":0", "0:", "0:x", "0:7", "1:2:3:4"]) {
    assert.throws(
      () => relocate(local, target, [{ code: LDX_W, off: 4 }], { typeId: ls, accessStr, kind: 0 }),
      RelocationError,
      accessStr,
    );
  }
  assert.throws(
    () =>
      relocate(local, target, [{ code: LDX_W, off: 4 }], { typeId: 999, accessStr: "0", kind: 0 }),
    RelocationError,
  );
  assert.throws(
    () =>
      relocate(local, target, [{ code: LDX_W, off: 4 }], { typeId: ls, accessStr: "0", kind: 77 }),
    RelocationError,
  );
});

test("mangled CO-RE records against the kernel's BTF give a result or a RelocationError, never a trap", (t) => {
  if (!existsSync("/sys/kernel/btf/vmlinux")) {
    return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  }
  const file = testObject("core");
  const spec = open(file);
  const kernel = Btf.kernel();
  try {
    const prog = spec.programs.find((p) => p.name === "core_reads")!;
    const relos = [...spec.btfExt!.coreRelos.values()].flat();
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ["0", "1", "2", "3", "17", "63", "64", "999", ":", "x", "-1", ""];
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const base = relos[rnd(relos.length)];
      let accessStr = base.accessStr;
      if (rnd(2)) {
        accessStr = Array.from({ length: rnd(6) }, () => pieces[rnd(pieces.length)]).join(":");
      }
      const r: CoreRelo = {
        insnOff: rnd(3) === 0 ? rnd(prog.insns.length) & ~7 : base.insnOff,
        typeId: rnd(4) === 0 ? rnd(spec.btf!.typeCount + 5) : base.typeId,
        accessStr,
        kind: rnd(4) === 0 ? rnd(15) : base.kind,
      };
      try {
        applyCoreRelocations(spec.btf!, kernel, prog.insns, [r]);
        ok++;
      } catch (e) {
        assert.ok(e instanceof RelocationError, `not a RelocationError: ${e}`);
        refused++;
      }
    }
    assert.ok(ok > 0 && refused > 0);
  } finally {
    spec.btf?.close();
  }
});

test("a type the target lacks is searched in module BTFs, as libbpf searches kernel modules", () => {
  const local = new BtfBuilder();
  const li = local.int("int", 4, { signed: true });
  const ls = local.struct("mod_thing", 8, [member("a", li, 0), member("b", li, 32)]);
  const base = new BtfBuilder();
  base.int("int", 4, { signed: true });
  const baseBytes = base.build();
  using l = Btf.parse(local.build());
  using t = Btf.parse(baseBytes);
  const mod = new BtfBuilder({ startId: t.typeCount, strBase: baseBytes.length - 24 - 16 });
  mod.struct("mod_thing", 16, [member("b", 1, 96)]);
  using m = Btf.parse(mod.build(), { base: t });
  const insns = encode([{ code: LDX_W, off: 4 }]);
  const relo = { insnOff: 0, typeId: ls, accessStr: "0:1", kind: K.FIELD_BYTE_OFFSET };
  const without = applyCoreRelocations(l, t, insns, [relo]);
  assert.equal(decode(without.insns)[0].imm, POISON);
  const withMod = applyCoreRelocations(l, t, insns, [relo], { modules: [m] });
  assert.equal(decode(withMod.insns)[0].off, 12);
});

test("a target with 300k types of one essential name is indexed in O(N log N): crafted BTF cannot stall CO-RE", () => {
  // Size, not timing: with the old hash-probing candidate index, inserting N entries of one hash
  // probes N²/2 slots (4.5e10 for N = 300k), which no run finishes within the child's 60 s cap;
  // the sorted index takes N log N comparisons. Half the names are `s`, half `s___<i>` (flavors
  // of the same essential name); every candidate places the field alike, so none is ambiguous.
  // The first lookups scan (linear each); the later ones build and bisect the index.
  const script = `
    import { Btf } from "${join(ROOT, "btf", "btf.ts")}";
    import { BtfBuilder, member } from "${join(ROOT, "btf", "builder.ts")}";
    import { applyCoreRelocations } from "${join(ROOT, "reloc", "mod.ts")}";
    const N = 300000;
    const local = new BtfBuilder();
    const li = local.int("int", 4, { signed: true });
    const ls = local.struct("s", 4, [member("a", li, 0)]);
    const target = new BtfBuilder();
    const ti = target.int("int", 4, { signed: true });
    for (let i = 0; i < N; i++) {
      target.struct(i % 2 ? "s___" + i : "s", 8, [member("a", ti, 32)]);
    }
    using l = Btf.parse(local.build());
    using t = Btf.parse(target.build());
    const insn = new Uint8Array(16);
    insn[0] = insn[8] = 0x61; // r0 = *(u32 *)(r0 + 0), twice
    const r = applyCoreRelocations(l, t, insn, [
      { insnOff: 0, typeId: ls, accessStr: "0:0", kind: 0 },
      { insnOff: 8, typeId: ls, accessStr: "0:0", kind: 0 },
    ]);
    // More lookups than the core answers by scanning (ESS_SCANS), so the index is built.
    let exists;
    for (let i = 0; i < 12; i++) {
      exists = applyCoreRelocations(l, t, new Uint8Array([0xb7, 0, 0, 0, 1, 0, 0, 0]), [
        { insnOff: 0, typeId: ls, accessStr: "0", kind: 8 },
      ]);
    }
    console.log(JSON.stringify([r.insns[2], r.insns[10], r.poisoned.length, exists.insns[4]]));
  `;
  const r = withTmpDir("tsbpf-core-names", (dir) => {
    const file = join(dir, "names.ts");
    writeFileSync(file, script);
    const [cmd, args] = runtimeCommand(file);
    return run(cmd, args, { timeoutMs: 60_000 });
  });
  assert.equal(r.code, 0, `exit ${r.code} (a timeout kills it): ${r.stderr}`);
  assert.equal(r.stdout.trim(), "[4,4,0,1]");
});

test("candidates found by the first lookups' scan equal those of the index built after them", (t) => {
  if (!existsSync("/sys/kernel/btf/vmlinux")) {
    return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  }
  // In a fresh process, the first lookups of each kind group in the kernel's BTF scan it and the
  // later ones use the sorted index (core_relo.ts, ESS_SCANS). Every CO-RE record of the test
  // objects is applied on its own (no context cache) three times: the first pass starts with scans,
  // the third runs on the index alone, and each record must come out the same in both.
  const objects = ["core", "core_extra", "core_poison"].map((n) => testObject(n));
  const script = `
    import { Btf } from "${join(ROOT, "btf", "btf.ts")}";
    import { applyCoreRelocations } from "${join(ROOT, "reloc", "mod.ts")}";
    import { open } from "${join(ROOT, "spec", "open.ts")}";
    const kernel = Btf.kernel();
    const cases = [];
    for (const file of ${JSON.stringify(objects)}) {
      const spec = open(file);
      for (const [sec, relos] of spec.btfExt.coreRelos) {
        for (const r of relos) {
          const p = spec.programs.find((p) => p.section === sec &&
            r.insnOff >= p.sectionInsnOffset * 8 &&
            r.insnOff < p.sectionInsnOffset * 8 + p.insns.length);
          if (p) cases.push([spec, p, { ...r, insnOff: r.insnOff - p.sectionInsnOffset * 8 }]);
        }
      }
    }
    const pass = () => cases.map(([spec, p, r]) => {
      try {
        const out = applyCoreRelocations(spec.btf, kernel, p.insns, [r]);
        return Array.from(out.insns.subarray(r.insnOff, r.insnOff + 16)).join(",") + " " + out.poisoned;
      } catch (e) {
        return String(e);
      }
    });
    const a = pass();
    pass();
    const c = pass();
    const differ = a.map((x, i) => x === c[i] ? "" : i + ": " + x + " | " + c[i]).filter(Boolean);
    console.log(JSON.stringify({ n: a.length, differ }));
  `;
  const r = withTmpDir("tsbpf-core-scan", (dir) => {
    const file = join(dir, "scan.ts");
    writeFileSync(file, script);
    const [cmd, args] = runtimeCommand(file);
    return run(cmd, args, { timeoutMs: 120_000 });
  });
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { n: number; differ: string[] };
  assert.ok(got.n >= 3 * 8, `only ${got.n} CO-RE records: too few to reach the index`);
  assert.deepEqual(got.differ, []);
});
