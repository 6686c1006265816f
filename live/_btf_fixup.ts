/**
 * The edits libbpf makes to an object's BTF before BPF_BTF_LOAD, on a copy of the raw blob:
 * DATASEC sizes and VAR offsets from the ELF file, hidden variables and functions marked static,
 * `.kconfig` and `.ksyms` laid out as libbpf lays them out (with its `dummy_ksym` VAR for kfuncs),
 * and VARs sorted by offset. Type ids never move: the only added type goes at the end.
 *
 * @module
 */
import { BtfKind } from "../btf/types.ts";
import { BtfError } from "../errors.ts";
import type { ElfFile } from "../spec/elf.ts";
import type { ObjectSpec } from "../spec/types.ts";

const STT_OBJECT = 1;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STV_INTERNAL = 1;
const STV_HIDDEN = 2;
const VAR_STATIC = 0;
const VAR_GLOBAL_ALLOCATED = 1;
const VAR_GLOBAL_EXTERN = 2;
const FUNC_STATIC = 0;
const FUNC_GLOBAL = 1;

interface Raw {
  dv: DataView;
  u8: Uint8Array;
  typeOff: number; // absolute
  strOff: number; // absolute
  strLen: number;
  offs: number[]; // absolute record offset by id (index 0 unused)
}

function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.Int:
    case BtfKind.Var:
    case BtfKind.DeclTag:
      return 4;
    case BtfKind.Array:
      return 12;
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Datasec:
    case BtfKind.Enum64:
      return 12 * vlen;
    case BtfKind.Enum:
    case BtfKind.FuncProto:
      return 8 * vlen;
    default:
      return 0;
  }
}

function index(u8: Uint8Array): Raw {
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (u8.length < 24 || dv.getUint16(0, true) !== 0xeb9f) {
    throw new BtfError("Object BTF has a bad header");
  }
  const hdr = dv.getUint32(4, true);
  const typeOff = hdr + dv.getUint32(8, true);
  const typeLen = dv.getUint32(12, true);
  const strOff = hdr + dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  const offs = [0];
  let p = typeOff;
  while (p < typeOff + typeLen) {
    offs.push(p);
    const info = dv.getUint32(p + 4, true);
    p += 12 + extraSize((info >>> 24) & 0x1f, info & 0xffff);
  }
  return { dv, u8, typeOff, strOff, strLen, offs };
}

function str(r: Raw, off: number): string {
  const s = r.strOff + off;
  let e = s;
  while (e < r.strOff + r.strLen && r.u8[e] !== 0) e++;
  return new TextDecoder().decode(r.u8.subarray(s, e));
}

const kindOf = (r: Raw, id: number) => (r.dv.getUint32(r.offs[id] + 4, true) >>> 24) & 0x1f;
const vlenOf = (r: Raw, id: number) => r.dv.getUint32(r.offs[id] + 4, true) & 0xffff;
const nameOf = (r: Raw, id: number) => str(r, r.dv.getUint32(r.offs[id], true));

/** What {@linkcode fixupObjectBtf} needs besides the spec. */
export interface FixupInput {
  /** The object's ELF file (section sizes and symbols). */
  elf: ElfFile;
  /** The object spec. */
  spec: ObjectSpec;
}

/**
 * Makes the BTF blob libbpf would hand to BPF_BTF_LOAD for an object.
 *
 * @param raw the object's raw BTF (a copy; it is not modified).
 * @param input the ELF file and the spec.
 * @returns the fixed blob.
 * @throws {BtfError} a DATASEC whose ELF section or variable symbol is missing.
 */
export function fixupObjectBtf(raw: Uint8Array, input: FixupInput): Uint8Array {
  let r = index(raw.slice());
  const { elf, spec } = input;

  // .ksyms: kfuncs become a dummy int VAR, variables int VARs, 4 bytes apart.
  let ksymsId = -1;
  let kconfigId = -1;
  for (let id = 1; id < r.offs.length; id++) {
    if (kindOf(r, id) !== BtfKind.Datasec) continue;
    const n = nameOf(r, id);
    if (n === ".ksyms") ksymsId = id;
    else if (n === ".kconfig") kconfigId = id;
  }
  if (ksymsId > 0) {
    let intId = 0;
    for (let id = 1; id < r.offs.length; id++) {
      if (kindOf(r, id) === BtfKind.Int && (r.dv.getUint32(r.offs[id] + 12, true) & 0xff) === 32) {
        intId = id;
        break;
      }
    }
    let dummyId = 0;
    let dummyName = 0;
    const vlen = vlenOf(r, ksymsId);
    const vs0 = r.offs[ksymsId] + 12;
    let hasFunc = false;
    for (let i = 0; i < vlen; i++) {
      if (kindOf(r, r.dv.getUint32(vs0 + 12 * i, true)) === BtfKind.Func) hasFunc = true;
    }
    if (hasFunc) {
      ({ raw: r, id: dummyId, nameOff: dummyName } = appendVar(r, "dummy_ksym", intId));
    }
    const sec = r.offs[ksymsId];
    for (let i = 0; i < vlen; i++) {
      const vs = sec + 12 + 12 * i;
      const vid = r.dv.getUint32(vs, true);
      const vt = r.offs[vid];
      if (kindOf(r, vid) === BtfKind.Func) {
        const proto = r.dv.getUint32(vt + 8, true);
        if (proto > 0 && kindOf(r, proto) === BtfKind.FuncProto) {
          const pn = vlenOf(r, proto);
          for (let j = 0; j < pn; j++) {
            const pp = r.offs[proto] + 12 + 8 * j;
            if (r.dv.getUint32(pp + 4, true) !== 0 && r.dv.getUint32(pp, true) === 0) {
              r.dv.setUint32(pp, dummyName, true);
            }
          }
        }
        r.dv.setUint32(vs, dummyId, true);
        const info = r.dv.getUint32(vt + 4, true);
        r.dv.setUint32(vt + 4, ((info & ~0xffff) | FUNC_GLOBAL) >>> 0, true);
      } else {
        r.dv.setUint32(vt + 12, VAR_GLOBAL_ALLOCATED, true);
        r.dv.setUint32(vt + 8, intId, true);
      }
      r.dv.setUint32(vs + 4, 4 * i, true);
      r.dv.setUint32(vs + 8, 4, true);
    }
    r.dv.setUint32(sec + 8, 4 * vlen, true);
  }
  if (kconfigId > 0) {
    const sec = r.offs[kconfigId];
    const kc = spec.datasecs.find((d) => d.name === ".kconfig");
    let end = 0;
    for (const e of spec.externs) if (e.kind === "kconfig") end = Math.max(end, e.offset + e.size);
    r.dv.setUint32(sec + 8, kc?.size ?? end, true);
    const vlen = vlenOf(r, kconfigId);
    for (let i = 0; i < vlen; i++) {
      const vs = sec + 12 + 12 * i;
      const vid = r.dv.getUint32(vs, true);
      const name = nameOf(r, vid);
      const ext = spec.externs.find((e) => e.kind === "kconfig" && e.name === name);
      if (ext === undefined) {
        throw new BtfError(`No extern definition for BTF var '${name}'`, { typeId: vid });
      }
      r.dv.setUint32(r.offs[vid] + 12, VAR_GLOBAL_ALLOCATED, true);
      r.dv.setUint32(vs + 4, ext.offset, true);
    }
  }

  // Every DATASEC: size and offsets from the ELF file, hidden variables static, sorted VARs.
  const syms = new Map<string, { value: number; visibility: number }>();
  for (const s of elf.symbols) {
    if (s.type !== STT_OBJECT || (s.bind !== STB_GLOBAL && s.bind !== STB_WEAK)) continue;
    if (!syms.has(s.name)) syms.set(s.name, s);
  }
  for (let id = 1; id < r.offs.length; id++) {
    if (kindOf(r, id) !== BtfKind.Datasec) continue;
    const sec = r.offs[id];
    const name = nameOf(r, id);
    const vlen = vlenOf(r, id);
    if (name !== ".kconfig" && name !== ".ksyms") {
      let fixOffsets = false;
      if (r.dv.getUint32(sec + 8, true) === 0) {
        const es = elf.sections.find((s) => s.name === name);
        if (es === undefined || es.size === 0) {
          throw new BtfError(`DATASEC '${name}' has no ELF section to take its size from`, {
            typeId: id,
          });
        }
        r.dv.setUint32(sec + 8, es.size, true);
        fixOffsets = true;
      }
      for (let i = 0; i < vlen; i++) {
        const vs = sec + 12 + 12 * i;
        const vid = r.dv.getUint32(vs, true);
        if (kindOf(r, vid) !== BtfKind.Var) {
          throw new BtfError(`DATASEC '${name}' holds a non-VAR type`, { typeId: vid });
        }
        const linkage = r.dv.getUint32(r.offs[vid] + 12, true);
        if (linkage === VAR_STATIC || linkage === VAR_GLOBAL_EXTERN) continue;
        const vname = nameOf(r, vid);
        const sym = syms.get(vname);
        if (sym === undefined) {
          throw new BtfError(`DATASEC '${name}': no ELF symbol for VAR '${vname}'`, {
            typeId: vid,
          });
        }
        if (fixOffsets) r.dv.setUint32(vs + 4, sym.value, true);
        if (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL) {
          r.dv.setUint32(r.offs[vid] + 12, VAR_STATIC, true);
        }
      }
    }
    const recs: Uint8Array[] = [];
    for (let i = 0; i < vlen; i++) recs.push(r.u8.slice(sec + 12 + 12 * i, sec + 24 + 12 * i));
    const off = (b: Uint8Array) => new DataView(b.buffer).getUint32(4, true);
    recs.sort((a, b) => off(a) - off(b));
    recs.forEach((b, i) => r.u8.set(b, sec + 12 + 12 * i));
  }

  // Hidden global subprograms become static FUNCs (libbpf's mark_btf_static).
  const hidden = new Set(spec.subprograms.filter((p) => p.hidden).map((p) => p.name));
  if (hidden.size > 0 && spec.programs.length + spec.subprograms.length > 1) {
    for (let id = 1; id < r.offs.length; id++) {
      if (kindOf(r, id) !== BtfKind.Func || vlenOf(r, id) !== FUNC_GLOBAL) continue;
      const n = nameOf(r, id);
      if (!hidden.has(n)) continue;
      hidden.delete(n);
      const info = r.dv.getUint32(r.offs[id] + 4, true);
      r.dv.setUint32(r.offs[id] + 4, ((info & ~0xffff) | FUNC_STATIC) >>> 0, true);
    }
  }
  return r.u8;
}

function appendVar(r: Raw, name: string, type: number): { raw: Raw; id: number; nameOff: number } {
  return appendType(r, name, [(BtfKind.Var << 24) >>> 0, type, VAR_GLOBAL_ALLOCATED]);
}

// Appends one type (name, then the record's words after name_off) and its name string.
function appendType(
  r: Raw,
  name: string,
  words: number[],
): { raw: Raw; id: number; nameOff: number } {
  const hdr = r.dv.getUint32(4, true);
  const typeLen = r.dv.getUint32(12, true);
  const nameBytes = new TextEncoder().encode(name);
  const add = 4 + 4 * words.length;
  // Layout: header, types, strings (as libbpf writes it).
  const typesEnd = hdr + r.dv.getUint32(8, true) + typeLen;
  const strStart = hdr + r.dv.getUint32(16, true);
  const strLen = r.strLen;
  if (strStart < typesEnd) {
    throw new BtfError("Object BTF puts strings before types; cannot add a type");
  }
  const out = new Uint8Array(strStart + add + strLen + nameBytes.length + 1);
  out.set(r.u8.subarray(0, typesEnd), 0);
  const nameOff = strLen;
  const dv = new DataView(out.buffer);
  dv.setUint32(typesEnd, nameOff, true);
  words.forEach((w, k) => dv.setUint32(typesEnd + 4 + 4 * k, w >>> 0, true));
  const newStr = strStart + add;
  out.set(r.u8.subarray(typesEnd, strStart), typesEnd + add); // padding between, if any
  out.set(r.u8.subarray(strStart, strStart + strLen), newStr);
  out.set(nameBytes, newStr + strLen);
  dv.setUint32(12, typeLen + add, true);
  dv.setUint32(16, newStr - hdr, true);
  dv.setUint32(20, strLen + nameBytes.length + 1, true);
  const next = index(out);
  return { raw: next, id: next.offs.length - 1, nameOff };
}

/** The BTF features {@linkcode sanitizeBtf} checks (each true when the kernel has it). */
export interface BtfFeatures {
  /** FUNC and FUNC_PROTO. */
  func: boolean;
  /** FUNC with global linkage. */
  funcGlobal: boolean;
  /** VAR and DATASEC. */
  datasec: boolean;
  /** FLOAT. */
  float: boolean;
  /** DECL_TAG. */
  declTag: boolean;
  /** TYPE_TAG. */
  typeTag: boolean;
  /** ENUM64 (and signed enums). */
  enum64: boolean;
}

/** Whether any BTF kind the object may use is missing (libbpf's `btf_needs_sanitization`). */
export function btfNeedsSanitization(f: BtfFeatures): boolean {
  return !f.func || !f.datasec || !f.funcGlobal || !f.float || !f.declTag || !f.typeTag ||
    !f.enum64;
}

const info = (kind: number, vlen: number, kflag = false) =>
  (((kflag ? 1 : 0) << 31) | (kind << 24) | (vlen & 0xffff)) >>> 0;

/**
 * Rewrites the kinds an older kernel lacks into ones it has, in place and without moving type ids,
 * as libbpf's `bpf_object__sanitize_btf`: VAR and DECL_TAG become 1-byte INTs, DATASEC a STRUCT
 * (its name's dots turned to underscores), FUNC_PROTO an ENUM, FUNC a TYPEDEF (or a static FUNC),
 * FLOAT an anonymous empty STRUCT, TYPE_TAG a CONST, ENUM64 a UNION of an added placeholder INT,
 * and signed ENUMs lose their kflag.
 *
 * @param raw a BTF blob (already fixed up); not modified.
 * @param f what the kernel has.
 * @returns the sanitized copy.
 */
export function sanitizeBtf(raw: Uint8Array, f: BtfFeatures): Uint8Array {
  let r = index(raw.slice());
  let placeholder = 0;
  for (let id = 1; id < r.offs.length; id++) {
    const at = r.offs[id];
    const kind = kindOf(r, id);
    const vlen = vlenOf(r, id);
    const dv = r.dv;
    if ((!f.datasec && kind === BtfKind.Var) || (!f.declTag && kind === BtfKind.DeclTag)) {
      dv.setUint32(at + 4, info(BtfKind.Int, 0), true);
      dv.setUint32(at + 8, 1, true);
      dv.setUint32(at + 12, 8, true); // BTF_INT_ENC(0, 0, 8)
    } else if (!f.datasec && kind === BtfKind.Datasec) {
      const nameAt = r.strOff + dv.getUint32(at, true);
      for (let p = nameAt; p < r.u8.length && r.u8[p] !== 0; p++) {
        if (r.u8[p] === 0x2e) r.u8[p] = 0x5f;
      }
      dv.setUint32(at + 4, info(BtfKind.Struct, vlen), true);
      for (let j = 0; j < vlen; j++) {
        const m = at + 12 + 12 * j;
        const vtype = dv.getUint32(m, true);
        const voff = dv.getUint32(m + 4, true);
        dv.setUint32(m + 8, (voff * 8) >>> 0, true);
        dv.setUint32(m + 4, vtype, true);
        dv.setUint32(m, dv.getUint32(r.offs[vtype], true), true);
      }
    } else if (!f.func && kind === BtfKind.FuncProto) {
      dv.setUint32(at + 4, info(BtfKind.Enum, vlen), true);
      dv.setUint32(at + 8, 4, true);
    } else if (!f.func && kind === BtfKind.Func) {
      dv.setUint32(at + 4, info(BtfKind.Typedef, 0), true);
    } else if (!f.funcGlobal && kind === BtfKind.Func) {
      dv.setUint32(at + 4, info(BtfKind.Func, 0), true);
    } else if (!f.float && kind === BtfKind.Float) {
      dv.setUint32(at, 0, true);
      dv.setUint32(at + 4, info(BtfKind.Struct, 0), true);
    } else if (!f.typeTag && kind === BtfKind.TypeTag) {
      dv.setUint32(at, 0, true);
      dv.setUint32(at + 4, info(BtfKind.Const, 0), true);
    } else if (!f.enum64 && kind === BtfKind.Enum) {
      dv.setUint32(at + 4, info(BtfKind.Enum, vlen), true);
    } else if (!f.enum64 && kind === BtfKind.Enum64) {
      if (placeholder === 0) {
        // INT "enum64_placeholder", size 1, encoding 0, bits 0
        ({ raw: r, id: placeholder } = appendType(r, "enum64_placeholder", [
          info(BtfKind.Int, 0),
          1,
          0,
        ]));
      }
      const a = r.offs[id];
      r.dv.setUint32(a + 4, info(BtfKind.Union, vlen), true);
      for (let j = 0; j < vlen; j++) {
        r.dv.setUint32(a + 12 + 12 * j + 4, placeholder, true);
        r.dv.setUint32(a + 12 + 12 * j + 8, 0, true);
      }
    }
  }
  return r.u8;
}
