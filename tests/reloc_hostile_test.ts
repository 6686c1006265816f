// relocateProgram on hostile object models: a crafted call target, relocation offsets past the
// function, a cycle of subprogram calls and a huge relocation count each end in a typed
// RelocationError naming the program, or in a result, never in a RangeError, a trap or a hang.
import { test } from "node:test";
import { join } from "node:path";
import assert from "node:assert/strict";
import { RelocationError } from "../errors.ts";
import { relocateProgram } from "../reloc/mod.ts";
import type { RelocInput } from "../reloc/types.ts";
import { open } from "../spec/open.ts";
import type { ObjectSpec, ProgramSpec } from "../spec/types.ts";
import { ROOT } from "./_util.ts";

const OBJ = join(ROOT, "tests/bpf/build/subprogs.bpf.o");

function input(spec: ObjectSpec): RelocInput {
  return {
    mapFds: new Map(spec.maps.map((m, i) => [m.name, 100 + i])),
    dataMapFds: new Map(spec.datasecs.map((d, i) => [d.name, 200 + i])),
    targetBtf: undefined,
    externs: new Map(),
  };
}

function fn(spec: ObjectSpec, name: string): ProgramSpec {
  const f = [...spec.programs, ...spec.subprograms].find((p) => p.name === name);
  assert.ok(f, `${name} in subprogs.bpf.o`);
  return f;
}

function assertTyped(f: () => unknown, program: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof RelocationError, `a RelocationError, got ${e}`);
    assert.equal(e.program, program);
    return true;
  });
}

test("hostile reloc: the untouched object relocates", () => {
  const spec = open(OBJ);
  const r = relocateProgram(spec, "call_subprogs", input(spec));
  assert.equal(r.insns.length % 8, 0);
});

test("hostile reloc: a call whose target is past .text is a RelocationError", () => {
  for (const target of [1_000_000, -5, 0x7fffffff]) {
    const spec = open(OBJ);
    const main = fn(spec, "call_subprogs");
    const r = main.relocations.find((x) => x.kind === "call");
    assert.ok(r);
    r.targetInsn = target;
    assertTyped(() => relocateProgram(spec, "call_subprogs", input(spec)), "call_subprogs");
  }
});

test("hostile reloc: relocation offsets past the function are a RelocationError", () => {
  for (const kind of ["data", "map", "func_addr", "call"] as const) {
    // 33 is the last instruction: a 64-bit load there runs past the end; a call does not.
    const bad = kind === "call" ? [-1, 34, 1 << 20, 0xffffffff] : [-1, 33, 34, 1 << 20, 0xffffffff];
    for (const insn of bad) {
      const spec = open(OBJ);
      const main = fn(spec, "call_subprogs");
      main.relocations.push({
        insn,
        kind,
        symbol: "x",
        map: "values",
        section: ".bss",
        offset: 0,
        targetSection: ".text",
        targetInsn: 0,
      });
      assertTyped(() => relocateProgram(spec, "call_subprogs", input(spec)), "call_subprogs");
    }
  }
});

test("hostile reloc: a cycle of subprogram calls places each function once", () => {
  const spec = open(OBJ);
  const sum = fn(spec, "sum_of_squares");
  const square = fn(spec, "square");
  // square's first instruction becomes a bpf-to-bpf call back into sum_of_squares.
  const insns = new Uint8Array(square.insns);
  insns.set([0x85, 0x10, 0, 0, 0, 0, 0, 0], 0);
  square.insns = insns;
  square.relocations = [{
    insn: 0,
    kind: "call",
    symbol: "sum_of_squares",
    targetSection: ".text",
    targetInsn: sum.sectionInsnOffset,
  }];
  const r = relocateProgram(spec, "call_subprogs_too", input(spec));
  const all = [...spec.programs, ...spec.subprograms].reduce((n, p) => n + p.insns.length, 0);
  assert.ok(r.insns.length <= all, "no function placed twice");
});

test("hostile reloc: a huge relocation count ends", () => {
  const spec = open(OBJ);
  const main = fn(spec, "call_subprogs");
  const data = main.relocations.find((x) => x.kind === "data");
  assert.ok(data);
  for (let i = 0; i < 200_000; i++) main.relocations.push({ ...data });
  const r = relocateProgram(spec, "call_subprogs", input(spec));
  assert.equal(r.insns.length % 8, 0);
});

test("hostile reloc: the core's error records come back as the engine's messages, naming the instruction", () => {
  const cases: [string, (spec: ObjectSpec) => void, RegExp, number][] = [
    [
      "a call target past .text",
      (spec) => {
        const r = fn(spec, "call_subprogs").relocations.find((x) => x.kind === "call")!;
        r.targetInsn = 1_000_000;
      },
      /^Call into \.text hits no function; is the object complete\?$/,
      -2,
    ],
    [
      "a relocation past the function",
      (spec) => {
        fn(spec, "call_subprogs").relocations.push({
          insn: 40,
          kind: "map",
          symbol: "x",
          map: "m",
        });
      },
      /^Relocation at instruction 40 is outside the function's \d+ instructions; the object is malformed$/,
      40,
    ],
    [
      "a call whose target is outside .text",
      (spec) => {
        const r = fn(spec, "call_subprogs").relocations.find((x) => x.kind === "call")!;
        r.targetSection = ".data";
      },
      /^Call to '.*' outside \.text; subprograms must live in \.text$/,
      -2,
    ],
    [
      "an extern with no value",
      (spec) => {
        const main = fn(spec, "call_subprogs");
        const r = main.relocations.find((x) => x.kind === "data")!;
        r.kind = "extern_ld64";
        r.extern = "no_such_extern";
      },
      /^Extern 'no_such_extern' has no value; resolve it against the kernel before relocating$/,
      -2,
    ],
    [
      "an unknown relocation kind",
      (spec) => {
        const r = fn(spec, "call_subprogs").relocations.find((x) => x.kind === "data")!;
        (r as { kind: string }).kind = "bogus";
      },
      /^Unknown relocation kind 'bogus'$/,
      -2,
    ],
  ];
  for (const [what, mutate, message, insn] of cases) {
    const spec = open(OBJ);
    mutate(spec);
    const main = fn(spec, "call_subprogs");
    assert.throws(() => relocateProgram(spec, "call_subprogs", input(spec)), (e: unknown) => {
      assert.ok(e instanceof RelocationError, `${what}: a RelocationError, got ${e}`);
      assert.match(e.message, message, what);
      assert.equal(e.program, "call_subprogs", what);
      assert.equal(e.section, main.section, what);
      if (insn >= 0) assert.equal(e.insn, insn, what);
      else assert.ok(e.insn >= 0 && e.insn < main.insns.length / 8, `${what}: insn ${e.insn}`);
      return true;
    });
  }
});
