/**
 * The host side of the core's program relocation (`core-wasm/assembly/reloc.ts`): writes one
 * program's functions (after CO-RE), their relocations with the live facts resolved (map fds,
 * data-map fds, extern values) and the object's `.BTF.ext` record lists into one flat buffer in
 * core memory, runs `reloc_run`, and reads the final instructions and records back through views.
 * The core reports an error as a code and a place; the messages are built here, from the spec.
 *
 * @module
 */
import { BpfError, RelocationError } from "../errors.ts";
import type { BtfCoreRelo, BtfFuncInfo, BtfLineInfo } from "../btf/ext.ts";
import type { Core } from "../core-wasm/mod.ts";
import type { ObjectSpec, ProgramSpec, RelocSpec } from "../spec/types.ts";
import type { RelocatedProgram, RelocInput, ResolvedExtern } from "./types.ts";

const INSN = 8;
const HDR_WORDS = 9;
const FN_WORDS = 10;
const RELOC_WORDS = 6;
const LIST_WORDS = 3;

const FLAG_EXT = 1;
const FLAG_CORE_IN_KERNEL = 2;
const FN_TEXT = 1;
const FN_CORE_ERROR = 2;

const KIND_CODES: Record<string, number> = {
  map: 0,
  data: 1,
  call: 2,
  func_addr: 3,
  extern_ld64: 4,
  extern_call: 5,
};
const K_UNKNOWN = 6;

// X_ERROR (0): the zero an erroring extern reference keeps; its error waits in `externErrors`.
const X_MAP_VALUE = 1;
const X_BTF_ID = 2;
const X_ADDR = 3;
const X_ZERO = 4;
const X_KFUNC = 5;
const X_HAS_FD = 0x100;

const RE_CORE = 1;
const RE_RELOC_RANGE = 2;
const RE_DEPTH = 3;
const RE_NO_INFO = 4;
const RE_CORE_MISALIGNED = 5;
const RE_UNEXPECTED = 6;
const RE_OUTSIDE_TEXT = 7;
const RE_FUNC_NO_RELOC = 8;
const RE_NO_TARGET = 9;
const RE_FUNC_ADDR = 10;
const RE_UNKNOWN_KIND = 11;
const RE_EXTERN = 12;
const RES_WORDS = 14;

/** One function as the core gets it: its instructions after CO-RE, or the CO-RE error. */
export interface LinkFunction {
  /** The function. */
  fn: ProgramSpec;
  /** Its instructions after CO-RE (as compiled when the kernel applies CO-RE). */
  insns: Uint8Array;
  /** The CO-RE error that stopped it, thrown if the program reaches it. */
  error: RelocationError | undefined;
  /** True for a subprogram of `.text` (what calls can reach). */
  text: boolean;
}

function relocErr(fn: ProgramSpec, insn: number, msg: string): RelocationError {
  return new RelocationError(msg, { program: fn.name, section: fn.section, insn });
}

/** A list of `.BTF.ext` records, by the section that holds it. */
type Records = readonly { insnOff: number }[];

function infoFor<T>(m: Map<string, T[]> | undefined, fn: ProgramSpec): T[] | undefined {
  if (m === undefined) return undefined;
  // .BTF.ext names sections as the ELF does, including a leading '?' that ProgramSpec drops.
  const plain = m.get(fn.section);
  const quoted = m.get("?" + fn.section);
  return fn.autoload || fn.isSubprogram ? plain ?? quoted : quoted ?? plain;
}

/** The value an extern reference resolves to, or the error that says why it has none. */
function resolved(
  spec: ObjectSpec,
  input: RelocInput,
  fn: ProgramSpec,
  r: RelocSpec,
): ResolvedExtern | RelocationError {
  const name = r.extern ?? r.symbol;
  const ext = input.externs.get(name);
  if (ext !== undefined) return ext;
  const decl = spec.externs.find((e) => e.name === name);
  if (decl?.kind === "kconfig" && decl.weak) return { kind: "missing_weak" };
  return relocErr(
    fn,
    r.insn,
    `Extern '${name}' has no value; resolve it against the kernel before relocating`,
  );
}

/** What a `ld_imm64` of an extern becomes: an X_* action and its values, or the error. */
function ld64Plan(
  spec: ObjectSpec,
  input: RelocInput,
  fn: ProgramSpec,
  r: RelocSpec,
): number[] | RelocationError {
  const name = r.extern ?? r.symbol;
  const decl = spec.externs.find((e) => e.name === name);
  const ext = resolved(spec, input, fn, r);
  if (ext instanceof RelocationError) return ext;
  if (ext.kind === "kconfig" || decl?.kind === "kconfig") {
    const fd = input.dataMapFds.get(".kconfig");
    if (fd === undefined) {
      return relocErr(fn, r.insn, `Extern '${name}' needs the .kconfig map, which has no fd`);
    }
    const off = ext.kind === "kconfig" ? ext.offset : decl?.offset ?? -1;
    if (off < 0) return relocErr(fn, r.insn, `Kconfig extern '${name}' has no offset in .kconfig`);
    return [X_MAP_VALUE, fd, off];
  }
  switch (ext.kind) {
    case "ksym":
      return [X_BTF_ID, ext.btfId, ext.btfObjFd];
    case "ksym_addr":
      return [
        X_ADDR,
        Number(BigInt.asIntN(32, ext.addr)),
        Number(BigInt.asIntN(32, ext.addr >> 32n)),
      ];
    case "kfunc":
      // A kfunc's address taken with ld_imm64: libbpf loads it like a typed ksym.
      return [X_BTF_ID, ext.btfId, ext.btfObjFd ?? 0];
    case "missing_weak":
      return [X_ZERO];
    default:
      return relocErr(
        fn,
        r.insn,
        `Extern '${name}' resolved to an unknown kind ${(ext as { kind: string }).kind}`,
      );
  }
}

/** What a call of an extern becomes: a kfunc call or a call of nothing (missing weak), or the error. */
function callPlan(
  spec: ObjectSpec,
  input: RelocInput,
  fn: ProgramSpec,
  r: RelocSpec,
): number[] | RelocationError {
  const ext = resolved(spec, input, fn, r);
  if (ext instanceof RelocationError) return ext;
  if (ext.kind === "kfunc") {
    const hasFd = ext.btfObjFd !== undefined;
    return [X_KFUNC | (hasFd ? X_HAS_FD : 0), ext.btfId, ext.fdArrayIdx, ext.btfObjFd ?? 0];
  }
  if (ext.kind === "missing_weak") return [X_ZERO];
  return relocErr(fn, r.insn, `Extern '${r.extern}' is called but resolved to a ${ext.kind}`);
}

/** libbpf's map index of each map and data section, which a poisoned reference carries. */
function mapIndexOf(spec: ObjectSpec): Map<string, number> {
  const mapIndex = new Map<string, number>();
  spec.maps.forEach((m, i) => mapIndex.set(m.name, i));
  let di = spec.maps.length;
  for (const d of spec.datasecs) {
    if (d.name !== ".kconfig" && d.name !== ".ksyms") mapIndex.set("\0" + d.name, di++);
  }
  mapIndex.set("\0.kconfig", di);
  return mapIndex;
}

function insnIndex(v: number): number {
  return Number.isInteger(v) && v >= 0 && v <= 0x7fffffff ? v : -1;
}

function targetIndex(v: number | undefined): number {
  if (v === undefined || !Number.isFinite(v)) return -1;
  return Math.min(Math.max(Math.floor(v), -1), 0x7fffffff);
}

/**
 * Relocates `main` in the core: places what it reaches, patches calls, maps, data and externs, and
 * assembles its records. `fns` are every function of the object, `main` among them.
 */
export function linkInCore(
  core: Core,
  spec: ObjectSpec,
  fns: readonly LinkFunction[],
  main: number,
  input: RelocInput,
): RelocatedProgram {
  const ext = spec.btfExt;
  const coreInKernel = input.coreInKernel === true;
  // Sizes first, then one buffer in core memory written in place.
  let nRelocs = 0;
  let insnBytes = 0;
  for (const f of fns) {
    nRelocs += f.fn.relocations.length;
    insnBytes += f.insns.length & ~7;
  }
  const lists: { recs: Records; words: number; kind: number }[] = [];
  const listIds = new Map<Records, number>();
  const fnLists = new Int32Array(fns.length * 3).fill(-1);
  let listWords = 0;
  if (ext !== undefined) {
    const add = (recs: Records | undefined, words: number, kind: number): number => {
      if (recs === undefined) return -1;
      let id = listIds.get(recs);
      if (id === undefined) {
        id = lists.length;
        lists.push({ recs, words, kind });
        listIds.set(recs, id);
        listWords += recs.length * words;
      }
      return id;
    };
    for (let i = 0; i < fns.length; i++) {
      const fn = fns[i].fn;
      fnLists[i * 3] = add(infoFor(ext.funcInfo, fn), 2, 0);
      fnLists[i * 3 + 1] = add(infoFor(ext.lineInfo, fn), 4, 1);
      if (coreInKernel) fnLists[i * 3 + 2] = add(infoFor(ext.coreRelos, fn), 4, 2);
    }
  }
  const fnOff = HDR_WORDS;
  const relOff = fnOff + fns.length * FN_WORDS;
  const listOff = relOff + nRelocs * RELOC_WORDS;
  const recOff = listOff + lists.length * LIST_WORDS;
  const insnOff = (recOff + listWords) * 4;
  const size = insnOff + insnBytes;
  const buf = core.alloc(size);
  const externErrors = new Map<number, RelocationError>();
  try {
    const u8 = core.u8();
    const w = new Int32Array(u8.buffer, buf.ptr, size >> 2);
    w.fill(0, 0, insnOff >> 2); // core memory is not zeroed
    w[0] = 1;
    w[1] = (ext !== undefined ? FLAG_EXT : 0) | (coreInKernel ? FLAG_CORE_IN_KERNEL : 0);
    w[2] = fns.length;
    w[3] = main;
    w[4] = nRelocs;
    w[5] = lists.length;
    w[6] = fnOff * 4;
    w[7] = relOff * 4;
    w[8] = listOff * 4;
    let mapIndex: Map<string, number> | undefined;
    let rel = 0;
    let insnAt = insnOff;
    for (let i = 0; i < fns.length; i++) {
      const f = fns[i];
      const fn = f.fn;
      const n = f.insns.length >> 3;
      const o = fnOff + i * FN_WORDS;
      u8.set(f.insns.subarray(0, n * INSN), buf.ptr + insnAt);
      w[o] = insnAt;
      w[o + 1] = n;
      w[o + 2] = targetIndex(fn.sectionInsnOffset);
      w[o + 3] = (f.text ? FN_TEXT : 0) | (f.error ? FN_CORE_ERROR : 0);
      w[o + 4] = rel;
      w[o + 5] = fn.relocations.length;
      w[o + 6] = fnLists[i * 3];
      w[o + 7] = fnLists[i * 3 + 1];
      w[o + 8] = fnLists[i * 3 + 2];
      insnAt += n * INSN;
      for (const r of fn.relocations) {
        const q = relOff + rel * RELOC_WORDS;
        const kind = KIND_CODES[r.kind] ?? K_UNKNOWN;
        w[q] = insnIndex(r.insn);
        w[q + 1] = kind;
        let plan: number[] | RelocationError | undefined;
        switch (kind) {
          case 0:
          case 1: {
            const fd = kind === 0
              ? input.mapFds.get(r.map ?? "")
              : input.dataMapFds.get(r.section ?? "");
            if (fd === undefined) {
              mapIndex ??= mapIndexOf(spec);
              w[q + 2] = 1;
              w[q + 3] = mapIndex.get(kind === 0 ? r.map ?? "" : "\0" + r.section) ?? 0;
            } else {
              w[q + 3] = fd;
            }
            if (kind === 1) w[q + 4] = (r.offset ?? 0) | 0;
            break;
          }
          case 2:
          case 3:
            w[q + 2] = r.targetSection === ".text" && r.targetInsn !== undefined ? 1 : 0;
            w[q + 3] = targetIndex(r.targetInsn);
            break;
          case 4:
            plan = ld64Plan(spec, input, fn, r);
            break;
          case 5:
            plan = callPlan(spec, input, fn, r);
            break;
        }
        if (plan instanceof RelocationError) {
          externErrors.set(rel, plan);
        } else if (plan !== undefined) {
          for (let k = 0; k < plan.length; k++) w[q + 2 + k] = plan[k];
        }
        rel++;
      }
    }
    let recAt = recOff;
    for (let l = 0; l < lists.length; l++) {
      const { recs, words, kind } = lists[l];
      const o = listOff + l * LIST_WORDS;
      w[o] = words;
      w[o + 1] = recs.length;
      w[o + 2] = recAt * 4;
      w.set(encoded(recs, kind), recAt);
      recAt += recs.length * words;
    }
    const d = core.call(() => core.exports.reloc_run(buf.ptr, size) as number);
    if (d === 0) throw new BpfError("Internal error: the tsbpf core refused a relocation input");
    const m = core.u8();
    const res = new Int32Array(m.buffer, d, RES_WORDS);
    if (res[0] !== 0) {
      throw linkError(fns[res[11]], res[0], res[12], res[13], externErrors);
    }
    const fdArray: number[] = [];
    const fds = new Int32Array(m.buffer, res[10], res[9] * 2);
    for (let i = 0; i < fds.length; i += 2) {
      while (fdArray.length <= fds[i]) fdArray.push(0);
      fdArray[fds[i]] = fds[i + 1];
    }
    return {
      insns: m.slice(res[2], res[2] + res[1] * INSN),
      funcInfo: m.slice(res[4], res[4] + res[3] * 8),
      funcInfoRecSize: 8,
      lineInfo: m.slice(res[6], res[6] + res[5] * 16),
      lineInfoRecSize: 16,
      fdArray,
      ...(coreInKernel ? { coreRelos: m.slice(res[8], res[8] + res[7] * 16) } : {}),
    };
  } finally {
    core.free(buf);
  }
}

// The words of each .BTF.ext record list, made once per list: the lists are the object's and do
// not change, so a warm relocation copies them with one set() instead of a loop over records.
const encodedLists = new WeakMap<Records, Int32Array>();

function encoded(recs: Records, kind: number): Int32Array {
  const hit = encodedLists.get(recs);
  const words = kind === 0 ? 2 : 4;
  if (hit !== undefined && hit.length === recs.length * words) return hit;
  const out = new Int32Array(recs.length * words);
  if (kind === 0) {
    const list = recs as readonly BtfFuncInfo[];
    for (let i = 0; i < list.length; i++) {
      out[2 * i] = list[i].insnOff;
      out[2 * i + 1] = list[i].typeId;
    }
  } else if (kind === 1) {
    const list = recs as readonly BtfLineInfo[];
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      out[4 * i] = r.insnOff;
      out[4 * i + 1] = r.fileNameOff;
      out[4 * i + 2] = r.lineOff;
      out[4 * i + 3] = (r.line << 10) | (r.col & 0x3ff);
    }
  } else {
    const list = recs as readonly BtfCoreRelo[];
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      out[4 * i] = r.insnOff;
      out[4 * i + 1] = r.typeId;
      out[4 * i + 2] = r.accessStrOff;
      out[4 * i + 3] = r.kind;
    }
  }
  encodedLists.set(recs, out);
  return out;
}

/** The error the core reported, as the message the TypeScript engine gave. */
function linkError(
  f: LinkFunction,
  code: number,
  a: number,
  b: number,
  externErrors: Map<number, RelocationError>,
): RelocationError {
  const fn = f.fn;
  switch (code) {
    case RE_CORE:
      return f.error!;
    case RE_RELOC_RANGE: {
      const r = fn.relocations[a];
      return relocErr(
        fn,
        r.insn,
        `Relocation at instruction ${r.insn} is outside the function's ${
          f.insns.length / INSN
        } instructions; the object is malformed`,
      );
    }
    case RE_DEPTH:
      return relocErr(fn, 0, "Subprogram calls nest too deeply");
    case RE_NO_INFO:
      return relocErr(
        fn,
        0,
        `Function '${fn.name}' has no .BTF.ext ${
          a === 0 ? "function info" : "line info"
        } while its caller has`,
      );
    case RE_CORE_MISALIGNED:
      return relocErr(fn, a, "CO-RE relocation at a misaligned instruction offset");
    case RE_UNEXPECTED:
      return relocErr(
        fn,
        a,
        `Unexpected ${fn.relocations[b].kind} relocation on a call or function address`,
      );
    case RE_OUTSIDE_TEXT:
      return relocErr(
        fn,
        a,
        `Call to '${fn.relocations[b].symbol}' outside .text; subprograms must live in .text`,
      );
    case RE_FUNC_NO_RELOC:
      return relocErr(fn, a, "Function address load has no relocation");
    case RE_NO_TARGET:
      return relocErr(fn, a, "Call into .text hits no function; is the object complete?");
    case RE_FUNC_ADDR:
      return relocErr(
        fn,
        fn.relocations[a].insn,
        "Function address relocation on a bad instruction",
      );
    case RE_UNKNOWN_KIND:
      return relocErr(
        fn,
        fn.relocations[a].insn,
        `Unknown relocation kind '${fn.relocations[a].kind}'`,
      );
    case RE_EXTERN:
      return externErrors.get(b) ??
        relocErr(fn, fn.relocations[a].insn, "Extern reference cannot be resolved");
  }
  return relocErr(fn, a, `Relocation failed in the core (code ${code})`);
}
