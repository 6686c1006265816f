// Program relocation (libbpf 1.1's bpf_object__relocate for one entry program, after CO-RE):
// places the subprograms the entry program reaches in libbpf's depth-first order, turns
// bpf-to-bpf calls and callback addresses (ld_imm64 BPF_PSEUDO_FUNC) into pc-relative offsets,
// patches map, global-data and extern references with the live facts the host resolved, poisons
// what libbpf poisons, and assembles the program's func_info, line_info and core_relo records.
//
// Input: one flat little-endian buffer the host writes (reloc/relocate.ts), every field an i32:
//   header  [0] version (1)  [1] flags (bit 0: the object has .BTF.ext, bit 1: CO-RE in kernel)
//           [2] function count  [3] entry function  [4] relocation count  [5] record-list count
//           [6] byte offset of the function table  [7] of the relocation table  [8] of the lists
//   function (10 words): insns byte offset, instruction count, section instruction offset,
//           flags (bit 0: a .text subprogram, bit 1: its CO-RE failed), first relocation,
//           relocation count, func_info list, line_info list, core_relo list (-1: none), 0
//   relocation (6 words): instruction (-1: not a valid index), kind, a, b, c, d (see below)
//   list (3 words): words per record (2 func_info, 4 line_info or core_relo), record count,
//           byte offset of the records; each record starts with the byte offset of its
//           instruction in the section
// Output: reloc_run returns a pointer to a descriptor (RES_* words below); record buffers stay
// valid until the next call. Errors are a code, the function, and two numbers (an instruction or a
// relocation index) the host turns into its messages: the core never builds text here.
//
// Export: reloc_run(ptr, len) → descriptor pointer, or 0 when the input itself is malformed.
import { ByteBuf } from "./rt";

const VERSION: i32 = 1;
const HDR_WORDS: i32 = 9;
const FN_WORDS: i32 = 10;
const RELOC_WORDS: i32 = 6;
const LIST_WORDS: i32 = 3;
const INSN: i32 = 8;
const MAX_DEPTH: i32 = 4096;

const FLAG_EXT: i32 = 1;
const FLAG_CORE_IN_KERNEL: i32 = 2;
const FN_TEXT: i32 = 1;
const FN_CORE_ERROR: i32 = 2;

// Relocation kinds, as the host encodes them.
const K_MAP: i32 = 0; // a: 0 fd in b, 1 poison with map index b
const K_DATA: i32 = 1; // a, b as K_MAP; c: the byte offset in the section
const K_CALL: i32 = 2; // a: 1 when the target is in .text and known; b: its section insn index
const K_FUNC_ADDR: i32 = 3; // as K_CALL
const K_EXTERN_LD64: i32 = 4; // a: an X_* action, b, c, d its values
const K_EXTERN_CALL: i32 = 5; // a: an X_* action (X_KFUNC, X_ZERO or X_ERROR)

// Extern actions.
const X_ERROR: i32 = 0; // the host knows why; the core reports where
const X_MAP_VALUE: i32 = 1; // kconfig: fd b, offset c
const X_BTF_ID: i32 = 2; // typed ksym (or a kfunc's address): id b, object fd c
const X_ADDR: i32 = 3; // typeless ksym: low word b, high word c
const X_ZERO: i32 = 4; // a missing __weak extern
const X_KFUNC: i32 = 5; // kfunc call: id b, fd_array slot c, module BTF fd d (with bit 8 of a)

// Error codes (reported in the descriptor, not through rt's error slot).
export const RE_CORE: i32 = 1; // the function's CO-RE pass failed (the host holds the error)
export const RE_RELOC_RANGE: i32 = 2; // a = relocation index
export const RE_DEPTH: i32 = 3;
export const RE_NO_INFO: i32 = 4; // a = 0 func_info, 1 line_info
export const RE_CORE_MISALIGNED: i32 = 5; // a = instruction
export const RE_UNEXPECTED: i32 = 6; // a = instruction, b = relocation index
export const RE_OUTSIDE_TEXT: i32 = 7; // a = instruction, b = relocation index
export const RE_FUNC_NO_RELOC: i32 = 8; // a = instruction
export const RE_NO_TARGET: i32 = 9; // a = instruction
export const RE_FUNC_ADDR: i32 = 10; // a = relocation index
export const RE_UNKNOWN_KIND: i32 = 11; // a = relocation index
export const RE_EXTERN: i32 = 12; // a = relocation index, b = the same over all functions

// Descriptor words.
const RES_STATUS = 0; // 0 relocated, else an RE_* code
const RES_INSNS = 1; // instruction count, then its pointer
const RES_INSNS_PTR = 2;
const RES_FUNC = 3; // func_info record count (8 bytes each), then its pointer
const RES_FUNC_PTR = 4;
const RES_LINE = 5; // line_info records (16 bytes each)
const RES_LINE_PTR = 6;
const RES_CORE = 7; // core_relo records (16 bytes each)
const RES_CORE_PTR = 8;
const RES_FD = 9; // fd_array settings: (slot, fd) pairs
const RES_FD_PTR = 10;
const RES_ERR_FN = 11;
const RES_ERR_A = 12;
const RES_ERR_B = 13;
const RES_WORDS = 14;

const CODE_CALL: u8 = 0x85;
const CODE_LD_IMM64: u8 = 0x18;
const PSEUDO_MAP_FD: u8 = 1;
const PSEUDO_MAP_VALUE: u8 = 2;
const PSEUDO_BTF_ID: u8 = 3;
const PSEUDO_FUNC: u8 = 4;
const PSEUDO_CALL: u8 = 1;
const PSEUDO_KFUNC_CALL: u8 = 2;
const MAP_POISON_BASE: i32 = 2001000000;

const res = heap.alloc(<usize>RES_WORDS * 4);
const prog = new ByteBuf(); // the final instructions
const funcRecs = new ByteBuf();
const lineRecs = new ByteBuf();
const coreRecs = new ByteBuf();
const fdPairs = new ByteBuf();
const placedOff = new ByteBuf(); // per function: its instruction offset in prog, or -1
const placedFns = new ByteBuf(); // the placed functions, in order
const relocAt = new ByteBuf(); // per placed instruction: its first relocation, or -1
const textOrder = new ByteBuf(); // the .text functions by section offset (stable)
const sortTmp = new ByteBuf();
const stack = new ByteBuf(); // link frames: (function, next instruction, depth)

// The input, once validated.
let base: usize = 0;
let nFns: i32 = 0;
let nRelocs: i32 = 0;
let nLists: i32 = 0;
let fnTab: usize = 0;
let relTab: usize = 0;
let listTab: usize = 0;
let nText: i32 = 0;
let hasExt = false;
let coreInKernel = false;
let funcEnabled = false;
let lineEnabled = false;

@inline function fnWord(f: i32, w: i32): i32 {
  return load<i32>(fnTab + ((<usize>f * FN_WORDS + w) << 2));
}
@inline function relWord(r: i32, w: i32): i32 {
  return load<i32>(relTab + ((<usize>r * RELOC_WORDS + w) << 2));
}
@inline function i32At(b: ByteBuf, i: i32): i32 {
  return load<i32>(b.ptr + (<usize>i << 2));
}
@inline function setI32At(b: ByteBuf, i: i32, v: i32): void {
  store<i32>(b.ptr + (<usize>i << 2), v);
}
@inline function pushI32(b: ByteBuf, v: i32): void {
  b.ensure(4);
  store<i32>(b.ptr + b.len, v);
  b.len += 4;
}
/** Sizes `b` to `n` i32 words (contents undefined). */
function sizeWords(b: ByteBuf, n: i32): void {
  b.len = 0;
  b.ensure(<usize>n << 2);
  b.len = <usize>n << 2;
}

function fail(code: i32, fn: i32, a: i32, b: i32): usize {
  store<i32>(res + (RES_STATUS << 2), code);
  store<i32>(res + (RES_ERR_FN << 2), fn);
  store<i32>(res + (RES_ERR_A << 2), a);
  store<i32>(res + (RES_ERR_B << 2), b);
  return res;
}

/** Checks every offset and count of the input against its length. */
function validate(ptr: usize, len: usize): bool {
  if (len < <usize>HDR_WORDS * 4 || (ptr & 3) != 0) return false;
  if (load<i32>(ptr) != VERSION) return false;
  const flags = load<i32>(ptr + 4);
  nFns = load<i32>(ptr + 8);
  const main = load<i32>(ptr + 12);
  nRelocs = load<i32>(ptr + 16);
  nLists = load<i32>(ptr + 20);
  const fo = load<i32>(ptr + 24);
  const ro = load<i32>(ptr + 28);
  const lo = load<i32>(ptr + 32);
  if (nFns <= 0 || nRelocs < 0 || nLists < 0 || main < 0 || main >= nFns) return false;
  if (!inBounds(fo, <u64>nFns * FN_WORDS * 4, len)) return false;
  if (!inBounds(ro, <u64>nRelocs * RELOC_WORDS * 4, len)) return false;
  if (!inBounds(lo, <u64>nLists * LIST_WORDS * 4, len)) return false;
  if (((fo | ro | lo) & 3) != 0) return false;
  base = ptr;
  fnTab = ptr + <usize>fo;
  relTab = ptr + <usize>ro;
  listTab = ptr + <usize>lo;
  hasExt = (flags & FLAG_EXT) != 0;
  coreInKernel = (flags & FLAG_CORE_IN_KERNEL) != 0;
  for (let f = 0; f < nFns; f++) {
    const io = fnWord(f, 0);
    const n = fnWord(f, 1);
    if (n < 0 || !inBounds(io, <u64>n * INSN, len)) return false;
    const r0 = fnWord(f, 4);
    const rn = fnWord(f, 5);
    if (r0 < 0 || rn < 0 || <i64>r0 + <i64>rn > <i64>nRelocs) return false;
    for (let k = 6; k < 9; k++) {
      const l = fnWord(f, k);
      if (l < -1 || l >= nLists) return false;
    }
  }
  for (let l = 0; l < nLists; l++) {
    const at = listTab + (<usize>l * LIST_WORDS << 2);
    const words = load<i32>(at);
    const cnt = load<i32>(at + 4);
    const off = load<i32>(at + 8);
    if ((words != 2 && words != 4) || cnt < 0 || (off & 3) != 0) return false;
    if (!inBounds(off, <u64>cnt * <u64>words * 4, len)) return false;
  }
  return true;
}

@inline function inBounds(off: i32, size: u64, len: usize): bool {
  return off >= 0 && <u64>off + size <= <u64>len;
}

function listOf(l: i32, w: i32): i32 {
  return load<i32>(listTab + ((<usize>l * LIST_WORDS + w) << 2));
}

/** Sorts the .text functions by section instruction offset, keeping ties in input order. */
function sortText(): void {
  textOrder.len = 0;
  for (let f = 0; f < nFns; f++) if ((fnWord(f, 3) & FN_TEXT) != 0) pushI32(textOrder, f);
  nText = <i32>(textOrder.len >> 2);
  sizeWords(sortTmp, nText);
  // Bottom-up merge sort: stable, O(n log n) on any input.
  for (let width = 1; width < nText; width <<= 1) {
    for (let lo = 0; lo < nText; lo += width << 1) {
      const mid = min(lo + width, nText);
      const hi = min(lo + (width << 1), nText);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        const a = i32At(textOrder, i);
        const b = i32At(textOrder, j);
        if (fnWord(b, 2) < fnWord(a, 2)) {
          setI32At(sortTmp, k++, b);
          j++;
        } else {
          setI32At(sortTmp, k++, a);
          i++;
        }
      }
      while (i < mid) setI32At(sortTmp, k++, i32At(textOrder, i++));
      while (j < hi) setI32At(sortTmp, k++, i32At(textOrder, j++));
    }
    memory.copy(textOrder.ptr, sortTmp.ptr, <usize>nText << 2);
  }
}

/** The .text function whose instructions hold section instruction `at`, or -1. */
function findText(at: i64): i32 {
  let lo = 0;
  let hi = nText - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = i32At(textOrder, mid);
    const start = <i64>fnWord(f, 2);
    if (at < start) hi = mid - 1;
    else if (at >= start + <i64>fnWord(f, 1)) lo = mid + 1;
    else return f;
  }
  return -1;
}

@inline function setSrc(at: usize, src: u8): void {
  store<u8>(at + 1, (load<u8>(at + 1) & 0x0f) | (src << 4));
}

function poison(at: usize, mapIdx: i32): void {
  for (let i = 0; i < 2; i++) {
    const o = at + <usize>(i * INSN);
    store<u8>(o, CODE_CALL);
    store<u8>(o + 1, 0);
    store<i16>(o + 2, 0);
    store<i32>(o + 4, MAP_POISON_BASE + mapIdx);
  }
}

/**
 * Appends function `f` to the program (libbpf's placement of a subprogram): checks that each of
 * its relocations sits on its instructions and marks callback-address loads BPF_PSEUDO_FUNC.
 * Returns an RE_* code, or 0.
 */
function place(f: i32): i32 {
  if ((fnWord(f, 3) & FN_CORE_ERROR) != 0) {
    fail(RE_CORE, f, 0, 0);
    return RE_CORE;
  }
  const n = fnWord(f, 1);
  const r0 = fnWord(f, 4);
  const rn = fnWord(f, 5);
  for (let k = 0; k < rn; k++) {
    const r = r0 + k;
    const kind = relWord(r, 1);
    const width: i64 = kind == K_CALL || kind == K_EXTERN_CALL ? 1 : 2;
    const insn = relWord(r, 0);
    if (insn < 0 || <i64>insn + width > <i64>n) {
      fail(RE_RELOC_RANGE, f, k, 0);
      return RE_RELOC_RANGE;
    }
  }
  const off = <i32>(prog.len >> 3);
  prog.bytes(base + <usize>fnWord(f, 0), <usize>n * INSN);
  const at0 = prog.ptr + (<usize>off << 3);
  // The first relocation of each instruction, for the call scan.
  const ra = <i32>(relocAt.len >> 2);
  relocAt.ensure(<usize>n << 2);
  relocAt.len += <usize>n << 2;
  memory.fill(relocAt.ptr + (<usize>ra << 2), 0xff, <usize>n << 2);
  for (let k = 0; k < rn; k++) {
    const r = r0 + k;
    const insn = relWord(r, 0);
    if (i32At(relocAt, ra + insn) < 0) setI32At(relocAt, ra + insn, r);
    if (relWord(r, 1) == K_FUNC_ADDR) setSrc(at0 + (<usize>insn << 3), PSEUDO_FUNC);
  }
  setI32At(placedOff, f, off);
  pushI32(placedFns, f);
  return 0;
}

/**
 * Appends the func_info or line_info records of list `l` that fall in function `f`, rebased to
 * its place (libbpf's reloc_prog_func_and_line_info). Returns false when a subprogram has none
 * while its caller has.
 */
function addInfo(out: ByteBuf, l: i32, f: i32, isMain: bool, isLine: bool): bool {
  const enabled = isLine ? lineEnabled : funcEnabled;
  if (!isMain && !enabled) return true;
  const start = <i64>fnWord(f, 2);
  const end = start + <i64>fnWord(f, 1);
  let first: i32 = -1;
  let last: i32 = -1;
  let words: i32 = 0;
  let recs: usize = 0;
  if (l >= 0) {
    words = listOf(l, 0);
    const cnt = listOf(l, 1);
    recs = base + <usize>listOf(l, 2);
    for (let i = 0; i < cnt; i++) {
      const at = <i64>(load<u32>(recs + (<usize>i * words << 2)) >> 3);
      if (at < start) continue;
      if (at >= end) break;
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) {
    if (isMain) {
      if (isLine) lineEnabled = false;
      else funcEnabled = false;
      return true;
    }
    return false;
  }
  if (isLine) lineEnabled = true;
  else funcEnabled = true;
  const adj = <i64>i32At(placedOff, f) - start;
  for (let i = first; i <= last; i++) {
    const r = recs + (<usize>i * words << 2);
    pushI32(out, <i32>(<i64>(load<u32>(r) >> 3) + adj));
    for (let w = 1; w < words; w++) pushI32(out, load<i32>(r + (<usize>w << 2)));
  }
  return true;
}

/** Appends the core_relo records of list `l` in function `f`, at their final byte offsets. */
function addCoreRelos(l: i32, f: i32): i32 {
  if (l < 0) return 0;
  const start = <i64>fnWord(f, 2);
  const end = start + <i64>fnWord(f, 1);
  const cnt = listOf(l, 1);
  const words = listOf(l, 0);
  const recs = base + <usize>listOf(l, 2);
  const off = <i64>i32At(placedOff, f);
  for (let i = 0; i < cnt; i++) {
    const r = recs + (<usize>i * words << 2);
    const insnOff = load<u32>(r);
    const at = <i64>(insnOff >> 3);
    if (at < start || at >= end) continue;
    if ((insnOff & 7) != 0) {
      fail(RE_CORE_MISALIGNED, f, <i32>(at - start), 0);
      return RE_CORE_MISALIGNED;
    }
    pushI32(coreRecs, <i32>((at - start + off) * INSN));
    for (let w = 1; w < 4; w++) pushI32(coreRecs, words > w ? load<i32>(r + (<usize>w << 2)) : 0);
  }
  return 0;
}

/** What link does on entering a function: depth, then its records. Returns an RE_* code or 0. */
function enter(f: i32, isMain: bool, depth: i32): i32 {
  if (depth > MAX_DEPTH) {
    fail(RE_DEPTH, f, 0, 0);
    return RE_DEPTH;
  }
  if (hasExt) {
    if (!addInfo(funcRecs, fnWord(f, 6), f, isMain, false)) {
      fail(RE_NO_INFO, f, 0, 0);
      return RE_NO_INFO;
    }
    if (!addInfo(lineRecs, fnWord(f, 7), f, isMain, true)) {
      fail(RE_NO_INFO, f, 1, 0);
      return RE_NO_INFO;
    }
    if (coreInKernel) {
      const e = addCoreRelos(fnWord(f, 8), f);
      if (e != 0) return e;
    }
  }
  pushI32(stack, f);
  pushI32(stack, 0);
  pushI32(stack, depth);
  return 0;
}

/** Places and links every function the entry program reaches, depth first. */
function link(main: i32): i32 {
  let e = place(main);
  if (e != 0) return e;
  e = enter(main, true, 0);
  if (e != 0) return e;
  // The relocAt slot of a function's first instruction, per placed function, is its placed
  // offset: functions are placed back to back, and relocAt grows with prog.
  while (stack.len > 0) {
    const top = <i32>(stack.len >> 2) - 3;
    const f = i32At(stack, top);
    const n = fnWord(f, 1);
    const off = i32At(placedOff, f);
    let i = i32At(stack, top + 1);
    let descended = false;
    for (; i < n; i++) {
      const at = prog.ptr + (<usize>(off + i) << 3);
      const code = load<u8>(at);
      const regs = load<u8>(at + 1);
      const isCall = code == CODE_CALL && (regs >> 4) == PSEUDO_CALL && (regs & 0x0f) == 0 &&
        load<i16>(at + 2) == 0;
      const isFunc = code == CODE_LD_IMM64 && (regs >> 4) == PSEUDO_FUNC;
      if (!isCall && !isFunc) continue;
      const r = i32At(relocAt, off + i);
      let kind: i32 = -1;
      if (r >= 0) {
        kind = relWord(r, 1);
        if (kind == K_EXTERN_CALL) continue;
        if (kind != K_CALL && kind != K_FUNC_ADDR) {
          fail(RE_UNEXPECTED, f, i, r - fnWord(f, 4));
          return RE_UNEXPECTED;
        }
      }
      let target: i64;
      if (r >= 0) {
        if (relWord(r, 2) != 1) {
          fail(RE_OUTSIDE_TEXT, f, i, r - fnWord(f, 4));
          return RE_OUTSIDE_TEXT;
        }
        target = <i64>relWord(r, 3);
      } else if (isFunc) {
        fail(RE_FUNC_NO_RELOC, f, i, 0);
        return RE_FUNC_NO_RELOC;
      } else {
        target = <i64>fnWord(f, 2) + <i64>i + <i64>load<i32>(at + 4) + 1;
      }
      const sub = findText(target);
      if (sub < 0) {
        fail(RE_NO_TARGET, f, i, 0);
        return RE_NO_TARGET;
      }
      let subOff = i32At(placedOff, sub);
      if (subOff < 0) {
        e = place(sub);
        if (e != 0) return e;
        subOff = i32At(placedOff, sub);
        // prog may have moved: address the caller's instruction again.
        store<i32>(prog.ptr + (<usize>(off + i) << 3) + 4, subOff - (off + i) - 1);
        setI32At(stack, top + 1, i + 1);
        e = enter(sub, false, i32At(stack, top + 2) + 1);
        if (e != 0) return e;
        descended = true;
        break;
      }
      store<i32>(at + 4, subOff - (off + i) - 1);
    }
    if (!descended) stack.len -= 12;
  }
  return 0;
}

/** Map, global-data and extern references, after every function is in place. */
function patchData(): i32 {
  const nPlaced = <i32>(placedFns.len >> 2);
  for (let p = 0; p < nPlaced; p++) {
    const f = i32At(placedFns, p);
    const off = i32At(placedOff, f);
    const r0 = fnWord(f, 4);
    const rn = fnWord(f, 5);
    for (let k = 0; k < rn; k++) {
      const r = r0 + k;
      const at = prog.ptr + (<usize>(off + relWord(r, 0)) << 3);
      const kind = relWord(r, 1);
      const a = relWord(r, 2);
      const b = relWord(r, 3);
      const c = relWord(r, 4);
      if (kind == K_MAP || kind == K_DATA) {
        if (kind == K_DATA) store<i32>(at + 12, c);
        if (a == 0) {
          setSrc(at, kind == K_MAP ? PSEUDO_MAP_FD : PSEUDO_MAP_VALUE);
          store<i32>(at + 4, b);
        } else {
          poison(at, b);
        }
      } else if (kind == K_EXTERN_LD64) {
        const x = a & 0xff;
        if (x == X_MAP_VALUE) {
          setSrc(at, PSEUDO_MAP_VALUE);
          store<i32>(at + 4, b);
          store<i32>(at + 12, c);
        } else if (x == X_BTF_ID) {
          setSrc(at, PSEUDO_BTF_ID);
          store<i32>(at + 4, b);
          store<i32>(at + 12, c);
        } else if (x == X_ADDR) {
          store<i32>(at + 4, b);
          store<i32>(at + 12, c);
        } else if (x == X_ZERO) {
          store<i32>(at + 4, 0);
          store<i32>(at + 12, 0);
        } else {
          fail(RE_EXTERN, f, k, r);
          return RE_EXTERN;
        }
      } else if (kind == K_EXTERN_CALL) {
        const x = a & 0xff;
        setSrc(at, PSEUDO_KFUNC_CALL);
        if (x == X_KFUNC) {
          store<i32>(at + 4, b);
          store<i16>(at + 2, <i16>c);
          if (c > 0 && (a & 0x100) != 0) {
            pushI32(fdPairs, c);
            pushI32(fdPairs, relWord(r, 5));
          }
        } else if (x == X_ZERO) {
          store<i32>(at + 4, 0);
          store<i16>(at + 2, 0);
        } else {
          fail(RE_EXTERN, f, k, r);
          return RE_EXTERN;
        }
      } else if (kind == K_FUNC_ADDR) {
        if ((load<u8>(at + 1) >> 4) != PSEUDO_FUNC) {
          fail(RE_FUNC_ADDR, f, k, 0);
          return RE_FUNC_ADDR;
        }
      } else if (kind != K_CALL) {
        fail(RE_UNKNOWN_KIND, f, k, 0);
        return RE_UNKNOWN_KIND;
      }
    }
  }
  return 0;
}

// Buffers past this size are released after a call, so one hostile input does not keep them.
const KEEP: usize = 1 << 20;

function trim(b: ByteBuf): void {
  if (b.cap > KEEP) {
    heap.free(b.ptr);
    b.ptr = 0;
    b.cap = 0;
  }
  b.len = 0;
}

/**
 * Relocates the entry program the input at (`ptr`, `len`) names. Returns a descriptor pointer
 * (status 0 and the results, or an RE_* code and where), or 0 when the input is malformed.
 */
export function reloc_run(ptr: usize, len: usize): usize {
  for (let i = 0; i < RES_WORDS; i++) store<i32>(res + (<usize>i << 2), 0);
  const bufs = [prog, funcRecs, lineRecs, coreRecs, fdPairs, placedOff, placedFns, relocAt, textOrder, sortTmp, stack];
  for (let i = 0; i < bufs.length; i++) trim(unchecked(bufs[i]));
  if (!validate(ptr, len)) return 0;
  funcEnabled = false;
  lineEnabled = false;
  sizeWords(placedOff, nFns);
  memory.fill(placedOff.ptr, 0xff, <usize>nFns << 2);
  sortText();
  const main = load<i32>(ptr + 12);
  let e = link(main);
  if (e == 0) e = patchData();
  if (e != 0) return res;
  store<i32>(res + (RES_INSNS << 2), <i32>(prog.len >> 3));
  store<i32>(res + (RES_INSNS_PTR << 2), <i32>prog.ptr);
  store<i32>(res + (RES_FUNC << 2), <i32>(funcRecs.len >> 3));
  store<i32>(res + (RES_FUNC_PTR << 2), <i32>funcRecs.ptr);
  store<i32>(res + (RES_LINE << 2), <i32>(lineRecs.len >> 4));
  store<i32>(res + (RES_LINE_PTR << 2), <i32>lineRecs.ptr);
  store<i32>(res + (RES_CORE << 2), <i32>(coreRecs.len >> 4));
  store<i32>(res + (RES_CORE_PTR << 2), <i32>coreRecs.ptr);
  store<i32>(res + (RES_FD << 2), <i32>(fdPairs.len >> 3));
  store<i32>(res + (RES_FD_PTR << 2), <i32>fdPairs.ptr);
  return res;
}
