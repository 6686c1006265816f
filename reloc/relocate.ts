/**
 * The pure relocation engine: libbpf 1.1's `bpf_object__relocate` for one program. Both halves run
 * in the WebAssembly core: CO-RE (`core_relo.ts`) over the object's BTF and the target BTF, then
 * subprogram placement, call, map, global-data and extern patching and the func_info, line_info
 * and core_relo records (`reloc.ts`, through `_link.ts`). This file keeps the typed contract, the
 * CO-RE pass's cache and the error messages. No syscalls: map fds and extern values come in
 * through {@linkcode RelocInput}.
 *
 * @module
 */
import { Core } from "../core-wasm/mod.ts";
import { RelocationError } from "../errors.ts";
import type { Btf } from "../btf/btf.ts";
import { BTF_KIND_NAMES } from "../btf/types.ts";
import type { ObjectSpec, ProgramSpec } from "../spec/types.ts";
import { type LinkFunction, linkInCore } from "./_link.ts";
import type { RelocatedProgram, RelocInput } from "./types.ts";

const INSN = 8;

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
// of one relocation can depend on earlier ones, so the whole pass runs once and is kept, per set
// of loaded programs (relocating a program outside the autoload set adds it to the set).
const coreCaches = new WeakMap<ObjectSpec, WeakMap<Btf, Map<string, CoreCache>>>();
const noTarget = new WeakMap<ObjectSpec, Map<string, CoreCache>>();
/** Loaded-program sets kept per object and target; a ninth starts the list again. */
const MAX_SETS = 8;

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
  let sets: Map<string, CoreCache> | undefined;
  if (target !== undefined) {
    let byTarget = coreCaches.get(spec);
    if (byTarget === undefined) {
      byTarget = new WeakMap();
      coreCaches.set(spec, byTarget);
    }
    sets = byTarget.get(target);
    if (sets === undefined) {
      sets = new Map();
      byTarget.set(target, sets);
    }
  } else {
    sets = noTarget.get(spec);
    if (sets === undefined) {
      sets = new Map();
      noTarget.set(spec, sets);
    }
  }
  const hit = sets.get(key);
  if (hit !== undefined && fresh(spec, hit, key)) return hit.results;
  if (sets.size >= MAX_SETS) sets.clear();
  const cache = { results: corePass(spec, target, modules, loading), loading: key };
  sets.set(key, cache);
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
  const fns: LinkFunction[] = [];
  let mainIdx = 0;
  for (const fn of spec.programs) {
    if (fn === main) mainIdx = fns.length;
    const res = coreRes.get(fn)!;
    fns.push({ fn, insns: res.insns, error: res.error, text: false });
  }
  for (const fn of spec.subprograms) {
    const res = coreRes.get(fn)!;
    fns.push({ fn, insns: res.insns, error: res.error, text: fn.section === ".text" });
  }
  return linkInCore(Core.get(), spec, fns, mainIdx, input);
}

/** The functions as compiled, for a program whose CO-RE relocations the kernel applies. */
function asCompiled(spec: ObjectSpec): Map<ProgramSpec, CoreResult> {
  const out = new Map<ProgramSpec, CoreResult>();
  for (const fn of functionsOf(spec)) {
    out.set(fn, { insns: fn.insns, error: undefined, from: fn.insns });
  }
  return out;
}
