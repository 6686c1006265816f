// BTF: parsing, validation, the type-offset table, layout (size, alignment) and a lazy name index.
//
// A parsed blob is a `Btf` object reached through a handle. The blob itself stays where the caller
// put it (a host buffer, or a section inside an ELF file the core already holds): the core never
// copies or frees it, so the caller keeps it alive until btf_free().
//
// Error codes 200..299 (the host maps them to BtfError).

import { fail, out } from "./rt";

export const KIND_UNKN: u32 = 0;
export const KIND_INT: u32 = 1;
export const KIND_PTR: u32 = 2;
export const KIND_ARRAY: u32 = 3;
export const KIND_STRUCT: u32 = 4;
export const KIND_UNION: u32 = 5;
export const KIND_ENUM: u32 = 6;
export const KIND_FWD: u32 = 7;
export const KIND_TYPEDEF: u32 = 8;
export const KIND_VOLATILE: u32 = 9;
export const KIND_CONST: u32 = 10;
export const KIND_RESTRICT: u32 = 11;
export const KIND_FUNC: u32 = 12;
export const KIND_FUNC_PROTO: u32 = 13;
export const KIND_VAR: u32 = 14;
export const KIND_DATASEC: u32 = 15;
export const KIND_FLOAT: u32 = 16;
export const KIND_DECL_TAG: u32 = 17;
export const KIND_TYPE_TAG: u32 = 18;
export const KIND_ENUM64: u32 = 19;
export const KIND_MAX: u32 = 19;

export const BTF_MAGIC: u32 = 0xeb9f;
const HDR_SIZE: u32 = 24;
const MAX_CHAIN: i32 = 32;
const MAX_NEST: i32 = 128;
const PTR_SIZE: u32 = 8;

// Error codes.
export const E_BTF_TRUNCATED: i32 = 200;
export const E_BTF_MAGIC: i32 = 201;
export const E_BTF_VERSION: i32 = 202;
export const E_BTF_HEADER: i32 = 203;
export const E_BTF_STRINGS: i32 = 204;
export const E_BTF_TYPE: i32 = 205;
export const E_BTF_KIND: i32 = 206;
export const E_BTF_NAME: i32 = 207;
export const E_BTF_REF: i32 = 208;
export const E_BTF_LOOP: i32 = 209;
export const E_BTF_LAYOUT: i32 = 210;
export const E_BTF_HANDLE: i32 = 211;
export const E_BTF_ID: i32 = 212;
export const E_BTF_TOO_BIG: i32 = 213;

// The info record the host reads with a DataView (all u32, little-endian):
//   0 offs ptr (u32 per own type: the record's address), 4 own type count, 8 start id,
//   12 string section ptr, 16 string section len, 20 string offset base (base's strings),
//   24 blob ptr, 28 blob len, 32 hdr_len, 36 type_off, 40 type_len, 44 str_off, 48 str_len,
//   52 version, 56 flags, 60 base handle (or 0xffffffff)
export const INFO_SIZE: usize = 64;

/** A parsed BTF blob. Type ids below `start` belong to `base`. */
export class Btf {
  data: usize = 0;
  len: u32 = 0;
  hdrLen: u32 = 0;
  types: usize = 0;
  typesLen: u32 = 0;
  strs: usize = 0;
  strLen: u32 = 0;
  /** String offsets below this are the base's. */
  strBase: u32 = 0;
  offs: usize = 0;
  count: u32 = 0;
  start: u32 = 1;
  base: Btf | null = null;
  baseHandle: i32 = -1;
  info: usize = 0;
  /** The kind of each own type, one byte per type in id order (scans that filter by kind read
   * this instead of every record). */
  kinds: usize = 0;
  // Lazy name index: (hash u32, id u32) pairs of every named own type, sorted by (hash, name bytes,
  // kind, id), searched by bisection: O(N log N) to build and O(log N) to search whatever the names
  // (hash probing degrades to O(N) a search when a crafted blob repeats one name N times).
  index: usize = 0;
  indexLen: u32 = 0;

  /** One past the last valid type id. */
  @inline typeCount(): u32 {
    return this.start + this.count;
  }
}

// ---- handles ------------------------------------------------------------------------------------

const handles = new Array<Btf | null>();

/** The Btf behind a handle, or null. For other core files (btf_ext, CO-RE, ELF). */
export function btfByHandle(h: i32): Btf | null {
  if (h < 0 || h >= handles.length) return null;
  return unchecked(handles[h]);
}

function addHandle(b: Btf): i32 {
  for (let i = 0; i < handles.length; i++) {
    if (unchecked(handles[i]) === null) {
      unchecked((handles[i] = b));
      return i;
    }
  }
  handles.push(b);
  return handles.length - 1;
}

// ---- parsing ------------------------------------------------------------------------------------

@inline function umax(a: u32, b: u32): u32 {
  return select<u32>(a, b, a > b);
}

/**
 * Parses and validates a BTF blob at (ptr, len), split over `base` when not null. Returns the Btf
 * or null after fail(). Does not take ownership of the blob. With `full` false, the names and type
 * ids inside members, parameters, enum values and DATASEC entries are not checked (for BTF the
 * kernel has already validated); every accessor stays bounds-checked either way.
 */
export function parseBtf(ptr: usize, len: u32, base: Btf | null, full: bool = true): Btf | null {
  if (len < HDR_SIZE) {
    fail(E_BTF_TRUNCATED, "BTF data is shorter than its 24-byte header", <i64>len);
    return null;
  }
  const magic = <u32>load<u16>(ptr);
  if (magic != BTF_MAGIC) {
    if (magic == 0x9feb) {
      fail(E_BTF_MAGIC, "Big-endian BTF is not supported", 0);
    } else {
      fail(E_BTF_MAGIC, "Not BTF data: bad magic (expected 0xeb9f)", 0);
    }
    return null;
  }
  const version = <u32>load<u8>(ptr + 2);
  if (version != 1) {
    fail(E_BTF_VERSION, "Unsupported BTF version (only version 1 is known)", 2);
    return null;
  }
  const flags = <u32>load<u8>(ptr + 3);
  const hdrLen = load<u32>(ptr + 4);
  if (hdrLen < HDR_SIZE || hdrLen > len) {
    fail(E_BTF_HEADER, "BTF header length is out of range", 4);
    return null;
  }
  // A longer header (a newer format's extra sections, e.g. a kind-layout table) is read like
  // libbpf reads it: the known fields are used and the rest is skipped, so such a blob still dumps.
  const typeOff = load<u32>(ptr + 8);
  const typeLen = load<u32>(ptr + 12);
  const strOff = load<u32>(ptr + 16);
  const strLen = load<u32>(ptr + 20);
  const avail = <u64>(len - hdrLen);
  if (<u64>typeOff + <u64>typeLen > avail) {
    fail(E_BTF_HEADER, "BTF type section runs past the end of the data", 8);
    return null;
  }
  if (<u64>strOff + <u64>strLen > avail) {
    fail(E_BTF_HEADER, "BTF string section runs past the end of the data", 16);
    return null;
  }
  if ((typeOff & 3) != 0) {
    fail(E_BTF_HEADER, "BTF type section is not 4-byte aligned", 8);
    return null;
  }
  if (<u64>typeOff + <u64>typeLen > <u64>strOff) {
    fail(E_BTF_HEADER, "BTF type section overlaps or follows the string section", 8);
    return null;
  }
  if (strLen > 0x7fffffff) {
    fail(E_BTF_STRINGS, "BTF string section is too large", 20);
    return null;
  }
  const strs = ptr + hdrLen + strOff;
  if (base === null) {
    if (strLen == 0 || load<u8>(strs) != 0) {
      fail(E_BTF_STRINGS, "BTF string section must start with an empty string", <i64>(hdrLen + strOff));
      return null;
    }
  }
  if (strLen > 0 && load<u8>(strs + strLen - 1) != 0) {
    fail(E_BTF_STRINGS, "BTF string section is not NUL-terminated", <i64>(hdrLen + strOff + strLen - 1));
    return null;
  }

  const b = new Btf();
  b.data = ptr;
  b.len = len;
  b.hdrLen = hdrLen;
  b.types = ptr + hdrLen + typeOff;
  b.typesLen = typeLen;
  b.strs = strs;
  b.strLen = strLen;
  if (base !== null) {
    b.base = base;
    b.start = base.typeCount();
    b.strBase = base.strBase + base.strLen;
  }
  const strTotal = b.strBase + strLen;

  // The offsets table: at most one record per 12 bytes.
  const cap = (typeLen / 12) + 1;
  const offs = heap.alloc(<usize>cap << 2);
  const kinds = heap.alloc(<usize>cap);
  let n: u32 = 0;
  let p = b.types;
  const end = b.types + typeLen;
  let maxName: u32 = 0;
  let maxRef: u32 = 0;
  let badKind: i32 = 0;
  while (p < end) {
    if (end - p < 12) {
      heap.free(offs);
      heap.free(kinds);
      fail(E_BTF_TRUNCATED, "BTF type record is truncated", <i64>(p - ptr), <i64>(b.start + n));
      return null;
    }
    store<u32>(offs + (<usize>n << 2), <u32>p);
    const nameOff = load<u32>(p);
    const info = load<u32>(p + 4);
    const kind = (info >> 24) & 0x1f;
    store<u8>(kinds + <usize>n, <u8>kind);
    const vlen = info & 0xffff;
    maxName = umax(maxName, nameOff);
    let extra: u32 = 0;
    switch (kind) {
      case KIND_INT:
        extra = 4;
        break;
      case KIND_PTR:
      case KIND_TYPEDEF:
      case KIND_VOLATILE:
      case KIND_CONST:
      case KIND_RESTRICT:
      case KIND_FUNC:
      case KIND_TYPE_TAG:
        maxRef = umax(maxRef, load<u32>(p + 8));
        break;
      case KIND_FWD:
      case KIND_FLOAT:
        break;
      case KIND_VAR:
      case KIND_DECL_TAG:
        maxRef = umax(maxRef, load<u32>(p + 8));
        extra = 4;
        break;
      case KIND_ARRAY:
        extra = 12;
        if (end - p >= 24) {
          maxRef = umax(maxRef, umax(load<u32>(p + 12), load<u32>(p + 16)));
        }
        break;
      case KIND_STRUCT:
      case KIND_UNION:
        extra = vlen * 12;
        if (full && <usize>(end - p) >= <usize>(12 + extra)) {
          let m = p + 12;
          const me = m + extra;
          while (m < me) {
            maxName = umax(maxName, load<u32>(m));
            maxRef = umax(maxRef, load<u32>(m + 4));
            m += 12;
          }
        }
        break;
      case KIND_ENUM:
        extra = vlen * 8;
        if (full && <usize>(end - p) >= <usize>(12 + extra)) {
          let m = p + 12;
          const me = m + extra;
          while (m < me) {
            maxName = umax(maxName, load<u32>(m));
            m += 8;
          }
        }
        break;
      case KIND_ENUM64:
        extra = vlen * 12;
        if (full && <usize>(end - p) >= <usize>(12 + extra)) {
          let m = p + 12;
          const me = m + extra;
          while (m < me) {
            maxName = umax(maxName, load<u32>(m));
            m += 12;
          }
        }
        break;
      case KIND_FUNC_PROTO:
        extra = vlen * 8;
        maxRef = umax(maxRef, load<u32>(p + 8));
        if (full && <usize>(end - p) >= <usize>(12 + extra)) {
          let m = p + 12;
          const me = m + extra;
          while (m < me) {
            maxName = umax(maxName, load<u32>(m));
            maxRef = umax(maxRef, load<u32>(m + 4));
            m += 8;
          }
        }
        break;
      case KIND_DATASEC:
        extra = vlen * 12;
        if (full && <usize>(end - p) >= <usize>(12 + extra)) {
          let m = p + 12;
          const me = m + extra;
          while (m < me) {
            maxRef = umax(maxRef, load<u32>(m));
            m += 12;
          }
        }
        break;
      default:
        badKind = 1;
        break;
    }
    if (badKind) {
      heap.free(offs);
      heap.free(kinds);
      fail(E_BTF_KIND, "Unknown BTF kind", <i64>(p - ptr), <i64>(b.start + n));
      return null;
    }
    if (<usize>(end - p) < <usize>(12 + extra)) {
      heap.free(offs);
      heap.free(kinds);
      fail(
        E_BTF_TRUNCATED,
        "BTF type record runs past the end of the type section (bad vlen?)",
        <i64>(p - ptr),
        <i64>(b.start + n),
      );
      return null;
    }
    p += 12 + extra;
    n++;
  }
  // Give back the unused tail of the table (shrinking in place is cheap).
  const table = n == 0 ? offs : heap.realloc(offs, <usize>n << 2);
  b.offs = table;
  b.kinds = kinds;
  b.count = n;
  const total = b.typeCount();
  if (maxName >= strTotal || maxRef >= total) {
    // Find the culprit with a slower pass; this only runs on bad input.
    const r = findBadRef(b, strTotal, total);
    heap.free(table);
    heap.free(kinds);
    b.offs = 0;
    b.kinds = 0;
    if (r == 0) fail(E_BTF_NAME, "BTF data is inconsistent");
    return null;
  }

  const inf = heap.alloc(INFO_SIZE);
  store<u32>(inf, <u32>table);
  store<u32>(inf + 4, n);
  store<u32>(inf + 8, b.start);
  store<u32>(inf + 12, <u32>strs);
  store<u32>(inf + 16, strLen);
  store<u32>(inf + 20, b.strBase);
  store<u32>(inf + 24, <u32>ptr);
  store<u32>(inf + 28, len);
  store<u32>(inf + 32, hdrLen);
  store<u32>(inf + 36, typeOff);
  store<u32>(inf + 40, typeLen);
  store<u32>(inf + 44, strOff);
  store<u32>(inf + 48, strLen);
  store<u32>(inf + 52, version);
  store<u32>(inf + 56, flags);
  store<u32>(inf + 60, 0xffffffff);
  b.info = inf;
  return b;
}

/** Names the first record with an out-of-range string offset or type id; returns 1 after fail(). */
function findBadRef(b: Btf, strTotal: u32, total: u32): i32 {
  for (let i: u32 = 0; i < b.count; i++) {
    const id = b.start + i;
    const p = <usize>load<u32>(b.offs + (<usize>i << 2));
    const at = <i64>(p - b.data);
    if (load<u32>(p) >= strTotal) return fail(E_BTF_NAME, "BTF type name offset is out of the string section", at, id) * -1;
    const kind = btfKindAt(p);
    const vlen = load<u32>(p + 4) & 0xffff;
    switch (kind) {
      case KIND_PTR:
      case KIND_TYPEDEF:
      case KIND_VOLATILE:
      case KIND_CONST:
      case KIND_RESTRICT:
      case KIND_FUNC:
      case KIND_TYPE_TAG:
      case KIND_VAR:
      case KIND_DECL_TAG:
      case KIND_FUNC_PROTO:
        if (load<u32>(p + 8) >= total) return badRef(at + 8, id);
        break;
      case KIND_ARRAY:
        if (load<u32>(p + 12) >= total) return badRef(at + 12, id);
        if (load<u32>(p + 16) >= total) return badRef(at + 16, id);
        break;
      default:
        break;
    }
    if (kind == KIND_STRUCT || kind == KIND_UNION || kind == KIND_ENUM || kind == KIND_ENUM64 || kind == KIND_FUNC_PROTO || kind == KIND_DATASEC) {
      const step: u32 = kind == KIND_ENUM || kind == KIND_FUNC_PROTO ? 8 : 12;
      for (let j: u32 = 0; j < vlen; j++) {
        const m = p + 12 + <usize>(j * step);
        const mat = at + 12 + <i64>(j * step);
        if (kind == KIND_DATASEC) {
          if (load<u32>(m) >= total) return badRef(mat, id);
          continue;
        }
        if (load<u32>(m) >= strTotal) {
          return fail(E_BTF_NAME, "BTF member name offset is out of the string section", mat, id) * -1;
        }
        if (kind == KIND_STRUCT || kind == KIND_UNION || kind == KIND_FUNC_PROTO) {
          if (load<u32>(m + 4) >= total) return badRef(mat + 4, id);
        }
      }
    }
  }
  return 0;
}

function badRef(at: i64, id: u32): i32 {
  fail(E_BTF_REF, "BTF type refers to a type id that does not exist", at, id);
  return 1;
}

export function freeBtf(b: Btf): void {
  if (b.offs != 0) heap.free(b.offs);
  if (b.kinds != 0) heap.free(b.kinds);
  if (b.info != 0) heap.free(b.info);
  if (b.index != 0) heap.free(b.index);
  b.offs = 0;
  b.kinds = 0;
  b.info = 0;
  b.index = 0;
  b.count = 0;
}

// ---- accessors (internal API) -------------------------------------------------------------------

@inline function btfKindAt(p: usize): u32 {
  return (load<u32>(p + 4) >> 24) & 0x1f;
}

/** The address of type `id`'s record, or 0 when `id` is 0 (void) or out of range. */
export function typePtr(b: Btf, id: u32): usize {
  let o: Btf | null = b;
  while (o !== null) {
    if (id >= o.start) {
      if (id >= o.typeCount()) return 0;
      return <usize>load<u32>(o.offs + (<usize>(id - o.start) << 2));
    }
    o = o.base;
  }
  return 0;
}

/** The address of the NUL-terminated string at `off`, or 0 when out of range. */
export function strPtr(b: Btf, off: u32): usize {
  let o: Btf | null = b;
  while (o !== null) {
    if (off >= o.strBase) {
      if (off - o.strBase >= o.strLen) return 0;
      return o.strs + (off - o.strBase);
    }
    o = o.base;
  }
  return 0;
}

export function strLenAt(s: usize): u32 {
  let e = s;
  while (load<u8>(e) != 0) e++;
  return <u32>(e - s);
}

@inline export function recKind(p: usize): u32 {
  return (load<u32>(p + 4) >> 24) & 0x1f;
}
@inline export function recVlen(p: usize): u32 {
  return load<u32>(p + 4) & 0xffff;
}
@inline export function recKflag(p: usize): bool {
  return (load<u32>(p + 4) >> 31) != 0;
}
@inline export function recNameOff(p: usize): u32 {
  return load<u32>(p);
}
/** The size/type union field. */
@inline export function recSizeType(p: usize): u32 {
  return load<u32>(p + 8);
}

/** Kind of `id`; 0 (UNKN) for void or out of range. */
export function kindOf(b: Btf, id: u32): u32 {
  const p = typePtr(b, id);
  return p == 0 ? KIND_UNKN : recKind(p);
}
export function vlenOf(b: Btf, id: u32): u32 {
  const p = typePtr(b, id);
  return p == 0 ? 0 : recVlen(p);
}
export function kflagOf(b: Btf, id: u32): bool {
  const p = typePtr(b, id);
  return p == 0 ? false : recKflag(p);
}
export function nameOffOf(b: Btf, id: u32): u32 {
  const p = typePtr(b, id);
  return p == 0 ? 0 : recNameOff(p);
}
/** The size field (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT). */
export function sizeOf(b: Btf, id: u32): u32 {
  const p = typePtr(b, id);
  return p == 0 ? 0 : recSizeType(p);
}
/** The type field (PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO return, VAR, DECL_TAG, TYPE_TAG). */
export function refOf(b: Btf, id: u32): u32 {
  const p = typePtr(b, id);
  return p == 0 ? 0 : recSizeType(p);
}

/** The address of member/param/enum value `i` of the record at `p` (no bounds check on i). */
export function memberPtr(p: usize, i: u32): usize {
  const k = recKind(p);
  const step: u32 = k == KIND_ENUM || k == KIND_FUNC_PROTO ? 8 : 12;
  return p + 12 + <usize>(i * step);
}
/** STRUCT/UNION member fields. */
@inline export function memberNameOff(m: usize): u32 {
  return load<u32>(m);
}
@inline export function memberType(m: usize): u32 {
  return load<u32>(m + 4);
}
export function memberBitOffset(p: usize, m: usize): u32 {
  const v = load<u32>(m + 8);
  return recKflag(p) ? v & 0xffffff : v;
}
export function memberBitSize(p: usize, m: usize): u32 {
  const v = load<u32>(m + 8);
  return recKflag(p) ? v >> 24 : 0;
}
/** ARRAY fields. */
@inline export function arrayElem(p: usize): u32 {
  return load<u32>(p + 12);
}
@inline export function arrayIndex(p: usize): u32 {
  return load<u32>(p + 16);
}
@inline export function arrayNelems(p: usize): u32 {
  return load<u32>(p + 20);
}
/** ENUM value i (as stored; sign per kflag). */
export function enumValue(p: usize, i: u32): i64 {
  const k = recKind(p);
  if (k == KIND_ENUM) {
    const v = load<u32>(p + 12 + <usize>(i * 8) + 4);
    return recKflag(p) ? <i64><i32>v : <i64>v;
  }
  const q = p + 12 + <usize>(i * 12);
  return <i64>((<u64>load<u32>(q + 8) << 32) | <u64>load<u32>(q + 4));
}

@inline function isModOrTypedef(k: u32): bool {
  return k == KIND_TYPEDEF || k == KIND_VOLATILE || k == KIND_CONST || k == KIND_RESTRICT || k == KIND_TYPE_TAG;
}

/** Follows typedefs and modifiers to the first other type. -1 after fail() on a loop. */
export function skipModsAndTypedefs(b: Btf, id: u32): i64 {
  let cur = id;
  for (let i = 0; i < MAX_CHAIN; i++) {
    const p = typePtr(b, cur);
    if (p == 0) {
      if (cur == 0) return 0;
      fail(E_BTF_ID, "Type id is out of range", -1, cur);
      return -1;
    }
    if (!isModOrTypedef(recKind(p))) return cur;
    cur = recSizeType(p);
  }
  fail(E_BTF_LOOP, "Type chain is too long or loops", -1, id);
  return -1;
}

/** The size in bytes of `id`, like libbpf's btf__resolve_size. -1 after fail(). */
export function resolveSize(b: Btf, id: u32): i64 {
  let cur = id;
  let nelems: u64 = 1;
  for (let i = 0; i < MAX_CHAIN; i++) {
    const p = typePtr(b, cur);
    if (p == 0) {
      if (cur == 0) fail(E_BTF_LAYOUT, "Void has no size", -1, id);
      else fail(E_BTF_ID, "Type id is out of range", -1, cur);
      return -1;
    }
    const k = recKind(p);
    let size: u64 = 0;
    switch (k) {
      case KIND_INT:
      case KIND_STRUCT:
      case KIND_UNION:
      case KIND_ENUM:
      case KIND_ENUM64:
      case KIND_DATASEC:
      case KIND_FLOAT:
        size = <u64>recSizeType(p);
        break;
      case KIND_PTR:
        size = <u64>PTR_SIZE;
        break;
      case KIND_TYPEDEF:
      case KIND_VOLATILE:
      case KIND_CONST:
      case KIND_RESTRICT:
      case KIND_VAR:
      case KIND_DECL_TAG:
      case KIND_TYPE_TAG:
        cur = recSizeType(p);
        continue;
      case KIND_ARRAY: {
        const ne = <u64>arrayNelems(p);
        nelems *= ne;
        if (nelems > 0xffffffff) {
          fail(E_BTF_TOO_BIG, "Array size overflows 32 bits", -1, cur);
          return -1;
        }
        cur = arrayElem(p);
        continue;
      }
      default:
        fail(E_BTF_LAYOUT, "Type has no size (function, forward declaration or void)", -1, cur);
        return -1;
    }
    const total = size * nelems;
    if (total > 0xffffffff) {
      fail(E_BTF_TOO_BIG, "Type size overflows 32 bits", -1, id);
      return -1;
    }
    return <i64>total;
  }
  fail(E_BTF_LOOP, "Type chain is too long or loops", -1, id);
  return -1;
}

/** The alignment of `id`, like libbpf's btf__align_of. -1 after fail(). */
export function alignOf(b: Btf, id: u32): i32 {
  return alignRec(b, id, 0);
}

function alignRec(b: Btf, id: u32, depth: i32): i32 {
  if (depth > MAX_NEST) return fail(E_BTF_LOOP, "Type nesting is too deep or loops", -1, id);
  const p = typePtr(b, id);
  if (p == 0) {
    if (id == 0) return fail(E_BTF_LAYOUT, "Void has no alignment", -1, id);
    return fail(E_BTF_ID, "Type id is out of range", -1, id);
  }
  const k = recKind(p);
  switch (k) {
    case KIND_INT:
    case KIND_ENUM:
    case KIND_ENUM64:
    case KIND_FLOAT: {
      const s = recSizeType(p);
      if (s == 0) return fail(E_BTF_LAYOUT, "Type has size 0 and so no alignment", -1, id);
      return <i32>(s < PTR_SIZE ? s : PTR_SIZE);
    }
    case KIND_PTR:
      return <i32>PTR_SIZE;
    case KIND_TYPEDEF:
    case KIND_VOLATILE:
    case KIND_CONST:
    case KIND_RESTRICT:
    case KIND_TYPE_TAG:
      return alignRec(b, recSizeType(p), depth + 1);
    case KIND_ARRAY:
      return alignRec(b, arrayElem(p), depth + 1);
    case KIND_STRUCT:
    case KIND_UNION: {
      const vlen = recVlen(p);
      let maxAlign: i32 = 1;
      for (let i: u32 = 0; i < vlen; i++) {
        const m = p + 12 + <usize>(i * 12);
        const a = alignRec(b, memberType(m), depth + 1);
        if (a <= 0) return -1;
        if (a > maxAlign) maxAlign = a;
        if (memberBitSize(p, m) == 0 && memberBitOffset(p, m) % (8 * <u32>a) != 0) return 1;
      }
      if (recSizeType(p) % <u32>maxAlign != 0) return 1;
      return maxAlign;
    }
    default:
      return fail(E_BTF_LAYOUT, "Type has no alignment (function, forward declaration or void)", -1, id);
  }
}

// ---- name index ---------------------------------------------------------------------------------

@inline function hashStr(s: usize): u32 {
  let h: u32 = 2166136261;
  let c = load<u8>(s);
  while (c != 0) {
    h = (h ^ <u32>c) * 16777619;
    s++;
    c = load<u8>(s);
  }
  return h | 1; // never 0: 0 marks an empty slot
}

function hashBytes(s: usize, n: u32): u32 {
  let h: u32 = 2166136261;
  for (let i: u32 = 0; i < n; i++) h = (h ^ <u32>load<u8>(s + i)) * 16777619;
  return h | 1;
}

// Orders two index entries by (hash, name bytes, kind, id); names that share a string offset are
// equal without reading them.
function entryCmp(b: Btf, e1: usize, e2: usize): i32 {
  const h1 = load<u32>(e1);
  const h2 = load<u32>(e2);
  if (h1 != h2) return h1 < h2 ? -1 : 1;
  const id1 = load<u32>(e1 + 4);
  const id2 = load<u32>(e2 + 4);
  const p1 = typePtr(b, id1);
  const p2 = typePtr(b, id2);
  const o1 = recNameOff(p1);
  const o2 = recNameOff(p2);
  if (o1 != o2) {
    let s1 = strPtr(b, o1);
    let s2 = strPtr(b, o2);
    for (;;) {
      const c1 = load<u8>(s1);
      const c2 = load<u8>(s2);
      if (c1 != c2) return c1 < c2 ? -1 : 1;
      if (c1 == 0) break;
      s1++;
      s2++;
    }
  }
  const k1 = recKind(p1);
  const k2 = recKind(p2);
  if (k1 != k2) return k1 < k2 ? -1 : 1;
  return id1 < id2 ? -1 : id1 > id2 ? 1 : 0;
}

function buildIndex(b: Btf): void {
  let n: u32 = 0;
  const tab = heap.alloc(<usize>(b.count == 0 ? 1 : b.count) << 3);
  for (let i: u32 = 0; i < b.count; i++) {
    const p = <usize>load<u32>(b.offs + (<usize>i << 2));
    const off = recNameOff(p);
    if (off == 0) continue;
    const s = strPtr(b, off);
    if (s == 0 || load<u8>(s) == 0) continue;
    store<u32>(tab + (<usize>n << 3), hashStr(s));
    store<u32>(tab + (<usize>n << 3) + 4, b.start + i);
    n++;
  }
  // Bottom-up merge sort: N log N comparisons, whatever the order and the names.
  let src = tab;
  let dst = heap.alloc(<usize>(n == 0 ? 1 : n) << 3);
  for (let width: u32 = 1; width < n; width <<= 1) {
    for (let lo: u32 = 0; lo < n; lo += width << 1) {
      const mid = min(lo + width, n);
      const hi = min(lo + (width << 1), n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (entryCmp(b, src + (<usize>j << 3), src + (<usize>i << 3)) < 0) {
          store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>j << 3)));
          j++;
        } else {
          store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>i << 3)));
          i++;
        }
        k++;
      }
      for (; i < mid; i++, k++) store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>i << 3)));
      for (; j < hi; j++, k++) store<u64>(dst + (<usize>k << 3), load<u64>(src + (<usize>j << 3)));
    }
    const t = src;
    src = dst;
    dst = t;
  }
  heap.free(dst);
  b.index = src;
  b.indexLen = n;
}

// Orders an index entry against a query (hash, name bytes, kind): negative when the entry sorts
// first. A query kind below 0 sorts before every kind.
function queryCmp(b: Btf, e: usize, h: u32, name: usize, n: u32, kind: i32): i32 {
  const eh = load<u32>(e);
  if (eh != h) return eh < h ? -1 : 1;
  const p = typePtr(b, load<u32>(e + 4));
  const s = strPtr(b, recNameOff(p));
  for (let i: u32 = 0; i < n; i++) {
    const c1 = load<u8>(s + i);
    const c2 = load<u8>(name + i);
    if (c1 != c2) return c1 < c2 ? -1 : 1; // a shorter entry name ends with 0, below any byte
  }
  if (load<u8>(s + n) != 0) return 1;
  const k = <i32>recKind(p);
  return k < kind ? -1 : k > kind ? 1 : 0;
}

// The first index position whose entry does not sort before the query.
function lowerBound(b: Btf, h: u32, name: usize, n: u32, kind: i32): u32 {
  let lo: u32 = 0;
  let hi = b.indexLen;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    if (queryCmp(b, b.index + (<usize>mid << 3), h, name, n, kind) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

@inline function nameEquals(s: usize, name: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) {
    if (load<u8>(s + i) != load<u8>(name + i)) return false;
  }
  return load<u8>(s + n) == 0;
}

@inline function sameName(b: Btf, pos: u32, h: u32, name: usize, n: u32): bool {
  if (pos >= b.indexLen) return false;
  const e = b.index + (<usize>pos << 3);
  if (load<u32>(e) != h) return false;
  return nameEquals(strPtr(b, recNameOff(typePtr(b, load<u32>(e + 4)))), name, n);
}

/**
 * Finds types named (name, n) of kind `kind` (or any kind when kind < 0) in this blob only (not the
 * base). With `first`, returns the lowest such id (0 when none); otherwise appends every such id to
 * the out buffer in id order and returns their count.
 */
function findOwn(b: Btf, name: usize, n: u32, kind: i32, h: u32, first: bool): u32 {
  if (b.count == 0) return 0;
  if (b.index == 0) buildIndex(b);
  let pos = lowerBound(b, h, name, n, kind);
  if (kind >= 0) {
    // One run of (name, kind) entries, in id order.
    let found: u32 = 0;
    while (sameName(b, pos, h, name, n)) {
      const id = load<u32>(b.index + (<usize>pos << 3) + 4);
      if (recKind(typePtr(b, id)) != <u32>kind) break;
      if (first) return id;
      out.ensure(4);
      store<u32>(out.ptr + out.len, id);
      out.len += 4;
      found++;
      pos++;
    }
    return found;
  }
  // Any kind: one run per kind, each in id order. The first id is the least of the runs' heads,
  // found by jumping from run to run; every id is the runs merged.
  if (first) {
    let best: u32 = 0;
    while (sameName(b, pos, h, name, n)) {
      const id = load<u32>(b.index + (<usize>pos << 3) + 4);
      if (best == 0 || id < best) best = id;
      pos = lowerBound(b, h, name, n, <i32>recKind(typePtr(b, id)) + 1);
    }
    return best;
  }
  const from = out.len;
  let found: u32 = 0;
  while (sameName(b, pos, h, name, n)) {
    out.ensure(4);
    store<u32>(out.ptr + out.len, load<u32>(b.index + (<usize>pos << 3) + 4));
    out.len += 4;
    found++;
    pos++;
  }
  sortIds(out.ptr + from, found);
  return found;
}

// Sorts n u32 ids in place (heap sort: n log n, no extra memory).
function sortIds(p: usize, n: u32): void {
  if (n < 2) return;
  for (let i = <i32>(n >> 1) - 1; i >= 0; i--) siftDown(p, <u32>i, n);
  for (let end = n - 1; end > 0; end--) {
    const t = load<u32>(p);
    store<u32>(p, load<u32>(p + (<usize>end << 2)));
    store<u32>(p + (<usize>end << 2), t);
    siftDown(p, 0, end);
  }
}

function siftDown(p: usize, i: u32, n: u32): void {
  for (;;) {
    let c = (i << 1) + 1;
    if (c >= n) return;
    if (c + 1 < n && load<u32>(p + (<usize>(c + 1) << 2)) > load<u32>(p + (<usize>c << 2))) c++;
    if (load<u32>(p + (<usize>i << 2)) >= load<u32>(p + (<usize>c << 2))) return;
    const t = load<u32>(p + (<usize>i << 2));
    store<u32>(p + (<usize>i << 2), load<u32>(p + (<usize>c << 2)));
    store<u32>(p + (<usize>c << 2), t);
    i = c;
  }
}

/** The first type named (name, n) with kind `kind` (any when < 0), base first; 0 when none. */
export function findByNameKind(b: Btf, name: usize, n: u32, kind: i32): u32 {
  const h = hashBytes(name, n);
  if (b.base !== null) {
    const r = findByNameKind(b.base!, name, n, kind);
    if (r != 0) return r;
  }
  return findOwn(b, name, n, kind, h, true);
}

function findAllInto(b: Btf, name: usize, n: u32, kind: i32, h: u32): u32 {
  let c: u32 = 0;
  if (b.base !== null) c = findAllInto(b.base!, name, n, kind, h);
  return c + findOwn(b, name, n, kind, h, false);
}

// ---- exports ------------------------------------------------------------------------------------

/**
 * Parses the BTF blob at (ptr, len), split over the Btf of `baseHandle` (-1 for none). Returns a
 * handle, or -1 after an error. The blob must stay alive and unchanged until btf_free().
 */
export function btf_parse(ptr: usize, len: u32, baseHandle: i32): i32 {
  return parseExport(ptr, len, baseHandle, true);
}

/**
 * Like btf_parse, but skips the checks of names and type ids inside members, parameters, enum
 * values and DATASEC entries: for BTF the kernel has already validated (/sys/kernel/btf/\*).
 */
export function btf_parse_trusted(ptr: usize, len: u32, baseHandle: i32): i32 {
  return parseExport(ptr, len, baseHandle, false);
}

function parseExport(ptr: usize, len: u32, baseHandle: i32, full: bool): i32 {
  let base: Btf | null = null;
  if (baseHandle >= 0) {
    base = btfByHandle(baseHandle);
    if (base === null) return fail(E_BTF_HANDLE, "Bad base BTF handle");
  }
  const b = parseBtf(ptr, len, base, full);
  if (b === null) return -1;
  b.baseHandle = baseHandle;
  store<u32>(b.info + 60, <u32>baseHandle);
  return addHandle(b);
}

/** Frees a handle's tables (not the blob). Freeing a free handle does nothing. */
export function btf_free(h: i32): void {
  const b = btfByHandle(h);
  if (b === null) return;
  freeBtf(b);
  unchecked((handles[h] = null));
}

/** The address of the handle's info record (see INFO_SIZE), or 0 for a bad handle. */
export function btf_info(h: i32): usize {
  const b = btfByHandle(h);
  return b === null ? 0 : b.info;
}

export function btf_resolve_size(h: i32, id: u32): f64 {
  const b = btfByHandle(h);
  if (b === null) return <f64>fail(E_BTF_HANDLE, "Bad BTF handle");
  return <f64>resolveSize(b, id);
}

export function btf_align_of(h: i32, id: u32): i32 {
  const b = btfByHandle(h);
  if (b === null) return fail(E_BTF_HANDLE, "Bad BTF handle");
  return alignOf(b, id);
}

export function btf_skip_mods(h: i32, id: u32): i32 {
  const b = btfByHandle(h);
  if (b === null) return fail(E_BTF_HANDLE, "Bad BTF handle");
  return <i32>skipModsAndTypedefs(b, id);
}

/** The first id named (name, len) of `kind` (any kind when < 0), 0 when none, -1 on error. */
export function btf_find_by_name_kind(h: i32, name: usize, len: u32, kind: i32): i32 {
  const b = btfByHandle(h);
  if (b === null) return fail(E_BTF_HANDLE, "Bad BTF handle");
  return <i32>findByNameKind(b, name, len, kind);
}

/** Every id named (name, len) of `kind` into the out buffer as u32s, in id order; returns the count. */
export function btf_find_all_by_name_kind(h: i32, name: usize, len: u32, kind: i32): i32 {
  const b = btfByHandle(h);
  if (b === null) return fail(E_BTF_HANDLE, "Bad BTF handle");
  out.reset();
  return <i32>findAllInto(b, name, len, kind, hashBytes(name, len));
}
