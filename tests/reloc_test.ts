// relocateProgram against libbpf 1.1: for every program of every test object, the instructions
// tsbpf's relocation engine produces (kernel BTF as the CO-RE target) equal, byte for byte, the
// instructions libbpf passed to BPF_PROG_LOAD, and so do the func_info and line_info records.
// Map fds are compared by the map they name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { RelocationError } from "../errors.ts";
import { relocateProgram } from "../reloc/mod.ts";
import type { ResolvedExtern } from "../reloc/types.ts";
import { open } from "../spec/open.ts";
import type { ObjectSpec } from "../spec/types.ts";
import { requireKernel, ROOT, run, skip, testObject, testObjects } from "./_util.ts";

const ORACLE_SRC = join(ROOT, "tests", "oracle", "libbpf_insns.c");
const ORACLE_BIN = join(ROOT, "tests", "oracle", "build", "libbpf_insns");

/** Objects the oracle cannot run here without side effects. */
const SKIP: Record<string, string> = {
  pinned: "libbpf would pin its maps under /sys/fs/bpf",
};

function oracleBin(): string {
  if (!existsSync(ORACLE_BIN) || statSync(ORACLE_BIN).mtimeMs < statSync(ORACLE_SRC).mtimeMs) {
    mkdirSync(join(ROOT, "tests", "oracle", "build"), { recursive: true });
    const r = run("gcc", [
      "-O2",
      "-Wall",
      "-o",
      ORACLE_BIN,
      ORACLE_SRC,
      "-lbpf",
      "-lelf",
      "-lz",
      "-ldl",
    ]);
    assert.equal(r.code, 0, `building ${ORACLE_BIN} failed: ${r.stderr}`);
  }
  return ORACLE_BIN;
}

interface OracleProg {
  name: string;
  alone: boolean;
  loaded: boolean;
  insns: string[];
  attr: boolean;
  relocated: boolean;
  func_info?: number[][];
  line_info?: number[][];
}

let kallsyms: Map<string, bigint> | undefined;
function kallsymsAddr(name: string): bigint | undefined {
  if (!kallsyms) {
    kallsyms = new Map();
    for (const line of readFileSync("/proc/kallsyms", "utf8").split("\n")) {
      const [addr, , sym] = line.split(/\s+/);
      if (sym && !kallsyms.has(sym)) kallsyms.set(sym, BigInt("0x" + addr));
    }
  }
  return kallsyms.get(name);
}

/** Resolves externs the way libbpf does for vmlinux (no module BTFs). */
function resolveExterns(spec: ObjectSpec, kernel: Btf): Map<string, ResolvedExtern> {
  const out = new Map<string, ResolvedExtern>();
  for (const e of spec.externs) {
    if (e.kind === "kconfig") {
      out.set(e.name, { kind: "kconfig", offset: e.offset });
    } else if (e.kind === "kfunc") {
      const id = kernel.findByName(e.name, BtfKind.Func);
      out.set(
        e.name,
        id > 0 ? { kind: "kfunc", btfId: id, fdArrayIdx: 0 } : { kind: "missing_weak" },
      );
    } else if (e.btfTypeId !== 0) {
      const id = kernel.findByName(e.name, BtfKind.Var);
      out.set(e.name, id > 0 ? { kind: "ksym", btfId: id, btfObjFd: 0 } : { kind: "missing_weak" });
    } else {
      const addr = kallsymsAddr(e.name);
      out.set(e.name, addr !== undefined ? { kind: "ksym_addr", addr } : { kind: "missing_weak" });
    }
  }
  return out;
}

function hexInsns(insns: Uint8Array, fdNames: Map<number, string>): string[] {
  const dv = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const out: string[] = [];
  let btfFdNext = false;
  for (let i = 0; i < insns.length; i += 8) {
    const code = insns[i];
    const src = insns[i + 1] >> 4;
    let hide: string | undefined;
    if (code === 0x18 && (src === 1 || src === 2)) {
      hide = fdNames.get(dv.getInt32(i + 4, true)) ?? "?";
    }
    if (btfFdNext) {
      btfFdNext = false;
      if (dv.getInt32(i + 4, true) !== 0) hide = "btf";
    }
    if (code === 0x18 && src === 3) btfFdNext = true;
    let s = "";
    for (let j = 0; j < 8; j++) {
      s += hide !== undefined && j >= 4 ? "00" : insns[i + j].toString(16).padStart(2, "0");
    }
    out.push(hide !== undefined ? `${s}@${hide}` : s);
  }
  return out;
}

function records(bytes: Uint8Array, words: number): number[][] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[][] = [];
  for (let o = 0; o < bytes.length; o += words * 4) {
    const r: number[] = [];
    for (let w = 0; w < words; w++) r.push(dv.getUint32(o + w * 4, true));
    out.push(r);
  }
  return out;
}

/**
 * Relocates every program libbpf relocated in `file` (CO-RE against `target`, or the kernel) and
 * returns how many were compared and what differed. A program libbpf refused to relocate (a
 * CO-RE error) must make relocateProgram throw too.
 */
function compareWithLibbpf(
  file: string,
  kernel: Btf,
  target?: { path: string; btf: Btf },
): { compared: number; mismatches: string[] } {
  const obj = basename(file, ".bpf.o");
  const mismatches: string[] = [];
  let compared = 0;
  const r = run(oracleBin(), target ? [file, target.path] : [file]);
  assert.equal(r.code, 0, `libbpf_insns ${file} failed: ${r.stderr}`);
  const oracle = JSON.parse(r.stdout).programs as OracleProg[];
  const spec = open(file);
  try {
    const fdNames = new Map<number, string>();
    const mapFds = new Map<string, number>();
    const dataMapFds = new Map<string, number>();
    let fd = 1000;
    for (const m of spec.maps) {
      mapFds.set(m.name, fd);
      fdNames.set(fd++, m.name);
    }
    for (const d of spec.datasecs) {
      dataMapFds.set(d.name, fd);
      fdNames.set(fd++, d.mapName);
    }
    const externs = resolveExterns(spec, kernel);
    for (const want of oracle) {
      if (want.insns.length === 0) continue;
      let got;
      try {
        got = relocateProgram(spec, want.name, {
          mapFds,
          dataMapFds,
          targetBtf: target?.btf ?? kernel,
          externs,
          loadedPrograms: want.alone ? [want.name] : undefined,
        });
      } catch (e) {
        // libbpf stopped before relocating this one too: both refuse.
        if (!want.relocated) continue;
        mismatches.push(`${obj}/${want.name}: ${(e as Error).message}`);
        continue;
      }
      // libbpf stopped before relocating (a map it could not create): nothing to compare.
      if (!want.relocated) continue;
      compared++;
      const gotHex = hexInsns(got.insns, fdNames);
      if (JSON.stringify(gotHex) !== JSON.stringify(want.insns)) {
        const i = gotHex.findIndex((h, k) => h !== want.insns[k]);
        mismatches.push(
          `${obj}/${want.name}: instructions differ (${gotHex.length} vs libbpf's ${want.insns.length}) first at #${i}: ${
            gotHex[i]
          } vs ${want.insns[i]}`,
        );
        continue;
      }
      if (want.attr) {
        if (JSON.stringify(records(got.funcInfo, 2)) !== JSON.stringify(want.func_info)) {
          mismatches.push(`${obj}/${want.name}: func_info differs`);
        }
        if (JSON.stringify(records(got.lineInfo, 4)) !== JSON.stringify(want.line_info)) {
          mismatches.push(`${obj}/${want.name}: line_info differs`);
        }
      }
    }
  } finally {
    spec.btf?.close();
  }
  return { compared, mismatches };
}

test("relocateProgram gives libbpf's instructions, func_info and line_info for every test program", (t) => {
  if (!requireKernel(t)) return;
  const kernel = Btf.kernel();
  let compared = 0;
  const mismatches: string[] = [];
  for (const file of testObjects()) {
    if (SKIP[basename(file, ".bpf.o")]) continue;
    const r = compareWithLibbpf(file, kernel);
    compared += r.compared;
    mismatches.push(...r.mismatches);
  }
  assert.deepEqual(mismatches, []);
  assert.ok(compared > 10, `only ${compared} programs compared`);
});

test("CO-RE against a custom target BTF (another object's) matches libbpf's btf_custom_path", (t) => {
  if (!requireKernel(t)) return;
  const kernel = Btf.kernel();
  const objs = testObjects().filter((f) => /\/(core|core_extra|core_poison)\.bpf\.o$/.test(f));
  let compared = 0;
  const mismatches: string[] = [];
  for (const targetPath of objs) {
    const targetSpec = open(targetPath);
    try {
      for (const file of objs) {
        const r = compareWithLibbpf(file, kernel, { path: targetPath, btf: targetSpec.btf! });
        compared += r.compared;
        mismatches.push(...r.mismatches.map((m) => `${m} (target ${basename(targetPath)})`));
      }
    } finally {
      targetSpec.btf?.close();
    }
  }
  assert.deepEqual(mismatches, []);
  assert.ok(compared >= objs.length, `only ${compared} programs compared`);
});

test("relocateProgram names the program it does not know", () => {
  const file = testObject("net");
  const spec = open(file);
  try {
    assert.throws(
      () =>
        relocateProgram(spec, "no_such_prog", {
          mapFds: new Map(),
          dataMapFds: new Map(),
          targetBtf: undefined,
          externs: new Map(),
        }),
      (e: unknown) => e instanceof RelocationError && e.program === "no_such_prog",
    );
  } finally {
    spec.btf?.close();
  }
});

test("relocateProgram refuses a program with CO-RE relocations when no target BTF is given", () => {
  const file = testObject("core");
  const spec = open(file);
  try {
    const prog = spec.programs[0];
    assert.throws(
      () =>
        relocateProgram(spec, prog.name, {
          mapFds: new Map(),
          dataMapFds: new Map(spec.datasecs.map((d, i) => [d.name, 100 + i])),
          targetBtf: undefined,
          externs: new Map(),
        }),
      (e: unknown) =>
        e instanceof RelocationError && e.program === prog.name && /target BTF/.test(e.message),
    );
  } finally {
    spec.btf?.close();
  }
});

test("relocateProgram is deterministic: the same input gives the same bytes", () => {
  const file = testObject("subprogs");
  const a = open(file);
  const b = open(file);
  try {
    const input = (s: ObjectSpec) => ({
      mapFds: new Map(s.maps.map((m, i) => [m.name, 10 + i])),
      dataMapFds: new Map(s.datasecs.map((d, i) => [d.name, 50 + i])),
      targetBtf: undefined,
      externs: new Map(),
    });
    for (const p of a.programs) {
      const x = relocateProgram(a, p.name, input(a));
      const y = relocateProgram(b, p.name, input(b));
      const z = relocateProgram(a, p.name, input(a));
      assert.deepEqual(x, y);
      assert.deepEqual(x, z);
      assert.ok(x.insns.length > p.insns.length || p.relocations.every((r) => r.kind !== "call"));
    }
  } finally {
    a.btf?.close();
    b.btf?.close();
  }
});

test("every bpf-to-bpf call and callback address lands on the start of an appended function", () => {
  const file = testObject("subprogs");
  const spec = open(file);
  try {
    for (const p of spec.programs) {
      const r = relocateProgram(spec, p.name, {
        mapFds: new Map(spec.maps.map((m, i) => [m.name, 10 + i])),
        dataMapFds: new Map(spec.datasecs.map((d, i) => [d.name, 50 + i])),
        targetBtf: undefined,
        externs: new Map(),
      });
      const starts = new Set(records(r.funcInfo, 2).map(([off]) => off));
      assert.ok(starts.has(0));
      const dv = new DataView(r.insns.buffer);
      let targets = 0;
      for (let i = 0; i < r.insns.length / 8; i++) {
        const code = r.insns[i * 8];
        const src = r.insns[i * 8 + 1] >> 4;
        if ((code === 0x85 && src === 1) || (code === 0x18 && src === 4)) {
          const to = i + dv.getInt32(i * 8 + 4, true) + 1;
          assert.ok(starts.has(to), `${p.name}: insn ${i} goes to ${to}, not a function start`);
          targets++;
        }
      }
      assert.ok(targets > 0, `${p.name} makes no calls`);
      assert.equal(starts.size, records(r.funcInfo, 2).length, "a function was appended twice");
    }
  } finally {
    spec.btf?.close();
  }
});

/** The instruction at `i` of `insns`: code, dst, src, off, imm. */
function insnAt(insns: Uint8Array, i: number) {
  const dv = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  return {
    code: insns[i * 8],
    dst: insns[i * 8 + 1] & 15,
    src: insns[i * 8 + 1] >> 4,
    off: dv.getInt16(i * 8 + 2, true),
    imm: dv.getInt32(i * 8 + 4, true),
  };
}

test("externs become kconfig map values, ksym addresses, zeros for missing weak ones, and kfunc calls", (t) => {
  if (!existsSync("/sys/kernel/btf/vmlinux")) {
    return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  }
  const file = testObject("externs");
  const spec = open(file);
  try {
    const externs = new Map<string, ResolvedExtern>();
    for (const e of spec.externs) {
      if (e.kind === "kconfig") externs.set(e.name, { kind: "kconfig", offset: e.offset });
    }
    externs.set("_stext", { kind: "ksym_addr", addr: 0xffffffff81000000n });
    externs.set("tsbpf_missing_symbol", { kind: "missing_weak" });
    externs.set("bpf_task_acquire", { kind: "kfunc", btfId: 1111, fdArrayIdx: 0 });
    externs.set("bpf_task_release", { kind: "kfunc", btfId: 2222, fdArrayIdx: 3, btfObjFd: 77 });
    const dataMapFds = new Map(spec.datasecs.map((d, i) => [d.name, 50 + i]));
    const input = {
      mapFds: new Map<string, number>(),
      dataMapFds,
      targetBtf: Btf.kernel(),
      externs,
    };
    const check = (prog: string) => {
      const p = spec.programs.find((x) => x.name === prog)!;
      const out = relocateProgram(spec, prog, input).insns;
      for (const r of p.relocations) {
        const i = insnAt(out, r.insn);
        const e = spec.externs.find((x) => x.name === r.extern);
        if (r.kind === "extern_ld64" && e?.kind === "kconfig") {
          assert.equal(i.src, 2, r.symbol);
          assert.equal(i.imm, dataMapFds.get(".kconfig"));
          assert.equal(insnAt(out, r.insn + 1).imm, e.offset);
        } else if (r.kind === "extern_ld64" && r.extern === "_stext") {
          assert.equal(i.src, 0);
          assert.equal(i.imm >>> 0, 0x81000000);
          assert.equal(insnAt(out, r.insn + 1).imm >>> 0, 0xffffffff);
        } else if (r.kind === "extern_ld64" && r.extern === "tsbpf_missing_symbol") {
          assert.equal(i.imm, 0);
          assert.equal(insnAt(out, r.insn + 1).imm, 0);
        } else if (r.kind === "extern_call") {
          assert.equal(i.src, 2);
          assert.equal(i.imm, r.extern === "bpf_task_acquire" ? 1111 : 2222);
          assert.equal(i.off, r.extern === "bpf_task_acquire" ? 0 : 3);
        }
      }
      return relocateProgram(spec, prog, input);
    };
    check("read_externs");
    const kf = check("acquire_tasks");
    assert.deepEqual(kf.fdArray, [0, 0, 0, 77]);
  } finally {
    spec.btf?.close();
  }
});

test("a map without an fd is poisoned the way libbpf poisons maps it does not create", () => {
  const file = testObject("maps");
  const spec = open(file);
  try {
    const skip = spec.maps[1].name;
    const mapFds = new Map(
      spec.maps.filter((m) => m.name !== skip).map((m, i) => [m.name, 10 + i]),
    );
    const p = spec.programs[0];
    const out = relocateProgram(spec, p.name, {
      mapFds,
      dataMapFds: new Map(spec.datasecs.map((d, i) => [d.name, 50 + i])),
      targetBtf: undefined,
      externs: new Map(),
    }).insns;
    const r = p.relocations.find((x) => x.kind === "map" && x.map === skip)!;
    for (const k of [r.insn, r.insn + 1]) {
      assert.deepEqual(insnAt(out, k), { code: 0x85, dst: 0, src: 0, off: 0, imm: 2001000001 });
    }
    const other = p.relocations.find((x) => x.kind === "map" && x.map !== skip)!;
    assert.equal(insnAt(out, other.insn).src, 1);
    assert.equal(insnAt(out, other.insn).imm, mapFds.get(other.map!));
  } finally {
    spec.btf?.close();
  }
});
