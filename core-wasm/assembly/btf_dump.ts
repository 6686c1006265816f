// BTF to C: the engine behind gen/c_dump.ts. Prints a parsed BTF blob as the C header that
// `bpftool btf dump file F format c` (bpftool 7.1, over the libbpf of kernel 6.1) prints, and single
// declarations and type definitions for the skeleton generator.
//
// A dumper is a handle over a Btf handle. It keeps libbpf's per-dumper state between calls: which
// types are ordered, emitted or forward-declared, and the `___N` suffix each colliding name got, so
// names follow the order in which types are first printed.
//
// Speed: the per-type state lives in flat unmanaged arrays indexed by type id, names are copied as
// bytes straight from the string section, numbers are formatted in place, and the name-collision
// tables are byte-keyed hash tables. While a call runs, the active dumper's state sits in globals
// (no managed object is touched on the hot paths, and none lives across the recursion).
//
// Error codes 220..229 (BtfError on the host). Nothing traps or hangs on hostile BTF: every id
// read from a record is checked when the dumper is made, the recursion is at most MAX_DEPTH calls
// deep (about 400 anonymous types nested in each other), chains of pointers and modifiers are at
// most MAX_CHAIN long, one call's text is at most OUT_MAX bytes, and a step budget stops
// anonymous types that nest exponentially.

import { fail, out } from "./rt";
import {
  Btf,
  btfByHandle,
  KIND_ARRAY,
  KIND_CONST,
  KIND_DATASEC,
  KIND_DECL_TAG,
  KIND_ENUM,
  KIND_ENUM64,
  KIND_FLOAT,
  KIND_FUNC,
  KIND_FUNC_PROTO,
  KIND_FWD,
  KIND_INT,
  KIND_PTR,
  KIND_RESTRICT,
  KIND_STRUCT,
  KIND_TYPE_TAG,
  KIND_TYPEDEF,
  KIND_UNION,
  KIND_VAR,
  KIND_VOLATILE,
} from "./btf";

// Error codes.
export const E_DUMP_HANDLE: i32 = 220;
export const E_DUMP_ID: i32 = 221;
export const E_DUMP_REF: i32 = 222;
export const E_DUMP_CYCLE: i32 = 223;
export const E_DUMP_DEEP: i32 = 224;
export const E_DUMP_KIND: i32 = 225;
export const E_DUMP_CLOSED: i32 = 226;
export const E_DUMP_TOO_BIG: i32 = 227;

/** Calls of the recursive printers deeper than this fail (a cycle in malformed BTF). */
const MAX_DEPTH: i32 = 1200;
const MAX_RESOLVE_DEPTH: i32 = 32;
/**
 * Longest chain of pointers, modifiers and arrays walked (the kernel accepts 32): longer ones are
 * taken for cycles, which keeps every walk short.
 */
const MAX_CHAIN: u32 = 1024;
/** The C text of one call may not grow past this (malformed sizes or nesting could ask for GBs). */
const OUT_MAX_DEFAULT: usize = 256 << 20;
// The limit of the active dumper (btf_dump_set_max; OUT_MAX_DEFAULT unless set).
let OUT_MAX: usize = OUT_MAX_DEFAULT;
/** Declaration texts longer than this are printed each time instead of being kept. */
const DECL_KEEP_MAX: u32 = 4096;

// Bits of the per-type state byte.
const ORD_MASK: u8 = 3; // 0 not ordered, 1 ordering, 2 ordered
const ORDERING: u8 = 1;
const ORDERED: u8 = 2;
const EMIT_MASK: u8 = 12; // 0 not emitted, 4 emitting, 8 emitted
const EMITTING: u8 = 4;
const EMITTED: u8 = 8;
const FWD_EMITTED: u8 = 16;
const NAME_RESOLVED: u8 = 32;
const REFERENCED: u8 = 64;
const HAS_DUP: u8 = 128;

/** The state of one dumper, saved here between calls (the globals below hold it during a call). */
class DumpState {
  btf: Btf | null = null;
  outMax: usize = OUT_MAX_DEFAULT;
  n: u32 = 0;
  recs: usize = 0;
  st: usize = 0;
  dup: usize = 0;
  align: usize = 0;
  sizes: usize = 0;
  queue: usize = 0;
  qCap: u32 = 0;
  dupMask: u32 = 0;
  dupCnt: u32 = 0;
  qn: u32 = 0;
  ds: usize = 0;
  decl: usize = 0;
  ar: usize = 0;
  arLen: u32 = 0;
  arCap: u32 = 0;
  dsCap: u32 = 0;
  tn: usize = 0;
  tnMask: u32 = 0;
  tnCnt: u32 = 0;
  idn: usize = 0;
  idnMask: u32 = 0;
  idnCnt: u32 = 0;
  ptrSz: u32 = 8;
  lv: usize = 0;
  lvN: u32 = 0;
}

// ---- the active dumper -------------------------------------------------------------------------

let N: u32 = 0;
/** u32 per id: the address of the type's record (0 for void). */
let RECS: usize = 0;
/** u8 per id: the state bits above. */
let ST: usize = 0;
/**
 * The `___N` suffixes, in a small table (few names collide): (id + 1, N) u32 pairs, open
 * addressing. A type that has one carries HAS_DUP in its state byte.
 */
let DUP: usize = 0;
let DUP_MASK: u32 = 0;
let DUP_CNT: u32 = 0;
/** u8 per id: the alignment, 0xff when not known yet. */
let ALIGN: usize = 0;
/** u32 per id: the size of a member of that type, 0xffffffff when not known yet. */
let SIZES: usize = 0;

/** u32 per id: the types in emitting order. */
let QUEUE: usize = 0;
let QN: u32 = 0;
let Q_CAP: u32 = 0;
/**
 * u32 per id: where the arena holds the text of a declaration of that type made only of modifiers
 * and pointers over a named type ("const struct foo *"), plus 1; 0 when not known yet, 0xffffffff
 * for other declarations. Such a declaration prints the same text before its name every time.
 */
let DECL: usize = 0;
/** The arena of declaration texts: (length u32, bytes) records. */
let AR: usize = 0;
let AR_LEN: u32 = 0;
let AR_CAP: u32 = 0;
/** The declaration stack (type ids). */
let DS: usize = 0;
let DS_CAP: u32 = 0;
let DSN: u32 = 0;
// Name tables: 16-byte slots (hash, string address, count, unused), open addressing.
let TN: usize = 0;
let TN_MASK: u32 = 0;
let TN_CNT: u32 = 0;
let IDN: usize = 0;
let IDN_MASK: u32 = 0;
let IDN_CNT: u32 = 0;
let PTR_SZ: u32 = 8;
/** String sections, innermost base first: (strBase, address, length) u32 triples. */
let LV: usize = 0;
let LV_N: u32 = 0;
let STRIP: bool = false;
let BAD: bool = false;
let DEPTH: i32 = 0;
/** Calls of the recursive printers in this call (anonymous types reached many times multiply). */
let STEPS: u64 = 0;
/** The most such calls one call may make: vmlinux takes about 3 per type. */
let STEPS_MAX: u64 = 0;
// The output: the `out` buffer's memory, taken for the call.
let OP: usize = 0;
let OL: usize = 0;
let OC: usize = 0;

/** An empty C string, for names whose offset is out of range. */
const EMPTY: usize = memory.data(4);
/** The host's declared name (emitTypeDecl), NUL-terminated. */
let VARNAME: usize = 0;
let VARNAME_CAP: u32 = 0;

function activate(s: DumpState): void {
  N = s.n;
  RECS = s.recs;
  ST = s.st;
  DUP = s.dup;
  DUP_MASK = s.dupMask;
  DUP_CNT = s.dupCnt;
  ALIGN = s.align;
  SIZES = s.sizes;
  QUEUE = s.queue;
  QN = s.qn;
  Q_CAP = s.qCap;
  DS = s.ds;
  DECL = s.decl;
  AR = s.ar;
  AR_LEN = s.arLen;
  AR_CAP = s.arCap;
  DS_CAP = s.dsCap;
  DSN = 0;
  TN = s.tn;
  TN_MASK = s.tnMask;
  TN_CNT = s.tnCnt;
  IDN = s.idn;
  IDN_MASK = s.idnMask;
  IDN_CNT = s.idnCnt;
  PTR_SZ = s.ptrSz;
  LV = s.lv;
  LV_N = s.lvN;
  STRIP = false;
  BAD = false;
  DEPTH = 0;
  STEPS = 0;
  STEPS_MAX = (<u64>s.n << 6) + (1 << 20);
  out.reset();
  OP = out.ptr;
  OL = 0;
  OC = out.cap;
}

function deactivate(s: DumpState): void {
  s.qn = QN;
  s.queue = QUEUE;
  s.qCap = Q_CAP;
  s.dup = DUP;
  s.dupMask = DUP_MASK;
  s.dupCnt = DUP_CNT;
  s.ds = DS;
  s.ar = AR;
  s.arLen = AR_LEN;
  s.arCap = AR_CAP;
  s.dsCap = DS_CAP;
  s.tn = TN;
  s.tnMask = TN_MASK;
  s.tnCnt = TN_CNT;
  s.idn = IDN;
  s.idnMask = IDN_MASK;
  s.idnCnt = IDN_CNT;
  out.ptr = OP;
  out.cap = OC;
  out.len = BAD ? 0 : OL;
  STRIP = false;
}


// ASCII literals, as addresses of static string objects: no managed value on the hot paths
// (a managed local would cost a shadow-stack frame in every recursive call).
const S0: usize = changetype<usize>("___");
const S1: usize = changetype<usize>(";\n\n");
const S2: usize = changetype<usize>("typedef ");
const S3: usize = changetype<usize>("long");
const S4: usize = changetype<usize>("int");
const S5: usize = changetype<usize>("short");
const S6: usize = changetype<usize>("char");
const S7: usize = changetype<usize>(": ");
const S8: usize = changetype<usize>("struct");
const S9: usize = changetype<usize>("union");
const S10: usize = changetype<usize>(" {");
const S11: usize = changetype<usize>(" __attribute__((packed))");
const S12: usize = changetype<usize>("enum");
const S13: usize = changetype<usize>(" = ");
const S14: usize = changetype<usize>("LL");
const S15: usize = changetype<usize>("ULL");
const S16: usize = changetype<usize>("typedef __builtin_va_list __gnuc_va_list");
const S17: usize = changetype<usize>("volatile ");
const S18: usize = changetype<usize>("const ");
const S19: usize = changetype<usize>("restrict ");
const S20: usize = changetype<usize>("void");
const S21: usize = changetype<usize>("enum ");
const S22: usize = changetype<usize>("*");
const S23: usize = changetype<usize>(" *");
const S24: usize = changetype<usize>(" volatile");
const S25: usize = changetype<usize>(" const");
const S26: usize = changetype<usize>(" restrict");
const S27: usize = changetype<usize>(" __attribute__((btf_type_tag(\"");
const S28: usize = changetype<usize>("\")))");
const S29: usize = changetype<usize>(" (");
const S30: usize = changetype<usize>("void)");
const S31: usize = changetype<usize>(", ");
const S32: usize = changetype<usize>("...");
const S33: usize = changetype<usize>("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n");
const S34: usize = changetype<usize>("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n");
const S35: usize = changetype<usize>("#endif\n\n");
const S36: usize = changetype<usize>("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n");
const S37: usize = changetype<usize>("#endif /* __VMLINUX_H__ */\n");
const S38: usize = changetype<usize>("__builtin_va_list");
const S39: usize = changetype<usize>("__Poly8_t");
const S40: usize = changetype<usize>("__Poly16_t");
const S41: usize = changetype<usize>("__Poly64_t");
const S42: usize = changetype<usize>("__Poly128_t");
const S43: usize = changetype<usize>("__gnuc_va_list");
const S44: usize = changetype<usize>("long int");
const S45: usize = changetype<usize>("int long");
const S46: usize = changetype<usize>("unsigned long");
const S47: usize = changetype<usize>("long unsigned");
const S48: usize = changetype<usize>("unsigned long int");
const S49: usize = changetype<usize>("unsigned int long");
const S50: usize = changetype<usize>("long unsigned int");
const S51: usize = changetype<usize>("long int unsigned");
const S52: usize = changetype<usize>("int unsigned long");
const S53: usize = changetype<usize>("int long unsigned");
const S54: usize = changetype<usize>("unsigned char");
const S55: usize = changetype<usize>("unsigned short");
const S56: usize = changetype<usize>("unsigned long long");
const S57: usize = changetype<usize>("unsigned __int128");
const S58: usize = changetype<usize>("union ");
const S59: usize = changetype<usize>("struct ");

// ---- output ------------------------------------------------------------------------------------

function tooBig(): void {
  if (BAD) return;
  BAD = true;
  fail(E_DUMP_TOO_BIG, "The C text would pass its size limit; the BTF sizes or nesting are not sane");
}

function grow(extra: usize): void {
  if (BAD || OL + extra > OUT_MAX) {
    tooBig();
    // The text is dropped: the rest of the call writes over the start of the buffer.
    OL = 0;
    if (extra <= OC) return;
  }
  let cap = OC == 0 ? <usize>65536 : OC;
  while (cap < OL + extra) cap <<= 1;
  OP = OP == 0 ? heap.alloc(cap) : heap.realloc(OP, cap);
  OC = cap;
}

@inline function ensure(extra: usize): void {
  if (OL + extra > OC) grow(extra);
}

@inline function putByte(c: u32): void {
  ensure(1);
  store<u8>(OP + OL, <u8>c);
  OL++;
}

/** Appends an ASCII literal: the address of a static string object (see S0...). */
function litAt(src: usize): void {
  const n = <i32>(load<u32>(src - 4) >> 1);
  ensure(<usize>n);
  const dst = OP + OL;
  for (let i = 0; i < n; i++) store<u8>(dst + i, load<u8>(src + (<usize>i << 1)));
  OL += n;
}

/** Appends a NUL-terminated string. */
function putC(s: usize): void {
  // One pass, 64 bytes of room at a time: names are short, and a byte loop beats the call behind
  // memory.copy.
  for (;;) {
    ensure(64);
    const d = OP + OL;
    for (let i: usize = 0; i < 64; i++) {
      const c = load<u8>(s + i);
      if (c == 0) {
        OL += i;
        return;
      }
      store<u8>(d + i, c);
    }
    OL += 64;
    s += 64;
  }
}

function putU64(v: u64): void {
  ensure(20);
  if (v == 0) {
    store<u8>(OP + OL, 0x30);
    OL++;
    return;
  }
  let digits: usize = 0;
  let t = v;
  while (t != 0) {
    digits++;
    t /= 10;
  }
  let p = OP + OL + digits;
  while (v != 0) {
    p--;
    store<u8>(p, <u8>(0x30 + <u32>(v % 10)));
    v /= 10;
  }
  OL += digits;
}

function putI64(v: i64): void {
  if (v < 0) {
    putByte(0x2d);
    putU64(<u64>0 - <u64>v);
  } else putU64(<u64>v);
}

function putTabs(lvl: i32): void {
  const n = lvl >= 13 ? 13 : lvl < 0 ? 0 : lvl;
  ensure(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(OP + OL + i, 9);
  OL += n;
}

// ---- types -------------------------------------------------------------------------------------

@inline function rec(id: u32): usize {
  return <usize>load<u32>(RECS + (<usize>id << 2));
}
@inline function kindOf(id: u32): u32 {
  return id == 0 ? 0 : (load<u32>(rec(id) + 4) >> 24) & 0x1f;
}
@inline function vlenOf(id: u32): u32 {
  return load<u32>(rec(id) + 4) & 0xffff;
}
@inline function kflagOf(id: u32): bool {
  return (load<u32>(rec(id) + 4) >> 31) != 0;
}
@inline function nameOffOf(id: u32): u32 {
  return id == 0 ? 0 : load<u32>(rec(id));
}
/** The size-or-type field. */
@inline function stOf(id: u32): u32 {
  return load<u32>(rec(id) + 8);
}
@inline function state(id: u32): u8 {
  return load<u8>(ST + id);
}
@inline function setState(id: u32, v: u8): void {
  store<u8>(ST + id, v);
}
@inline function setOrd(id: u32, v: u8): void {
  store<u8>(ST + id, (load<u8>(ST + id) & ~ORD_MASK) | v);
}
@inline function setEmit(id: u32, v: u8): void {
  store<u8>(ST + id, (load<u8>(ST + id) & ~EMIT_MASK) | v);
}
@inline function isMod(k: u32): bool {
  return k == KIND_VOLATILE || k == KIND_CONST || k == KIND_RESTRICT || k == KIND_TYPE_TAG;
}

/** The address of the string at `off` (an empty string when out of range). */
function strAt(off: u32): usize {
  for (let i = LV_N; i > 0; i--) {
    const l = LV + <usize>(i - 1) * 12;
    const base = load<u32>(l);
    if (off >= base) {
      if (off - base >= load<u32>(l + 8)) return EMPTY;
      return <usize>load<u32>(l + 4) + <usize>(off - base);
    }
  }
  return EMPTY;
}

@inline function nameOf(id: u32): usize {
  return strAt(nameOffOf(id));
}

function eqLit(p: usize, src: usize): bool {
  const n = <i32>(load<u32>(src - 4) >> 1);
  for (let i = 0; i < n; i++) {
    if (<u32>load<u8>(p + i) != <u32>load<u16>(src + (<usize>i << 1))) return false;
  }
  return load<u8>(p + n) == 0;
}

@inline function enter(): bool {
  if (BAD) return false;
  if (++STEPS > STEPS_MAX) {
    BAD = true;
    fail(E_DUMP_TOO_BIG, "Printing these types as C takes too many steps; anonymous types may nest exponentially");
    return false;
  }
  if (++DEPTH > MAX_DEPTH) {
    DEPTH--;
    BAD = true;
    fail(E_DUMP_DEEP, "BTF types nest too deeply to print as C; the types may form a cycle");
    return false;
  }
  return true;
}

function failAt(code: i32, msg: string, id: u32): void {
  if (BAD) return;
  BAD = true;
  fail(code, msg, -1, id);
}

// ---- name tables -------------------------------------------------------------------------------

function hashC(s: usize): u32 {
  let h: u32 = 2166136261;
  let c = load<u8>(s);
  while (c != 0) {
    h = (h ^ <u32>c) * 16777619;
    s++;
    c = load<u8>(s);
  }
  return h | 1;
}

function eqC(a: usize, b: usize): bool {
  if (a == b) return true;
  for (;;) {
    const x = load<u8>(a);
    if (x != load<u8>(b)) return false;
    if (x == 0) return true;
    a++;
    b++;
  }
  return false;
}

function newTable(size: u32): usize {
  const t = heap.alloc(<usize>size << 4);
  memory.fill(t, 0, <usize>size << 4);
  return t;
}

/** Inserts or finds `s` in a table; returns its slot. The table must have a free slot. */
function slotOf(tab: usize, mask: u32, s: usize, h: u32): usize {
  let i = h & mask;
  for (;;) {
    const e = tab + (<usize>i << 4);
    const eh = load<u32>(e);
    if (eh == 0) {
      store<u32>(e, h);
      store<u32>(e + 4, <u32>s);
      return e;
    }
    if (eh == h && eqC(<usize>load<u32>(e + 4), s)) return e;
    i = (i + 1) & mask;
  }
  return 0;
}

function rehash(tab: usize, mask: u32): usize {
  const size = (mask + 1) << 1;
  const nt = newTable(size);
  for (let i: u32 = 0; i <= mask; i++) {
    const e = tab + (<usize>i << 4);
    const h = load<u32>(e);
    if (h == 0) continue;
    let j = h & (size - 1);
    while (load<u32>(nt + (<usize>j << 4)) != 0) j = (j + 1) & (size - 1);
    memory.copy(nt + (<usize>j << 4), e, 16);
  }
  heap.free(tab);
  return nt;
}

/** Counts one more use of name `s` in the type (ident false) or identifier table; returns the count. */
function nameDups(ident: bool, s: usize): u32 {
  const h = hashC(s);
  let e: usize;
  if (ident) {
    if ((IDN_CNT + 1) << 1 > IDN_MASK + 1) {
      IDN = rehash(IDN, IDN_MASK);
      IDN_MASK = (IDN_MASK << 1) | 1;
    }
    e = slotOf(IDN, IDN_MASK, s, h);
    if (load<u32>(e + 8) == 0) IDN_CNT++;
  } else {
    if ((TN_CNT + 1) << 1 > TN_MASK + 1) {
      TN = rehash(TN, TN_MASK);
      TN_MASK = (TN_MASK << 1) | 1;
    }
    e = slotOf(TN, TN_MASK, s, h);
    if (load<u32>(e + 8) == 0) TN_CNT++;
  }
  const c = load<u32>(e + 8) + 1;
  store<u32>(e + 8, c);
  return c;
}

/** Resolves the unique name of a named type on first use; returns its suffix (0 for none). */
function resolveName(id: u32, ident: bool): u32 {
  const off = nameOffOf(id);
  if (off == 0) return 0;
  const s = state(id);
  if ((s & NAME_RESOLVED) != 0) return (s & HAS_DUP) != 0 ? dupOf(id) : 0;
  setState(id, s | NAME_RESOLVED);
  const k = kindOf(id);
  if (k == KIND_FWD || (k == KIND_ENUM && vlenOf(id) == 0)) return 0;
  const d = nameDups(ident, strAt(off));
  if (d > 1) {
    setDup(id, d);
    return d;
  }
  return 0;
}

function dupOf(id: u32): u32 {
  let i = (id * 0x9e3779b1) & DUP_MASK;
  for (let n: u32 = 0; n <= DUP_MASK; n++) {
    const e = DUP + (<usize>i << 3);
    const k = load<u32>(e);
    if (k == id + 1) return load<u32>(e + 4);
    if (k == 0) return 0;
    i = (i + 1) & DUP_MASK;
  }
  return 0;
}

function setDup(id: u32, d: u32): void {
  if ((DUP_CNT + 1) << 1 > DUP_MASK + 1) {
    // Grow: rebuild the table twice as large.
    const old = DUP;
    const oldMask = DUP_MASK;
    const size = (oldMask + 1) << 1;
    DUP = heap.alloc(<usize>size << 3);
    memory.fill(DUP, 0, <usize>size << 3);
    DUP_MASK = size - 1;
    for (let j: u32 = 0; j <= oldMask; j++) {
      const e = old + (<usize>j << 3);
      const k = load<u32>(e);
      if (k != 0) putDup(k, load<u32>(e + 4));
    }
    heap.free(old);
  }
  putDup(id + 1, d);
  DUP_CNT++;
  setState(id, state(id) | HAS_DUP);
}

function putDup(key: u32, d: u32): void {
  let i = ((key - 1) * 0x9e3779b1) & DUP_MASK;
  while (load<u32>(DUP + (<usize>i << 3)) != 0) i = (i + 1) & DUP_MASK;
  store<u32>(DUP + (<usize>i << 3), key);
  store<u32>(DUP + (<usize>i << 3) + 4, d);
}

function putSuffix(d: u32): void {
  if (d > 1) {
    litAt(S0);
    putU64(d);
  }
}

function putTypeName(id: u32): void {
  const d = resolveName(id, false);
  if (nameOffOf(id) != 0) putC(nameOf(id));
  putSuffix(d);
}

function putIdentName(id: u32): void {
  const d = resolveName(id, true);
  if (nameOffOf(id) != 0) putC(nameOf(id));
  putSuffix(d);
}

// ---- layout ------------------------------------------------------------------------------------

function alignOf(id: u32): i32 {
  const memo = load<u8>(ALIGN + id);
  if (memo != 0xff) return <i32>memo;
  if (!enter()) return 0;
  store<u8>(ALIGN + id, 0); // guards against cycles in malformed BTF
  const a = computeAlign(id);
  DEPTH--;
  store<u8>(ALIGN + id, <u8>a);
  return a;
}

function computeAlign(id: u32): i32 {
  if (id == 0) return 0;
  const p = rec(id);
  switch (kindOf(id)) {
    case KIND_INT:
    case KIND_ENUM:
    case KIND_ENUM64:
    case KIND_FLOAT: {
      const s = load<u32>(p + 8);
      return <i32>(s < PTR_SZ ? s : PTR_SZ);
    }
    case KIND_PTR:
      return <i32>PTR_SZ;
    case KIND_TYPEDEF:
    case KIND_VOLATILE:
    case KIND_CONST:
    case KIND_RESTRICT:
    case KIND_TYPE_TAG:
      return alignOf(load<u32>(p + 8));
    case KIND_ARRAY:
      return alignOf(load<u32>(p + 12));
    case KIND_STRUCT:
    case KIND_UNION: {
      const v = vlenOf(id);
      const kf = kflagOf(id);
      let max: i32 = 1;
      for (let i: u32 = 0; i < v; i++) {
        const m = p + 12 + <usize>i * 12;
        const a = alignOf(load<u32>(m + 4));
        if (a <= 0) return a;
        if (a > max) max = a;
        const off = load<u32>(m + 8);
        const bitSz = kf ? off >> 24 : 0;
        if (bitSz == 0 && (kf ? off & 0xffffff : off) % (8 * <u32>a) != 0) return 1;
      }
      return load<u32>(p + 8) % <u32>max != 0 ? 1 : max;
    }
    default:
      return 0;
  }
}

/** The size of a member's type, 0 when it has none: btf__resolve_size kept per type. */
function sizeOfMember(id: u32): i64 {
  const memo = load<u32>(SIZES + (<usize>id << 2));
  if (memo != 0xffffffff) return <i64>memo;
  let sz = resolveSize(id);
  if (sz < 0) sz = 0;
  store<u32>(SIZES + (<usize>id << 2), <u32>sz);
  return sz;
}

/** Like btf__resolve_size, with -1 for any failure. */
function resolveSize(id: u32): i64 {
  let nelems: u64 = 1;
  let size: i64 = -1;
  for (let i = 0; i < MAX_RESOLVE_DEPTH && id != 0; i++) {
    const k = kindOf(id);
    if (
      k == KIND_INT || k == KIND_STRUCT || k == KIND_UNION || k == KIND_ENUM || k == KIND_ENUM64 ||
      k == KIND_DATASEC || k == KIND_FLOAT
    ) {
      size = <i64>stOf(id);
      break;
    }
    if (k == KIND_PTR) {
      size = <i64>PTR_SZ;
      break;
    }
    if (
      k == KIND_TYPEDEF || k == KIND_VOLATILE || k == KIND_CONST || k == KIND_RESTRICT ||
      k == KIND_VAR || k == KIND_DECL_TAG || k == KIND_TYPE_TAG
    ) {
      id = stOf(id);
      continue;
    }
    if (k == KIND_ARRAY) {
      const p = rec(id);
      const ne = <u64>load<u32>(p + 20);
      if (nelems != 0 && ne > <u64>0xffffffff / nelems) return -1;
      nelems *= ne;
      id = load<u32>(p + 12);
      continue;
    }
    return -1;
  }
  if (size < 0) return -1;
  if (nelems != 0 && <u64>size > <u64>0xffffffff / nelems) return -1;
  return <i64>(nelems * <u64>size);
}

function isPacked(id: u32): bool {
  const p = rec(id);
  const v = vlenOf(id);
  const kf = kflagOf(id);
  let max: i32 = 1;
  for (let i: u32 = 0; i < v; i++) {
    const m = p + 12 + <usize>i * 12;
    const a = alignOf(load<u32>(m + 4));
    const off = load<u32>(m + 8);
    const bitSz = kf ? off >> 24 : 0;
    if (a > 0 && bitSz == 0 && (kf ? off & 0xffffff : off) % (8 * <u32>a) != 0) return true;
    if (a > max) max = a;
  }
  return load<u32>(p + 8) % <u32>max != 0;
}

/** The type a chain of pointers, modifiers and arrays ends at (the id itself for other kinds). */
function targetOf(id: u32): u32 {
  let x = id;
  for (let i: u32 = 0; i <= MAX_CHAIN; i++) {
    const k = kindOf(x);
    if (k == KIND_PTR || isMod(k)) x = stOf(x);
    else if (k == KIND_ARRAY) x = load<u32>(rec(x) + 12);
    else break;
  }
  return x;
}

// ---- ordering ----------------------------------------------------------------------------------

function enqueue(id: u32): void {
  if (QN >= Q_CAP) {
    Q_CAP = Q_CAP == 0 ? 1024 : Q_CAP << 1;
    QUEUE = QUEUE == 0 ? heap.alloc(<usize>Q_CAP << 2) : heap.realloc(QUEUE, <usize>Q_CAP << 2);
  }
  store<u32>(QUEUE + (<usize>QN << 2), id);
  QN++;
}

/**
 * Topological ordering. Returns 1 when the type must be fully defined before its user (a strong
 * link), 0 when a forward declaration is enough (a weak link, through a pointer to a named type).
 */
function orderType(id: u32, throughPtr: bool): i32 {
  if (!enter()) return 0;
  const r = orderInner(id, throughPtr);
  DEPTH--;
  return r;
}

function orderInner(id: u32, throughPtr: bool): i32 {
  let kind = kindOf(id);
  for (let steps: u32 = 0; kind == KIND_ARRAY || isMod(kind); steps++) {
    if (steps > MAX_CHAIN) {
      failAt(E_DUMP_CYCLE, "Type is part of a cycle (or a too long chain) of modifiers or arrays", id);
      return 0;
    }
    if (kind == KIND_ARRAY) {
      id = load<u32>(rec(id) + 12);
      throughPtr = false;
    } else id = stOf(id);
    kind = kindOf(id);
  }
  const os = state(id) & ORD_MASK;
  if (os == ORDERED) return 1;
  if (os == ORDERING) {
    if ((kind == KIND_STRUCT || kind == KIND_UNION) && throughPtr && nameOffOf(id) != 0) return 0;
    failAt(E_DUMP_CYCLE, "Unsatisfiable type cycle; C cannot declare these types", id);
    return 0;
  }
  switch (kind) {
    case KIND_INT:
    case KIND_FLOAT:
      setOrd(id, ORDERED);
      return 0;
    case KIND_PTR: {
      const r = orderType(stOf(id), true);
      setOrd(id, ORDERED);
      return r;
    }
    case KIND_STRUCT:
    case KIND_UNION: {
      if (throughPtr && nameOffOf(id) != 0) return 0;
      setOrd(id, ORDERING);
      const p = rec(id);
      const v = vlenOf(id);
      for (let i: u32 = 0; i < v; i++) {
        orderType(load<u32>(p + 16 + <usize>i * 12), false);
        if (BAD) return 0;
      }
      if (nameOffOf(id) != 0) enqueue(id);
      setOrd(id, ORDERED);
      return 1;
    }
    case KIND_ENUM:
    case KIND_ENUM64:
    case KIND_FWD:
      if (nameOffOf(id) != 0 || (state(id) & REFERENCED) == 0) enqueue(id);
      setOrd(id, ORDERED);
      return 1;
    case KIND_TYPEDEF: {
      const strong = orderType(stOf(id), throughPtr);
      if (BAD) return 0;
      if (throughPtr && strong == 0) return 0;
      enqueue(id);
      setOrd(id, ORDERED);
      return 1;
    }
    case KIND_FUNC_PROTO: {
      let strong = orderType(stOf(id), throughPtr);
      const p = rec(id);
      const v = vlenOf(id);
      for (let i: u32 = 0; i < v && !BAD; i++) {
        if (orderType(load<u32>(p + 16 + <usize>i * 8), throughPtr) > 0) strong = 1;
      }
      return strong;
    }
    case KIND_FUNC:
    case KIND_VAR:
    case KIND_DATASEC:
    case KIND_DECL_TAG:
      setOrd(id, ORDERED);
      return 0;
    default:
      failAt(E_DUMP_KIND, "Unexpected BTF kind while ordering types", id);
      return 0;
  }
}

// ---- emitting ----------------------------------------------------------------------------------

function isBlacklisted(id: u32): bool {
  return nameOffOf(id) != 0 && eqLit(nameOf(id), S38);
}

function emitType(id: u32, contId: u32): void {
  if (!enter()) return;
  emitInner(id, contId);
  DEPTH--;
}

function emitInner(id: u32, contId: u32): void {
  const s = state(id);
  const es = s & EMIT_MASK;
  if (es == EMITTED) return;
  const kind = kindOf(id);
  if (es == EMITTING) {
    if ((s & FWD_EMITTED) != 0) return;
    if (kind == KIND_STRUCT || kind == KIND_UNION) {
      if (id == contId) return;
      if (nameOffOf(id) == 0) return; // an anonymous loop: libbpf warns and goes on
      emitStructFwd(id);
      litAt(S1);
      setState(id, state(id) | FWD_EMITTED);
    } else if (kind == KIND_TYPEDEF) {
      if (!isBlacklisted(id)) {
        emitTypedefDef(id, 0);
        litAt(S1);
      }
      setState(id, state(id) | FWD_EMITTED);
    }
    return;
  }
  switch (kind) {
    case KIND_INT: {
      const d = resolveName(id, false);
      if (d <= 1 && nameOffOf(id) != 0) {
        const name = nameOf(id);
        let alias: usize = 0;
        if (eqLit(name, S39)) alias = S54;
        else if (eqLit(name, S40)) alias = S55;
        else if (eqLit(name, S41)) alias = S56;
        else if (eqLit(name, S42)) alias = S57;
        if (alias != 0) {
          litAt(S2);
          litAt(alias);
          putByte(0x20);
          putC(name);
          litAt(S1);
        }
      }
      setEmit(id, EMITTED);
      break;
    }
    case KIND_ENUM:
    case KIND_ENUM64:
      if (contId == 0) {
        emitEnumDef(id, 0);
        litAt(S1);
      }
      setEmit(id, EMITTED);
      break;
    case KIND_PTR:
    case KIND_VOLATILE:
    case KIND_CONST:
    case KIND_RESTRICT:
    case KIND_TYPE_TAG:
    case KIND_ARRAY:
      emitType(targetOf(id), contId);
      break;
    case KIND_FWD:
      emitFwdDef(id);
      litAt(S1);
      setEmit(id, EMITTED);
      break;
    case KIND_TYPEDEF:
      setEmit(id, EMITTING);
      emitType(stOf(id), id);
      if (BAD) return;
      if ((state(id) & FWD_EMITTED) == 0 && !isBlacklisted(id)) {
        emitTypedefDef(id, 0);
        litAt(S1);
      }
      setEmit(id, EMITTED);
      break;
    case KIND_STRUCT:
    case KIND_UNION: {
      const anon = nameOffOf(id) == 0;
      // A named struct used from inside another, already forward-declared: nothing to do.
      if (contId != 0 && !anon && (s & FWD_EMITTED) != 0) break;
      setEmit(id, EMITTING);
      if (contId == 0 || anon) {
        const p = rec(id);
        const v = vlenOf(id);
        const newCont = anon ? contId : id;
        for (let i: u32 = 0; i < v; i++) {
          const m = targetOf(load<u32>(p + 16 + <usize>i * 12));
          if ((state(m) & EMIT_MASK) != EMITTED) emitType(m, newCont);
          if (BAD) return;
        }
      } else if ((state(id) & FWD_EMITTED) == 0 && id != contId) {
        emitStructFwd(id);
        litAt(S1);
        setState(id, state(id) | FWD_EMITTED);
      }
      if (contId == 0) {
        emitStructDef(id, 0);
        litAt(S1);
        setEmit(id, EMITTED);
      } else {
        setEmit(id, 0);
      }
      break;
    }
    case KIND_FUNC_PROTO: {
      emitType(stOf(id), contId);
      const p = rec(id);
      const v = vlenOf(id);
      for (let i: u32 = 0; i < v && !BAD; i++) {
        const t = targetOf(load<u32>(p + 16 + <usize>i * 8));
        if ((state(t) & EMIT_MASK) != EMITTED) emitType(t, contId);
      }
      break;
    }
    default:
      break;
  }
}

function emitStructFwd(id: u32): void {
  litAt(kindOf(id) == KIND_STRUCT ? S8 : S9);
  if (nameOffOf(id) != 0) putByte(0x20);
  putTypeName(id);
}

function emitFwdDef(id: u32): void {
  litAt(kflagOf(id) ? S58 : S59);
  putTypeName(id);
}

// Bit offsets are C ints in libbpf's dumper (an offset of 2^31 or more wraps negative), and so
// they are here: the callers pass wrapped i32 values and the roundups below wrap the same way.
function emitBitPadding(cur32: i32, next32: i32, nextAlign: i32, inBitfield: bool, lvl: i32): void {
  if (cur32 >= next32) return;
  let cur = <i64>cur32;
  const next = <i64>next32;
  if ((next - cur) >> 3 > <i64>OUT_MAX) {
    // At least a line per 8 bytes: past the limit for sure, so fail now rather than later.
    tooBig();
    return;
  }
  const longBits = <i64>PTR_SZ * 8;
  let padBits: i64 = 0;
  let padIdx = 0;
  let newOff: i64 = 0;
  for (let i = 0; i < 4; i++) {
    padIdx = i;
    padBits = i == 0 ? longBits : i == 1 ? 32 : i == 2 ? 16 : 8;
    newOff = <i64>roundupI32(cur32, <i32>padBits);
    if (newOff <= next) break;
  }
  if (newOff > cur && newOff <= next) {
    let misaligned = true;
    if (nextAlign > 0) {
      misaligned = <i64>roundupI32(cur32, nextAlign * 8) != newOff;
    }
    if (
      inBitfield || (newOff == next && misaligned) || (newOff != next && next - newOff <= newOff - cur)
    ) {
      putPad(padIdx, inBitfield ? newOff - cur : 0, lvl);
    }
    cur = newOff;
  }
  while (cur != next && !BAD) {
    const left = next - cur;
    const bits = left < padBits ? left : padBits;
    if (bits == padBits) {
      putPad(padIdx, padBits, lvl);
      cur += bits;
      continue;
    }
    // The remainder: the smallest type that holds it.
    for (let i = 3; i >= 0; i--) {
      const pb: i64 = i == 0 ? longBits : i == 1 ? 32 : i == 2 ? 16 : 8;
      padIdx = i;
      padBits = pb;
      if (pb < bits) continue;
      putPad(i, bits, lvl);
      cur += bits;
      break;
    }
    if (BAD) return;
  }
}

/** `roundup(x, y)` over C ints, wrapping on overflow as libbpf's does. */
function roundupI32(x: i32, y: i32): i32 {
  return ((x + (y - 1)) / y) * y;
}

function putPad(idx: i32, bits: i64, lvl: i32): void {
  putByte(0x0a);
  putTabs(lvl);
  litAt(idx == 0 ? S3 : idx == 1 ? S4 : idx == 2 ? S5 : S6);
  litAt(S7);
  putI64(bits);
  putByte(0x3b);
}

function emitStructDef(id: u32, lvl: i32): void {
  if (!enter()) return;
  const isStruct = kindOf(id) == KIND_STRUCT;
  const p = rec(id);
  const v = vlenOf(id);
  const kf = kflagOf(id);
  const packed = isStruct ? isPacked(id) : false;
  litAt(isStruct ? S8 : S9);
  if (nameOffOf(id) != 0) putByte(0x20);
  putTypeName(id);
  litAt(S10);
  let off: i32 = 0;
  let prevBitfield = false;
  for (let i: u32 = 0; i < v && !BAD; i++) {
    const m = p + 12 + <usize>i * 12;
    const mType = load<u32>(m + 4);
    const rawOff = load<u32>(m + 8);
    const bitSz = kf ? rawOff >> 24 : 0;
    const mOff = <i32>(kf ? rawOff & 0xffffff : rawOff);
    if (off < mOff) {
      const mAlign = packed ? 1 : alignOf(mType);
      emitBitPadding(off, mOff, mAlign, prevBitfield && bitSz != 0, lvl + 1);
    }
    putByte(0x0a);
    putTabs(lvl + 1);
    emitDecl(mType, strAt(load<u32>(m)), 0, lvl + 1);
    if (bitSz != 0) {
      litAt(S7);
      putU64(bitSz);
      off = mOff + <i32>bitSz;
      prevBitfield = true;
    } else {
      off = mOff + <i32>sizeOfMember(mType) * 8;
      prevBitfield = false;
    }
    putByte(0x3b);
  }
  const size = load<u32>(p + 8);
  const sizeBits = <i32>(size * 8);
  if (isStruct && off < sizeBits) emitBitPadding(off, sizeBits, alignOf(id), false, lvl + 1);
  if (v != 0 || size != 0) {
    putByte(0x0a);
    putTabs(lvl);
  }
  putByte(0x7d);
  if (packed) litAt(S11);
  DEPTH--;
}

function emitEnumDef(id: u32, lvl: i32): void {
  const v = vlenOf(id);
  litAt(S12);
  if (nameOffOf(id) != 0) putByte(0x20);
  putTypeName(id);
  if (v == 0) return;
  litAt(S10);
  const p = rec(id);
  const signed = kflagOf(id);
  const is32 = kindOf(id) == KIND_ENUM;
  for (let i: u32 = 0; i < v; i++) {
    const m = p + 12 + <usize>i * (is32 ? 8 : 12);
    const name = strAt(load<u32>(m));
    const dup = nameDups(true, name);
    putByte(0x0a);
    putTabs(lvl + 1);
    putC(name);
    putSuffix(dup);
    litAt(S13);
    if (is32) {
      const x = load<u32>(m + 4);
      if (signed) putI64(<i64><i32>x);
      else putU64(<u64>x);
    } else {
      const lo = load<u32>(m + 4);
      const hi = load<u32>(m + 8);
      const x = (<u64>hi << 32) | <u64>lo;
      if (hi == 0 || !signed) putU64(x);
      else putI64(<i64>x);
      litAt(signed ? S14 : S15);
    }
    putByte(0x2c);
  }
  putByte(0x0a);
  putTabs(lvl);
  putByte(0x7d);
}

function emitTypedefDef(id: u32, lvl: i32): void {
  const d = resolveName(id, true);
  const name = nameOffOf(id) != 0 ? nameOf(id) : EMPTY;
  if (stOf(id) == 0 && d <= 1 && eqLit(name, S43)) {
    litAt(S16);
    return;
  }
  litAt(S2);
  emitDecl(stOf(id), name, d, lvl);
}

// ---- declarations ------------------------------------------------------------------------------

function dsPush(id: u32): void {
  if (DSN >= DS_CAP) {
    const cap = DS_CAP == 0 ? <u32>256 : DS_CAP << 1;
    DS = DS == 0 ? heap.alloc(<usize>cap << 2) : heap.realloc(DS, <usize>cap << 2);
    DS_CAP = cap;
  }
  store<u32>(DS + (<usize>DSN << 2), id);
  DSN++;
}

@inline function dsAt(i: u32): u32 {
  return load<u32>(DS + (<usize>i << 2));
}

/** Prints a declaration of the name (fname, with suffix fdup) with type `id`. */
function emitDecl(id: u32, fname: usize, fdup: u32, lvl: i32): void {
  if (STRIP) {
    emitDeclChain(id, fname, fdup, lvl);
    return;
  }
  const slot = DECL + (<usize>id << 2);
  const d = load<u32>(slot);
  if (d == 0xffffffff) {
    emitDeclChain(id, fname, fdup, lvl);
    return;
  }
  if (d == 0) {
    if (!isSimpleDecl(id)) {
      store<u32>(slot, 0xffffffff);
      emitDeclChain(id, fname, fdup, lvl);
      return;
    }
    const from = OL;
    emitDeclChain(id, EMPTY, 0, lvl);
    if (BAD) return;
    const n = <u32>(OL - from);
    store<u32>(slot, n <= DECL_KEEP_MAX ? arKeep(OP + from, n) + 1 : 0xffffffff);
  } else {
    const r = AR + <usize>(d - 1);
    const n = <usize>load<u32>(r);
    ensure(n);
    const dst = OP + OL;
    for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u8>(r + 4 + i));
    OL += n;
  }
  if (load<u8>(fname) != 0 || fdup > 1) {
    if (kindOf(id) != KIND_PTR) putByte(0x20);
    putC(fname);
    putSuffix(fdup);
  }
}

/** Keeps n bytes at src in the arena; returns their record's offset. */
function arKeep(src: usize, n: u32): u32 {
  const need = AR_LEN + 4 + n;
  if (need > AR_CAP) {
    let cap = AR_CAP == 0 ? <u32>16384 : AR_CAP;
    while (cap < need) cap <<= 1;
    AR = AR == 0 ? heap.alloc(<usize>cap) : heap.realloc(AR, <usize>cap);
    AR_CAP = cap;
  }
  const at = AR_LEN;
  store<u32>(AR + at, n);
  memory.copy(AR + at + 4, src, n);
  AR_LEN = need;
  return at;
}

/** Whether a declaration of `id` is only modifiers and pointers over a named or base type. */
function isSimpleDecl(id: u32): bool {
  let x = id;
  for (let i: u32 = 0; i <= MAX_CHAIN; i++) {
    const k = kindOf(x);
    if (k == KIND_PTR || isMod(k)) {
      x = stOf(x);
      continue;
    }
    if (x == 0 || k == KIND_INT || k == KIND_FLOAT || k == KIND_FWD || k == KIND_TYPEDEF) return true;
    if (k == KIND_STRUCT || k == KIND_UNION || k == KIND_ENUM || k == KIND_ENUM64) {
      return nameOffOf(x) != 0;
    }
    return false;
  }
  return false;
}

/** Prints a declaration by walking its chain of types. */
function emitDeclChain(id: u32, fname: usize, fdup: u32, lvl: i32): void {
  if (!enter()) return;
  const start = DSN;
  const first = id;
  for (let steps: u32 = 0;; steps++) {
    if (steps > MAX_CHAIN) {
      DSN = start;
      failAt(E_DUMP_CYCLE, "Type is part of a cycle (or a too long chain) of pointers or modifiers", first);
      DEPTH--;
      return;
    }
    const kind = kindOf(id);
    if (!(STRIP && isMod(kind))) dsPush(id);
    if (id == 0) break;
    if (kind == KIND_PTR || isMod(kind) || kind == KIND_FUNC_PROTO) id = stOf(id);
    else if (kind == KIND_ARRAY) id = load<u32>(rec(id) + 12);
    else break;
  }
  emitChain(start, DSN - start, fname, fdup, lvl);
  DSN = start;
  DEPTH--;
}

/** Prints the const/volatile/restrict on top of a frame; returns the frame's new count. */
function emitMods(start: u32, cnt: u32): u32 {
  while (cnt != 0) {
    const k = kindOf(dsAt(start + cnt - 1));
    if (k == KIND_VOLATILE) litAt(S17);
    else if (k == KIND_CONST) litAt(S18);
    else if (k == KIND_RESTRICT) litAt(S19);
    else break;
    cnt--;
  }
  return cnt;
}

/** Drops the modifiers on top of a frame; returns the frame's new count. */
function dropMods(start: u32, cnt: u32): u32 {
  while (cnt != 0 && isMod(kindOf(dsAt(start + cnt - 1)))) cnt--;
  return cnt;
}

function emitName(fname: usize, fdup: u32, lastWasPtr: bool): void {
  if (!lastWasPtr && (load<u8>(fname) != 0 || fdup > 1)) putByte(0x20);
  putC(fname);
  putSuffix(fdup);
}

/**
 * Prints the declaration held by a frame of the declaration stack (ids from `start`, the innermost
 * on top) around the name. Nested arrays and prototypes go on with the rest of the same frame.
 */
function emitChain(start: u32, cnt: u32, fname: usize, fdup: u32, lvl: i32): void {
  if (!enter()) return;
  chainInner(start, cnt, fname, fdup, lvl);
  DEPTH--;
}

function chainInner(start: u32, cnt: u32, fname: usize, fdup: u32, lvl: i32): void {
  let lastWasPtr = true;
  while (cnt != 0) {
    if (BAD) return;
    const id = dsAt(start + --cnt);
    if (id == 0) {
      cnt = emitMods(start, cnt);
      litAt(S20);
      lastWasPtr = false;
      continue;
    }
    const kind = kindOf(id);
    switch (kind) {
      case KIND_INT:
      case KIND_FLOAT:
        cnt = emitMods(start, cnt);
        putC(nameOf(id));
        break;
      case KIND_STRUCT:
      case KIND_UNION:
        cnt = emitMods(start, cnt);
        if (nameOffOf(id) == 0) emitStructDef(id, lvl);
        else emitStructFwd(id);
        break;
      case KIND_ENUM:
      case KIND_ENUM64:
        cnt = emitMods(start, cnt);
        if (nameOffOf(id) == 0) emitEnumDef(id, lvl);
        else {
          litAt(S21);
          putTypeName(id);
        }
        break;
      case KIND_FWD:
        cnt = emitMods(start, cnt);
        emitFwdDef(id);
        break;
      case KIND_TYPEDEF:
        cnt = emitMods(start, cnt);
        putIdentName(id);
        break;
      case KIND_PTR:
        litAt(lastWasPtr ? S22 : S23);
        break;
      case KIND_VOLATILE:
        litAt(S24);
        break;
      case KIND_CONST:
        litAt(S25);
        break;
      case KIND_RESTRICT:
        litAt(S26);
        break;
      case KIND_TYPE_TAG:
        cnt = emitMods(start, cnt);
        litAt(S27);
        putC(nameOf(id));
        litAt(S28);
        break;
      case KIND_ARRAY: {
        const nelems = load<u32>(rec(id) + 20);
        cnt = dropMods(start, cnt);
        if (cnt == 0) {
          emitName(fname, fdup, lastWasPtr);
        } else {
          const multidim = kindOf(dsAt(start + cnt - 1)) == KIND_ARRAY;
          if (!lastWasPtr && (load<u8>(fname) != 0 || fdup > 1)) putByte(0x20);
          if (!multidim) putByte(0x28);
          emitChain(start, cnt, fname, fdup, lvl);
          if (!multidim) putByte(0x29);
        }
        putByte(0x5b);
        putU64(nelems);
        putByte(0x5d);
        return;
      }
      case KIND_FUNC_PROTO: {
        const p = rec(id);
        const n = vlenOf(id);
        cnt = dropMods(start, cnt);
        if (cnt != 0) {
          litAt(S29);
          emitChain(start, cnt, fname, fdup, lvl);
          putByte(0x29);
        } else {
          emitName(fname, fdup, lastWasPtr);
        }
        putByte(0x28);
        if (n == 0 || (n == 1 && load<u32>(p + 16) == 0)) {
          litAt(S30);
          return;
        }
        for (let i: u32 = 0; i < n && !BAD; i++) {
          if (i > 0) litAt(S31);
          const m = p + 12 + <usize>i * 8;
          const pType = load<u32>(m + 4);
          if (i == n - 1 && pType == 0) {
            litAt(S32);
            break;
          }
          emitDecl(pType, strAt(load<u32>(m)), 0, lvl);
        }
        putByte(0x29);
        return;
      }
      default:
        // libbpf warns about an unexpected kind in a declaration and stops this chain
        return;
    }
    lastWasPtr = kind == KIND_PTR;
  }
  emitName(fname, fdup, lastWasPtr);
}

function dumpOne(id: u32): void {
  // Each type is queued once, when it gets ordered, and emitted right away: the queue only ever
  // holds what one call orders.
  QN = 0;
  orderType(id, false);
  const to = QN;
  for (let i: u32 = 0; i < to && !BAD; i++) emitType(load<u32>(QUEUE + (<usize>i << 2)), 0);
}

// ---- setup -------------------------------------------------------------------------------------

function allocFill(bytes: usize, v: u8): usize {
  const p = heap.alloc(bytes > 0 ? bytes : 1);
  memory.fill(p, v, bytes);
  return p;
}

// How many names each table may get (for its first size), counted by markReferenced().
let EST_TN: u32 = 0;
let EST_IDN: u32 = 0;

/** A table size (a power of two) that holds `n` names at most half full. */
function tableSize(n: u32): u32 {
  let size: u32 = 64;
  while (size < n * 2 && size < 0x40000000) size <<= 1;
  return size;
}

/** Marks referenced types and checks every type id a record holds. Returns false after fail(). */
function markReferenced(): bool {
  EST_TN = 0;
  EST_IDN = 0;
  for (let id: u32 = 1; id < N; id++) {
    const p = rec(id);
    const v = vlenOf(id);
    const k = kindOf(id);
    if (k == KIND_ENUM || k == KIND_ENUM64) EST_IDN += v;
    if (load<u32>(p) != 0) {
      // Only these kinds count names for ___N suffixes (functions and variables do not).
      if (k == KIND_TYPEDEF) EST_IDN++;
      else if (k == KIND_STRUCT || k == KIND_UNION || k == KIND_ENUM || k == KIND_ENUM64 || k == KIND_INT) {
        EST_TN++;
      }
    }
    switch (k) {
      case KIND_VOLATILE:
      case KIND_CONST:
      case KIND_RESTRICT:
      case KIND_PTR:
      case KIND_TYPEDEF:
      case KIND_FUNC:
      case KIND_VAR:
      case KIND_DECL_TAG:
      case KIND_TYPE_TAG:
        if (!ref(id, load<u32>(p + 8))) return false;
        break;
      case KIND_ARRAY:
        if (!ref(id, load<u32>(p + 16)) || !ref(id, load<u32>(p + 12))) return false;
        break;
      case KIND_STRUCT:
      case KIND_UNION:
        for (let i: u32 = 0; i < v; i++) {
          if (!ref(id, load<u32>(p + 16 + <usize>i * 12))) return false;
        }
        break;
      case KIND_FUNC_PROTO:
        if (load<u32>(p + 8) >= N) return ref(id, load<u32>(p + 8));
        for (let i: u32 = 0; i < v; i++) {
          if (!ref(id, load<u32>(p + 16 + <usize>i * 8))) return false;
        }
        break;
      case KIND_DATASEC:
        for (let i: u32 = 0; i < v; i++) {
          if (!ref(id, load<u32>(p + 12 + <usize>i * 12))) return false;
        }
        break;
      default:
        break;
    }
  }
  return true;
}

@inline function ref(id: u32, to: u32): bool {
  if (to >= N) {
    fail(E_DUMP_REF, "BTF type refers to a type id that does not exist", -1, id);
    return false;
  }
  store<u8>(ST + to, load<u8>(ST + to) | REFERENCED);
  return true;
}

/** Like libbpf: the size of `long` in this BTF, or 8 when it has none. */
function pointerSize(): u32 {
  for (let id: u32 = 1; id < N; id++) {
    if (kindOf(id) != KIND_INT) continue;
    const sz = stOf(id);
    if (sz != 4 && sz != 8) continue;
    const s = nameOf(id);
    if (
      eqLit(s, S3) || eqLit(s, S44) || eqLit(s, S45) ||
      eqLit(s, S46) || eqLit(s, S47) || eqLit(s, S48) ||
      eqLit(s, S49) || eqLit(s, S50) ||
      eqLit(s, S51) || eqLit(s, S52) ||
      eqLit(s, S53)
    ) return sz;
  }
  return 8;
}

const dumpers = new Array<DumpState | null>();

function freeState(s: DumpState): void {
  const ptrs: usize[] = [s.recs, s.st, s.dup, s.align, s.sizes, s.queue, s.ds, s.decl, s.ar, s.tn, s.idn, s.lv];
  for (let i = 0; i < ptrs.length; i++) if (ptrs[i] != 0) heap.free(ptrs[i]);
  s.recs = 0;
  s.st = 0;
  s.dup = 0;
  s.align = 0;
  s.sizes = 0;
  s.queue = 0;
  s.ds = 0;
  s.decl = 0;
  s.ar = 0;
  s.tn = 0;
  s.idn = 0;
  s.lv = 0;
  s.btf = null;
}

/** The live state of a dumper handle, activated; null after fail(). */
function use(h: i32): DumpState | null {
  if (h < 0 || h >= dumpers.length || unchecked(dumpers[h]) === null) {
    fail(E_DUMP_HANDLE, "Bad C dumper handle");
    return null;
  }
  const s = unchecked(dumpers[h])!;
  const b = s.btf;
  if (b === null || b.offs == 0) {
    fail(E_DUMP_CLOSED, "The BTF of this C dumper was closed; keep it open while the dumper is used");
    return null;
  }
  activate(s);
  OUT_MAX = s.outMax;
  return s;
}

// ---- exports -----------------------------------------------------------------------------------

/**
 * Sets the most C text one call of dumper `h` may make (default 256 MiB; at least 64 KiB). Returns
 * 0, or -1 after an error.
 */
export function btf_dump_set_max(h: i32, bytes: f64): i32 {
  if (h < 0 || h >= dumpers.length || unchecked(dumpers[h]) === null) {
    return fail(E_DUMP_HANDLE, "Bad C dumper handle");
  }
  const max = bytes < 65536 ? <f64>65536 : bytes > <f64>OUT_MAX_DEFAULT ? <f64>OUT_MAX_DEFAULT : bytes;
  unchecked(dumpers[h])!.outMax = <usize>max;
  return 0;
}

/** Makes a C dumper over the Btf of `btfHandle`. Returns a handle, or -1 after an error. */
export function btf_dump_new(btfHandle: i32): i32 {
  const b = btfByHandle(btfHandle);
  if (b === null) return fail(E_DUMP_HANDLE, "Bad BTF handle");
  const n = b.typeCount();
  const s = new DumpState();
  s.btf = b;
  s.n = n;
  const nz = <usize>n;
  s.recs = heap.alloc(nz << 2);
  store<u32>(s.recs, 0);
  for (let o: Btf | null = b; o !== null; o = o.base) {
    memory.copy(s.recs + (<usize>o.start << 2), o.offs, <usize>o.count << 2);
  }
  s.st = allocFill(nz, 0);
  s.dup = allocFill(64 << 3, 0);
  s.dupMask = 63;
  s.align = allocFill(nz, 0xff);
  s.sizes = allocFill(nz << 2, 0xff);
  s.decl = allocFill(nz << 2, 0);
  // The string sections of the chain, innermost base first.
  let lvN: u32 = 0;
  for (let o: Btf | null = b; o !== null; o = o.base) lvN++;
  s.lv = heap.alloc(<usize>lvN * 12);
  s.lvN = lvN;
  let i = lvN;
  for (let o: Btf | null = b; o !== null; o = o.base) {
    i--;
    const l = s.lv + <usize>i * 12;
    store<u32>(l, o.strBase);
    store<u32>(l + 4, <u32>o.strs);
    store<u32>(l + 8, o.strLen);
  }
  activate(s);
  store<u8>(ST, ORDERED | EMITTED);
  if (!markReferenced()) {
    freeState(s);
    return -1;
  }
  // Sized for every name up front: no rehashing on the way.
  const tn = tableSize(EST_TN);
  s.tn = newTable(tn);
  s.tnMask = tn - 1;
  const idn = tableSize(EST_IDN);
  s.idn = newTable(idn);
  s.idnMask = idn - 1;
  s.ptrSz = pointerSize();
  for (let h = 0; h < dumpers.length; h++) {
    if (unchecked(dumpers[h]) === null) {
      unchecked((dumpers[h] = s));
      return h;
    }
  }
  dumpers.push(s);
  return dumpers.length - 1;
}

/** Frees a dumper. Freeing a free handle does nothing. */
export function btf_dump_free(h: i32): void {
  if (h < 0 || h >= dumpers.length) return;
  const s = unchecked(dumpers[h]);
  if (s === null) return;
  freeState(s);
  unchecked((dumpers[h] = null));
}

/** Prints the whole header (bpftool's frame around every type) into `out`; returns its length. */
export function btf_dump_all(h: i32): i32 {
  const s = use(h);
  if (s === null) return -1;
  // The header is about as long as the type section: room for it up front saves the copies of a
  // doubling buffer.
  let est: usize = 4096;
  let o: Btf | null = s.btf;
  while (o !== null) {
    est += <usize>o.typesLen;
    o = o.base;
  }
  ensure(est < OUT_MAX ? est : OUT_MAX);
  litAt(S33);
  litAt(S34);
  litAt(S35);
  for (let id: u32 = 1; id < N && !BAD; id++) {
    const k = kindOf(id);
    // Functions, variables, sections and decl tags print nothing and order nothing else.
    if (k == KIND_FUNC || k == KIND_VAR || k == KIND_DATASEC || k == KIND_DECL_TAG) setOrd(id, ORDERED);
    else dumpOne(id);
  }
  litAt(S36);
  litAt(S37);
  deactivate(s);
  return BAD ? -1 : <i32>out.len;
}

/** Prints type `id` and what it needs that was not printed yet into `out`; returns the length. */
export function btf_dump_type(h: i32, id: u32): i32 {
  const s = use(h);
  if (s === null) return -1;
  if (id >= N) {
    deactivate(s);
    return fail(E_DUMP_ID, "Type id is out of range", -1, id);
  }
  dumpOne(id);
  deactivate(s);
  return BAD ? -1 : <i32>out.len;
}

/** Room for the host to write a declared name of `len` bytes; returns its address. */
export function btf_dump_name_buf(len: u32): usize {
  if (len + 1 > VARNAME_CAP) {
    if (VARNAME != 0) heap.free(VARNAME);
    VARNAME_CAP = len + 1;
    VARNAME = heap.alloc(<usize>VARNAME_CAP);
  }
  store<u8>(VARNAME + len, 0);
  return VARNAME;
}

/**
 * Prints one declaration of the name in the name buffer (see btf_dump_name_buf) with type `id`
 * into `out`, like btf_dump__emit_type_decl; returns its length.
 */
export function btf_dump_decl(h: i32, id: u32, indent: i32, stripMods: bool): i32 {
  const s = use(h);
  if (s === null) return -1;
  if (id >= N) {
    deactivate(s);
    return fail(E_DUMP_ID, "Type id is out of range", -1, id);
  }
  STRIP = stripMods;
  emitDecl(id, VARNAME != 0 ? VARNAME : EMPTY, 0, indent);
  deactivate(s);
  return BAD ? -1 : <i32>out.len;
}
