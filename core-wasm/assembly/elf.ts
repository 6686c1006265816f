// ELF64 little-endian reader for BPF objects. Every read is behind a bounds check against the
// input buffer; malformed input ends in fail() with a code in 100..199 and the file offset at
// fault. Section data is never copied: the host slices it from its own copy of the file.
//
// Exports: elf_open(ptr, len) → handle, elf_free(handle), elf_describe(handle) → JSON length in
// `out` ({sections, symbols, relocations}; flags 1 adds the debug-section relocations). elf_open_native(ptr, len) reads an x86-64 or aarch64
// executable or shared library instead (the targets of uprobes and USDT probes): it also keeps
// .dynsym and the program headers, and skips relocations ({..., dynsyms, segments, etype, machine}).
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
    // checked; they are kept (for elf_describe) only when their target index is usable.
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

/** elf_describe flag: also list the relocations of .debug_*, .BTF and .BTF.ext (libbpf ignores them). */
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

function key(k: string, first: bool = false): void {
  if (!first) out.byte(0x2c);
  out.byte(0x22);
  out.str(k);
  out.byte(0x22);
  out.byte(0x3a);
}

function writeSyms(p: usize, syms: Array<Sym>): void {
  for (let i = 0; i < syms.length; i++) {
    const y = syms[i];
    if (i > 0) out.byte(0x2c);
    out.byte(0x7b);
    key("name", true);
    out.jsonBytes(p + <usize>y.name, <usize>y.nameLen);
    key("value");
    out.u64dec(y.value);
    key("size");
    out.u64dec(y.size);
    key("bind");
    out.u64dec(<u64>(y.info >> 4));
    key("type");
    out.u64dec(<u64>(y.info & 15));
    key("visibility");
    out.u64dec(<u64>(y.other & 3));
    key("shndx");
    out.u64dec(<u64>y.shndx);
    out.byte(0x7d);
  }
}

/**
 * Writes the file's sections, symbols and relocations as JSON into `out`; returns its length, or
 * -1 for a bad handle. Numbers above 2^53 are not expected in BPF objects. Relocations come as
 * {section, target, rels: [offset, type, sym, ...]}; those of .debug_*, .BTF and .BTF.ext are left
 * out unless `flags` has DESCRIBE_DEBUG_RELOS (1). Only those libbpf reads (of code, .maps and
 * .struct_ops) are validated; the others come as the file has them.
 */
export function elf_describe(h: i32, flags: i32): i32 {
  const f = get(h);
  if (f == null) return -1;
  const p = f.ptr;
  out.reset();
  out.str("{\"sections\":[");
  for (let i = 0; i < f.sections.length; i++) {
    const s = f.sections[i];
    if (i > 0) out.byte(0x2c);
    out.byte(0x7b);
    key("index", true);
    out.u64dec(<u64>i);
    key("name");
    out.jsonBytes(p + <usize>(f.shstrOff + <u64>s.name), <usize>s.nameLen);
    key("type");
    out.u64dec(<u64>s.type);
    key("flags");
    out.u64dec(s.flags);
    key("offset");
    out.u64dec(s.offset);
    key("size");
    out.u64dec(s.size);
    key("link");
    out.u64dec(<u64>s.link);
    key("info");
    out.u64dec(<u64>s.info);
    key("entsize");
    out.u64dec(s.entsize);
    key("addralign");
    out.u64dec(s.addralign);
    out.byte(0x7d);
  }
  out.str("],\"symbols\":[");
  writeSyms(p, f.syms);
  out.str("],\"relocations\":[");
  let first = true;
  for (let i = 0; i < f.relsecs.length; i++) {
    const rs = f.relsecs[i];
    if ((flags & DESCRIBE_DEBUG_RELOS) == 0 && isDebugSection(f, f.sections[rs.target])) continue;
    if (!first) out.byte(0x2c);
    first = false;
    out.byte(0x7b);
    key("section", true);
    out.u64dec(<u64>rs.section);
    key("target");
    out.u64dec(<u64>rs.target);
    // Flat (offset, type, sym) triples: far cheaper to write and to parse than objects.
    key("rels");
    out.byte(0x5b);
    for (let j = 0; j < rs.count; j++) {
      const a = p + <usize>(rs.off + <u64>j * 16);
      const info = load<u64>(a + 8);
      if (j > 0) out.byte(0x2c);
      out.u64dec(load<u64>(a));
      out.byte(0x2c);
      out.u64dec(info & 0xffffffff);
      out.byte(0x2c);
      out.u64dec(info >> 32);
    }
    out.str("]}");
  }
  out.byte(0x5d);
  if (f.native) {
    out.str(",\"dynsyms\":[");
    writeSyms(p, f.dynsyms);
    out.str("],\"segments\":[");
    for (let i = 0; i < f.segs.length; i++) {
      const g = f.segs[i];
      if (i > 0) out.byte(0x2c);
      out.byte(0x7b);
      key("type", true);
      out.u64dec(<u64>g.type);
      key("flags");
      out.u64dec(<u64>g.flags);
      key("offset");
      out.u64dec(g.offset);
      key("vaddr");
      out.u64dec(g.vaddr);
      key("filesz");
      out.u64dec(g.filesz);
      key("memsz");
      out.u64dec(g.memsz);
      out.byte(0x7d);
    }
    out.byte(0x5d);
    key("etype");
    out.u64dec(<u64>f.etype);
    key("machine");
    out.u64dec(<u64>f.machine);
  }
  out.byte(0x7d);
  return <i32>out.len;
}
