/**
 * The pure relocation engine: libbpf 1.1's `bpf_object__relocate` for one program. CO-RE runs in
 * the core (`core_relo.ts`) over the object's BTF and the target BTF; subprogram linking, map,
 * global-data and extern relocations, and the func_info/line_info rebasing happen here, on plain
 * bytes. No syscalls: map fds and extern values come in through {@linkcode RelocInput}.
 *
 * @module
 */
import { Core } from "../core-wasm/mod.ts";
import { RelocationError } from "../errors.ts";
import type { Btf } from "../btf/btf.ts";
import type { BtfCoreRelo } from "../btf/ext.ts";
import { BTF_KIND_NAMES } from "../btf/types.ts";
import type { ObjectSpec, ProgramSpec, RelocSpec } from "../spec/types.ts";
import type { RelocatedProgram, RelocInput, ResolvedExtern } from "./types.ts";

const INSN = 8;
const CODE_CALL = 0x85; // BPF_JMP | BPF_CALL
const CODE_LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const PSEUDO_MAP_FD = 1;
const PSEUDO_MAP_VALUE = 2;
const PSEUDO_BTF_ID = 3;
const PSEUDO_FUNC = 4;
const PSEUDO_CALL = 1;
const PSEUDO_KFUNC_CALL = 2;
const MAP_POISON_BASE = 2001000000;

/** One function's instructions after CO-RE, or the CO-RE error that stopped them. */
interface CoreResult {
  insns: Uint8Array;
  error: RelocationError | undefined;
  /** The function's `insns` the pass started from; a different array makes the pass stale. */
  from: Uint8Array;
}

function fresh(spec: ObjectSpec, cache: CoreCache, loading: string): boolean {
  if (cache.loading !== loading) return false;
  const fns = functionsOf(spec);
  if (fns.length !== cache.results.size) return false;
  for (const fn of fns) if (cache.results.get(fn)?.from !== fn.insns) return false;
  return true;
}

/** The results of one CO-RE pass, and which entry programs it relocated. */
interface CoreCache {
  results: Map<ProgramSpec, CoreResult>;
  loading: string;
}

// CO-RE results per object and target: libbpf relocates every function of an object once, in
// .BTF.ext order, with one candidate cache whose lists shrink as relocations succeed; the result
// of one relocation can depend on earlier ones, so the whole pass runs once and is kept.
const coreCaches = new WeakMap<ObjectSpec, WeakMap<Btf, CoreCache>>();
const noTarget = new WeakMap<ObjectSpec, CoreCache>();

function functionsOf(spec: ObjectSpec): ProgramSpec[] {
  return [...spec.programs, ...spec.subprograms];
}

function elfSectionName(fn: ProgramSpec): string[] {
  // .BTF.ext names sections as the ELF does, including a leading '?' that ProgramSpec drops.
  return fn.autoload || fn.isSubprogram
    ? [fn.section, "?" + fn.section]
    : ["?" + fn.section, fn.section];
}

function findFunction(
  fns: ProgramSpec[],
  section: string,
  secInsn: number,
): ProgramSpec | undefined {
  for (const fn of fns) {
    if (!elfSectionName(fn).includes(section)) continue;
    if (
      secInsn >= fn.sectionInsnOffset && secInsn < fn.sectionInsnOffset + fn.insns.length / INSN
    ) {
      return fn;
    }
  }
  return undefined;
}

function runCore(
  spec: ObjectSpec,
  target: Btf | undefined,
  modules: readonly Btf[],
  loading: ReadonlySet<string>,
): Map<ProgramSpec, CoreResult> {
  const key = [...loading].sort().join("\0");
  if (target !== undefined) {
    let byTarget = coreCaches.get(spec);
    if (byTarget === undefined) {
      byTarget = new WeakMap();
      coreCaches.set(spec, byTarget);
    }
    const hit = byTarget.get(target);
    if (hit !== undefined && fresh(spec, hit, key)) return hit.results;
    const cache = { results: corePass(spec, target, modules, loading), loading: key };
    byTarget.set(target, cache);
    return cache.results;
  }
  let cache = noTarget.get(spec);
  if (cache === undefined || !fresh(spec, cache, key)) {
    cache = { results: corePass(spec, undefined, modules, loading), loading: key };
    noTarget.set(spec, cache);
  }
  return cache.results;
}

/** One CO-RE pass in the core: a context with its candidate cache, and a scratch buffer. */
class CoreSession {
  readonly core: Core = Core.get();
  #ctx: number;
  #scratch = { ptr: 0, len: 0 };
  #enc = new TextEncoder();

  constructor(local: Btf, target: Btf, modules: readonly Btf[]) {
    const x = this.core.exports;
    this.#ctx = this.core.check(
      this.core.call(() => x.core_ctx_new(local.handle, target.handle) as number),
    );
    try {
      for (const m of modules) {
        this.core.check(this.core.call(() => x.core_ctx_add_module(this.#ctx, m.handle) as number));
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Applies one relocation to `cnt` instructions at `ptr`: 0 patched, 1 poisoned, or the error. */
  apply(
    ptr: number,
    cnt: number,
    idx: number,
    r: { typeId: number; accessStr: string; kind: number },
  ): number | Error {
    const access = this.#enc.encode(r.accessStr);
    if (access.length > this.#scratch.len) {
      if (this.#scratch.ptr) this.core.free(this.#scratch);
      this.#scratch = { ptr: 0, len: 0 };
      this.#scratch = this.core.alloc(Math.max(64, access.length));
    }
    this.core.u8().set(access, this.#scratch.ptr);
    const x = this.core.exports;
    const ret = this.core.call(() =>
      x.core_relo_apply(
        this.#ctx,
        ptr,
        cnt,
        idx,
        r.typeId,
        r.kind,
        this.#scratch.ptr,
        access.length,
      ) as number
    );
    return ret < 0 ? this.core.takeError() : ret;
  }

  close(): void {
    if (this.#scratch.ptr) this.core.free(this.#scratch);
    this.#scratch = { ptr: 0, len: 0 };
    if (this.#ctx >= 0) this.core.exports.core_ctx_free(this.#ctx);
    this.#ctx = -1;
  }
}

const KIND_NAMES = [
  "field byte offset",
  "field byte size",
  "field exists",
  "field signed",
  "field lshift",
  "field rshift",
  "local type id",
  "target type id",
  "type exists",
  "type size",
  "enum value exists",
  "enum value",
  "type matches",
];

/** "CO-RE field byte offset of struct task_struct, access 0:1:2", for error messages. */
function describeRelo(btf: Btf, r: { typeId: number; accessStr: string; kind: number }): string {
  let type = `type ${r.typeId}`;
  try {
    const kind = (BTF_KIND_NAMES[btf.kind(r.typeId)] ?? "type").toLowerCase();
    type = `${kind} ${btf.name(r.typeId) || "(anon)"} [${r.typeId}]`;
  } catch {
    // an out-of-range id: keep the number
  }
  const kind = KIND_NAMES[r.kind] ?? `kind ${r.kind}`;
  return `CO-RE ${kind} of ${type}, access ${r.accessStr || "(empty)"}`;
}

/** A CO-RE relocation record with its instruction offset in bytes, as in `.BTF.ext`. */
export interface CoreRelo {
  /** Byte offset of the instruction in `insns`. */
  insnOff: number;
  /** The root type id in the local BTF. */
  typeId: number;
  /** The access string, such as `0:1:2`. */
  accessStr: string;
  /** The relocation kind (`enum bpf_core_relo_kind`). */
  kind: number;
}

/**
 * Applies CO-RE relocations to a copy of some instructions, in order, with one candidate cache
 * (libbpf's `bpf_object__relocate_core` for one function). Relocations whose target is missing
 * poison their instruction (a call to helper 0xbad2310), as libbpf does.
 *
 * @param local The BTF the relocations name types of (the object's).
 * @param target The BTF to relocate against (the kernel's, or a custom one).
 * @param insns The instructions, 8 bytes each.
 * @param relos The relocations; `insnOff` is a byte offset into `insns`.
 * @param opts `modules`: module BTFs (split over `target`) searched when `target` has no candidate.
 * @returns The patched copy, and the indexes of the instructions that were poisoned.
 * @throws {RelocationError} When a relocation cannot be applied (bad access string, ambiguous
 *   candidates, an instruction that does not hold the value the compiler recorded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyCoreRelocations } from "./relocate.ts";
 * import { Btf } from "../btf/btf.ts";
 * const k = Btf.kernel();
 * const out = applyCoreRelocations(k, k, new Uint8Array(8), []);
 * assert(out.insns.length === 8 && out.poisoned.length === 0);
 * ```
 */
export function applyCoreRelocations(
  local: Btf,
  target: Btf,
  insns: Uint8Array,
  relos: readonly CoreRelo[],
  opts: { modules?: readonly Btf[] } = {},
): { insns: Uint8Array; poisoned: number[] } {
  const session = new CoreSession(local, target, opts.modules ?? []);
  const buf = session.core.copyIn(insns);
  const poisoned: number[] = [];
  try {
    for (const r of relos) {
      const idx = Math.floor(r.insnOff / INSN);
      if (r.insnOff % INSN !== 0) {
        throw new RelocationError("CO-RE relocation at a misaligned instruction offset", {
          insn: idx,
        });
      }
      const ret = session.apply(buf.ptr, insns.length / INSN, idx, r);
      if (typeof ret !== "number") {
        throw new RelocationError(`${describeRelo(local, r)}: ${ret.message}`, {
          insn: idx,
          cause: ret,
        });
      }
      if (ret === 1) poisoned.push(idx);
    }
    return { insns: session.core.u8().slice(buf.ptr, buf.ptr + insns.length), poisoned };
  } finally {
    session.core.free(buf);
    session.close();
  }
}

function corePass(
  spec: ObjectSpec,
  target: Btf | undefined,
  modules: readonly Btf[],
  loading: ReadonlySet<string>,
): Map<ProgramSpec, CoreResult> {
  const cache = new Map<ProgramSpec, CoreResult>();
  const fns = functionsOf(spec);
  for (const fn of fns) {
    cache.set(fn, { insns: fn.insns.slice(), error: undefined, from: fn.insns });
  }
  const relos = spec.btfExt?.coreRelos;
  if (relos === undefined || relos.size === 0 || spec.btf === undefined) return cache;
  let total = 0;
  for (const list of relos.values()) total += list.length;
  if (total === 0) return cache;

  if (target === undefined) {
    for (const [section, list] of relos) {
      for (const r of list) {
        const fn = findFunction(fns, section, Math.floor(r.insnOff / INSN));
        const res = fn && cache.get(fn);
        if (fn && res && !res.error && (fn.isSubprogram || loading.has(fn.name))) {
          res.error = new RelocationError(
            "Program has CO-RE relocations but no target BTF was given; pass the kernel's BTF",
            {
              program: fn.name,
              section: fn.section,
              insn: r.insnOff / INSN - fn.sectionInsnOffset,
            },
          );
        }
      }
    }
    return cache;
  }

  const session = new CoreSession(spec.btf, target, modules);
  const bufs = new Map<ProgramSpec, number>();
  try {
    for (const [section, list] of relos) {
      for (const r of list) {
        const secInsn = Math.floor(r.insnOff / INSN);
        const fn = findFunction(fns, section, secInsn);
        if (fn === undefined) continue; // eliminated weak code: libbpf skips it too
        // libbpf relocates only the programs it loads (and every subprogram).
        if (!fn.isSubprogram && !loading.has(fn.name)) continue;
        const res = cache.get(fn)!;
        if (res.error) continue;
        const idx = secInsn - fn.sectionInsnOffset;
        if (r.insnOff % INSN !== 0) {
          res.error = new RelocationError("CO-RE relocation at a misaligned instruction offset", {
            program: fn.name,
            section: fn.section,
            insn: idx,
          });
          continue;
        }
        let ptr = bufs.get(fn);
        if (ptr === undefined) {
          ptr = session.core.copyIn(res.insns).ptr;
          bufs.set(fn, ptr);
        }
        const e = session.apply(ptr, fn.insns.length / INSN, idx, r);
        if (typeof e !== "number") {
          res.error = new RelocationError(
            `Program '${fn.name}' (section ${fn.section}): ${
              describeRelo(spec.btf, r)
            }: ${e.message}`,
            { program: fn.name, section: fn.section, insn: idx, cause: e },
          );
        }
      }
    }
    const u8 = session.core.u8();
    for (const [fn, ptr] of bufs) {
      const res = cache.get(fn)!;
      res.insns = u8.slice(ptr, ptr + fn.insns.length);
    }
  } finally {
    for (const ptr of bufs.values()) session.core.free(ptr);
    session.close();
  }
  return cache;
}

/** One function placed in the final program. */
interface Placed {
  fn: ProgramSpec;
  off: number;
  insns: Uint8Array;
  dv: DataView;
}

function relocErr(fn: ProgramSpec, insn: number, msg: string): RelocationError {
  return new RelocationError(msg, { program: fn.name, section: fn.section, insn });
}

function setSrc(dv: DataView, at: number, src: number): void {
  dv.setUint8(at + 1, (dv.getUint8(at + 1) & 0x0f) | (src << 4));
}

function poisonMapInsn(dv: DataView, at: number, mapIdx: number): void {
  for (let i = 0; i < 2; i++) {
    const o = at + i * INSN;
    dv.setUint8(o, CODE_CALL);
    dv.setUint8(o + 1, 0);
    dv.setInt16(o + 2, 0, true);
    dv.setInt32(o + 4, MAP_POISON_BASE + mapIdx, true);
  }
}

interface InfoAcc {
  records: number[][];
  /** False once the main program turned out to have no records: libbpf then drops them all. */
  enabled: boolean;
}

/**
 * Appends a function's func_info or line_info records, rebased to where it was placed, the way
 * libbpf's reloc_prog_func_and_line_info does.
 */
function addInfo(
  acc: InfoAcc,
  all: { insnOff: number; rest: number[] }[] | undefined,
  p: Placed,
  isMain: boolean,
  what: string,
): void {
  if (!isMain && !acc.enabled) return;
  const start = p.fn.sectionInsnOffset;
  const end = start + p.fn.insns.length / INSN;
  let first = -1;
  let last = -1;
  if (all) {
    for (let i = 0; i < all.length; i++) {
      const at = Math.floor(all[i].insnOff / INSN);
      if (at < start) continue;
      if (at >= end) break;
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) {
    if (isMain) {
      acc.enabled = false;
      return;
    }
    throw relocErr(p.fn, 0, `Function '${p.fn.name}' has no .BTF.ext ${what} while its caller has`);
  }
  acc.enabled = true;
  const adj = p.off - start;
  for (let i = first; i <= last; i++) {
    const r = all![i];
    acc.records.push([(Math.floor(r.insnOff / INSN) + adj) >>> 0, ...r.rest]);
  }
}

function infoFor<T>(m: Map<string, T[]> | undefined, fn: ProgramSpec): T[] | undefined {
  if (!m) return undefined;
  for (const k of elfSectionName(fn)) {
    const v = m.get(k);
    if (v) return v;
  }
  return undefined;
}

/**
 * Relocates one program of an object the way libbpf 1.1 does before BPF_PROG_LOAD: applies CO-RE
 * relocations against the target BTF, appends every subprogram the program reaches (depth first,
 * each once, in the order its calls are met), fixes bpf-to-bpf calls and callback addresses to
 * pc-relative offsets, turns map and global-data references into BPF_PSEUDO_MAP_FD/VALUE, and
 * externs into kconfig map values, ksym BTF ids or addresses and kfunc calls.
 *
 * @param spec The object, from `open()`.
 * @param programName The entry program's function name.
 * @param input The live facts: map fds, data-map fds, the target BTF and the resolved externs.
 * @returns The final instructions with their func_info and line_info records.
 * @throws {RelocationError} When the program is unknown, a call or a reference cannot be resolved,
 *   an extern has no value, or a CO-RE relocation fails (not for a field that is merely missing:
 *   such instructions are poisoned, as libbpf does).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relocateProgram } from "./relocate.ts";
 * import { open } from "../spec/open.ts";
 * import { Btf } from "../btf/btf.ts";
 * const spec = open("tests/bpf/build/maps.bpf.o");
 * const fds = new Map(spec.maps.map((m, i) => [m.name, 100 + i]));
 * const prog = relocateProgram(spec, "touch_maps", {
 *   mapFds: fds,
 *   dataMapFds: new Map(),
 *   targetBtf: Btf.kernel(),
 *   externs: new Map(),
 * });
 * assert(prog.insns.length % 8 === 0);
 * ```
 */
export function relocateProgram(
  spec: ObjectSpec,
  programName: string,
  input: RelocInput,
): RelocatedProgram {
  const main = spec.programs.find((p) => p.name === programName);
  if (main === undefined) {
    throw new RelocationError(
      `Object '${spec.name}' has no program named '${programName}'; see its programs with tsbpf object show`,
      { program: programName },
    );
  }
  const loading = new Set(
    input.loadedPrograms ?? spec.programs.filter((p) => p.autoload).map((p) => p.name),
  );
  loading.add(main.name);
  const coreRes = input.coreInKernel
    ? asCompiled(spec)
    : runCore(spec, input.targetBtf, input.coreModules ?? [], loading);
  const text = spec.subprograms.filter((s) => s.section === ".text")
    .sort((a, b) => a.sectionInsnOffset - b.sectionInsnOffset);
  const ext = spec.btfExt;
  const funcAcc: InfoAcc = { records: [], enabled: false };
  const lineAcc: InfoAcc = { records: [], enabled: false };
  const coreAcc: number[][] = [];
  const funcAll = new Map<ProgramSpec, { insnOff: number; rest: number[] }[] | undefined>();
  const lineAll = new Map<ProgramSpec, { insnOff: number; rest: number[] }[] | undefined>();
  const funcRecs = (fn: ProgramSpec) => {
    if (!funcAll.has(fn)) {
      funcAll.set(
        fn,
        infoFor(ext?.funcInfo, fn)?.map((r) => ({ insnOff: r.insnOff, rest: [r.typeId] })),
      );
    }
    return funcAll.get(fn);
  };
  const lineRecs = (fn: ProgramSpec) => {
    if (!lineAll.has(fn)) {
      lineAll.set(
        fn,
        infoFor(ext?.lineInfo, fn)?.map((r) => ({
          insnOff: r.insnOff,
          rest: [r.fileNameOff, r.lineOff, ((r.line << 10) | (r.col & 0x3ff)) >>> 0],
        })),
      );
    }
    return lineAll.get(fn);
  };

  const placedList: Placed[] = [];
  const placedAt = new Map<ProgramSpec, number>();
  let total = 0;

  const place = (fn: ProgramSpec): Placed => {
    const res = coreRes.get(fn);
    if (res === undefined) {
      throw relocErr(fn, 0, `Function '${fn.name}' is not part of object '${spec.name}'`);
    }
    if (res.error) throw res.error;
    const insns = res.insns.slice();
    const dv = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
    // A relocation must sit on the function's instructions (two slots for a 64-bit load).
    for (const r of fn.relocations) {
      const width = r.kind === "call" || r.kind === "extern_call" ? 1 : 2;
      if (!Number.isInteger(r.insn) || r.insn < 0 || (r.insn + width) * INSN > insns.length) {
        throw relocErr(
          fn,
          r.insn,
          `Relocation at instruction ${r.insn} is outside the function's ${
            insns.length / INSN
          } instructions; the object is malformed`,
        );
      }
    }
    // libbpf marks callback-address loads before linking, so they read as BPF_PSEUDO_FUNC.
    for (const r of fn.relocations) {
      if (r.kind === "func_addr") setSrc(dv, r.insn * INSN, PSEUDO_FUNC);
    }
    const p: Placed = { fn, off: total, insns, dv };
    placedList.push(p);
    placedAt.set(fn, total);
    total += insns.length / INSN;
    return p;
  };

  const relocsOf = new Map<ProgramSpec, Map<number, RelocSpec>>();
  const relocAt = (fn: ProgramSpec, insn: number): RelocSpec | undefined => {
    let m = relocsOf.get(fn);
    if (m === undefined) {
      m = new Map();
      for (const r of fn.relocations) if (!m.has(r.insn)) m.set(r.insn, r);
      relocsOf.set(fn, m);
    }
    return m.get(insn);
  };

  const findText = (secInsn: number): ProgramSpec | undefined => {
    let lo = 0;
    let hi = text.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = text[mid];
      if (secInsn < f.sectionInsnOffset) hi = mid - 1;
      else if (secInsn >= f.sectionInsnOffset + f.insns.length / INSN) lo = mid + 1;
      else return f;
    }
    return undefined;
  };

  const link = (p: Placed, isMain: boolean, depth: number): void => {
    if (depth > 4096) throw relocErr(p.fn, 0, "Subprogram calls nest too deeply");
    if (ext) {
      addInfo(funcAcc, funcRecs(p.fn), p, isMain, "function info");
      addInfo(lineAcc, lineRecs(p.fn), p, isMain, "line info");
      if (input.coreInKernel) addCoreRelos(coreAcc, infoFor(ext.coreRelos, p.fn), p);
    }
    const n = p.insns.length / INSN;
    for (let i = 0; i < n; i++) {
      const at = i * INSN;
      const code = p.dv.getUint8(at);
      const regs = p.dv.getUint8(at + 1);
      const isCall = code === CODE_CALL && (regs >> 4) === PSEUDO_CALL && (regs & 0x0f) === 0 &&
        p.dv.getInt16(at + 2, true) === 0;
      const isFunc = code === CODE_LD_IMM64 && (regs >> 4) === PSEUDO_FUNC;
      if (!isCall && !isFunc) continue;
      const r = relocAt(p.fn, i);
      if (r && r.kind === "extern_call") continue;
      if (r && r.kind !== "call" && r.kind !== "func_addr") {
        throw relocErr(p.fn, i, `Unexpected ${r.kind} relocation on a call or function address`);
      }
      let target: number;
      if (r) {
        if (r.targetSection !== ".text" || r.targetInsn === undefined) {
          throw relocErr(
            p.fn,
            i,
            `Call to '${r.symbol}' outside .text; subprograms must live in .text`,
          );
        }
        target = r.targetInsn;
      } else if (isFunc) {
        throw relocErr(p.fn, i, "Function address load has no relocation");
      } else {
        target = p.fn.sectionInsnOffset + i + p.dv.getInt32(at + 4, true) + 1;
      }
      const sub = findText(target);
      if (sub === undefined) {
        throw relocErr(p.fn, i, "Call into .text hits no function; is the object complete?");
      }
      let subOff = placedAt.get(sub);
      if (subOff === undefined) {
        const q = place(sub);
        subOff = q.off;
        link(q, false, depth + 1);
      }
      p.dv.setInt32(at + 4, subOff - (p.off + i) - 1, true);
    }
  };

  link(place(main), true, 0);

  // Data references, after every function is in place.
  const fdArray: number[] = [];
  const mapIndex = new Map<string, number>();
  spec.maps.forEach((m, i) => mapIndex.set(m.name, i));
  let di = spec.maps.length;
  for (const d of spec.datasecs) {
    if (d.name !== ".kconfig" && d.name !== ".ksyms") mapIndex.set("\0" + d.name, di++);
  }
  mapIndex.set("\0.kconfig", di);

  for (const p of placedList) {
    for (const r of p.fn.relocations) {
      const at = r.insn * INSN;
      const dv = p.dv;
      switch (r.kind) {
        case "map": {
          const fd = input.mapFds.get(r.map ?? "");
          if (fd === undefined) poisonMapInsn(dv, at, mapIndex.get(r.map ?? "") ?? 0);
          else {
            setSrc(dv, at, PSEUDO_MAP_FD);
            dv.setInt32(at + 4, fd, true);
          }
          break;
        }
        case "data": {
          const fd = input.dataMapFds.get(r.section ?? "");
          dv.setInt32(at + 12, (r.offset ?? 0) | 0, true);
          if (fd === undefined) poisonMapInsn(dv, at, mapIndex.get("\0" + r.section) ?? 0);
          else {
            setSrc(dv, at, PSEUDO_MAP_VALUE);
            dv.setInt32(at + 4, fd, true);
          }
          break;
        }
        case "extern_ld64":
          externLd64(spec, input, p, r);
          break;
        case "extern_call": {
          const ext = resolved(spec, input, p, r);
          setSrc(dv, at, PSEUDO_KFUNC_CALL);
          if (ext.kind === "kfunc") {
            dv.setInt32(at + 4, ext.btfId, true);
            dv.setInt16(at + 2, ext.fdArrayIdx, true);
            if (ext.fdArrayIdx > 0 && ext.btfObjFd !== undefined) {
              while (fdArray.length <= ext.fdArrayIdx) fdArray.push(0);
              fdArray[ext.fdArrayIdx] = ext.btfObjFd;
            }
          } else if (ext.kind === "missing_weak") {
            dv.setInt32(at + 4, 0, true);
            dv.setInt16(at + 2, 0, true);
          } else {
            throw relocErr(
              p.fn,
              r.insn,
              `Extern '${r.extern}' is called but resolved to a ${ext.kind}`,
            );
          }
          break;
        }
        case "func_addr":
          if ((dv.getUint8(at + 1) >> 4) !== PSEUDO_FUNC) {
            throw relocErr(p.fn, r.insn, "Function address relocation on a bad instruction");
          }
          break;
        case "call":
          break;
        default:
          throw relocErr(p.fn, r.insn, `Unknown relocation kind '${(r as RelocSpec).kind}'`);
      }
    }
  }

  const insns = new Uint8Array(total * INSN);
  for (const p of placedList) insns.set(p.insns, p.off * INSN);
  return {
    insns,
    funcInfo: packRecords(funcAcc.records, 2),
    funcInfoRecSize: 8,
    lineInfo: packRecords(lineAcc.records, 4),
    lineInfoRecSize: 16,
    fdArray,
    ...(input.coreInKernel ? { coreRelos: packRecords(coreAcc, 4) } : {}),
  };
}

/** The functions as compiled, for a program whose CO-RE relocations the kernel applies. */
function asCompiled(spec: ObjectSpec): Map<ProgramSpec, CoreResult> {
  const out = new Map<ProgramSpec, CoreResult>();
  for (const fn of functionsOf(spec)) {
    out.set(fn, { insns: fn.insns, error: undefined, from: fn.insns });
  }
  return out;
}

/** Appends a placed function's CO-RE relocations, at their offsets in the final program. */
function addCoreRelos(acc: number[][], all: readonly BtfCoreRelo[] | undefined, p: Placed): void {
  if (all === undefined) return;
  const start = p.fn.sectionInsnOffset;
  const end = start + p.fn.insns.length / INSN;
  for (const r of all) {
    const at = Math.floor(r.insnOff / INSN);
    if (at < start || at >= end) continue;
    if (r.insnOff % INSN !== 0) {
      throw relocErr(p.fn, at - start, "CO-RE relocation at a misaligned instruction offset");
    }
    acc.push([(at - start + p.off) * INSN, r.typeId, r.accessStrOff, r.kind]);
  }
}

function packRecords(recs: number[][], words: number): Uint8Array {
  const out = new Uint8Array(recs.length * words * 4);
  const dv = new DataView(out.buffer);
  recs.forEach((r, i) => {
    for (let w = 0; w < words; w++) dv.setUint32((i * words + w) * 4, r[w] >>> 0, true);
  });
  return out;
}

function resolved(spec: ObjectSpec, input: RelocInput, p: Placed, r: RelocSpec): ResolvedExtern {
  const name = r.extern ?? r.symbol;
  const ext = input.externs.get(name);
  if (ext !== undefined) return ext;
  const decl = spec.externs.find((e) => e.name === name);
  if (decl?.kind === "kconfig" && decl.weak) return { kind: "missing_weak" };
  throw relocErr(
    p.fn,
    r.insn,
    `Extern '${name}' has no value; resolve it against the kernel before relocating`,
  );
}

function externLd64(spec: ObjectSpec, input: RelocInput, p: Placed, r: RelocSpec): void {
  const at = r.insn * INSN;
  const dv = p.dv;
  const name = r.extern ?? r.symbol;
  const decl = spec.externs.find((e) => e.name === name);
  const ext = resolved(spec, input, p, r);
  if (ext.kind === "kconfig" || decl?.kind === "kconfig") {
    const fd = input.dataMapFds.get(".kconfig");
    if (fd === undefined) {
      throw relocErr(p.fn, r.insn, `Extern '${name}' needs the .kconfig map, which has no fd`);
    }
    const off = ext.kind === "kconfig" ? ext.offset : decl?.offset ?? -1;
    if (off < 0) throw relocErr(p.fn, r.insn, `Kconfig extern '${name}' has no offset in .kconfig`);
    setSrc(dv, at, PSEUDO_MAP_VALUE);
    dv.setInt32(at + 4, fd, true);
    dv.setInt32(at + 12, off, true);
    return;
  }
  switch (ext.kind) {
    case "ksym":
      setSrc(dv, at, PSEUDO_BTF_ID);
      dv.setInt32(at + 4, ext.btfId, true);
      dv.setInt32(at + 12, ext.btfObjFd, true);
      return;
    case "ksym_addr":
      dv.setInt32(at + 4, Number(BigInt.asIntN(32, ext.addr)), true);
      dv.setInt32(at + 12, Number(BigInt.asIntN(32, ext.addr >> 32n)), true);
      return;
    case "kfunc":
      // A kfunc's address taken with ld_imm64: libbpf loads it like a typed ksym.
      setSrc(dv, at, PSEUDO_BTF_ID);
      dv.setInt32(at + 4, ext.btfId, true);
      dv.setInt32(at + 12, ext.btfObjFd ?? 0, true);
      return;
    case "missing_weak":
      dv.setInt32(at + 4, 0, true);
      dv.setInt32(at + 12, 0, true);
      return;
    default:
      throw relocErr(
        p.fn,
        r.insn,
        `Extern '${name}' resolved to an unknown kind ${(ext as { kind: string }).kind}`,
      );
  }
}
