// ELF64 little-endian reader for BPF objects. Every read is behind a bounds check against the
// input buffer; malformed input ends in fail() with a code in 100..199 and the file offset at
// fault. Section data is never copied: the host slices it from its own copy of the file.
//
// Exports: elf_open(ptr, len) → handle, elf_free(handle), elf_records(handle, flags) → length of
// the binary records in `out` (sections, symbols, relocation sections; flags 1 adds the
// debug-section relocations; layout at elf_records). elf_open_native(ptr, len) reads an x86-64 or
// aarch64 executable or shared library instead (the targets of uprobes and USDT probes): it also
// keeps .dynsym and the program headers, and skips relocations.
import { fail, out } from "./rt";

// Error codes (100..199).
const E_SHORT: i32 = 100;
const E_MAGIC: i32 = 101;
const E_CLASS: i32 = 102;
const E_DATA: i32 = 103;
const E_VERSION: i32 = 104;
const E_MACHINE: i32 = 105;
const E_TYPE: i32 = 106;
const E_SHDR: i32 = 107;
const E_SHENTSIZE: i32 = 108;
const E_SHSTRNDX: i32 = 109;
const E_SECTION_RANGE: i32 = 110;
const E_STRTAB: i32 = 111;
const E_NAME: i32 = 112;
const E_SYMTAB: i32 = 113;
const E_SYMTAB_ENTSIZE: i32 = 114;
const E_SYM_SHNDX: i32 = 115;
const E_REL: i32 = 116;
const E_REL_ENTSIZE: i32 = 117;
const E_REL_SYM: i32 = 118;
const E_REL_OFFSET: i32 = 119;
const E_REL_TARGET: i32 = 120;
const E_HANDLE: i32 = 121;
const E_MULTI_SYMTAB: i32 = 122;
const E_PHDR: i32 = 123;

const SHT_NOBITS: u32 = 8;
const SHT_STRTAB: u32 = 3;
const SHT_SYMTAB: u32 = 2;
const SHT_REL: u32 = 9;
const SHT_SYMTAB_SHNDX: u32 = 18;
const SHT_DYNSYM: u32 = 11;
const SHN_XINDEX: u32 = 0xffff;
const SHN_LORESERVE: u32 = 0xff00;

class Section {
  hdrOff: u64 = 0;
  name: u32 = 0; // offset in .shstrtab
  nameLen: u32 = 0;
  type: u32 = 0;
  flags: u64 = 0;
  offset: u64 = 0;
  size: u64 = 0;
  link: u32 = 0;
  info: u32 = 0;
  addralign: u64 = 0;
  entsize: u64 = 0;
}

class Sym {
  name: u32 = 0; // absolute file offset of the name
  nameLen: u32 = 0;
  info: u8 = 0;
  other: u8 = 0;
  shndx: u32 = 0;
  value: u64 = 0;
  size: u64 = 0;
}

// A REL section, validated by parse(); its entries are read from the file when described (no
// object per relocation: debug sections hold thousands of them).
class RelSec {
  section: i32 = 0;
  target: i32 = 0;
  off: u64 = 0;
  count: i32 = 0;
}

class Seg {
  type: u32 = 0;
  flags: u32 = 0;
  offset: u64 = 0;
  vaddr: u64 = 0;
  filesz: u64 = 0;
  memsz: u64 = 0;
}

class ElfFile {
  native: bool = false;
  etype: u32 = 0;
  machine: u32 = 0;
  dynsym: i32 = -1;
  dynsyms: Array<Sym> = new Array<Sym>();
  segs: Array<Seg> = new Array<Seg>();
  ptr: usize = 0;
  len: u64 = 0;
  sections: Array<Section> = new Array<Section>();
  shstrOff: u64 = 0;
  shstrSize: u64 = 0;
  symtab: i32 = -1;
  syms: Array<Sym> = new Array<Sym>();
  relsecs: Array<RelSec> = new Array<RelSec>();
}

const files = new Array<ElfFile | null>();

/** Length of the NUL-terminated string at `off` inside [base, end), or -1 when unterminated. */
function strLen(ptr: usize, off: u64, end: u64): i64 {
  let i = off;
  while (i < end) {
    if (load<u8>(ptr + <usize>i) == 0) return <i64>(i - off);
    i++;
  }
  return -1;
}

function inRange(off: u64, size: u64, len: u64): bool {
  return off <= len && size <= len - off;
}

function readSyms(f: ElfFile, idx: i32, shndxSec: i32, shnum: u64, dest: Array<Sym>): i32 {
  const p = f.ptr;
  {
    const st = f.sections[idx];
    if (st.entsize != 24) return fail(E_SYMTAB_ENTSIZE, "Symbol table entry size is not 24", <i64>st.hdrOff + 56);
    if (st.size % 24 != 0) return fail(E_SYMTAB, "Symbol table size is not a multiple of 24", <i64>st.hdrOff + 32);
    if (<u64>st.link >= shnum || st.link == 0 || f.sections[<i32>st.link].type != SHT_STRTAB) {
      return fail(E_SYMTAB, "Symbol table's string table index is invalid", <i64>st.hdrOff + 40);
    }
    const str = f.sections[<i32>st.link];
    const count = <i32>(st.size / 24);
    let xs: Section | null = null;
    if (shndxSec >= 0) {
      xs = f.sections[shndxSec];
      if (xs.size < <u64>count * 4) {
        return fail(E_SYM_SHNDX, "Extended section index table is too small", <i64>xs.hdrOff);
      }
    }
    for (let i = 0; i < count; i++) {
      const off = st.offset + <u64>i * 24;
      const a = p + <usize>off;
      const y = new Sym();
      const nm = load<u32>(a);
      y.info = load<u8>(a + 4);
      y.other = load<u8>(a + 5);
      y.shndx = <u32>load<u16>(a + 6);
      y.value = load<u64>(a + 8);
      y.size = load<u64>(a + 16);
      if (<u64>nm >= str.size) {
        if (nm != 0 || str.size != 0) {
          return fail(E_NAME, "Symbol name offset out of range of the string table", <i64>off);
        }
      } else {
        const l = strLen(p, str.offset + <u64>nm, str.offset + str.size);
        if (l < 0) return fail(E_NAME, "Symbol name is not NUL-terminated", <i64>off);
        y.name = <u32>(str.offset + <u64>nm);
        y.nameLen = <u32>l;
      }
      if (y.shndx == SHN_XINDEX) {
        if (xs == null) return fail(E_SYM_SHNDX, "Symbol uses SHN_XINDEX but there is no SHT_SYMTAB_SHNDX", <i64>off);
        y.shndx = load<u32>(p + <usize>(xs.offset + <u64>i * 4));
        if (<u64>y.shndx >= shnum) return fail(E_SYM_SHNDX, "Symbol section index out of range", <i64>off);
      } else if (y.shndx < SHN_LORESERVE && <u64>y.shndx >= shnum) {
        return fail(E_SYM_SHNDX, "Symbol section index out of range", <i64>off + 6);
      }
      dest.push(y);
    }
  }
  return 0;
}

function readSegs(f: ElfFile): i32 {
  const p = f.ptr;
  const phoff = load<u64>(p + 32);
  const phentsize = <u64>load<u16>(p + 54);
  const phnum = <u64>load<u16>(p + 56);
  if (phnum == 0) return 0;
  if (phentsize != 56) return fail(E_PHDR, "ELF program header size is not 56", 54);
  if (phoff > f.len || phnum > (f.len - phoff) / 56) {
    return fail(E_PHDR, "Program header table out of range", 32);
  }
  for (let i: u64 = 0; i < phnum; i++) {
    const a = p + <usize>(phoff + i * 56);
    const g = new Seg();
    g.type = load<u32>(a);
    g.flags = load<u32>(a + 4);
    g.offset = load<u64>(a + 8);
    g.vaddr = load<u64>(a + 16);
    g.filesz = load<u64>(a + 32);
    g.memsz = load<u64>(a + 40);
    f.segs.push(g);
  }
  return 0;
}

function parse(f: ElfFile): i32 {
  const p = f.ptr;
  const len = f.len;
  if (len < 64) return fail(E_SHORT, "File too short for an ELF header", <i64>len);
  if (load<u32>(p) != 0x464c457f) return fail(E_MAGIC, "Not an ELF file (bad magic)", 0);
  const cls = load<u8>(p + 4);
  if (cls != 2) {
    return fail(
      E_CLASS,
      cls == 1
        ? "32-bit ELF (ELFCLASS32) is not a BPF object; build with clang -target bpf"
        : "Unknown ELF class",
      4,
    );
  }
  const data = load<u8>(p + 5);
  if (data == 2) {
    return fail(
      E_DATA,
      "Big-endian ELF is not supported; build with clang -target bpfel (or -target bpf on a little-endian host)",
      5,
    );
  }
  if (data != 1) return fail(E_DATA, "Unknown ELF data encoding", 5);
  if (load<u8>(p + 6) != 1) return fail(E_VERSION, "Unknown ELF version in e_ident", 6);
  const etype = load<u16>(p + 16);
  const machine = load<u16>(p + 18);
  f.etype = <u32>etype;
  f.machine = <u32>machine;
  if (f.native) {
    if (etype != 2 && etype != 3) {
      return fail(E_TYPE, "Not an executable or shared library (e_type is not ET_EXEC or ET_DYN)", 16);
    }
    if (machine != 62 && machine != 183) {
      return fail(E_MACHINE, "Not an x86-64 or aarch64 binary (e_machine is not EM_X86_64 or EM_AARCH64)", 18);
    }
  } else {
    if (etype != 1) {
      return fail(E_TYPE, "Not a relocatable ELF file (e_type is not ET_REL); pass the .o clang wrote", 16);
    }
    if (machine != 247 && machine != 0) {
      return fail(E_MACHINE, "Not a BPF object (e_machine is not EM_BPF); build with clang -target bpf", 18);
    }
  }
  if (load<u32>(p + 20) != 1) return fail(E_VERSION, "Unknown ELF version in e_version", 20);
  const shoff = load<u64>(p + 40);
  const shentsize = <u32>load<u16>(p + 58);
  let shnum = <u64>load<u16>(p + 60);
  let shstrndx = <u32>load<u16>(p + 62);
  if (shoff == 0) return fail(E_SHDR, "ELF file has no section header table", 40);
  if (shentsize != 64) return fail(E_SHENTSIZE, "ELF section header size is not 64", 58);
  if (!inRange(shoff, 64, len)) return fail(E_SHDR, "Section header table out of range", 40);
  if (shnum == 0) shnum = load<u64>(p + <usize>shoff + 32); // sh_size of section 0
  if (shstrndx == SHN_XINDEX) shstrndx = load<u32>(p + <usize>shoff + 40); // sh_link of section 0
  if (shnum > (len - shoff) / 64) {
    return fail(E_SHDR, "Section header table out of range (too many sections)", <i64>shoff);
  }
  if (<u64>shstrndx >= shnum) return fail(E_SHSTRNDX, "Section name table index out of range", 62);

  const n = <i32>shnum;
  for (let i = 0; i < n; i++) {
    const h = shoff + <u64>i * 64;
    const a = p + <usize>h;
    const s = new Section();
    s.hdrOff = h;
    s.name = load<u32>(a);
    s.type = load<u32>(a + 4);
    s.flags = load<u64>(a + 8);
    s.offset = load<u64>(a + 24);
    s.size = load<u64>(a + 32);
    s.link = load<u32>(a + 40);
    s.info = load<u32>(a + 44);
    s.addralign = load<u64>(a + 48);
    s.entsize = load<u64>(a + 56);
    if (i > 0 && s.type != SHT_NOBITS && s.type != 0 && !inRange(s.offset, s.size, len)) {
      return fail(E_SECTION_RANGE, "Section data out of range of the file", <i64>h);
    }
    f.sections.push(s);
  }
  const strSec = f.sections[<i32>shstrndx];
  if (strSec.type != SHT_STRTAB) {
    return fail(E_STRTAB, "Section name table is not a string table", <i64>strSec.hdrOff);
  }
  f.shstrOff = strSec.offset;
  f.shstrSize = strSec.size;
  for (let i = 0; i < n; i++) {
    const s = f.sections[i];
    if (i == 0) {
      // Section 0 is the null section: nothing reads its name (libbpf skips it), so any is fine.
      s.name = 0;
      s.nameLen = 0;
      continue;
    }
    if (<u64>s.name >= strSec.size) {
      return fail(E_NAME, "Section name offset out of range of the name table", <i64>s.hdrOff);
    }
    const l = strLen(p, strSec.offset + <u64>s.name, strSec.offset + strSec.size);
    if (l < 0) return fail(E_NAME, "Section name is not NUL-terminated", <i64>s.hdrOff);
    s.nameLen = <u32>l;
  }

  // Symbol table.
  let shndxSec: i32 = -1;
  for (let i = 1; i < n; i++) {
    const t = f.sections[i].type;
    if (t == SHT_SYMTAB) {
      if (f.symtab >= 0) {
        return fail(E_MULTI_SYMTAB, "ELF file has more than one symbol table", <i64>f.sections[i].hdrOff);
      }
      f.symtab = i;
    } else if (t == SHT_DYNSYM && f.native) {
      if (f.dynsym >= 0) {
        return fail(E_MULTI_SYMTAB, "ELF file has more than one symbol table", <i64>f.sections[i].hdrOff);
      }
      f.dynsym = i;
    } else if (t == SHT_SYMTAB_SHNDX) {
      shndxSec = i;
    }
  }
  if (f.symtab >= 0 && readSyms(f, f.symtab, shndxSec, shnum, f.syms) < 0) return -1;
  if (f.dynsym >= 0 && readSyms(f, f.dynsym, -1, shnum, f.dynsyms) < 0) return -1;
  if (f.native) return readSegs(f);

  // REL sections.
  for (let i = 1; i < n; i++) {
    const s = f.sections[i];
    if (s.type != SHT_REL) continue;
    // Like libbpf: the relocations of DWARF, .BTF and .BTF.ext are never read, so nothing in them is
    // checked; they are kept (for elf_records) only when their target index is usable.
    if (isIgnoredRel(f, s)) {
      if (s.info != 0 && <u64>s.info < shnum) pushRel(f, i, s, <i32>(s.size / 16));
      continue;
    }
    if (s.entsize != 16) return fail(E_REL_ENTSIZE, "Relocation entry size is not 16", <i64>s.hdrOff + 56);
    if (s.info == 0 || <u64>s.info >= shnum) {
      return fail(E_REL_TARGET, "Relocation section's target section index out of range", <i64>s.hdrOff + 44);
    }
    const tgt = f.sections[<i32>s.info];
    // libbpf reads only the relocations of code, .maps and .struct_ops; the others are skipped
    // unread, so a broken one does not make the object unusable.
    if (!relIsRead(f, s, tgt)) {
      pushRel(f, i, s, <i32>(s.size / 16));
      continue;
    }
    if (s.size % 16 != 0) return fail(E_REL, "Relocation section size is not a multiple of 16", <i64>s.hdrOff + 32);
    if (f.symtab < 0 || s.link != <u32>f.symtab) {
      return fail(E_REL, "Relocation section does not refer to the symbol table", <i64>s.hdrOff + 40);
    }
    const count = <i32>(s.size / 16);
    const nsyms = <u32>f.syms.length;
    for (let j = 0; j < count; j++) {
      const off = s.offset + <u64>j * 16;
      const a = p + <usize>off;
      const rOffset = load<u64>(a);
      const info = load<u64>(a + 8);
      const rSym = <u32>(info >> 32);
      const rType = <u32>(info & 0xffffffff);
      if (rSym >= nsyms) return fail(E_REL_SYM, "Relocation names a symbol out of range", <i64>off + 8);
      let width: u64 = 0;
      switch (rType) {
        case 0:
          width = 0;
          break; // R_BPF_NONE
        case 1:
          width = 16;
          break; // R_BPF_64_64: ld_imm64, two instructions
        case 2:
          width = 8;
          break; // R_BPF_64_ABS64
        case 3:
        case 4:
          width = 4;
          break; // R_BPF_64_ABS32, R_BPF_64_NODYLD32
        case 10:
          width = 8;
          break; // R_BPF_64_32: a call instruction
        default:
          return fail(E_REL, "Unknown BPF relocation type", <i64>off + 8);
      }
      if (tgt.type != SHT_NOBITS && !inRange(rOffset, width, tgt.size)) {
        return fail(E_REL_OFFSET, "Relocation points outside its target section", <i64>off);
      }
    }
    pushRel(f, i, s, count);
  }
  return 0;
}

function pushRel(f: ElfFile, idx: i32, s: Section, count: i32): void {
  const rs = new RelSec();
  rs.section = idx;
  rs.target = <i32>s.info;
  rs.off = s.offset;
  rs.count = count;
  f.relsecs.push(rs);
}

/** A REL section libbpf ignores outright: those of .debug_*, .BTF and .BTF.ext. */
function isIgnoredRel(f: ElfFile, s: Section): bool {
  return nameIs(f, s, ".rel.debug_", true) || nameIs(f, s, ".rel.BTF", false) ||
    nameIs(f, s, ".rel.BTF.ext", false);
}

/**
 * A REL section whose entries are read: its target holds code, or it (or its target) is .maps or
 * .struct_ops. Checking the target's name too keeps every relocation the host reads validated.
 */
function relIsRead(f: ElfFile, s: Section, tgt: Section): bool {
  return (tgt.flags & 4) != 0 || nameIs(f, s, ".rel.maps", false) ||
    nameIs(f, s, ".rel.struct_ops", false) || nameIs(f, s, ".rel.struct_ops.link", false) ||
    nameIs(f, s, ".rel?.struct_ops", false) || nameIs(f, s, ".rel?.struct_ops.link", false) ||
    nameIs(f, tgt, ".maps", false) || nameIs(f, tgt, ".struct_ops", false) ||
    nameIs(f, tgt, ".struct_ops.link", false) || nameIs(f, tgt, "?.struct_ops", false) ||
    nameIs(f, tgt, "?.struct_ops.link", false);
}

/**
 * Parses the ELF file at (ptr, len) in core memory; the buffer must outlive the handle. Returns a
 * handle ≥ 0 or -1 with the error set.
 */
export function elf_open(ptr: usize, len: usize): i32 {
  return open(ptr, len, false);
}

/**
 * Parses an x86-64 or aarch64 executable or shared library at (ptr, len); like elf_open, plus
 * .dynsym and the program headers, without relocations.
 */
export function elf_open_native(ptr: usize, len: usize): i32 {
  return open(ptr, len, true);
}

function open(ptr: usize, len: usize, native: bool): i32 {
  const f = new ElfFile();
  f.native = native;
  f.ptr = ptr;
  f.len = <u64>len;
  if (parse(f) < 0) return -1;
  for (let i = 0; i < files.length; i++) {
    if (files[i] == null) {
      files[i] = f;
      return i;
    }
  }
  files.push(f);
  return files.length - 1;
}

/** Releases a handle; freeing an unknown handle is a no-op. */
export function elf_free(h: i32): void {
  if (h >= 0 && h < files.length) files[h] = null;
}

function get(h: i32): ElfFile | null {
  if (h < 0 || h >= files.length) {
    fail(E_HANDLE, "Invalid ELF handle", -1);
    return null;
  }
  const f = files[h];
  if (f == null) fail(E_HANDLE, "ELF handle already freed", -1);
  return f;
}

/** elf_records flag: also list the relocations of .debug_*, .BTF and .BTF.ext (libbpf ignores them). */
const DESCRIBE_DEBUG_RELOS: i32 = 1;

function nameIs(f: ElfFile, s: Section, lit: string, prefix: bool): bool {
  const n = lit.length;
  if (prefix ? <i32>s.nameLen < n : <i32>s.nameLen != n) return false;
  const base = f.ptr + <usize>(f.shstrOff + <u64>s.name);
  for (let i = 0; i < n; i++) {
    if (<i32>load<u8>(base + <usize>i) != lit.charCodeAt(i)) return false;
  }
  return true;
}

function isDebugSection(f: ElfFile, s: Section): bool {
  return nameIs(f, s, ".debug_", true) || nameIs(f, s, ".BTF", false) ||
    nameIs(f, s, ".BTF.ext", false);
}

// ---- binary records ------------------------------------------------------------------------
//
// elf_records writes the parsed file into `out` as fixed-size little-endian records (the host reads
// them through a DataView; no text crosses the boundary). Strings are (file offset, length) pairs
// into the object's own string tables, whose ranges the header gives. Offsets and sizes that are
// u64 in ELF stay u64 (a NOBITS section's offset is not checked against the file).
//
// header (REC_HEADER bytes):
//   0 u32 version (REC_VERSION)   4 u32 sections   8 u32 symbols   12 u32 rel sections
//  16 u32 dynsyms                20 u32 segments  24 u32 e_type   28 u32 e_machine
//  32 u32 .shstrtab offset       36 u32 its size
//  40 u32 .symtab's string table offset          44 u32 its size (0, 0 without a symbol table)
//  48 u32 .dynsym's string table offset          52 u32 its size (0, 0 without one)
//  56..63 zero
// then, in this order:
//   section (REC_SECTION): 0 u32 name offset, 4 u32 name length, 8 u32 sh_type, 12 u32 sh_link,
//     16 u32 sh_info, 20 u32 zero, 24 u64 sh_flags, 32 u64 sh_offset, 40 u64 sh_size,
//     48 u64 sh_entsize, 56 u64 sh_addralign
//   symbol (REC_SYMBOL), for .symtab then for .dynsym: 0 u32 name offset, 4 u32 name length,
//     8 u32 section index (SHN_XINDEX resolved), 12 u8 st_info, 13 u8 st_other, 14 u16 zero,
//     16 u64 st_value, 24 u64 st_size
//   rel section (REC_REL): 0 u32 REL section index, 4 u32 target index, 8 u32 entries,
//     12 u32 file offset of the entries (16-byte Elf64_Rel, in range of the file)
//   segment (REC_SEGMENT): 0 u32 p_type, 4 u32 p_flags, 8 u64 p_offset, 16 u64 p_vaddr,
//     24 u64 p_filesz, 32 u64 p_memsz
const REC_VERSION: u32 = 1;
const REC_HEADER: usize = 64;
const REC_SECTION: usize = 64;
const REC_SYMBOL: usize = 32;
const REC_REL: usize = 16;
const REC_SEGMENT: usize = 40;

function strtabOf(f: ElfFile, symtab: i32): Section | null {
  if (symtab < 0) return null;
  return f.sections[<i32>f.sections[symtab].link]; // checked by readSyms
}

function writeSyms(at: usize, syms: Array<Sym>): usize {
  for (let i = 0; i < syms.length; i++) {
    const y = syms[i];
    store<u32>(at, y.name);
    store<u32>(at + 4, y.nameLen);
    store<u32>(at + 8, y.shndx);
    store<u8>(at + 12, y.info);
    store<u8>(at + 13, y.other);
    store<u16>(at + 14, 0);
    store<u64>(at + 16, y.value);
    store<u64>(at + 24, y.size);
    at += REC_SYMBOL;
  }
  return at;
}

/**
 * Writes the file's sections, symbols, relocation sections (and, for a native file, dynamic
 * symbols and segments) as binary records into `out` (layout above); returns the length, or -1
 * for a bad handle. Relocation sections of .debug_*, .BTF and .BTF.ext are left out unless `flags`
 * has DESCRIBE_DEBUG_RELOS (1). Only the relocations libbpf reads (of code, .maps and .struct_ops)
 * are validated; the others come as the file has them (their range in the file is checked).
 */
export function elf_records(h: i32, flags: i32): i32 {
  const f = get(h);
  if (f == null) return -1;
  let nrel = 0;
  for (let i = 0; i < f.relsecs.length; i++) {
    const rs = f.relsecs[i];
    if ((flags & DESCRIBE_DEBUG_RELOS) != 0 || !isDebugSection(f, f.sections[rs.target])) nrel++;
  }
  const nsec = f.sections.length;
  const nsym = f.syms.length;
  const ndyn = f.native ? f.dynsyms.length : 0;
  const nseg = f.native ? f.segs.length : 0;
  const total = REC_HEADER + <usize>nsec * REC_SECTION + <usize>(nsym + ndyn) * REC_SYMBOL +
    <usize>nrel * REC_REL + <usize>nseg * REC_SEGMENT;
  out.reset();
  out.ensure(total);
  const base = out.ptr;
  memory.fill(base, 0, REC_HEADER);
  store<u32>(base, REC_VERSION);
  store<u32>(base + 4, <u32>nsec);
  store<u32>(base + 8, <u32>nsym);
  store<u32>(base + 12, <u32>nrel);
  store<u32>(base + 16, <u32>ndyn);
  store<u32>(base + 20, <u32>nseg);
  store<u32>(base + 24, f.etype);
  store<u32>(base + 28, f.machine);
  store<u32>(base + 32, <u32>f.shstrOff);
  store<u32>(base + 36, <u32>f.shstrSize);
  const st = strtabOf(f, f.symtab);
  if (st != null) {
    store<u32>(base + 40, <u32>st.offset);
    store<u32>(base + 44, <u32>st.size);
  }
  const dt = f.native ? strtabOf(f, f.dynsym) : null;
  if (dt != null) {
    store<u32>(base + 48, <u32>dt.offset);
    store<u32>(base + 52, <u32>dt.size);
  }
  let at = base + REC_HEADER;
  for (let i = 0; i < nsec; i++) {
    const s = f.sections[i];
    store<u32>(at, <u32>(f.shstrOff + <u64>s.name));
    store<u32>(at + 4, s.nameLen);
    store<u32>(at + 8, s.type);
    store<u32>(at + 12, s.link);
    store<u32>(at + 16, s.info);
    store<u32>(at + 20, 0);
    store<u64>(at + 24, s.flags);
    store<u64>(at + 32, s.offset);
    store<u64>(at + 40, s.size);
    store<u64>(at + 48, s.entsize);
    store<u64>(at + 56, s.addralign);
    at += REC_SECTION;
  }
  at = writeSyms(at, f.syms);
  for (let i = 0; i < f.relsecs.length; i++) {
    const rs = f.relsecs[i];
    if ((flags & DESCRIBE_DEBUG_RELOS) == 0 && isDebugSection(f, f.sections[rs.target])) continue;
    store<u32>(at, <u32>rs.section);
    store<u32>(at + 4, <u32>rs.target);
    store<u32>(at + 8, <u32>rs.count);
    store<u32>(at + 12, <u32>rs.off);
    at += REC_REL;
  }
  if (f.native) {
    at = writeSyms(at, f.dynsyms);
    for (let i = 0; i < nseg; i++) {
      const g = f.segs[i];
      store<u32>(at, g.type);
      store<u32>(at + 4, g.flags);
      store<u64>(at + 8, g.offset);
      store<u64>(at + 16, g.vaddr);
      store<u64>(at + 24, g.filesz);
      store<u64>(at + 32, g.memsz);
      at += REC_SEGMENT;
    }
  }
  out.len = total;
  return <i32>total;
}
