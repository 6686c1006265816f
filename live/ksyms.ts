/**
 * `__ksym` externs: typed variables and kfuncs resolved by name and kind in vmlinux BTF (then in
 * module BTFs) with libbpf's type-compatibility check, typeless ones from `/proc/kallsyms` (parsed
 * once, lazily), and `__weak` ones that the kernel lacks resolved to zero.
 *
 * @module
 */
import { host } from "../_host.ts";
import type { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { BpfError } from "../errors.ts";
import type { ResolvedExtern } from "../reloc/types.ts";
import type { ExternSpec } from "../spec/types.ts";
import type { KernelBtfs, ModuleBtf } from "./kernel_btf.ts";

let kallsymsText: string | undefined;
const kallsymsCache = new Map<string, string | null | undefined>();

// `/proc/kallsyms` is read once per process and searched per name (a program needs a handful):
// faster than indexing its 100k+ lines. A name listed at two different addresses is null
// (libbpf calls such a resolution ambiguous).
function kallsymsLookup(name: string): string | null | undefined {
  if (kallsymsCache.has(name)) return kallsymsCache.get(name);
  if (kallsymsText === undefined) {
    try {
      kallsymsText = host().readText("/proc/kallsyms");
    } catch (e) {
      throw new BpfError(`Reading /proc/kallsyms failed: ${(e as Error).message}`, { cause: e });
    }
  }
  const text = kallsymsText;
  let found: string | null | undefined;
  for (const end of ["\n", "\t"]) {
    const needle = ` ${name}${end}`;
    let at = text.indexOf(needle);
    while (at >= 0) {
      const ls = text.lastIndexOf("\n", at) + 1;
      const sp = text.indexOf(" ", ls);
      // "addr T name": the needle's space must be the one after the type letter
      if (sp >= 0 && sp + 2 === at) {
        const addr = text.slice(ls, sp);
        if (found === undefined) found = addr;
        else if (found !== null && found !== addr) found = null;
      }
      at = text.indexOf(needle, at + 1);
    }
  }
  kallsymsCache.set(name, found);
  return found;
}

/**
 * The address `/proc/kallsyms` lists for a symbol.
 *
 * @param name the symbol.
 * @returns its address, undefined when not listed, null when listed at two addresses.
 * @throws {BpfError} the file cannot be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kallsymAddress } from "./ksyms.ts";
 * assert.equal(kallsymAddress("tsbpf_no_such_symbol"), undefined);
 * // As root, with kptr_restrict 0 or 1, kallsyms shows real addresses: _stext's is not zero.
 * const a = kallsymAddress("_stext");
 * assert(typeof a === "bigint");
 * ```
 */
export function kallsymAddress(name: string): bigint | undefined | null {
  const a = kallsymsLookup(name);
  return a === undefined || a === null ? a : BigInt("0x" + a);
}

/**
 * Whether `/proc/kallsyms` lists a symbol.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasKallsym } from "./ksyms.ts";
 * assert(hasKallsym("_stext") && !hasKallsym("tsbpf_no_such_symbol"));
 * ```
 */
export function hasKallsym(name: string): boolean {
  return kallsymsLookup(name) !== undefined;
}

/**
 * libbpf's `bpf_core_types_are_compat`: whether a local type and a kernel type are compatible for
 * a ksym or a kfunc prototype (same kinds after modifiers and typedefs; pointers and arrays
 * recursively; prototypes parameter by parameter and by return type).
 *
 * @param local the object's BTF.
 * @param localId the local type id.
 * @param targ the kernel BTF.
 * @param targId the kernel type id.
 * @returns true when compatible.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { typesAreCompat } from "./ksyms.ts";
 * import { Btf } from "../btf/btf.ts";
 * const k = Btf.kernel();
 * const p = k.refType(k.findByName("bpf_task_acquire", 12));
 * assert(typesAreCompat(k, p, k, p));
 * ```
 */
export function typesAreCompat(local: Btf, localId: number, targ: Btf, targId: number): boolean {
  return compat(local, localId, targ, targId, 32);
}

function isEnum(k: number): boolean {
  return k === BtfKind.Enum || k === BtfKind.Enum64;
}

function compat(l: Btf, lid: number, t: Btf, tid: number, depth: number): boolean {
  for (;;) {
    if (depth-- <= 0) return false;
    lid = l.skipModsAndTypedefs(lid);
    tid = t.skipModsAndTypedefs(tid);
    const lk = l.kind(lid);
    const tk = t.kind(tid);
    if (lk !== tk && !(isEnum(lk) && isEnum(tk))) return false;
    switch (lk) {
      case BtfKind.Unknown:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Fwd:
        return true;
      case BtfKind.Int: {
        const a = l.type(lid);
        const b = t.type(tid);
        return a.kind === BtfKind.Int && b.kind === BtfKind.Int && a.bitOffset === 0 &&
          b.bitOffset === 0;
      }
      case BtfKind.Ptr:
        lid = l.refType(lid);
        tid = t.refType(tid);
        continue;
      case BtfKind.Array: {
        const a = l.type(lid);
        const b = t.type(tid);
        if (a.kind !== BtfKind.Array || b.kind !== BtfKind.Array) return false;
        lid = a.type;
        tid = b.type;
        continue;
      }
      case BtfKind.FuncProto: {
        const a = l.type(lid);
        const b = t.type(tid);
        if (a.kind !== BtfKind.FuncProto || b.kind !== BtfKind.FuncProto) return false;
        if (a.params.length !== b.params.length) return false;
        for (let i = 0; i < a.params.length; i++) {
          if (!compat(l, a.params[i].type, t, b.params[i].type, depth)) return false;
        }
        lid = a.returnType;
        tid = b.returnType;
        continue;
      }
      default:
        return false;
    }
  }
}

/**
 * The loader's object-wide fd_array for kfuncs of modules (slot 0 stays unused, as libbpf).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FdArray } from "./ksyms.ts";
 * const a = new FdArray();
 * assert(a.fds.length === 0); // slot 0 is added with the first module
 * ```
 */
export class FdArray {
  /** The fds, slot 0 is 0. */
  readonly fds: number[] = [];
  readonly #slots = new Map<ModuleBtf, number>();

  /** The slot of a module's BTF fd, adding it on first use. */
  slot(m: ModuleBtf): number {
    let s = this.#slots.get(m);
    if (s === undefined) {
      if (this.fds.length === 0) this.fds.push(0);
      if (this.fds.length >= 0x7fff) {
        throw new BpfError(
          `Module BTF fd index ${this.fds.length} does not fit an instruction offset`,
        );
      }
      s = this.fds.length;
      this.fds.push(m.fd.value);
      this.#slots.set(m, s);
    }
    return s;
  }
}

/**
 * Resolves the object's `__ksym` externs (variables and kfuncs) as libbpf does.
 *
 * @param btf the object's BTF (undefined only when there are no typed externs).
 * @param externs the object's externs; kconfig ones are skipped.
 * @param kernel the kernel BTFs of this load.
 * @param fdArray the object's fd_array, which module kfuncs are added to.
 * @returns extern name → resolution.
 * @throws {BpfError} a strong extern the kernel lacks, an ambiguous kallsyms name, or a type that
 *   does not match the kernel's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FdArray, resolveKsyms } from "./ksyms.ts";
 * import { KernelBtfs } from "./kernel_btf.ts";
 * import { open } from "../spec/open.ts";
 * const spec = open("tests/bpf/build/externs.bpf.o");
 * const k = new KernelBtfs();
 * try {
 *   const r = resolveKsyms(spec.btf, spec.externs, k, new FdArray());
 *   assert(r.has("_stext") && r.has("bpf_task_acquire"));
 * } finally {
 *   k.close();
 *   spec.btf?.close();
 * }
 * ```
 */
export function resolveKsyms(
  btf: Btf | undefined,
  externs: readonly ExternSpec[],
  kernel: KernelBtfs,
  fdArray: FdArray,
): Map<string, ResolvedExtern> {
  const out = new Map<string, ResolvedExtern>();
  for (const ext of externs) {
    if (ext.kind === "kconfig") continue;
    if (ext.kind === "ksym" && ext.btfTypeId === 0) {
      const addr = kallsymAddress(ext.name);
      if (addr === null) {
        throw new BpfError(
          `Extern (ksym) '${ext.name}': resolution is ambiguous in /proc/kallsyms`,
        );
      }
      if (addr === undefined) {
        if (!ext.weak) {
          throw new BpfError(
            `Extern '${ext.name}' (strong): not found in /proc/kallsyms; declare it __weak if it is optional`,
          );
        }
        out.set(ext.name, { kind: "missing_weak" });
      } else out.set(ext.name, { kind: "ksym_addr", addr });
      continue;
    }
    if (btf === undefined) throw new BpfError(`Extern '${ext.name}' needs the object's BTF`);
    const kind = ext.kind === "kfunc" ? BtfKind.Func : BtfKind.Var;
    const ref = kernel.find(ext.name, kind);
    if (ref === undefined) {
      if (ext.weak) {
        out.set(ext.name, { kind: "missing_weak" });
        continue;
      }
      throw new BpfError(
        ext.kind === "kfunc"
          ? `Extern (func ksym) '${ext.name}': not found in kernel or module BTFs`
          : `Extern (var ksym) '${ext.name}': not found in kernel BTF`,
      );
    }
    const targ = ref.btf.refType(ref.id);
    if (!typesAreCompat(btf, ext.btfTypeId, ref.btf, targ)) {
      throw new BpfError(
        ext.kind === "kfunc"
          ? `Extern (func ksym) '${ext.name}': func_proto [${ext.btfTypeId}] incompatible with kernel [${targ}]`
          : `Extern (var ksym) '${ext.name}': incompatible types, expected [${ext.btfTypeId}] ${
            btf.name(btf.skipModsAndTypedefs(ext.btfTypeId))
          }, but kernel has [${targ}] ${ref.btf.name(ref.btf.skipModsAndTypedefs(targ))}`,
      );
    }
    if (ext.kind === "kfunc") {
      out.set(ext.name, {
        kind: "kfunc",
        btfId: ref.id,
        fdArrayIdx: ref.module ? fdArray.slot(ref.module) : 0,
      });
    } else {
      out.set(ext.name, {
        kind: "ksym",
        btfId: ref.id,
        btfObjFd: ref.module ? ref.module.fd.value : 0,
      });
    }
  }
  return out;
}
