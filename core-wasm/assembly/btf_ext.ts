// .BTF.ext: func_info, line_info and CO-RE relocation records, grouped per ELF section name.
//
// The blob stays where the caller put it; the core keeps per-kind section tables pointing into it.
// Error codes 300..399 (the host maps them to BtfError).

import { fail } from "./rt";
import { Btf, btfByHandle, strPtr } from "./btf";

export const E_EXT_TRUNCATED: i32 = 300;
export const E_EXT_MAGIC: i32 = 301;
export const E_EXT_VERSION: i32 = 302;
export const E_EXT_HEADER: i32 = 303;
export const E_EXT_REC_SIZE: i32 = 304;
export const E_EXT_SECTION: i32 = 305;
export const E_EXT_STRING: i32 = 306;
export const E_EXT_TYPE: i32 = 307;
export const E_EXT_HANDLE: i32 = 308;

export const EXT_FUNC: i32 = 0;
export const EXT_LINE: i32 = 1;
export const EXT_CORE: i32 = 2;

const MIN_REC: StaticArray<u32> = [8, 16, 16];
const HDR_MIN: u32 = 24;

/**
 * One kind of info: its record size and its sections. The section table holds, per section,
 * (name_off u32, records ptr u32, count u32).
 */
export class ExtInfo {
  recSize: u32 = 0;
  nsecs: u32 = 0;
  secs: usize = 0;
}

export class BtfExt {
  data: usize = 0;
  len: u32 = 0;
  btf: Btf | null = null;
  infos: StaticArray<ExtInfo> = [new ExtInfo(), new ExtInfo(), new ExtInfo()];
  // Host record: for kind k at 12*k: rec_size, nsecs, secs ptr (u32 each).
  desc: usize = 0;
}

const exts = new Array<BtfExt | null>();

export function btfExtByHandle(h: i32): BtfExt | null {
  if (h < 0 || h >= exts.length) return null;
  return unchecked(exts[h]);
}

function freeExt(e: BtfExt): void {
  for (let k = 0; k < 3; k++) {
    const inf = e.infos[k];
    if (inf.secs != 0) heap.free(inf.secs);
    inf.secs = 0;
    inf.nsecs = 0;
  }
  if (e.desc != 0) heap.free(e.desc);
  e.desc = 0;
}

@inline function strOk(b: Btf, off: u32): bool {
  return strPtr(b, off) != 0;
}

/** Parses one info kind's area at data+start, len bytes. Returns false after fail(). */
function parseInfo(e: BtfExt, kind: i32, start: u32, len: u32): bool {
  const inf = e.infos[kind];
  if (len == 0) return true;
  const b = e.btf!;
  const base = e.data;
  if (len < 4) {
    fail(E_EXT_TRUNCATED, ".BTF.ext info area is shorter than its record size field", <i64>start);
    return false;
  }
  const recSize = load<u32>(base + start);
  if (recSize < MIN_REC[kind] || (recSize & 3) != 0) {
    fail(E_EXT_REC_SIZE, ".BTF.ext record size is too small or not a multiple of 4", <i64>start);
    return false;
  }
  inf.recSize = recSize;
  // Count sections first.
  let p: u32 = start + 4;
  const end: u32 = start + len;
  let nsecs: u32 = 0;
  while (p < end) {
    if (end - p < 8) {
      fail(E_EXT_TRUNCATED, ".BTF.ext section header is truncated", <i64>p);
      return false;
    }
    const nameOff = load<u32>(base + p);
    const n = load<u32>(base + p + 4);
    if (!strOk(b, nameOff)) {
      fail(E_EXT_STRING, ".BTF.ext section name offset is out of the BTF string section", <i64>p);
      return false;
    }
    if (n == 0) {
      fail(E_EXT_SECTION, ".BTF.ext section has no records", <i64>p);
      return false;
    }
    const bytes = <u64>n * <u64>recSize;
    if (bytes > <u64>(end - p - 8)) {
      fail(E_EXT_TRUNCATED, ".BTF.ext section records run past the end of the info area", <i64>p);
      return false;
    }
    // Validate the records.
    let r = base + p + 8;
    const re = r + <usize>bytes;
    const total = b.typeCount();
    while (r < re) {
      const at = <i64>(r - base);
      if (kind == EXT_FUNC) {
        if (load<u32>(r + 4) >= total) {
          fail(E_EXT_TYPE, ".BTF.ext func_info refers to a type id that does not exist", at, load<u32>(r + 4));
          return false;
        }
      } else if (kind == EXT_LINE) {
        if (!strOk(b, load<u32>(r + 4)) || !strOk(b, load<u32>(r + 8))) {
          fail(E_EXT_STRING, ".BTF.ext line_info string offset is out of the BTF string section", at);
          return false;
        }
      } else {
        if (load<u32>(r + 4) >= total) {
          fail(E_EXT_TYPE, ".BTF.ext CO-RE relocation refers to a type id that does not exist", at, load<u32>(r + 4));
          return false;
        }
        if (!strOk(b, load<u32>(r + 8))) {
          fail(E_EXT_STRING, ".BTF.ext CO-RE access string offset is out of the BTF string section", at);
          return false;
        }
      }
      r += recSize;
    }
    p += 8 + <u32>bytes;
    nsecs++;
  }
  const secs = heap.alloc(<usize>(nsecs * 12));
  p = start + 4;
  for (let i: u32 = 0; i < nsecs; i++) {
    const n = load<u32>(base + p + 4);
    store<u32>(secs + i * 12, load<u32>(base + p));
    store<u32>(secs + i * 12 + 4, <u32>(base + p + 8));
    store<u32>(secs + i * 12 + 8, n);
    p += 8 + n * recSize;
  }
  inf.secs = secs;
  inf.nsecs = nsecs;
  return true;
}

/** Parses a .BTF.ext blob whose strings and types are in `b`. Returns null after fail(). */
export function parseBtfExt(ptr: usize, len: u32, b: Btf): BtfExt | null {
  if (len < 8) {
    fail(E_EXT_TRUNCATED, ".BTF.ext data is shorter than its header", <i64>len);
    return null;
  }
  if (<u32>load<u16>(ptr) != 0xeb9f) {
    fail(E_EXT_MAGIC, "Not .BTF.ext data: bad magic (expected 0xeb9f)", 0);
    return null;
  }
  if (load<u8>(ptr + 2) != 1) {
    fail(E_EXT_VERSION, "Unsupported .BTF.ext version (only version 1 is known)", 2);
    return null;
  }
  if (load<u8>(ptr + 3) != 0) {
    fail(E_EXT_HEADER, "Unsupported .BTF.ext flags", 3);
    return null;
  }
  const hdrLen = load<u32>(ptr + 4);
  if (hdrLen < HDR_MIN || hdrLen > len) {
    fail(E_EXT_HEADER, ".BTF.ext header length is out of range", 4);
    return null;
  }
  const e = new BtfExt();
  e.data = ptr;
  e.len = len;
  e.btf = b;
  const avail = <u64>(len - hdrLen);
  for (let k = 0; k < 3; k++) {
    const fo: u32 = 8 + <u32>k * 8;
    if (fo + 8 > hdrLen) break; // older header without CO-RE relocations
    const off = load<u32>(ptr + fo);
    const l = load<u32>(ptr + fo + 4);
    if (<u64>off + <u64>l > avail) {
      freeExt(e);
      fail(E_EXT_HEADER, ".BTF.ext info area runs past the end of the data", <i64>fo);
      return null;
    }
    if (l != 0 && (off & 3) != 0) {
      freeExt(e);
      fail(E_EXT_HEADER, ".BTF.ext info area is not 4-byte aligned", <i64>fo);
      return null;
    }
    if (!parseInfo(e, k, hdrLen + off, l)) {
      freeExt(e);
      return null;
    }
  }
  const d = heap.alloc(36);
  for (let k = 0; k < 3; k++) {
    const inf = e.infos[k];
    store<u32>(d + k * 12, inf.recSize);
    store<u32>(d + k * 12 + 4, inf.nsecs);
    store<u32>(d + k * 12 + 8, <u32>inf.secs);
  }
  e.desc = d;
  return e;
}

// ---- exports ------------------------------------------------------------------------------------

/** Parses .BTF.ext at (ptr, len) against the BTF of `btfHandle`. Returns a handle or -1. */
export function btf_ext_parse(ptr: usize, len: u32, btfHandle: i32): i32 {
  const b = btfByHandle(btfHandle);
  if (b === null) return fail(E_EXT_HANDLE, "Bad BTF handle");
  const e = parseBtfExt(ptr, len, b);
  if (e === null) return -1;
  for (let i = 0; i < exts.length; i++) {
    if (unchecked(exts[i]) === null) {
      unchecked((exts[i] = e));
      return i;
    }
  }
  exts.push(e);
  return exts.length - 1;
}

/**
 * The address of the handle's descriptor: for func_info, line_info and CO-RE relocations in turn,
 * (record size, section count, section table ptr) as u32s; each section table entry is
 * (name_off, records ptr, record count). 0 for a bad handle.
 */
export function btf_ext_info(h: i32): usize {
  const e = btfExtByHandle(h);
  return e === null ? 0 : e.desc;
}

export function btf_ext_free(h: i32): void {
  const e = btfExtByHandle(h);
  if (e === null) return;
  freeExt(e);
  unchecked((exts[h] = null));
}
