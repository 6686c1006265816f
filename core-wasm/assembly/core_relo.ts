// CO-RE relocation: resolves one .BTF.ext bpf_core_relo record of a local (object) BTF against a
// target BTF (the kernel's, or a user-supplied one) and patches the instruction it names, with
// libbpf 1.1's semantics: access-string parsing into a high-level spec, candidate types by
// essential name (the part before a `___flavor` suffix), field matching through anonymous
// members, type compatibility and "match" rules, ambiguity checks across candidates (with the
// candidate list of a local type pruned as relocations succeed), and poisoning of instructions
// whose relocation has no target.
//
// Exports: core_ctx_new(localH, targetH) → ctx, core_ctx_add_module(ctx, btfH), core_ctx_free(ctx),
// core_relo_apply(ctx, insns, cnt, insnIdx, typeId, kind, access, accessLen) → 0 patched,
// 1 poisoned, -1 error (codes 400..499, arg = instruction index).
import { fail } from "./rt";
import {
  arrayElem,
  arrayNelems,
  Btf,
  btfByHandle,
  KIND_ARRAY,
  KIND_CONST,
  KIND_ENUM,
  KIND_ENUM64,
  KIND_FLOAT,
  KIND_FUNC_PROTO,
  KIND_FWD,
  KIND_INT,
  KIND_PTR,
  KIND_RESTRICT,
  KIND_STRUCT,
  KIND_TYPE_TAG,
  KIND_TYPEDEF,
  KIND_UNION,
  KIND_UNKN,
  KIND_VOLATILE,
  KIND_DATASEC,
  KIND_VAR,
  KIND_DECL_TAG,
  recKflag,
  recKind,
  recNameOff,
  recSizeType,
  recVlen,
  strPtr,
  typePtr,
} from "./btf";

// ---- error codes (400..499) ---------------------------------------------------------------------
const E_CTX: i32 = 400;
const E_INSN_RANGE: i32 = 401;
const E_SPEC: i32 = 402;
const E_CANDS: i32 = 403;
const E_OFFSET_AMBIG: i32 = 405;
const E_DECISION_AMBIG: i32 = 406;
const E_KIND: i32 = 407;
const E_CALC: i32 = 408;
const E_PATCH_VALUE: i32 = 409;
const E_PATCH_INSN: i32 = 410;
const E_PATCH_RANGE: i32 = 411;
const E_PATCH_SIZE: i32 = 412;
const E_BITFIELD: i32 = 413;

// ---- relocation kinds (enum bpf_core_relo_kind) -------------------------------------------------
export const FIELD_BYTE_OFFSET: u32 = 0;
export const FIELD_BYTE_SIZE: u32 = 1;
export const FIELD_EXISTS: u32 = 2;
export const FIELD_SIGNED: u32 = 3;
export const FIELD_LSHIFT_U64: u32 = 4;
export const FIELD_RSHIFT_U64: u32 = 5;
export const TYPE_ID_LOCAL: u32 = 6;
export const TYPE_ID_TARGET: u32 = 7;
export const TYPE_EXISTS: u32 = 8;
export const TYPE_SIZE: u32 = 9;
export const ENUMVAL_EXISTS: u32 = 10;
export const ENUMVAL_VALUE: u32 = 11;
export const TYPE_MATCHES: u32 = 12;

const SPEC_MAX: i32 = 64;
const POISON_IMM: i32 = 195896080; // 0xbad2310
const MAX_DEPTH: i32 = 32;

// Internal results: 1 match, 0 no match; negative values are errors (ERR_*), which the caller
// turns into fail() with a message.
const ERR_INVAL: i32 = -22;
const ERR_2BIG: i32 = -7;
const ERR_POISON: i32 = -117; // EUCLEAN: the target has no such field/value, poison the insn
const ERR_NOTSUP: i32 = -95;

@inline function isFieldKind(k: u32): bool {
  return k <= FIELD_RSHIFT_U64;
}
@inline function isTypeKind(k: u32): bool {
  return (k >= TYPE_ID_LOCAL && k <= TYPE_SIZE) || k == TYPE_MATCHES;
}
@inline function isEnumvalKind(k: u32): bool {
  return k == ENUMVAL_EXISTS || k == ENUMVAL_VALUE;
}

// ---- BTF helpers that never call fail() ---------------------------------------------------------

// A record pointer for any id: 0 means void (id 0); -1 (as usize max) means out of range.
const BAD: usize = <usize>-1;

function rec(b: Btf, id: u32): usize {
  if (id == 0) return 0;
  const p = typePtr(b, id);
  return p == 0 ? BAD : p;
}
@inline function kindAt(p: usize): u32 {
  return p == 0 ? KIND_UNKN : recKind(p);
}
@inline function isModOrTypedef(k: u32): bool {
  return k == KIND_TYPEDEF || k == KIND_VOLATILE || k == KIND_CONST || k == KIND_RESTRICT ||
    k == KIND_TYPE_TAG;
}
@inline function isComposite(k: u32): bool {
  return k == KIND_STRUCT || k == KIND_UNION;
}
@inline function isAnyEnum(k: u32): bool {
  return k == KIND_ENUM || k == KIND_ENUM64;
}
@inline function kindsCompat(a: u32, b: u32): bool {
  return a == b || (isAnyEnum(a) && isAnyEnum(b));
}
@inline function intInfo(p: usize): u32 {
  return load<u32>(p + 12);
}
@inline function intOffset(p: usize): u32 {
  return (intInfo(p) >> 16) & 0xff;
}
@inline function intEncoding(p: usize): u32 {
  return (intInfo(p) >> 24) & 0x0f;
}
/** STRUCT/UNION member i's record address. */
@inline function memberAt(p: usize, i: u32): usize {
  return p + 12 + <usize>i * 12;
}
@inline function memberBitOff(p: usize, m: usize): u32 {
  const v = load<u32>(m + 8);
  return recKflag(p) ? v & 0xffffff : v;
}
@inline function memberBitSz(p: usize, m: usize): u32 {
  const v = load<u32>(m + 8);
  return recKflag(p) ? v >> 24 : 0;
}
/** The name offset of enumerator i of an ENUM or ENUM64 record. */
@inline function enumNameOff(p: usize, i: u32): u32 {
  return recKind(p) == KIND_ENUM ? load<u32>(p + 12 + <usize>i * 8) : load<u32>(p + 12 + <usize>i * 12);
}

// skipped id of the last skip() call
let skipId: u32 = 0;

/** Follows modifiers and typedefs from `id`; sets skipId. Returns the record (0 void, BAD). */
function skip(b: Btf, id: u32): usize {
  let cur = id;
  let p = rec(b, cur);
  // A loop in valid-looking BTF ends here instead of spinning forever.
  for (let n = 0; n < 1024 && p != 0 && p != BAD && isModOrTypedef(recKind(p)); n++) {
    cur = recSizeType(p);
    p = rec(b, cur);
  }
  if (p != 0 && p != BAD && isModOrTypedef(recKind(p))) p = BAD;
  skipId = cur;
  return p;
}

/** btf__resolve_size: the size in bytes, or a negative error. */
function resolveSize(b: Btf, id: u32): i64 {
  let nelems: u32 = 1;
  let cur = id;
  let size: i64 = -1;
  for (let i = 0; i < MAX_DEPTH; i++) {
    const p = rec(b, cur);
    if (p == 0 || p == BAD) break;
    const k = recKind(p);
    if (
      k == KIND_INT || k == KIND_STRUCT || k == KIND_UNION || k == KIND_ENUM || k == KIND_ENUM64 ||
      k == KIND_DATASEC || k == KIND_FLOAT
    ) {
      size = <i64>recSizeType(p);
      break;
    } else if (k == KIND_PTR) {
      size = 8;
      break;
    } else if (
      isModOrTypedef(k) || k == KIND_VAR || k == KIND_DECL_TAG
    ) {
      cur = recSizeType(p);
    } else if (k == KIND_ARRAY) {
      const ne = arrayNelems(p);
      if (nelems != 0 && ne > 0xffffffff / nelems) return <i64>ERR_2BIG;
      nelems *= ne;
      cur = arrayElem(p);
    } else {
      return <i64>ERR_INVAL;
    }
  }
  if (size < 0) return <i64>ERR_INVAL;
  if (nelems != 0 && size > <i64>(0xffffffff / nelems)) return <i64>ERR_2BIG;
  return <i64>nelems * size;
}

/** The NUL-terminated name at `off` (address), or 0 when `off` is out of range. */
@inline function nameAt(b: Btf, off: u32): usize {
  return strPtr(b, off);
}
@inline function isEmptyStr(s: usize): bool {
  return s == 0 || load<u8>(s) == 0;
}
function cstrLen(s: usize): u32 {
  if (s == 0) return 0;
  let e = s;
  while (load<u8>(e) != 0) e++;
  return <u32>(e - s);
}
function bytesEq(a: usize, b: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}
function cstrEq(a: usize, b: usize): bool {
  if (a == 0 || b == 0) return a == b;
  let i: usize = 0;
  for (;;) {
    const x = load<u8>(a + i);
    if (x != load<u8>(b + i)) return false;
    if (x == 0) return true;
    i++;
  }
  return false;
}

/**
 * The length of a name without its flavor suffix: the prefix before the last `X___Y` separator,
 * where X and Y are not underscores.
 */
export function essentialLen(s: usize, n: u32): u32 {
  for (let i = <i32>n - 5; i >= 0; i--) {
    const p = s + <usize>i;
    if (
      load<u8>(p) != 0x5f && load<u8>(p + 1) == 0x5f && load<u8>(p + 2) == 0x5f &&
      load<u8>(p + 3) == 0x5f && load<u8>(p + 4) != 0x5f
    ) {
      return <u32>i + 1;
    }
  }
  return n;
}

/** Both names equal up to their flavor suffixes. */
function essentialEq(a: usize, b: usize): bool {
  const la = essentialLen(a, cstrLen(a));
  const lb = essentialLen(b, cstrLen(b));
  return la == lb && bytesEq(a, b, la);
}

// ---- the essential-name index of a target BTF -----------------------------------------------------

// Names are hashed eight bytes at a time: the index over a kernel's BTF hashes thousands of names
// in one call, which runs as baseline-compiled code in a fresh process, where per-byte loops cost.
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;
const UNDERSCORES: u64 = 0x5f5f5f5f5f5f5f5f;
const MIX: u64 = 0x9e3779b97f4a7c15;

/** The high bit of each zero byte of `w` (exact for the lowest zero byte; may mark bytes above it). */
@inline function zeroBytes(w: u64): u64 {
  return (w - ONES) & ~w & HIGHS;
}
@inline function mixWord(h: u64, w: u64): u64 {
  const x = (h ^ w) * MIX;
  return x ^ (x >> 29);
}
@inline function finishHash(h: u64, n: u32): u32 {
  const x = mixWord(h, <u64>n);
  return (<u32>(x ^ (x >> 32))) | 1; // never 0: 0 marks an empty slot
}

/** The hash of the `n` bytes at `s`; reads no byte at or past `limit` beyond those `n`. */
function hashBytes(s: usize, n: u32, limit: usize): u32 {
  let h: u64 = 0;
  let i: u32 = 0;
  while (i + 8 <= n) {
    h = mixWord(h, load<u64>(s + <usize>i));
    i += 8;
  }
  if (i < n) {
    const k = n - i;
    let t: u64 = 0;
    if (s + <usize>i + 8 <= limit) {
      t = load<u64>(s + <usize>i) & ((<u64>1 << (<u64>k << 3)) - 1);
    } else {
      for (let j: u32 = 0; j < k; j++) t |= <u64>load<u8>(s + <usize>(i + j)) << (<u64>j << 3);
    }
    h = mixWord(h, t);
  }
  return finishHash(h, n);
}

@inline function memEnd(): usize {
  return <usize>memory.size() << 16;
}

/**
 * A sorted index of the types of one kind group (see kindGroup) in one BTF blob's own types, built
 * on first use: one 16-byte entry per named type (hash of its essential name, type id, name
 * address, essential length), ordered by (hash, essential name bytes), and by id among equal names
 * (the sort is stable over an id-ordered input). Building takes N log N comparisons and a lookup
 * bisects, whatever the names: many types of one name cannot make it quadratic. Only types of a
 * kind the local type is compatible with can be candidates, so a lookup for a struct never pays
 * for indexing vmlinux's functions (most of its named types).
 */
class EssIndex {
  btf: Btf;
  group: u32;
  tab: usize = 0;
  len: u32 = 0;
  /** Lookups answered by a linear scan so far (see ESS_SCANS). */
  scans: u32 = 0;
  constructor(btf: Btf, group: u32) {
    this.btf = btf;
    this.group = group;
  }
}

const ESS_ENTRY: usize = 16;

/** Orders an index entry against (hash, essential name at `name`, length `n`); negative: entry first. */
function essCmp(e: usize, h: u32, name: usize, n: u32): i32 {
  const eh = load<u32>(e);
  if (eh != h) return eh < h ? -1 : 1;
  const s = <usize>load<u32>(e + 8);
  const en = load<u32>(e + 12);
  const m = en < n ? en : n;
  for (let i: u32 = 0; i < m; i++) {
    const c1 = load<u8>(s + <usize>i);
    const c2 = load<u8>(name + <usize>i);
    if (c1 != c2) return c1 < c2 ? -1 : 1;
  }
  return en < n ? -1 : en > n ? 1 : 0;
}

@inline function copyEntry(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst + 8, load<u64>(src + 8));
}

/** Sorts `n` entries at `tab` (bottom-up merge sort, stable); returns the sorted buffer (one of the two). */
function essSort(tab: usize, n: u32): usize {
  let src = tab;
  let dst = heap.alloc(<usize>(n == 0 ? 1 : n) * ESS_ENTRY);
  for (let width: u32 = 1; width < n; width <<= 1) {
    for (let lo: u32 = 0; lo < n; lo += width << 1) {
      const mid = min(lo + width, n);
      const hi = min(lo + (width << 1), n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        const a = src + <usize>i * ESS_ENTRY;
        const b = src + <usize>j * ESS_ENTRY;
        const bs = <usize>load<u32>(b + 8);
        if (essCmp(a, load<u32>(b), bs, load<u32>(b + 12)) > 0) {
          copyEntry(dst + <usize>k * ESS_ENTRY, b);
          j++;
        } else {
          copyEntry(dst + <usize>k * ESS_ENTRY, a);
          i++;
        }
        k++;
      }
      for (; i < mid; i++, k++) copyEntry(dst + <usize>k * ESS_ENTRY, src + <usize>i * ESS_ENTRY);
      for (; j < hi; j++, k++) copyEntry(dst + <usize>k * ESS_ENTRY, src + <usize>j * ESS_ENTRY);
    }
    const t = src;
    src = dst;
    dst = t;
  }
  heap.free(dst);
  return src;
}

/** The kinds that may match each other as candidates share a group: ENUM64 goes with ENUM. */
@inline function kindGroup(k: u32): u32 {
  return k == KIND_ENUM64 ? KIND_ENUM : k;
}

const essIndexes = new Array<EssIndex>();

/**
 * Lookups in one kind group of one blob answered by a plain scan before the index is built. A scan
 * reads the group's names once and allocates nothing; the index costs N log N and fresh memory up
 * front, which a process relocating one small object (a handful of distinct types, as libbpf's
 * one scan per type does) never earns back. Past this many lookups, the index: so any number of
 * lookups stays O(N log N + lookups x log N) over the blob, whatever its names.
 */
const ESS_SCANS: u32 = 8;

/** The index record of (blob, group), made without building the index. */
function essEntry(b: Btf, group: u32): EssIndex {
  for (let i = 0; i < essIndexes.length; i++) {
    const e = unchecked(essIndexes[i]);
    if (e.btf === b && e.group == group) {
      if (b.offs != 0) return e;
    }
  }
  // Drop indexes of freed blobs.
  for (let i = essIndexes.length - 1; i >= 0; i--) {
    const e = unchecked(essIndexes[i]);
    if (e.btf.offs == 0) {
      if (e.tab != 0) heap.free(e.tab);
      essIndexes.splice(i, 1);
    }
  }
  const e = new EssIndex(b, group);
  essIndexes.push(e);
  return e;
}

/** Appends to `out`, in id order, the types of the group of `idx` in its blob whose essential name is `name`. */
function scanCands(idx: EssIndex, localKind: u32, name: usize, essLen: u32, out: Array<Cand>): void {
  const b = idx.btf;
  const kinds = b.kinds;
  const first = load<u8>(name);
  for (let i: u32 = 0; i < b.count; i++) {
    if (kindGroup(<u32>load<u8>(kinds + <usize>i)) != idx.group) continue;
    const p = <usize>load<u32>(b.offs + (<usize>i << 2));
    const s = nameAt(b, recNameOff(p));
    // The first byte, then the prefix (it stops at the name's NUL, which `name` has not), then the
    // flavor suffix.
    if (load<u8>(s) != first || !bytesEq(s, name, essLen)) continue;
    if (essentialLen(s, cstrLen(s)) != essLen) continue;
    if (kindsCompat(recKind(p), localKind)) out.push(new Cand(b, b.start + i));
  }
}

/** Builds the sorted index of `e`'s group in its blob. */
function essBuild(e: EssIndex): void {
  const b = e.btf;
  const group = e.group;
  // The kinds table (one byte per type) finds the group's members without touching every record.
  const kinds = b.kinds;
  const limit = memEnd();
  let members: u32 = 0;
  for (let i: u32 = 0; i < b.count; i++) {
    if (kindGroup(<u32>load<u8>(kinds + <usize>i)) == group) members++;
  }
  const tab = heap.alloc(<usize>(members == 0 ? 1 : members) * ESS_ENTRY);
  let len: u32 = 0;
  for (let i: u32 = 0; i < b.count && members > 0; i++) {
    if (kindGroup(<u32>load<u8>(kinds + <usize>i)) != group) continue;
    const p = <usize>load<u32>(b.offs + (<usize>i << 2));
    const s = nameAt(b, recNameOff(p));
    if (isEmptyStr(s)) continue;
    // One pass, a word at a time: length, hash of the whole name, and whether a `___` could make
    // a flavor (then the essential name is hashed again, byte-exact).
    let h: u64 = 0;
    let n: u32 = 0;
    let prevU: u64 = 0;
    let triple = false;
    if (s + 8 > limit) {
      n = cstrLen(s);
      triple = true; // near the end of memory: take the careful path
    } else {
      for (;;) {
        const w = load<u64>(s + <usize>n);
        const z = zeroBytes(w);
        let valid: u64 = <u64>-1;
        let k: u32 = 8;
        if (z != 0) {
          k = <u32>ctz(z) >> 3;
          valid = k == 0 ? 0 : (<u64>-1 >> (64 - (<u64>k << 3)));
        }
        const u = zeroBytes(w ^ UNDERSCORES) & valid;
        const ext = (u << 16) | (prevU >> 48);
        if ((u & (u >> 8) & (u >> 16)) != 0 || (ext & (ext >> 8) & (ext >> 16)) != 0) triple = true;
        prevU = u;
        if (k > 0) h = mixWord(h, w & valid);
        n += k;
        if (k < 8) break;
        if (s + <usize>n + 8 > limit) {
          n = cstrLen(s);
          triple = true;
          break;
        }
      }
    }
    let hh = finishHash(h, n);
    let ess = n;
    if (triple) {
      ess = essentialLen(s, n);
      hh = hashBytes(s, ess, limit);
    }
    const ent = tab + <usize>len * ESS_ENTRY;
    store<u32>(ent, hh);
    store<u32>(ent + 4, b.start + i);
    store<u32>(ent + 8, <u32>s);
    store<u32>(ent + 12, ess);
    len++;
  }
  e.tab = essSort(tab, len);
  e.len = len;
}

class Cand {
  btf: Btf;
  id: u32;
  constructor(btf: Btf, id: u32) {
    this.btf = btf;
    this.id = id;
  }
}

/** Appends to `out` the types of `b` (own types; with `withBase`, its bases' too) that are candidates. */
function addCands(b: Btf, withBase: bool, localKind: u32, name: usize, essLen: u32, out: Array<Cand>): void {
  if (withBase && b.base !== null) addCands(b.base!, true, localKind, name, essLen, out);
  if (b.count == 0 || essLen == 0) return;
  const idx = essEntry(b, kindGroup(localKind));
  if (idx.tab == 0 && idx.scans < ESS_SCANS) {
    idx.scans++;
    scanCands(idx, localKind, name, essLen, out);
    return;
  }
  if (idx.tab == 0) essBuild(idx);
  const h = hashBytes(name, essLen, memEnd());
  // The first entry not before (h, name), then the run of equal names, already in id order.
  let lo: u32 = 0;
  let hi = idx.len;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    if (essCmp(idx.tab + <usize>mid * ESS_ENTRY, h, name, essLen) < 0) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < idx.len; i++) {
    const e = idx.tab + <usize>i * ESS_ENTRY;
    if (essCmp(e, h, name, essLen) != 0) break;
    const id = load<u32>(e + 4);
    if (kindsCompat(recKind(typePtr(b, id)), localKind)) out.push(new Cand(b, id));
  }
}

// ---- contexts ---------------------------------------------------------------------------------------

class Ctx {
  local: Btf;
  target: Btf;
  modules: Array<Btf> = new Array<Btf>();
  cands: Map<u32, Array<Cand>> = new Map<u32, Array<Cand>>();
  constructor(local: Btf, target: Btf) {
    this.local = local;
    this.target = target;
  }
}

const ctxs = new Array<Ctx | null>();

/**
 * Makes a CO-RE context for one object's relocation pass: the object's BTF, the target BTF, and
 * the candidate cache shared by every relocation of the pass. Returns a handle or -1.
 */
export function core_ctx_new(localH: i32, targetH: i32): i32 {
  const l = btfByHandle(localH);
  const t = btfByHandle(targetH);
  if (l === null || t === null) return fail(E_CTX, "Bad BTF handle for a CO-RE context");
  const c = new Ctx(l, t);
  for (let i = 0; i < ctxs.length; i++) {
    if (unchecked(ctxs[i]) === null) {
      unchecked((ctxs[i] = c));
      return i;
    }
  }
  ctxs.push(c);
  return ctxs.length - 1;
}

/** Adds a module BTF (split over the target), searched when the target has no candidate. */
export function core_ctx_add_module(ctx: i32, btfH: i32): i32 {
  const c = ctxOf(ctx);
  const b = btfByHandle(btfH);
  if (c === null || b === null) return fail(E_CTX, "Bad CO-RE context or BTF handle");
  c.modules.push(b);
  return 0;
}

/** Frees a context. Freeing a free handle does nothing. */
export function core_ctx_free(ctx: i32): void {
  if (ctxOf(ctx) !== null) unchecked((ctxs[ctx] = null));
}

function ctxOf(h: i32): Ctx | null {
  if (h < 0 || h >= ctxs.length) return null;
  return unchecked(ctxs[h]);
}

function findCands(c: Ctx, localId: u32): Array<Cand> | null {
  if (c.cands.has(localId)) return c.cands.get(localId);
  const lp = rec(c.local, localId);
  if (lp == 0 || lp == BAD) return null;
  const name = nameAt(c.local, recNameOff(lp));
  if (isEmptyStr(name)) return null;
  const essLen = essentialLen(name, cstrLen(name));
  const out = new Array<Cand>();
  addCands(c.target, true, recKind(lp), name, essLen, out);
  if (out.length == 0) {
    for (let i = 0; i < c.modules.length; i++) {
      addCands(unchecked(c.modules[i]), false, recKind(lp), name, essLen, out);
    }
  }
  c.cands.set(localId, out);
  return out;
}

// ---- specs ------------------------------------------------------------------------------------------

class Spec {
  btf: Btf | null = null;
  rootId: u32 = 0;
  kind: u32 = 0;
  len: i32 = 0;
  accType: StaticArray<u32> = new StaticArray<u32>(SPEC_MAX);
  accIdx: StaticArray<u32> = new StaticArray<u32>(SPEC_MAX);
  accName: StaticArray<usize> = new StaticArray<usize>(SPEC_MAX); // 0 for array accessors
  raw: StaticArray<i32> = new StaticArray<i32>(SPEC_MAX);
  rawLen: i32 = 0;
  bitOffset: u32 = 0;

  reset(b: Btf, root: u32, kind: u32): void {
    this.btf = b;
    this.rootId = root;
    this.kind = kind;
    this.len = 0;
    this.rawLen = 0;
    this.bitOffset = 0;
  }

  copyFrom(o: Spec): void {
    this.btf = o.btf;
    this.rootId = o.rootId;
    this.kind = o.kind;
    this.len = o.len;
    this.rawLen = o.rawLen;
    this.bitOffset = o.bitOffset;
    for (let i = 0; i < o.len; i++) {
      unchecked((this.accType[i] = o.accType[i]));
      unchecked((this.accIdx[i] = o.accIdx[i]));
      unchecked((this.accName[i] = o.accName[i]));
    }
    for (let i = 0; i < o.rawLen; i++) unchecked((this.raw[i] = o.raw[i]));
  }
}

const localSpec = new Spec();
const candSpec = new Spec();
const targSpec = new Spec();

/** A flexible array: a zero-length array that is the last member of the struct of accessor `a`. */
function isFlexArr(b: Btf, s: Spec, a: i32, nelems: u32): bool {
  if (a < 0 || unchecked(s.accName[a]) == 0 || nelems > 0) return false;
  const p = rec(b, unchecked(s.accType[a]));
  if (p == 0 || p == BAD) return false;
  return unchecked(s.accIdx[a]) == recVlen(p) - 1;
}

/** Parses the access string into `spec`. 0, or a negative error. */
function parseSpec(b: Btf, typeId: u32, kind: u32, acc: usize, accLen: u32, spec: Spec): i32 {
  if (accLen == 0 || load<u8>(acc) == 0x3a) return ERR_INVAL;
  spec.reset(b, typeId, kind);
  if (isTypeKind(kind)) {
    return accLen == 1 && load<u8>(acc) == 0x30 ? 0 : ERR_INVAL;
  }
  let i: u32 = 0;
  while (i < accLen) {
    if (load<u8>(acc + i) == 0x3a) i++;
    let v: i64 = 0;
    let digits = 0;
    while (i < accLen) {
      const ch = load<u8>(acc + i);
      if (ch < 0x30 || ch > 0x39) break;
      v = v * 10 + <i64>(ch - 0x30);
      if (v > 0x7fffffff) return ERR_INVAL;
      digits++;
      i++;
    }
    if (digits == 0) return ERR_INVAL;
    if (spec.rawLen == SPEC_MAX) return ERR_2BIG;
    unchecked((spec.raw[spec.rawLen++] = <i32>v));
  }
  if (spec.rawLen == 0) return ERR_INVAL;

  let t = skip(b, typeId);
  if (t == BAD) return ERR_INVAL;
  let id = skipId;
  let idx = <u32>unchecked(spec.raw[0]);
  unchecked((spec.accType[0] = id));
  unchecked((spec.accIdx[0] = idx));
  unchecked((spec.accName[0] = 0));
  spec.len = 1;

  if (isEnumvalKind(kind)) {
    if (t == 0 || !isAnyEnum(recKind(t)) || spec.rawLen > 1 || idx >= recVlen(t)) return ERR_INVAL;
    unchecked((spec.accName[0] = nameAt(b, enumNameOff(t, idx))));
    return 0;
  }
  if (!isFieldKind(kind)) return ERR_INVAL;

  let sz = resolveSize(b, id);
  if (sz < 0) return <i32>sz;
  spec.bitOffset = <u32>(<u64>idx * <u64>sz * 8);

  for (let i = 1; i < spec.rawLen; i++) {
    t = skip(b, id);
    if (t == BAD) return ERR_INVAL;
    id = skipId;
    idx = <u32>unchecked(spec.raw[i]);
    const k = kindAt(t);
    if (isComposite(k)) {
      if (idx >= recVlen(t)) return ERR_INVAL;
      const m = memberAt(t, idx);
      spec.bitOffset += memberBitOff(t, m);
      const nameOff = load<u32>(m);
      if (nameOff != 0) {
        const name = nameAt(b, nameOff);
        if (isEmptyStr(name)) return ERR_INVAL;
        unchecked((spec.accType[spec.len] = id));
        unchecked((spec.accIdx[spec.len] = idx));
        unchecked((spec.accName[spec.len] = name));
        spec.len++;
      }
      id = load<u32>(m + 4);
    } else if (k == KIND_ARRAY) {
      const nelems = arrayNelems(t);
      const et = skip(b, arrayElem(t));
      if (et == BAD) return ERR_INVAL;
      id = skipId;
      const flex = isFlexArr(b, spec, spec.len - 1, nelems);
      if (!flex && idx >= nelems) return ERR_INVAL;
      unchecked((spec.accType[spec.len] = id));
      unchecked((spec.accIdx[spec.len] = idx));
      unchecked((spec.accName[spec.len] = 0));
      spec.len++;
      sz = resolveSize(b, id);
      if (sz < 0) return <i32>sz;
      spec.bitOffset += <u32>(<u64>idx * <u64>sz * 8);
    } else {
      return ERR_INVAL;
    }
  }
  return 0;
}

// ---- compatibility ------------------------------------------------------------------------------------

/** Type compatibility for type-based relocations (libbpf's __bpf_core_types_are_compat). */
function typesAreCompat(lb: Btf, lid: u32, tb: Btf, tid: u32, level: i32): i32 {
  let lp = rec(lb, lid);
  let tp = rec(tb, tid);
  if (lp == BAD || tp == BAD) return ERR_INVAL;
  if (!kindsCompat(kindAt(lp), kindAt(tp))) return 0;
  let depth = MAX_DEPTH;
  for (;;) {
    depth--;
    if (depth < 0) return ERR_INVAL;
    lp = skip(lb, lid);
    lid = skipId;
    tp = skip(tb, tid);
    tid = skipId;
    if (lp == BAD || tp == BAD) return ERR_INVAL;
    const lk = kindAt(lp);
    const tk = kindAt(tp);
    if (!kindsCompat(lk, tk)) return 0;
    switch (lk) {
      case KIND_UNKN:
      case KIND_STRUCT:
      case KIND_UNION:
      case KIND_ENUM:
      case KIND_FWD:
      case KIND_ENUM64:
        return 1;
      case KIND_INT:
        return intOffset(lp) == 0 && intOffset(tp) == 0 ? 1 : 0;
      case KIND_PTR:
        lid = recSizeType(lp);
        tid = recSizeType(tp);
        continue;
      case KIND_ARRAY:
        lid = arrayElem(lp);
        tid = arrayElem(tp);
        continue;
      case KIND_FUNC_PROTO: {
        const n = recVlen(lp);
        if (n != recVlen(tp)) return 0;
        for (let i: u32 = 0; i < n; i++) {
          if (level <= 0) return ERR_INVAL;
          const lpa = skip(lb, load<u32>(lp + 12 + <usize>i * 8 + 4));
          const la = skipId;
          const tpa = skip(tb, load<u32>(tp + 12 + <usize>i * 8 + 4));
          const ta = skipId;
          if (lpa == BAD || tpa == BAD) return ERR_INVAL;
          const r = typesAreCompat(lb, la, tb, ta, level - 1);
          if (r <= 0) return r;
        }
        skip(lb, recSizeType(lp));
        lid = skipId;
        skip(tb, recSizeType(tp));
        tid = skipId;
        continue;
      }
      default:
        return 0;
    }
  }
  return 0;
}

/** Field compatibility (libbpf's bpf_core_fields_are_compat). */
function fieldsAreCompat(lb: Btf, lid: u32, tb: Btf, tid: u32): i32 {
  for (let guard = 0; guard < 1024; guard++) {
    const lp = skip(lb, lid);
    lid = skipId;
    const tp = skip(tb, tid);
    tid = skipId;
    if (lp == BAD || tp == BAD) return ERR_INVAL;
    const lk = kindAt(lp);
    const tk = kindAt(tp);
    if (isComposite(lk) && isComposite(tk)) return 1;
    if (!kindsCompat(lk, tk)) return 0;
    switch (lk) {
      case KIND_PTR:
      case KIND_FLOAT:
        return 1;
      case KIND_FWD:
      case KIND_ENUM:
      case KIND_ENUM64: {
        const ln = nameAt(lb, recNameOff(lp));
        const tn = nameAt(tb, recNameOff(tp));
        const ll = essentialLen(ln, cstrLen(ln));
        const tl = essentialLen(tn, cstrLen(tn));
        return ll == 0 || tl == 0 || (ll == tl && bytesEq(ln, tn, ll)) ? 1 : 0;
      }
      case KIND_INT:
        return intOffset(lp) == 0 && intOffset(tp) == 0 ? 1 : 0;
      case KIND_ARRAY:
        lid = arrayElem(lp);
        tid = arrayElem(tp);
        continue;
      default:
        return 0;
    }
  }
  return ERR_INVAL;
}

/** Names equal modulo flavors; an anonymous target matches only an anonymous local. */
function namesMatch(lb: Btf, lOff: u32, tb: Btf, tOff: u32): bool {
  const ln = nameAt(lb, lOff);
  const tn = nameAt(tb, tOff);
  if (isEmptyStr(tn)) return isEmptyStr(ln);
  if (ln == 0) return false;
  return essentialEq(ln, tn);
}

function enumsMatch(lb: Btf, lp: usize, tb: Btf, tp: usize): i32 {
  if (recSizeType(lp) != recSizeType(tp)) return 0;
  const ln = recVlen(lp);
  const tn = recVlen(tp);
  if (ln > tn) return 0;
  for (let i: u32 = 0; i < ln; i++) {
    const lo = enumNameOff(lp, i);
    let matched = false;
    for (let j: u32 = 0; j < tn; j++) {
      if (namesMatch(lb, lo, tb, enumNameOff(tp, j))) {
        matched = true;
        break;
      }
    }
    if (!matched) return 0;
  }
  return 1;
}

function compositesMatch(lb: Btf, lp: usize, tb: Btf, tp: usize, behindPtr: bool, level: i32): i32 {
  const ln = recVlen(lp);
  const tn = recVlen(tp);
  if (ln > tn) return 0;
  for (let i: u32 = 0; i < ln; i++) {
    const lm = memberAt(lp, i);
    let matched = false;
    for (let j: u32 = 0; j < tn; j++) {
      const tm = memberAt(tp, j);
      if (!namesMatch(lb, load<u32>(lm), tb, load<u32>(tm))) continue;
      const r = typesMatch(lb, load<u32>(lm + 4), tb, load<u32>(tm + 4), behindPtr, level - 1);
      if (r < 0) return r;
      if (r > 0) {
        matched = true;
        break;
      }
    }
    if (!matched) return 0;
  }
  return 1;
}

/** The "types match" relation of TYPE_MATCHES (libbpf's __bpf_core_types_match). */
function typesMatch(lb: Btf, lid: u32, tb: Btf, tid: u32, behindPtr: bool, level: i32): i32 {
  if (level <= 0) return ERR_INVAL;
  let depth = MAX_DEPTH;
  for (;;) {
    depth--;
    if (depth < 0) return ERR_INVAL;
    const lp = skip(lb, lid);
    lid = skipId;
    const tp = skip(tb, tid);
    tid = skipId;
    if (lp == BAD || tp == BAD) return ERR_INVAL;
    if (!namesMatch(lb, lp == 0 ? 0 : recNameOff(lp), tb, tp == 0 ? 0 : recNameOff(tp))) return 0;
    const lk = kindAt(lp);
    const tk = kindAt(tp);
    switch (lk) {
      case KIND_UNKN:
        return lk == tk ? 1 : 0;
      case KIND_FWD: {
        const lf = recKflag(lp);
        if (behindPtr) {
          if (lk == tk) return lf == recKflag(tp) ? 1 : 0;
          return (tk == KIND_STRUCT && !lf) || (tk == KIND_UNION && lf) ? 1 : 0;
        }
        if (lk != tk) return 0;
        return lf == recKflag(tp) ? 1 : 0;
      }
      case KIND_ENUM:
      case KIND_ENUM64:
        if (!isAnyEnum(tk)) return 0;
        return enumsMatch(lb, lp, tb, tp);
      case KIND_STRUCT:
      case KIND_UNION:
        if (behindPtr) {
          if (lk == tk) return 1;
          if (tk != KIND_FWD) return 0;
          return (lk == KIND_UNION) == recKflag(tp) ? 1 : 0;
        }
        if (lk != tk) return 0;
        return compositesMatch(lb, lp, tb, tp, behindPtr, level);
      case KIND_INT: {
        if (lk != tk) return 0;
        const ls = intEncoding(lp) & 1;
        const ts = intEncoding(tp) & 1;
        return recSizeType(lp) == recSizeType(tp) && ls == ts ? 1 : 0;
      }
      case KIND_PTR:
        if (lk != tk) return 0;
        behindPtr = true;
        lid = recSizeType(lp);
        tid = recSizeType(tp);
        continue;
      case KIND_ARRAY:
        if (lk != tk) return 0;
        if (arrayNelems(lp) != arrayNelems(tp)) return 0;
        lid = arrayElem(lp);
        tid = arrayElem(tp);
        continue;
      case KIND_FUNC_PROTO: {
        if (lk != tk) return 0;
        const n = recVlen(lp);
        if (n != recVlen(tp)) return 0;
        for (let i: u32 = 0; i < n; i++) {
          const r = typesMatch(
            lb,
            load<u32>(lp + 12 + <usize>i * 8 + 4),
            tb,
            load<u32>(tp + 12 + <usize>i * 8 + 4),
            behindPtr,
            level - 1,
          );
          if (r <= 0) return r;
        }
        lid = recSizeType(lp);
        tid = recSizeType(tp);
        continue;
      }
      default:
        return 0;
    }
  }
  return 0;
}

// ---- matching a local spec against a candidate ----------------------------------------------------------

let nextTargId: u32 = 0;

function matchMember(lb: Btf, lAcc: i32, local: Spec, tb: Btf, tid: u32, spec: Spec): i32 {
  const tp = skip(tb, tid);
  if (tp == BAD) return ERR_INVAL;
  tid = skipId;
  if (!isComposite(kindAt(tp))) return 0;
  const lp = rec(lb, unchecked(local.accType[lAcc]));
  if (lp == 0 || lp == BAD) return ERR_INVAL;
  const lm = memberAt(lp, unchecked(local.accIdx[lAcc]));
  const lname = nameAt(lb, load<u32>(lm));
  const n = recVlen(tp);
  for (let i: u32 = 0; i < n; i++) {
    const m = memberAt(tp, i);
    const bitOff = memberBitOff(tp, m);
    if (spec.rawLen == SPEC_MAX) return ERR_2BIG;
    spec.bitOffset += bitOff;
    unchecked((spec.raw[spec.rawLen++] = <i32>i));
    const tname = nameAt(tb, load<u32>(m));
    if (isEmptyStr(tname)) {
      const found = matchMember(lb, lAcc, local, tb, load<u32>(m + 4), spec);
      if (found != 0) return found;
    } else if (cstrEq(lname, tname)) {
      unchecked((spec.accType[spec.len] = tid));
      unchecked((spec.accIdx[spec.len] = i));
      unchecked((spec.accName[spec.len] = tname));
      spec.len++;
      nextTargId = load<u32>(m + 4);
      const found = fieldsAreCompat(lb, load<u32>(lm + 4), tb, load<u32>(m + 4));
      if (found == 0) spec.len--;
      return found;
    }
    spec.bitOffset -= bitOff;
    spec.rawLen--;
  }
  return 0;
}

/** Matches the local spec against candidate `tid`; 1 match, 0 no match, negative error. */
function specMatch(local: Spec, tb: Btf, tid: u32, targ: Spec): i32 {
  targ.reset(tb, tid, local.kind);
  const lb = local.btf!;
  if (isTypeKind(local.kind)) {
    if (local.kind == TYPE_MATCHES) return typesMatch(lb, local.rootId, tb, tid, false, 32);
    return typesAreCompat(lb, local.rootId, tb, tid, 32);
  }
  if (isEnumvalKind(local.kind)) {
    const tp = skip(tb, tid);
    if (tp == BAD) return ERR_INVAL;
    tid = skipId;
    if (tp == 0 || !isAnyEnum(recKind(tp))) return 0;
    const lname = unchecked(local.accName[0]);
    const ll = essentialLen(lname, cstrLen(lname));
    const n = recVlen(tp);
    for (let i: u32 = 0; i < n; i++) {
      const tname = nameAt(tb, enumNameOff(tp, i));
      if (tname == 0) continue;
      if (essentialLen(tname, cstrLen(tname)) != ll) continue;
      if (bytesEq(lname, tname, ll)) {
        unchecked((targ.accType[0] = tid));
        unchecked((targ.accIdx[0] = i));
        unchecked((targ.accName[0] = tname));
        targ.len = 1;
        unchecked((targ.raw[0] = <i32>i));
        targ.rawLen = 1;
        return 1;
      }
    }
    return 0;
  }
  if (!isFieldKind(local.kind)) return ERR_INVAL;
  for (let i = 0; i < local.len; i++) {
    const tp = skip(tb, tid);
    if (tp == BAD) return ERR_INVAL;
    tid = skipId;
    if (unchecked(local.accName[i]) != 0) {
      const m = matchMember(lb, i, local, tb, tid, targ);
      if (m <= 0) return m;
      tid = nextTargId;
    } else {
      if (i > 0) {
        if (kindAt(tp) != KIND_ARRAY) return 0;
        const nelems = arrayNelems(tp);
        const flex = isFlexArr(tb, targ, i - 1, nelems);
        if (!flex && unchecked(local.accIdx[i]) >= nelems) return 0;
        if (skip(tb, arrayElem(tp)) == BAD) return ERR_INVAL;
        tid = skipId;
      }
      if (targ.rawLen == SPEC_MAX) return ERR_2BIG;
      const idx = unchecked(local.accIdx[i]);
      unchecked((targ.accType[targ.len] = tid));
      unchecked((targ.accIdx[targ.len] = idx));
      unchecked((targ.accName[targ.len] = 0));
      targ.len++;
      unchecked((targ.raw[targ.rawLen++] = <i32>idx));
      const sz = resolveSize(tb, tid);
      if (sz < 0) return <i32>sz;
      targ.bitOffset += idx * <u32>sz * 8;
    }
  }
  return 1;
}

// ---- computing values ---------------------------------------------------------------------------------

class Res {
  origVal: u64 = 0;
  newVal: u64 = 0;
  poison: bool = false;
  validate: bool = true;
  failMemszAdjust: bool = false;
  origSz: u32 = 0;
  origTypeId: u32 = 0;
  newSz: u32 = 0;
  newTypeId: u32 = 0;

  copyFrom(o: Res): void {
    this.origVal = o.origVal;
    this.newVal = o.newVal;
    this.poison = o.poison;
    this.validate = o.validate;
    this.failMemszAdjust = o.failMemszAdjust;
    this.origSz = o.origSz;
    this.origTypeId = o.origTypeId;
    this.newSz = o.newSz;
    this.newTypeId = o.newTypeId;
  }
}

const candRes = new Res();
const targRes = new Res();

// Outputs of calcField: value, field size, field type id, validate.
let cfVal: u64 = 0;
let cfSz: u32 = 0;
let cfType: u32 = 0;
let cfValidate: bool = true;

function calcField(kind: u32, spec: Spec | null): i32 {
  cfSz = 0;
  if (kind == FIELD_EXISTS) {
    cfVal = spec !== null ? 1 : 0;
    return 0;
  }
  if (spec === null) return ERR_POISON;
  const b = spec.btf!;
  const a = spec.len - 1;
  const accType = unchecked(spec.accType[a]);
  if (unchecked(spec.accName[a]) == 0) {
    if (kind == FIELD_BYTE_OFFSET) {
      cfVal = <u64>(spec.bitOffset / 8);
      const sz = resolveSize(b, accType);
      if (sz < 0) return ERR_INVAL;
      cfSz = <u32>sz;
      cfType = accType;
    } else if (kind == FIELD_BYTE_SIZE) {
      const sz = resolveSize(b, accType);
      if (sz < 0) return ERR_INVAL;
      cfVal = <u64>sz;
    } else {
      return ERR_KIND_ARRAY;
    }
    cfValidate = true;
    return 0;
  }
  const t = rec(b, accType);
  if (t == 0 || t == BAD) return ERR_INVAL;
  const m = memberAt(t, unchecked(spec.accIdx[a]));
  const mt = skip(b, load<u32>(m + 4));
  if (mt == BAD) return ERR_INVAL;
  const fieldType = skipId;
  const bitOff = spec.bitOffset;
  let bitSz = memberBitSz(t, m);
  let byteSz: u32;
  let byteOff: u32;
  const bitfield = bitSz > 0;
  if (bitfield) {
    byteSz = mt == 0 ? 0 : recSizeType(mt);
    if (byteSz == 0) return ERR_INVAL;
    byteOff = bitOff / 8 / byteSz * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) return ERR_BITFIELD;
      byteSz *= 2;
      byteOff = bitOff / 8 / byteSz * byteSz;
    }
  } else {
    const sz = resolveSize(b, fieldType);
    if (sz < 0) return ERR_INVAL;
    byteSz = <u32>sz;
    byteOff = spec.bitOffset / 8;
    bitSz = byteSz * 8;
  }
  cfValidate = !bitfield;
  switch (kind) {
    case FIELD_BYTE_OFFSET:
      cfVal = <u64>byteOff;
      if (!bitfield) {
        cfSz = byteSz;
        cfType = fieldType;
      }
      break;
    case FIELD_BYTE_SIZE:
      cfVal = <u64>byteSz;
      break;
    case FIELD_SIGNED: {
      const mk = kindAt(mt);
      // libbpf reads the INT encoding word after the record whatever the kind; so do we.
      cfVal = (isAnyEnum(mk) && recKflag(mt)) || (mt != 0 && (intEncoding(mt) & 1) != 0) ? 1 : 0;
      cfValidate = true;
      break;
    }
    case FIELD_LSHIFT_U64:
      cfVal = <u64>(<u32>64 - (bitOff + bitSz - byteOff * 8));
      break;
    case FIELD_RSHIFT_U64:
      cfVal = <u64>(<u32>64 - bitSz);
      cfValidate = true;
      break;
    default:
      return ERR_NOTSUP;
  }
  return 0;
}

const ERR_KIND_ARRAY: i32 = -1001;
const ERR_BITFIELD: i32 = -1002;

function calcType(kind: u32, spec: Spec | null, isLocal: bool, res: Res): i32 {
  if (isLocal) res.validate = true;
  let val: u64 = 0;
  if (spec !== null) {
    switch (kind) {
      case TYPE_ID_TARGET:
        val = <u64>spec.rootId;
        if (isLocal) res.validate = false;
        break;
      case TYPE_EXISTS:
      case TYPE_MATCHES:
        val = 1;
        break;
      case TYPE_SIZE: {
        const sz = resolveSize(spec.btf!, spec.rootId);
        if (sz < 0) return ERR_INVAL;
        val = <u64>sz;
        break;
      }
      default:
        return ERR_NOTSUP;
    }
  }
  if (isLocal) res.origVal = val;
  else res.newVal = val;
  return 0;
}

function calcEnumval(kind: u32, spec: Spec | null): i32 {
  if (kind == ENUMVAL_EXISTS) {
    cfVal = spec !== null ? 1 : 0;
    return 0;
  }
  if (kind != ENUMVAL_VALUE) return ERR_NOTSUP;
  if (spec === null) return ERR_POISON;
  const p = rec(spec.btf!, unchecked(spec.accType[0]));
  if (p == 0 || p == BAD) return ERR_INVAL;
  const i = unchecked(spec.accIdx[0]);
  if (recKind(p) == KIND_ENUM) {
    cfVal = <u64><i64>load<i32>(p + 12 + <usize>i * 8 + 4);
  } else {
    const q = p + 12 + <usize>i * 12;
    cfVal = (<u64>load<u32>(q + 8) << 32) | <u64>load<u32>(q + 4);
  }
  return 0;
}

/** bpf_core_calc_relo: the original and new values for one candidate (or none). */
function calcRelo(kind: u32, local: Spec, targ: Spec | null, res: Res): i32 {
  res.origVal = 0;
  res.newVal = 0;
  res.poison = false;
  res.validate = true;
  res.failMemszAdjust = false;
  res.origSz = 0;
  res.newSz = 0;
  res.origTypeId = 0;
  res.newTypeId = 0;
  let err: i32 = 0;
  if (isFieldKind(kind)) {
    cfValidate = true;
    cfType = 0;
    err = calcField(kind, local);
    res.origVal = cfVal;
    res.origSz = cfSz;
    res.origTypeId = cfType;
    res.validate = cfValidate;
    if (err == 0) {
      const keepValidate = res.validate;
      cfType = 0;
      err = calcField(kind, targ);
      res.validate = keepValidate;
      if (err == 0) {
        res.newVal = cfVal;
        res.newSz = cfSz;
        res.newTypeId = cfType;
        if (res.origSz != res.newSz) {
          const ob = local.btf!;
          const op = rec(ob, res.origTypeId);
          const np = targ === null ? BAD : rec(targ.btf!, res.newTypeId);
          const ok = op != BAD && np != BAD && op != 0 && np != 0 &&
            ((recKind(op) == KIND_PTR && recKind(np) == KIND_PTR) ||
              (recKind(op) == KIND_INT && recKind(np) == KIND_INT && intEncoding(op) != 1 &&
                intEncoding(np) != 1));
          if (!ok) res.failMemszAdjust = true;
        }
      }
    }
  } else if (isTypeKind(kind)) {
    err = calcType(kind, local, true, res);
    if (err == 0) err = calcType(kind, targ, false, res);
  } else if (isEnumvalKind(kind)) {
    err = calcEnumval(kind, local);
    res.origVal = cfVal;
    if (err == 0) {
      err = calcEnumval(kind, targ);
      if (err == 0) res.newVal = cfVal;
    }
  } else {
    err = ERR_NOTSUP;
  }
  if (err == ERR_POISON) {
    res.poison = true;
    err = 0;
  }
  return err;
}

// ---- patching ---------------------------------------------------------------------------------------

@inline function insnCode(p: usize): u8 {
  return load<u8>(p);
}
@inline function insnRegs(p: usize): u8 {
  return load<u8>(p + 1);
}

function poisonInsn(p: usize): void {
  store<u8>(p, 0x85);
  store<u8>(p + 1, 0);
  store<i16>(p + 2, 0);
  store<i32>(p + 4, POISON_IMM);
}

function bytesToBpfSize(sz: u32): i32 {
  if (sz == 8) return 0x18;
  if (sz == 4) return 0x00;
  if (sz == 2) return 0x08;
  if (sz == 1) return 0x10;
  return -1;
}
function bpfSizeToBytes(code: u8): u32 {
  const s = code & 0x18;
  if (s == 0x18) return 8;
  if (s == 0x00) return 4;
  if (s == 0x08) return 2;
  return 1;
}

/** bpf_core_patch_insn. Returns 0 patched, 1 poisoned, -1 after fail(). */
function patchInsn(insns: usize, cnt: u32, idx: u32, res: Res, typeId: u32): i32 {
  const p = insns + <usize>idx * 8;
  const code = insnCode(p);
  const cls = code & 7;
  if (res.poison) return poison(insns, cnt, idx);
  const orig = res.origVal;
  const nv = res.newVal;
  if (cls == 0x04 || cls == 0x07) {
    if ((code & 0x08) != 0) {
      return fail(E_PATCH_INSN, "CO-RE relocation targets an ALU instruction without an immediate", -1, typeId, idx);
    }
    if (res.validate && <u64><i64>load<i32>(p + 4) != orig) {
      return fail(E_PATCH_VALUE, "CO-RE relocation: the instruction's immediate is not the value the compiler recorded", -1, typeId, idx);
    }
    store<i32>(p + 4, <i32>nv);
    return 0;
  }
  if (cls == 0x01 || cls == 0x02 || cls == 0x03) {
    if (res.validate && <u64><i64>load<i16>(p + 2) != orig) {
      return fail(E_PATCH_VALUE, "CO-RE relocation: the instruction's offset is not the value the compiler recorded", -1, typeId, idx);
    }
    if (nv > 32767) {
      return fail(E_PATCH_RANGE, "CO-RE relocation: the field offset does not fit a load or store offset", -1, typeId, idx);
    }
    if (res.failMemszAdjust) return poison(insns, cnt, idx);
    store<i16>(p + 2, <i16>nv);
    if (res.newSz != res.origSz) {
      if (bpfSizeToBytes(code) != res.origSz) {
        return fail(E_PATCH_SIZE, "CO-RE relocation: the load or store size is not the field size the compiler recorded", -1, typeId, idx);
      }
      const ns = bytesToBpfSize(res.newSz);
      if (ns < 0) {
        return fail(E_PATCH_SIZE, "CO-RE relocation: the target field size is not 1, 2, 4 or 8 bytes", -1, typeId, idx);
      }
      store<u8>(p, <u8>((code & 0xe0) | <u8>ns | cls));
    }
    return 0;
  }
  if (cls == 0x00) {
    if (
      code != 0x18 || idx + 1 >= cnt || (insnRegs(p) >> 4) != 0 || load<i16>(p + 2) != 0 ||
      load<u8>(p + 8) != 0 || load<u8>(p + 9) != 0 || load<i16>(p + 10) != 0
    ) {
      return fail(E_PATCH_INSN, "CO-RE relocation targets a ld_imm64 instruction of unexpected form", -1, typeId, idx);
    }
    const imm = <u64>load<u32>(p + 4) | (<u64>load<u32>(p + 12) << 32);
    if (res.validate && imm != orig) {
      return fail(E_PATCH_VALUE, "CO-RE relocation: the ld_imm64 value is not the value the compiler recorded", -1, typeId, idx);
    }
    store<u32>(p + 4, <u32>nv);
    store<u32>(p + 12, <u32>(nv >> 32));
    return 0;
  }
  return fail(E_PATCH_INSN, "CO-RE relocation targets an instruction that cannot be relocated", -1, typeId, idx);
}

function poison(insns: usize, cnt: u32, idx: u32): i32 {
  const p = insns + <usize>idx * 8;
  if (insnCode(p) == 0x18 && idx + 1 < cnt) poisonInsn(p + 8);
  poisonInsn(p);
  return 1;
}

function failFor(err: i32, typeId: u32, idx: u32, what: string): i32 {
  if (err == ERR_2BIG) return fail(E_SPEC, what + ": the access nests too deeply or a size overflows", -1, typeId, idx);
  if (err == ERR_NOTSUP) return fail(E_KIND, "Unknown CO-RE relocation kind", -1, typeId, idx);
  if (err == ERR_KIND_ARRAY) {
    return fail(E_CALC, "CO-RE relocation of this kind cannot apply to an array element access", -1, typeId, idx);
  }
  if (err == ERR_BITFIELD) return fail(E_BITFIELD, "CO-RE bitfield relocation cannot be read with one 64-bit load", -1, typeId, idx);
  return fail(E_SPEC, what, -1, typeId, idx);
}

/**
 * Applies one CO-RE relocation to the instructions at `insns` (`cnt` of them): resolves the
 * relocation of `kind` on local type `typeId` with the access string (access, accessLen) and
 * patches instruction `insnIdx`. Returns 0 when patched, 1 when poisoned, -1 after fail().
 */
export function core_relo_apply(
  ctx: i32,
  insns: usize,
  cnt: u32,
  insnIdx: u32,
  typeId: u32,
  kind: u32,
  access: usize,
  accessLen: u32,
): i32 {
  const c = ctxOf(ctx);
  if (c === null) return fail(E_CTX, "Bad CO-RE context handle");
  if (insnIdx >= cnt) return fail(E_INSN_RANGE, "CO-RE relocation names an instruction outside its program", -1, typeId, insnIdx);
  if (kind > TYPE_MATCHES) return fail(E_KIND, "Unknown CO-RE relocation kind", -1, typeId, insnIdx);
  const lb = c.local;
  const lp = rec(lb, typeId);
  if (lp == BAD) return fail(E_SPEC, "CO-RE relocation names a type id the object's BTF does not have", -1, typeId, insnIdx);

  let cands: Array<Cand> | null = null;
  if (kind != TYPE_ID_LOCAL) {
    cands = findCands(c, typeId);
    if (cands === null) {
      return fail(E_CANDS, "CO-RE relocation of an anonymous or invalid type: candidate search failed", -1, typeId, insnIdx);
    }
  }
  let err = parseSpec(lb, typeId, kind, access, accessLen, localSpec);
  if (err < 0) return failFor(err, typeId, insnIdx, "CO-RE access string does not fit its type");

  if (kind == TYPE_ID_LOCAL) {
    targRes.origVal = <u64>typeId;
    targRes.newVal = <u64>typeId;
    targRes.poison = false;
    targRes.validate = false;
    targRes.failMemszAdjust = false;
    targRes.origSz = 0;
    targRes.newSz = 0;
    targRes.origTypeId = 0;
    targRes.newTypeId = 0;
    return patchInsn(insns, cnt, insnIdx, targRes, typeId);
  }

  const list = cands!;
  let j = 0;
  for (let i = 0; i < list.length; i++) {
    const cand = unchecked(list[i]);
    err = specMatch(localSpec, cand.btf, cand.id, candSpec);
    if (err < 0) return failFor(err, typeId, insnIdx, "CO-RE candidate type could not be matched");
    if (err == 0) continue;
    err = calcRelo(kind, localSpec, candSpec, candRes);
    if (err < 0) return failFor(err, typeId, insnIdx, "CO-RE relocation value could not be computed");
    if (j == 0) {
      targRes.copyFrom(candRes);
      targSpec.copyFrom(candSpec);
    } else if (candSpec.bitOffset != targSpec.bitOffset) {
      return fail(E_OFFSET_AMBIG, "CO-RE field offset is ambiguous: two target candidates place the field differently", -1, typeId, insnIdx);
    } else if (candRes.poison != targRes.poison || candRes.newVal != targRes.newVal) {
      return fail(E_DECISION_AMBIG, "CO-RE relocation is ambiguous: two target candidates give different values", -1, typeId, insnIdx);
    }
    unchecked((list[j++] = cand));
  }
  if (j > 0) list.length = j;
  if (j == 0) {
    err = calcRelo(kind, localSpec, null, targRes);
    if (err < 0) return failFor(err, typeId, insnIdx, "CO-RE relocation value could not be computed");
  }
  return patchInsn(insns, cnt, insnIdx, targRes, typeId);
}
