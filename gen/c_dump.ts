/**
 * BTF to C: turns a BTF blob into a compilable C header, in the same order and with the same text
 * as `bpftool btf dump file FILE format c` (bpftool 7.1 over libbpf 1.1), and prints single C
 * declarations for a type id and a name, as the skeleton generator needs them.
 *
 * The reference is the Debian bpftool 7.1 binary, which carries the libbpf of its kernel tree
 * (6.1 stable) rather than libbpf 1.1.2: a prototype with no parameters prints as `(void)`, and
 * enums of 1 or 8 bytes get no `mode(byte)` / `mode(word)` attribute. Everything else follows
 * libbpf 1.1's btf_dump: ordering with strong and weak links, forward declarations where pointers
 * close a cycle, anonymous types inlined, `___N` suffixes for colliding names, padding and
 * `packed` derived from the layout, type tags as `btf_type_tag` attributes, decl tags dropped.
 *
 * The dumper decodes the raw blob (`Btf.rawBytes()`, and its base's for split BTF) once into flat
 * typed arrays, so that the two passes over every type (ordering, then emitting) read numbers
 * instead of decoded records.
 *
 * @module
 */
import { Btf } from "../btf/btf.ts";
import { BtfError } from "../errors.ts";

/**
 * What the dumper needs from a BTF reader: its raw blob and its base, for split BTF. The
 * {@linkcode Btf} class of `btf/btf.ts` fits.
 */
export interface BtfBlobSource {
  /** The whole blob (header, types, strings). */
  rawBytes(): Uint8Array;
  /** The base BTF of a split blob, undefined for a standalone one. */
  readonly base?: BtfBlobSource | undefined;
}

/** Options of {@linkcode CDumper.emitTypeDecl}. */
export interface EmitTypeDeclOptions {
  /** Indentation, in tabs, of the lines of inlined anonymous structs, unions and enums. Default 0. */
  indentLevel?: number;
  /** Leave out const, volatile, restrict and type tags. Default false. */
  stripMods?: boolean;
}

// Kind numbers (include/uapi/linux/btf.h), as plain constants for the hot loops.
const K_INT = 1;
const K_PTR = 2;
const K_ARRAY = 3;
const K_STRUCT = 4;
const K_UNION = 5;
const K_ENUM = 6;
const K_FWD = 7;
const K_TYPEDEF = 8;
const K_VOLATILE = 9;
const K_CONST = 10;
const K_RESTRICT = 11;
const K_FUNC = 12;
const K_FUNC_PROTO = 13;
const K_VAR = 14;
const K_DATASEC = 15;
const K_FLOAT = 16;
const K_DECL_TAG = 17;
const K_TYPE_TAG = 18;
const K_ENUM64 = 19;

const BTF_MAGIC = 0xeb9f;
const MAX_RESOLVE_DEPTH = 32;

// Ordering and emitting states of a type (0 is "not ordered").
const ORDERING = 1;
const ORDERED = 2;
const NOT_EMITTED = 0;
const EMITTING = 1;
const EMITTED = 2;

const TABS: string[] = [];
for (let i = 0, s = ""; i <= 13; i++, s += "\t") TABS.push(s);
/** Indentation for a level; like libbpf it stops growing at 13 tabs. */
function pfx(lvl: number): string {
  return lvl >= 13 ? TABS[13] : TABS[lvl];
}

const LONG_NAMES = new Set([
  "long",
  "long int",
  "int long",
  "unsigned long",
  "long unsigned",
  "unsigned long int",
  "unsigned int long",
  "long unsigned int",
  "long int unsigned",
  "int unsigned long",
  "int long unsigned",
]);

// GCC's ARM SIMD polynomial types, which have no C spelling: aliased where an INT of that name is
// first emitted.
const MISSING_BASE_TYPES = new Map([
  ["__Poly8_t", "unsigned char"],
  ["__Poly16_t", "unsigned short"],
  ["__Poly64_t", "unsigned long long"],
  ["__Poly128_t", "unsigned __int128"],
]);

/** Number of extra 32-bit words that follow the 12-byte common header of a type record. */
function extraWords(kind: number, vlen: number, id: number): number {
  switch (kind) {
    case K_INT:
    case K_VAR:
    case K_DECL_TAG:
      return 1;
    case K_PTR:
    case K_FWD:
    case K_TYPEDEF:
    case K_VOLATILE:
    case K_CONST:
    case K_RESTRICT:
    case K_FUNC:
    case K_FLOAT:
    case K_TYPE_TAG:
      return 0;
    case K_ARRAY:
      return 3;
    case K_STRUCT:
    case K_UNION:
    case K_DATASEC:
    case K_ENUM64:
      return 3 * vlen;
    case K_ENUM:
    case K_FUNC_PROTO:
      return 2 * vlen;
    default:
      throw new BtfError(`Unknown BTF kind ${kind}; the blob is newer than tsbpf or corrupt`, {
        typeId: id,
      });
  }
}

interface RawBlob {
  words: Uint32Array; // the type section, in host order
  strings: Uint8Array;
}

/** Splits one raw blob into its type section (as host-order words) and its string section. */
function splitBlob(bytes: Uint8Array): RawBlob {
  if (bytes.length < 24) throw new BtfError("BTF blob shorter than its header", { offset: 0 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  if (dv.getUint16(0, true) !== BTF_MAGIC) {
    if (dv.getUint16(0, false) !== BTF_MAGIC) {
      throw new BtfError("Bad BTF magic; the data is not BTF", { offset: 0 });
    }
    le = false;
  }
  const hdrLen = dv.getUint32(4, le);
  const typeOff = dv.getUint32(8, le);
  const typeLen = dv.getUint32(12, le);
  const strOff = dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  const tStart = hdrLen + typeOff;
  const sStart = hdrLen + strOff;
  if (
    hdrLen < 24 || typeLen % 4 !== 0 || tStart + typeLen > bytes.length ||
    sStart + strLen > bytes.length
  ) {
    throw new BtfError("BTF sections out of the blob's bounds", { offset: 4 });
  }
  let words: Uint32Array;
  if (le && (bytes.byteOffset + tStart) % 4 === 0) {
    words = new Uint32Array(bytes.buffer, bytes.byteOffset + tStart, typeLen / 4);
  } else if (le) {
    words = new Uint32Array(bytes.slice(tStart, tStart + typeLen).buffer);
  } else {
    words = new Uint32Array(typeLen / 4);
    for (let i = 0, o = tStart; i < words.length; i++, o += 4) words[i] = dv.getUint32(o, le);
  }
  return { words, strings: bytes.subarray(sStart, sStart + strLen) };
}

const HEADER = "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n" +
  "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
  "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
  "#endif\n\n";
const FOOTER = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n" +
  "#endif /* __VMLINUX_H__ */\n";

/** Whether a kind is a modifier (const, volatile, restrict, type tag), as libbpf counts them. */
function isModKind(kind: number): boolean {
  return kind === K_VOLATILE || kind === K_CONST || kind === K_RESTRICT || kind === K_TYPE_TAG;
}

/** Turns a stack overflow (a cycle of anonymous types in malformed BTF) into a BtfError. */
function tooDeep(e: unknown): unknown {
  if (!(e instanceof RangeError)) return e;
  return new BtfError("BTF types nest too deeply to print as C; the types may form a cycle", {
    cause: e,
  });
}

/**
 * The types of a BTF blob (with its base, for split BTF) in flat arrays indexed by type id.
 * Internal to the C dumper.
 */
class TypeTable {
  readonly n: number;
  readonly kind: Uint8Array;
  readonly vlen: Uint16Array;
  readonly kflag: Uint8Array;
  readonly nameOff: Uint32Array;
  /** The size-or-type field. */
  readonly st: Uint32Array;
  /** Index in `words` of the first word after the common header. */
  readonly rec: Uint32Array;
  readonly words: Uint32Array;
  readonly ptrSz: number;
  readonly #strBytes: Uint8Array;
  readonly #strText: string | undefined;
  readonly #strCache = new Map<number, string>();
  readonly #names: (string | undefined)[];

  constructor(source: BtfBlobSource) {
    const chain: BtfBlobSource[] = [];
    for (let s: BtfBlobSource | undefined = source; s; s = s.base) chain.unshift(s);
    const blobs = chain.map((s) => splitBlob(s.rawBytes()));
    let words: Uint32Array, strBytes: Uint8Array;
    if (blobs.length === 1) {
      words = blobs[0].words;
      strBytes = blobs[0].strings;
    } else {
      // Split BTF: the base's types then the blob's own; string offsets of a split blob start
      // where the base's strings end, so the string sections simply follow each other.
      let nWords = 0, nStr = 0;
      for (const b of blobs) {
        nWords += b.words.length;
        nStr += b.strings.length;
      }
      words = new Uint32Array(nWords);
      strBytes = new Uint8Array(nStr);
      let wOff = 0, sOff = 0;
      for (const b of blobs) {
        words.set(b.words, wOff);
        strBytes.set(b.strings, sOff);
        wOff += b.words.length;
        sOff += b.strings.length;
      }
    }
    // A record is at least 3 words, which bounds the number of types.
    const cap = Math.floor(words.length / 3) + 1;
    const kinds = new Uint8Array(cap), vlens = new Uint16Array(cap), kflags = new Uint8Array(cap);
    const nameOffs = new Uint32Array(cap), sts = new Uint32Array(cap), recs = new Uint32Array(cap);
    let id = 1;
    for (let p = 0, end = words.length; p < end; id++) {
      if (p + 3 > end) throw new BtfError("Truncated BTF type record", { typeId: id });
      const info = words[p + 1];
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      kinds[id] = kind;
      vlens[id] = vlen;
      kflags[id] = info >>> 31;
      nameOffs[id] = words[p];
      sts[id] = words[p + 2];
      recs[id] = p + 3;
      p += 3 + extraWords(kind, vlen, id);
      if (p > end) throw new BtfError("Truncated BTF type record", { typeId: id });
    }
    this.n = id;
    this.kind = kinds.subarray(0, id);
    this.vlen = vlens.subarray(0, id);
    this.kflag = kflags.subarray(0, id);
    this.nameOff = nameOffs.subarray(0, id);
    this.st = sts.subarray(0, id);
    this.rec = recs.subarray(0, id);
    this.words = words;
    // The Btf reader has checked every reference already; other sources get checked here.
    if (!(source instanceof Btf)) { for (let i = 1; i < id; i++) this.#checkRefs(i); }
    this.#strBytes = strBytes;
    // With only ASCII in the string section, byte offsets are string indexes: decode it once.
    const text = new TextDecoder().decode(strBytes);
    this.#strText = text.length === strBytes.length && !/[\u0080-\uffff]/.test(text)
      ? text
      : undefined;
    this.#names = new Array(id);
    this.ptrSz = this.#pointerSize();
  }

  #checkRef(id: number, ref: number): void {
    if (ref >= this.n) {
      throw new BtfError(`Type ${id} refers to missing type ${ref}`, { typeId: id });
    }
  }

  #checkRefs(id: number): void {
    const w = this.words, r = this.rec[id], v = this.vlen[id];
    switch (this.kind[id]) {
      case K_PTR:
      case K_TYPEDEF:
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_FUNC:
      case K_FUNC_PROTO:
      case K_VAR:
      case K_DECL_TAG:
      case K_TYPE_TAG:
        this.#checkRef(id, this.st[id]);
        if (this.kind[id] === K_FUNC_PROTO) {
          for (let i = 0; i < v; i++) this.#checkRef(id, w[r + 2 * i + 1]);
        }
        break;
      case K_ARRAY:
        this.#checkRef(id, w[r]);
        this.#checkRef(id, w[r + 1]);
        break;
      case K_STRUCT:
      case K_UNION:
      case K_DATASEC:
        for (let i = 0; i < v; i++) {
          this.#checkRef(id, w[r + 3 * i + (this.kind[id] === K_DATASEC ? 0 : 1)]);
        }
        break;
    }
  }

  /** A string of the string section by offset ("" when out of range). */
  str(off: number): string {
    const text = this.#strText;
    if (text !== undefined) {
      if (off >= text.length) return "";
      const end = text.indexOf("\0", off);
      return end < 0 ? text.slice(off) : text.slice(off, end);
    }
    let s = this.#strCache.get(off);
    if (s === undefined) {
      const b = this.#strBytes;
      let end = off;
      while (end < b.length && b[end] !== 0) end++;
      s = off < b.length ? new TextDecoder().decode(b.subarray(off, end)) : "";
      this.#strCache.set(off, s);
    }
    return s;
  }

  /** The name of a type, cached. */
  name(id: number): string {
    let s = this.#names[id];
    if (s === undefined) this.#names[id] = s = this.str(this.nameOff[id]);
    return s;
  }

  #pointerSize(): number {
    for (let id = 1; id < this.n; id++) {
      if (this.kind[id] !== K_INT) continue;
      const sz = this.st[id];
      if (sz !== 4 && sz !== 8) continue;
      if (LONG_NAMES.has(this.name(id))) return sz;
    }
    return 8;
  }
}

/** Decoded tables per BTF object, so that several dumpers over one BTF decode it once. */
const TABLES = new WeakMap<BtfBlobSource, TypeTable>();

/**
 * Prints BTF types as C, keeping libbpf's per-dumper state: which types were already emitted or
 * forward-declared, and which unique name (`foo___2`) each type got. Names are given in the order
 * types are first printed, so the same calls in the same order give the same text as libbpf's
 * `btf_dump`.
 *
 * @example
 * ```ts
 * import { Btf } from "../btf/btf.ts";
 * import { CDumper } from "./c_dump.ts";
 * const d = new CDumper(Btf.kernel());
 * const id = Btf.kernel().findByName("task_struct");
 * console.assert(d.emitTypeDecl(id, "t") === "struct task_struct t");
 * ```
 */
export class CDumper {
  readonly #t: TypeTable;
  readonly #orderState: Uint8Array;
  readonly #emitState: Uint8Array;
  readonly #fwdEmitted: Uint8Array;
  readonly #nameResolved: Uint8Array;
  readonly #referenced: Uint8Array;
  readonly #uniqueNames: (string | undefined)[];
  readonly #align: Int32Array;
  readonly #declCache: (string | undefined)[];
  readonly #targets: Int32Array;
  readonly #sizes: Float64Array;
  readonly #declSimple: Uint8Array;
  readonly #typeNames = new Map<string, number>();
  readonly #identNames = new Map<string, number>();
  /** Types in emitting order; a type is queued at most once, when it gets ordered. */
  readonly #queue: Int32Array;
  #queued = 0;
  #ds: number[] = [];
  #dsCnt = 0;
  #stripMods = false;
  #out = "";

  /**
   * Makes a dumper over a BTF blob (and its base, for split BTF).
   *
   * @param btf The BTF to print: a `Btf`, or anything that gives its raw blob.
   * @throws {BtfError} When the blob is malformed.
   */
  constructor(btf: BtfBlobSource) {
    let t = TABLES.get(btf);
    if (t === undefined) TABLES.set(btf, t = new TypeTable(btf));
    this.#t = t;
    this.#orderState = new Uint8Array(t.n);
    this.#emitState = new Uint8Array(t.n);
    this.#fwdEmitted = new Uint8Array(t.n);
    this.#nameResolved = new Uint8Array(t.n);
    this.#referenced = new Uint8Array(t.n);
    this.#uniqueNames = new Array(t.n);
    this.#align = new Int32Array(t.n).fill(-1);
    this.#declCache = new Array(t.n);
    this.#targets = new Int32Array(t.n).fill(-1);
    this.#queue = new Int32Array(t.n);
    this.#sizes = new Float64Array(t.n).fill(-1);
    this.#declSimple = new Uint8Array(t.n);
    this.#orderState[0] = ORDERED;
    this.#emitState[0] = EMITTED;
    this.#markReferenced();
  }

  /** The number of type ids, void included. */
  get typeCount(): number {
    return this.#t.n;
  }

  /**
   * Prints the C definition of a type and of every type it needs that was not printed yet, like
   * libbpf's `btf_dump__dump_type`.
   *
   * @param id The type id.
   * @returns The C text, possibly empty (for types already printed, or with no definition).
   * @throws {BtfError} On a bad id, or a cycle of types that C cannot express.
   *
   * @example
   * ```ts
   * import { Btf } from "../btf/btf.ts";
   * import { CDumper } from "./c_dump.ts";
   * const btf = Btf.kernel();
   * const text = new CDumper(btf).dumpType(btf.findByName("list_head"));
   * console.assert(text.includes("struct list_head {"));
   * ```
   */
  dumpType(id: number): string {
    const saved = this.#out;
    this.#out = "";
    try {
      this.#checkId(id);
      this.#dumpType(id);
      return this.#out;
    } catch (e) {
      throw tooDeep(e);
    } finally {
      this.#out = saved;
    }
  }

  /**
   * Prints one C declaration of `varName` with type `id`, like libbpf's `btf_dump__emit_type_decl`:
   * `int (*handlers[4])(void *)`, `const volatile struct foo *const p`. Anonymous structs, unions
   * and enums are written inline.
   *
   * @param id The type id.
   * @param varName The declared name; "" for an abstract declarator (`char *`).
   * @param opts Indentation and whether to strip modifiers.
   * @returns The declaration, without a trailing semicolon.
   * @throws {BtfError} On a bad id.
   *
   * @example
   * ```ts
   * import { Btf } from "../btf/btf.ts";
   * import { CDumper } from "./c_dump.ts";
   * const btf = Btf.kernel();
   * const d = new CDumper(btf);
   * console.assert(d.emitTypeDecl(btf.findByName("u32"), "x") === "u32 x");
   * ```
   */
  emitTypeDecl(id: number, varName: string, opts?: EmitTypeDeclOptions): string {
    this.#checkId(id);
    const saved = this.#out;
    this.#out = "";
    this.#stripMods = opts?.stripMods ?? false;
    try {
      this.#emitTypeDecl(id, varName, opts?.indentLevel ?? 0);
      return this.#out;
    } catch (e) {
      throw tooDeep(e);
    } finally {
      this.#stripMods = false;
      this.#out = saved;
    }
  }

  /**
   * Prints the whole header as `bpftool btf dump file FILE format c` does: every type in id order
   * between bpftool's guard and `preserve_access_index` frame.
   *
   * @returns The header text.
   * @throws {BtfError} On a cycle of types that C cannot express.
   */
  dumpAll(): string {
    const saved = this.#out;
    this.#out = HEADER;
    try {
      const n = this.#t.n;
      const kinds = this.#t.kind, os = this.#orderState;
      for (let id = 1; id < n; id++) {
        const k = kinds[id];
        // Functions, variables, sections and decl tags print nothing and order nothing else.
        if (k === K_FUNC || k === K_VAR || k === K_DATASEC || k === K_DECL_TAG) os[id] = ORDERED;
        else this.#dumpType(id);
      }
      return this.#out + FOOTER;
    } catch (e) {
      throw tooDeep(e);
    } finally {
      this.#out = saved;
    }
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.#t.n) {
      throw new BtfError(`Type id ${id} out of range; this BTF has ids 0 to ${this.#t.n - 1}`, {
        typeId: id,
      });
    }
  }

  #dumpType(id: number): void {
    const from = this.#queued;
    this.#orderType(id, false);
    const q = this.#queue, to = this.#queued;
    for (let i = from; i < to; i++) this.#emitType(q[i], 0);
  }

  #markReferenced(): void {
    const t = this.#t, w = t.words, ref = this.#referenced;
    for (let id = 1; id < t.n; id++) {
      const r = t.rec[id], v = t.vlen[id];
      switch (t.kind[id]) {
        case K_VOLATILE:
        case K_CONST:
        case K_RESTRICT:
        case K_PTR:
        case K_TYPEDEF:
        case K_FUNC:
        case K_VAR:
        case K_DECL_TAG:
        case K_TYPE_TAG:
          ref[t.st[id]] = 1;
          break;
        case K_ARRAY:
          ref[w[r + 1]] = 1;
          ref[w[r]] = 1;
          break;
        case K_STRUCT:
        case K_UNION:
          for (let i = 0; i < v; i++) ref[w[r + 3 * i + 1]] = 1;
          break;
        case K_FUNC_PROTO:
          for (let i = 0; i < v; i++) ref[w[r + 2 * i + 1]] = 1;
          break;
        case K_DATASEC:
          for (let i = 0; i < v; i++) ref[w[r + 3 * i]] = 1;
          break;
      }
    }
  }

  /**
   * Topological ordering. Returns 1 when the type must be fully defined before its user (a strong
   * link), 0 when a forward declaration is enough (a weak link, through a pointer to a named type).
   */
  #orderType(id: number, throughPtr: boolean): number {
    const os = this.#orderState;
    const t = this.#t;
    let kind = t.kind[id];
    // Modifiers and arrays are never ordered themselves: walk down to what they apply to (in a
    // loop, so a malformed cycle of them fails instead of spinning in an engine with tail calls).
    for (let steps = 0; kind === K_ARRAY || isModKind(kind); steps++) {
      if (steps > t.n) {
        throw new BtfError(`Type ${id} is part of a cycle of modifiers or arrays`, { typeId: id });
      }
      if (kind === K_ARRAY) {
        id = t.words[t.rec[id]];
        throughPtr = false;
      } else id = t.st[id];
      kind = t.kind[id];
    }
    if (os[id] === ORDERED) return 1;
    if (os[id] === ORDERING) {
      if ((kind === K_STRUCT || kind === K_UNION) && throughPtr && t.nameOff[id] !== 0) return 0;
      throw new BtfError(`Unsatisfiable type cycle at type ${id}; C cannot declare these types`, {
        typeId: id,
      });
    }
    switch (kind) {
      case K_INT:
      case K_FLOAT:
        os[id] = ORDERED;
        return 0;
      case K_PTR: {
        const r = this.#orderType(t.st[id], true);
        os[id] = ORDERED;
        return r;
      }
      case K_STRUCT:
      case K_UNION: {
        if (throughPtr && t.nameOff[id] !== 0) return 0;
        os[id] = ORDERING;
        const w = t.words, r = t.rec[id], v = t.vlen[id];
        for (let i = 0; i < v; i++) this.#orderType(w[r + 3 * i + 1], false);
        if (t.nameOff[id] !== 0) this.#queue[this.#queued++] = id;
        os[id] = ORDERED;
        return 1;
      }
      case K_ENUM:
      case K_ENUM64:
      case K_FWD:
        if (t.nameOff[id] !== 0 || !this.#referenced[id]) this.#queue[this.#queued++] = id;
        os[id] = ORDERED;
        return 1;
      case K_TYPEDEF: {
        const strong = this.#orderType(t.st[id], throughPtr);
        if (throughPtr && !strong) return 0;
        this.#queue[this.#queued++] = id;
        os[id] = ORDERED;
        return 1;
      }
      case K_FUNC_PROTO: {
        let strong = this.#orderType(t.st[id], throughPtr);
        const w = t.words, r = t.rec[id], v = t.vlen[id];
        for (let i = 0; i < v; i++) {
          if (this.#orderType(w[r + 2 * i + 1], throughPtr) > 0) strong = 1;
        }
        return strong;
      }
      case K_FUNC:
      case K_VAR:
      case K_DATASEC:
      case K_DECL_TAG:
        os[id] = ORDERED;
        return 0;
      default:
        throw new BtfError(`Unexpected BTF kind ${kind} while ordering types`, { typeId: id });
    }
  }

  #isBlacklisted(id: number): boolean {
    return this.#t.nameOff[id] !== 0 && this.#t.name(id) === "__builtin_va_list";
  }

  #emitType(id: number, contId: number): void {
    const es = this.#emitState;
    if (es[id] === EMITTED) return;
    const t = this.#t;
    const kind = t.kind[id];
    if (es[id] === EMITTING) {
      if (this.#fwdEmitted[id]) return;
      if (kind === K_STRUCT || kind === K_UNION) {
        if (id === contId) return;
        if (t.nameOff[id] === 0) return; // an anonymous loop: libbpf warns and goes on
        this.#emitStructFwd(id);
        this.#out += ";\n\n";
        this.#fwdEmitted[id] = 1;
      } else if (kind === K_TYPEDEF) {
        if (!this.#isBlacklisted(id)) {
          this.#emitTypedefDef(id, 0);
          this.#out += ";\n\n";
        }
        this.#fwdEmitted[id] = 1;
      }
      return;
    }
    switch (kind) {
      case K_INT: {
        const alias = MISSING_BASE_TYPES.get(this.#typeName(id));
        if (alias !== undefined) this.#out += `typedef ${alias} ${this.#typeName(id)};\n\n`;
        es[id] = EMITTED;
        break;
      }
      case K_ENUM:
      case K_ENUM64:
        if (contId === 0) {
          this.#emitEnumDef(id, 0);
          this.#out += ";\n\n";
        }
        es[id] = EMITTED;
        break;
      case K_PTR:
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_TYPE_TAG:
      case K_ARRAY:
        this.#emitType(this.#target(id), contId);
        break;
      case K_FWD:
        this.#emitFwdDef(id);
        this.#out += ";\n\n";
        es[id] = EMITTED;
        break;
      case K_TYPEDEF:
        es[id] = EMITTING;
        this.#emitType(t.st[id], id);
        if (!this.#fwdEmitted[id] && !this.#isBlacklisted(id)) {
          this.#emitTypedefDef(id, 0);
          this.#out += ";\n\n";
        }
        es[id] = EMITTED;
        break;
      case K_STRUCT:
      case K_UNION: {
        const anon = t.nameOff[id] === 0;
        // A named struct used from inside another, already forward-declared: nothing to do.
        if (contId !== 0 && !anon && this.#fwdEmitted[id]) break;
        es[id] = EMITTING;
        if (contId === 0 || anon) {
          const w = t.words, r = t.rec[id], v = t.vlen[id];
          const newCont = anon ? contId : id;
          for (let i = 0; i < v; i++) {
            const m = this.#target(w[r + 3 * i + 1]);
            if (es[m] !== EMITTED) this.#emitType(m, newCont);
          }
        } else if (!this.#fwdEmitted[id] && id !== contId) {
          this.#emitStructFwd(id);
          this.#out += ";\n\n";
          this.#fwdEmitted[id] = 1;
        }
        if (contId === 0) {
          this.#emitStructDef(id, 0);
          this.#out += ";\n\n";
          es[id] = EMITTED;
        } else {
          es[id] = NOT_EMITTED;
        }
        break;
      }
      case K_FUNC_PROTO: {
        this.#emitType(t.st[id], contId);
        const w = t.words, r = t.rec[id], v = t.vlen[id];
        for (let i = 0; i < v; i++) {
          const p = this.#target(w[r + 2 * i + 1]);
          if (es[p] !== EMITTED) this.#emitType(p, contId);
        }
        break;
      }
    }
  }

  /**
   * The type a chain of pointers, modifiers and arrays ends at (the id itself for other kinds):
   * emitting the chain's dependencies is emitting that type's.
   */
  #target(id: number): number {
    const memo = this.#targets[id];
    if (memo >= 0) return memo;
    const t = this.#t;
    let x = id;
    for (let i = 0; i <= t.n; i++) {
      const k = t.kind[x];
      if (
        k === K_PTR || k === K_CONST || k === K_VOLATILE || k === K_RESTRICT || k === K_TYPE_TAG
      ) {
        x = t.st[x];
      } else if (k === K_ARRAY) x = t.words[t.rec[x]];
      else break;
    }
    this.#targets[id] = x;
    return x;
  }

  /** Like `btf__align_of`: 0 when it cannot tell. */
  #alignOf(id: number): number {
    const memo = this.#align[id];
    if (memo >= 0) return memo;
    this.#align[id] = 0; // guards against cycles in malformed BTF
    const a = this.#computeAlign(id);
    this.#align[id] = a;
    return a;
  }

  #computeAlign(id: number): number {
    const t = this.#t;
    switch (t.kind[id]) {
      case K_INT:
      case K_ENUM:
      case K_ENUM64:
      case K_FLOAT:
        return Math.min(t.ptrSz, t.st[id]);
      case K_PTR:
        return t.ptrSz;
      case K_TYPEDEF:
      case K_VOLATILE:
      case K_CONST:
      case K_RESTRICT:
      case K_TYPE_TAG:
        return this.#alignOf(t.st[id]);
      case K_ARRAY:
        return this.#alignOf(t.words[t.rec[id]]);
      case K_STRUCT:
      case K_UNION: {
        const w = t.words, r = t.rec[id], v = t.vlen[id], kf = t.kflag[id];
        let max = 1;
        for (let i = 0; i < v; i++) {
          const a = this.#alignOf(w[r + 3 * i + 1]);
          if (a <= 0) return a;
          if (a > max) max = a;
          const off = w[r + 3 * i + 2];
          const bitSz = kf ? off >>> 24 : 0;
          if (bitSz === 0 && (kf ? off & 0xffffff : off) % (8 * a) !== 0) return 1;
        }
        return t.st[id] % max !== 0 ? 1 : max;
      }
      default:
        return 0;
    }
  }

  /** The size of a member's type, 0 when it has none: `btf__resolve_size` kept per type. */
  #sizeOf(id: number): number {
    let sz = this.#sizes[id];
    if (sz < 0) {
      sz = this.#resolveSize(id);
      this.#sizes[id] = sz = sz < 0 ? 0 : sz;
    }
    return sz;
  }

  /** Like `btf__resolve_size`, with -1 for any failure. */
  #resolveSize(id: number): number {
    const t = this.#t;
    let nelems = 1;
    let size = -1;
    for (let i = 0; i < MAX_RESOLVE_DEPTH && id !== 0; i++) {
      switch (t.kind[id]) {
        case K_INT:
        case K_STRUCT:
        case K_UNION:
        case K_ENUM:
        case K_ENUM64:
        case K_DATASEC:
        case K_FLOAT:
          size = t.st[id];
          break;
        case K_PTR:
          size = t.ptrSz;
          break;
        case K_TYPEDEF:
        case K_VOLATILE:
        case K_CONST:
        case K_RESTRICT:
        case K_VAR:
        case K_DECL_TAG:
        case K_TYPE_TAG:
          id = t.st[id];
          continue;
        case K_ARRAY: {
          const ne = t.words[t.rec[id] + 2];
          if (nelems && ne > Math.floor(0xffffffff / nelems)) return -1;
          nelems *= ne;
          id = t.words[t.rec[id]];
          continue;
        }
        default:
          return -1;
      }
      break;
    }
    if (size < 0) return -1;
    if (nelems && size > Math.floor(0xffffffff / nelems)) return -1;
    return nelems * size;
  }

  #isPacked(id: number): boolean {
    const t = this.#t, w = t.words, r = t.rec[id], v = t.vlen[id], kf = t.kflag[id];
    let max = 1;
    for (let i = 0; i < v; i++) {
      const a = this.#alignOf(w[r + 3 * i + 1]);
      const off = w[r + 3 * i + 2];
      const bitSz = kf ? off >>> 24 : 0;
      if (a && bitSz === 0 && (kf ? off & 0xffffff : off) % (8 * a) !== 0) return true;
      if (a > max) max = a;
    }
    return t.st[id] % max !== 0;
  }

  #emitBitPadding(
    cur: number,
    next: number,
    nextAlign: number,
    inBitfield: boolean,
    lvl: number,
  ): void {
    if (cur >= next) return;
    const longBits = this.#t.ptrSz * 8;
    let padBits = 0, padType = "", newOff = 0;
    for (let i = 0; i < 4; i++) {
      padBits = i === 0 ? longBits : i === 1 ? 32 : i === 2 ? 16 : 8;
      padType = i === 0 ? "long" : i === 1 ? "int" : i === 2 ? "short" : "char";
      newOff = Math.ceil(cur / padBits) * padBits;
      if (newOff <= next) break;
    }
    const indent = pfx(lvl);
    if (newOff > cur && newOff <= next) {
      if (
        inBitfield ||
        (newOff === next && Math.ceil(cur / (nextAlign * 8)) * (nextAlign * 8) !== newOff) ||
        (newOff !== next && next - newOff <= newOff - cur)
      ) {
        this.#out += `\n${indent}${padType}: ${inBitfield ? newOff - cur : 0};`;
      }
      cur = newOff;
    }
    while (cur !== next) {
      const bits = Math.min(next - cur, padBits);
      if (bits === padBits) {
        this.#out += `\n${indent}${padType}: ${padBits};`;
        cur += bits;
        continue;
      }
      // The remainder: the smallest type that holds it.
      for (let i = 3; i >= 0; i--) {
        const pb = i === 0 ? longBits : i === 1 ? 32 : i === 2 ? 16 : 8;
        padType = i === 0 ? "long" : i === 1 ? "int" : i === 2 ? "short" : "char";
        padBits = pb;
        if (pb < bits) continue;
        this.#out += `\n${indent}${padType}: ${bits};`;
        cur += bits;
        break;
      }
    }
  }

  #emitStructFwd(id: number): void {
    const t = this.#t;
    this.#out += (t.kind[id] === K_STRUCT ? "struct" : "union") +
      (t.nameOff[id] !== 0 ? " " : "") + this.#typeName(id);
  }

  #emitStructDef(id: number, lvl: number): void {
    const t = this.#t;
    const isStruct = t.kind[id] === K_STRUCT;
    const w = t.words, r = t.rec[id], v = t.vlen[id], kf = t.kflag[id];
    const packed = isStruct ? this.#isPacked(id) : false;
    this.#out += (isStruct ? "struct" : "union") + (t.nameOff[id] !== 0 ? " " : "") +
      this.#typeName(id) + " {";
    const indent = pfx(lvl + 1);
    const nlIndent = "\n" + indent;
    let off = 0;
    let prevBitfield = false;
    for (let i = 0; i < v; i++) {
      const p = r + 3 * i;
      const mType = w[p + 1];
      const rawOff = w[p + 2];
      let mSz = kf ? rawOff >>> 24 : 0;
      const mOff = kf ? rawOff & 0xffffff : rawOff;
      if (off < mOff) {
        const mAlign = packed ? 1 : this.#alignOf(mType);
        this.#emitBitPadding(off, mOff, mAlign, prevBitfield && mSz !== 0, lvl + 1);
      }
      const fname = t.str(w[p]);
      const tail = mSz ? ": " + mSz + ";" : ";";
      const simple = this.#simpleDecl(mType, fname, lvl + 1);
      if (simple !== undefined) this.#out += nlIndent + simple + tail;
      else {
        this.#out += "\n" + indent;
        this.#emitDeclChain(mType, fname, lvl + 1);
        this.#out += tail;
      }
      if (mSz) {
        off = mOff + mSz;
        prevBitfield = true;
      } else {
        mSz = this.#sizeOf(mType);
        off = mOff + mSz * 8;
        prevBitfield = false;
      }
    }
    if (isStruct && off < t.st[id] * 8) {
      this.#emitBitPadding(off, t.st[id] * 8, this.#alignOf(id), false, lvl + 1);
    }
    if (v || t.st[id]) this.#out += "\n" + pfx(lvl) + "}";
    else this.#out += "}";
    if (packed) this.#out += " __attribute__((packed))";
  }

  #emitEnumDef(id: number, lvl: number): void {
    const t = this.#t;
    const v = t.vlen[id];
    this.#out += "enum" + (t.nameOff[id] !== 0 ? " " : "") + this.#typeName(id);
    if (!v) return;
    this.#out += " {";
    const w = t.words, r = t.rec[id], signed = t.kflag[id] === 1;
    const indent = "\n" + pfx(lvl + 1);
    const is32 = t.kind[id] === K_ENUM;
    for (let i = 0; i < v; i++) {
      let name: string, val: string;
      if (is32) {
        const p = r + 2 * i;
        name = t.str(w[p]);
        val = String(signed ? w[p + 1] | 0 : w[p + 1]);
      } else {
        const p = r + 3 * i;
        name = t.str(w[p]);
        const lo = w[p + 1], hi = w[p + 2];
        let s: string;
        if (hi === 0) s = String(lo);
        else {
          const big = (BigInt(hi) << 32n) | BigInt(lo);
          s = String(signed ? BigInt.asIntN(64, big) : big);
        }
        val = s + (signed ? "LL" : "ULL");
      }
      const dup = this.#nameDups(this.#identNames, name);
      this.#out += dup > 1 ? `${indent}${name}___${dup} = ${val},` : `${indent}${name} = ${val},`;
    }
    this.#out += "\n" + pfx(lvl) + "}";
  }

  #emitFwdDef(id: number): void {
    const name = this.#typeName(id);
    this.#out += (this.#t.kflag[id] ? "union " : "struct ") + name;
  }

  #emitTypedefDef(id: number, lvl: number): void {
    const name = this.#identName(id);
    const target = this.#t.st[id];
    if (target === 0 && name === "__gnuc_va_list") {
      this.#out += "typedef __builtin_va_list __gnuc_va_list";
      return;
    }
    this.#out += "typedef ";
    this.#emitTypeDecl(target, name, lvl);
  }

  /**
   * The whole text of a declaration made only of modifiers and pointers over a named type (or a
   * base type, or void), or undefined for other declarations. Those print the same text before
   * the name every time, so that text is kept per type.
   */
  #simpleDecl(id: number, fname: string, lvl: number): string | undefined {
    if (this.#stripMods) return undefined;
    // Kept with the separator a name needs after it: "int " or "char *".
    let c = this.#declCache[id];
    if (c === undefined) {
      if (!this.#isSimpleDecl(id)) return undefined;
      const saved = this.#out;
      this.#out = "";
      this.#emitDeclChain(id, "", lvl);
      c = this.#out;
      this.#out = saved;
      if (this.#t.kind[id] !== K_PTR) c += " ";
      this.#declCache[id] = c;
    }
    if (fname !== "") return c + fname;
    return this.#t.kind[id] !== K_PTR ? c.slice(0, -1) : c;
  }

  /** Prints a declaration of `fname` with type `id`. */
  #emitTypeDecl(id: number, fname: string, lvl: number): void {
    const simple = this.#simpleDecl(id, fname, lvl);
    if (simple !== undefined) this.#out += simple;
    else this.#emitDeclChain(id, fname, lvl);
  }

  #isSimpleDecl(id: number): boolean {
    const memo = this.#declSimple[id];
    if (memo !== 0) return memo === 1;
    const t = this.#t;
    let x = id;
    let simple = false;
    for (let i = 0; i <= t.n; i++) {
      const k = t.kind[x];
      if (
        k === K_PTR || k === K_CONST || k === K_VOLATILE || k === K_RESTRICT || k === K_TYPE_TAG
      ) {
        x = t.st[x];
        continue;
      }
      if (x === 0 || k === K_INT || k === K_FLOAT || k === K_FWD || k === K_TYPEDEF) simple = true;
      else if (k === K_STRUCT || k === K_UNION || k === K_ENUM || k === K_ENUM64) {
        simple = t.nameOff[x] !== 0;
      }
      break;
    }
    this.#declSimple[id] = simple ? 1 : 2;
    return simple;
  }

  #emitDeclChain(id: number, fname: string, lvl: number): void {
    const t = this.#t, ds = this.#ds;
    const start = this.#dsCnt;
    for (let steps = 0;; steps++) {
      if (steps > t.n) {
        this.#dsCnt = start;
        throw new BtfError(`Type ${id} is part of a cycle of pointers or modifiers`, {
          typeId: id,
        });
      }
      const kind = t.kind[id];
      if (
        !(this.#stripMods &&
          (kind === K_VOLATILE || kind === K_CONST || kind === K_RESTRICT || kind === K_TYPE_TAG))
      ) {
        ds[this.#dsCnt++] = id;
      }
      if (id === 0) break;
      if (
        kind === K_PTR || kind === K_VOLATILE || kind === K_CONST || kind === K_RESTRICT ||
        kind === K_FUNC_PROTO || kind === K_TYPE_TAG
      ) {
        id = t.st[id];
      } else if (kind === K_ARRAY) {
        id = t.words[t.rec[id]];
      } else {
        break;
      }
    }
    this.#emitTypeChain(start, this.#dsCnt - start, fname, lvl);
    this.#dsCnt = start;
  }

  /** Prints the const/volatile/restrict on top of a frame; returns the frame's new count. */
  #emitMods(start: number, cnt: number): number {
    const kinds = this.#t.kind, ds = this.#ds;
    while (cnt) {
      const kind = kinds[ds[start + cnt - 1]];
      if (kind === K_VOLATILE) this.#out += "volatile ";
      else if (kind === K_CONST) this.#out += "const ";
      else if (kind === K_RESTRICT) this.#out += "restrict ";
      else break;
      cnt--;
    }
    return cnt;
  }

  /** Drops the modifiers on top of a frame; returns the frame's new count. */
  #dropMods(start: number, cnt: number): number {
    const kinds = this.#t.kind, ds = this.#ds;
    while (cnt) {
      const kind = kinds[ds[start + cnt - 1]];
      if (kind !== K_VOLATILE && kind !== K_CONST && kind !== K_RESTRICT && kind !== K_TYPE_TAG) {
        break;
      }
      cnt--;
    }
    return cnt;
  }

  #emitName(name: string, lastWasPtr: boolean): void {
    if (name !== "" && !lastWasPtr) this.#out += " " + name;
    else this.#out += name;
  }

  /**
   * Prints the declaration held by a frame of the declaration stack (ids from `start`, the innermost
   * on top) around `fname`. Nested arrays and prototypes go on with the rest of the same frame.
   */
  #emitTypeChain(start: number, cnt: number, fname: string, lvl: number): void {
    const t = this.#t, ds = this.#ds;
    let lastWasPtr = true;
    while (cnt) {
      const id = ds[start + --cnt];
      if (id === 0) {
        cnt = this.#emitMods(start, cnt);
        this.#out += "void";
        lastWasPtr = false;
        continue;
      }
      const kind = t.kind[id];
      switch (kind) {
        case K_INT:
        case K_FLOAT:
          cnt = this.#emitMods(start, cnt);
          this.#out += t.name(id);
          break;
        case K_STRUCT:
        case K_UNION:
          cnt = this.#emitMods(start, cnt);
          if (t.nameOff[id] === 0) this.#emitStructDef(id, lvl);
          else this.#emitStructFwd(id);
          break;
        case K_ENUM:
        case K_ENUM64:
          cnt = this.#emitMods(start, cnt);
          if (t.nameOff[id] === 0) this.#emitEnumDef(id, lvl);
          else this.#out += "enum " + this.#typeName(id);
          break;
        case K_FWD:
          cnt = this.#emitMods(start, cnt);
          this.#emitFwdDef(id);
          break;
        case K_TYPEDEF:
          cnt = this.#emitMods(start, cnt);
          this.#out += this.#identName(id);
          break;
        case K_PTR:
          this.#out += lastWasPtr ? "*" : " *";
          break;
        case K_VOLATILE:
          this.#out += " volatile";
          break;
        case K_CONST:
          this.#out += " const";
          break;
        case K_RESTRICT:
          this.#out += " restrict";
          break;
        case K_TYPE_TAG:
          cnt = this.#emitMods(start, cnt);
          this.#out += ` __attribute__((btf_type_tag("${t.name(id)}")))`;
          break;
        case K_ARRAY: {
          const nelems = t.words[t.rec[id] + 2];
          cnt = this.#dropMods(start, cnt);
          if (cnt === 0) {
            this.#emitName(fname, lastWasPtr);
            this.#out += "[" + nelems + "]";
            return;
          }
          const multidim = t.kind[ds[start + cnt - 1]] === K_ARRAY;
          if (fname !== "" && !lastWasPtr) this.#out += " ";
          if (!multidim) this.#out += "(";
          this.#emitTypeChain(start, cnt, fname, lvl);
          if (!multidim) this.#out += ")";
          this.#out += "[" + nelems + "]";
          return;
        }
        case K_FUNC_PROTO: {
          const w = t.words, r = t.rec[id], n = t.vlen[id];
          cnt = this.#dropMods(start, cnt);
          if (cnt) {
            this.#out += " (";
            this.#emitTypeChain(start, cnt, fname, lvl);
            this.#out += ")";
          } else {
            this.#emitName(fname, lastWasPtr);
          }
          this.#out += "(";
          if (n === 0 || (n === 1 && w[r + 1] === 0)) {
            this.#out += "void)";
            return;
          }
          for (let i = 0; i < n; i++) {
            if (i > 0) this.#out += ", ";
            const pType = w[r + 2 * i + 1];
            if (i === n - 1 && pType === 0) {
              this.#out += "...";
              break;
            }
            this.#emitTypeDecl(pType, t.str(w[r + 2 * i]), lvl);
          }
          this.#out += ")";
          return;
        }
        default:
          // libbpf warns about an unexpected kind in a declaration and stops this chain
          return;
      }
      lastWasPtr = kind === K_PTR;
    }
    this.#emitName(fname, lastWasPtr);
  }

  #nameDups(map: Map<string, number>, name: string): number {
    const n = (map.get(name) ?? 0) + 1;
    map.set(name, n);
    return n;
  }

  #resolveName(id: number, map: Map<string, number>): string {
    const t = this.#t;
    if (t.nameOff[id] === 0) return "";
    const orig = t.name(id);
    if (this.#nameResolved[id]) return this.#uniqueNames[id] ?? orig;
    this.#nameResolved[id] = 1;
    const kind = t.kind[id];
    if (kind === K_FWD || (kind === K_ENUM && t.vlen[id] === 0)) return orig;
    const dup = this.#nameDups(map, orig);
    if (dup > 1) return this.#uniqueNames[id] = `${orig}___${dup}`;
    return orig;
  }

  #typeName(id: number): string {
    return this.#resolveName(id, this.#typeNames);
  }

  #identName(id: number): string {
    return this.#resolveName(id, this.#identNames);
  }
}

/**
 * Prints a whole BTF blob as a C header, byte for byte as `bpftool btf dump file FILE format c`
 * (bpftool 7.1, libbpf 1.1) does.
 *
 * @param btf The BTF to print: a `Btf` (split BTF includes its base's types).
 * @returns The header, ending in a newline.
 * @throws {BtfError} When the blob is malformed, or has a cycle of types C cannot express.
 *
 * @example
 * ```ts
 * import { Btf } from "../btf/btf.ts";
 * import { btfToC } from "./c_dump.ts";
 * const h = btfToC(Btf.kernel());
 * console.assert(h.startsWith("#ifndef __VMLINUX_H__\n"));
 * ```
 */
export function btfToC(btf: BtfBlobSource): string {
  return new CDumper(btf).dumpAll();
}
