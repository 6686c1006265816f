/**
 * The host side of the core's ELF reader: section headers, symbols and REL relocations of a
 * BPF object, as plain records. The core validates every offset; section data is sliced from the
 * host's copy of the file.
 *
 * @module
 */
import { Core, type CoreBuf } from "../core-wasm/mod.ts";
import { BpfError, cannotRead, SyscallError } from "../errors.ts";
import { host, type HostFile } from "../_host.ts";

/** ELF section types used by BPF objects. */
export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOBITS: 8,
  REL: 9,
  SYMTAB_SHNDX: 18,
} as const;

/** ELF section flags. */
export const SHF = { WRITE: 1, ALLOC: 2, EXECINSTR: 4 } as const;

/** Symbol binding and type numbers. */
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
/** Symbol types. */
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;
/** Special section indexes. */
export const SHN = { UNDEF: 0, ABS: 0xfff1, COMMON: 0xfff2 } as const;

/** BPF relocation types (R_BPF_*). */
export const R_BPF = {
  NONE: 0,
  "64_64": 1,
  "64_ABS64": 2,
  "64_ABS32": 3,
  "64_NODYLD32": 4,
  "64_32": 10,
} as const;

/** A section header. */
export interface ElfSection {
  /** Index in the section header table. */
  index: number;
  /** The section's name. */
  name: string;
  /** sh_type. */
  type: number;
  /** sh_flags. */
  flags: number;
  /** File offset of the data. */
  offset: number;
  /** Size in bytes. */
  size: number;
  /** sh_link. */
  link: number;
  /** sh_info. */
  info: number;
  /** sh_entsize. */
  entsize: number;
  /** sh_addralign. */
  addralign: number;
}

/** A symbol of the symbol table. */
export interface ElfSymbol {
  /** The name, "" when none. */
  name: string;
  /** st_value. */
  value: number;
  /** st_size. */
  size: number;
  /** Binding (STB_*). */
  bind: number;
  /** Type (STT_*). */
  type: number;
  /** Visibility (STV_*). */
  visibility: number;
  /** Section index (SHN_XINDEX already resolved). */
  shndx: number;
}

/** One REL entry. */
export interface ElfRel {
  /** r_offset: byte offset in the target section. */
  offset: number;
  /** The relocation type (R_BPF_*). */
  type: number;
  /** Index into the symbol table. */
  sym: number;
}

/** A REL section and the section it applies to. */
export interface ElfRelSection {
  /** The REL section's index. */
  section: number;
  /** The index of the section it relocates. */
  target: number;
  /** Its entries, in file order. */
  entries: ElfRel[];
}

/** A program header (segment) of an executable or shared library. */
export interface ElfSegment {
  /** p_type (1 = PT_LOAD). */
  type: number;
  /** p_flags (1 = X, 2 = W, 4 = R). */
  flags: number;
  /** p_offset. */
  offset: number;
  /** p_vaddr. */
  vaddr: number;
  /** p_filesz. */
  filesz: number;
  /** p_memsz. */
  memsz: number;
}

/** A parsed ELF file: headers, symbols, relocations, and the file's bytes to slice from. */
export interface ElfFile {
  /** All section headers, index 0 included. */
  sections: ElfSection[];
  /** The symbol table, entry 0 included. */
  symbols: ElfSymbol[];
  /** Every REL section. */
  relocations: ElfRelSection[];
  /** The whole file. */
  bytes: Uint8Array;
  /** With `native: true`: the dynamic symbol table (.dynsym), entry 0 included; else undefined. */
  dynsyms?: ElfSymbol[];
  /** With `native: true`: the program headers; else undefined. */
  segments?: ElfSegment[];
  /** With `native: true`: e_type (2 = ET_EXEC, 3 = ET_DYN). */
  etype?: number;
  /** With `native: true`: e_machine (62 = x86-64, 183 = aarch64). */
  machine?: number;
}

/** The largest file readElf() reads: the core's memory is 32-bit, and no BPF object comes close. */
export const MAX_ELF_FILE = 1 << 30;

/**
 * Refuses, before opening it, a path that is not a regular file (a FIFO would block the read for
 * ever, /dev/zero never ends) or that is larger than {@linkcode MAX_ELF_FILE}.
 */
function checkElfPath(path: string): void {
  let type: string;
  try {
    type = host().fileType(path);
  } catch (e) {
    throw cannotRead(path, e);
  }
  if (type !== "file") {
    throw new BpfError(
      `Cannot read ${
        JSON.stringify(path)
      }: it is a ${type}, not a regular file; give the path of an ELF file`,
    );
  }
  let size: number;
  try {
    size = host().size(path); // a regular file: opening it cannot block
  } catch (e) {
    throw cannotRead(path, e);
  }
  if (size > MAX_ELF_FILE) {
    throw new BpfError(
      `Cannot read ${
        JSON.stringify(path)
      }: ${size} bytes, more than the ${MAX_ELF_FILE} an ELF file may have here`,
    );
  }
}

function readInto(core: Core, path: string): CoreBuf {
  try {
    return core.readFile(path);
  } catch (e) {
    if (e instanceof BpfError && !(e instanceof SyscallError)) throw e;
    throw cannotRead(path, e);
  }
}

// DWARF sections and their relocations: nothing in tsbpf (or libbpf) reads what they hold.
const DEBUG_PREFIXES = [".debug_", ".rel.debug_", ".rela.debug_"].map((p) =>
  Array.from(p, (c) => c.charCodeAt(0))
);

/**
 * Whether the name at `at` (a string table ending at `end`) starts with a DWARF prefix; compared
 * byte by byte, with no string made for it.
 */
function isDebugName(bytes: Uint8Array, at: number, end: number): boolean {
  outer: for (const p of DEBUG_PREFIXES) {
    if (at + p.length > end) continue;
    for (let k = 0; k < p.length; k++) if (bytes[at + k] !== p[k]) continue outer;
    return true;
  }
  return false;
}

/**
 * Reads a BPF object for the core without the contents of its DWARF sections, which are most of a
 * `clang -g` object (600 KiB of a 650 KiB one built against vmlinux.h) and which nothing reads:
 * the headers and every other section go to the same offsets of a core buffer of the file's size
 * and of a JavaScript copy (where the skipped bytes are zeros, and the core's are never looked at).
 * Returns undefined where the file is not a well-formed little-endian ELF64 as far as this needs
 * (the whole file is then read, and the core says what is wrong).
 */
function readSkippingDebug(
  core: Core,
  path: string,
): { buf: CoreBuf; bytes: Uint8Array } | undefined {
  let f: HostFile;
  try {
    f = host().open(path);
  } catch {
    return undefined; // readInto names the error
  }
  let buf: CoreBuf | undefined;
  try {
    const size = f.size;
    if (size < 64 || size > 0x7fffffff) return undefined;
    // A resizable buffer: V8 backs it with reserved pages that the kernel commits as they are
    // written (only the non-DWARF ranges here) and that go back with munmap when it is collected.
    // A plain one comes from calloc, and glibc serves a freed 650 KiB chunk's successors from the
    // brk heap, touched whole and never trimmed: on Deno, open + load + close grew RSS by about
    // 30 KB per cycle that way (issue 12). Bun backs both kinds alike.
    const bytes = new Uint8Array(new ArrayBuffer(size, { maxByteLength: size }));
    const dv = new DataView(bytes.buffer);
    const fill = (off: number, len: number): boolean =>
      off + len <= size && f.readAt(bytes.subarray(off, off + len), off) === len;
    if (!fill(0, 64)) return undefined;
    if (dv.getUint32(0, false) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) return undefined;
    const shoff = Number(dv.getBigUint64(0x28, true));
    let shnum = dv.getUint16(0x3c, true);
    let shstrndx = dv.getUint16(0x3e, true);
    if (shoff === 0 || dv.getUint16(0x3a, true) !== 64 || !fill(shoff, 64)) return undefined;
    if (shnum === 0) shnum = Number(dv.getBigUint64(shoff + 32, true));
    if (shstrndx === 0xffff) shstrndx = dv.getUint32(shoff + 40, true);
    if (shnum === 0 || shnum > 0xffffff || shstrndx >= shnum || !fill(shoff, shnum * 64)) {
      return undefined;
    }
    const hdr = (i: number) => shoff + i * 64;
    const strOff = Number(dv.getBigUint64(hdr(shstrndx) + 24, true));
    const strSize = Number(dv.getBigUint64(hdr(shstrndx) + 32, true));
    if (!fill(strOff, strSize)) return undefined;
    const ranges: [number, number][] = [[0, 64], [shoff, shnum * 64], [strOff, strSize]];
    for (let i = 1; i < shnum; i++) {
      if (dv.getUint32(hdr(i) + 4, true) === SHT.NOBITS) continue;
      const off = Number(dv.getBigUint64(hdr(i) + 24, true));
      const len = Number(dv.getBigUint64(hdr(i) + 32, true));
      if (len === 0 || i === shstrndx) continue;
      if (isDebugName(bytes, strOff + dv.getUint32(hdr(i), true), strOff + strSize)) continue;
      if (!fill(off, len)) return undefined;
      ranges.push([off, len]);
    }
    buf = core.alloc(size);
    const u8 = core.u8();
    for (const [off, len] of ranges) u8.set(bytes.subarray(off, off + len), buf.ptr + off);
    return { buf, bytes };
  } catch {
    // A file that cannot be read at offsets (or fails half-way): the whole-file reader tries
    // again and names the error.
    if (buf !== undefined) core.free(buf);
    return undefined;
  } finally {
    f.close();
  }
}

// The record layout written by the core's elf_records (core-wasm/assembly/elf.ts).
const REC_VERSION = 1;
const REC_HEADER = 64;
const REC_SECTION = 64;
const REC_SYMBOL = 32;
const REC_REL = 16;
const REC_SEGMENT = 40;
const TWO_32 = 0x1_0000_0000;

/** A u64 as a number (exact below 2^53, as ELF offsets and sizes of BPF objects are). */
function u64(dv: DataView, at: number): number {
  return dv.getUint32(at, true) + dv.getUint32(at + 4, true) * TWO_32;
}

const utf8 = new TextDecoder();
const NON_ASCII = /[\x80-\uffff]/;

/**
 * The names of one string table: the table is decoded once when it is all ASCII (names are then
 * slices of one string), else each name on its own (invalid UTF-8 becomes U+FFFD, as before).
 */
function nameReader(
  bytes: Uint8Array,
  off: number,
  size: number,
): (at: number, len: number) => string {
  const text = utf8.decode(bytes.subarray(off, off + size));
  // Every byte above 0x7f decodes to a character above 0x7f (itself or U+FFFD).
  if (!NON_ASCII.test(text)) {
    return (at, len) => len === 0 ? "" : text.slice(at - off, at - off + len);
  }
  return (at, len) => len === 0 ? "" : utf8.decode(bytes.subarray(at, at + len));
}

function readSymbols(
  dv: DataView,
  at: number,
  count: number,
  name: (at: number, len: number) => string,
): ElfSymbol[] {
  const syms: ElfSymbol[] = new Array(count);
  for (let i = 0; i < count; i++, at += REC_SYMBOL) {
    const info = dv.getUint8(at + 12);
    syms[i] = {
      name: name(dv.getUint32(at, true), dv.getUint32(at + 4, true)),
      value: u64(dv, at + 16),
      size: u64(dv, at + 24),
      bind: info >> 4,
      type: info & 15,
      visibility: dv.getUint8(at + 13) & 3,
      shndx: dv.getUint32(at + 8, true),
    };
  }
  return syms;
}

/**
 * Builds the {@linkcode ElfFile} from the core's records at `p` (read through `dv`, a view of core
 * memory) and the file's bytes (names and relocation entries are read from there: the core checked
 * that every range it gives lies inside the file).
 */
function decodeRecords(dv: DataView, p: number, bytes: Uint8Array, native: boolean): ElfFile {
  if (dv.getUint32(p, true) !== REC_VERSION) {
    throw new BpfError("The tsbpf core wrote ELF records of another version; rebuild the core");
  }
  const nsec = dv.getUint32(p + 4, true);
  const nsym = dv.getUint32(p + 8, true);
  const nrel = dv.getUint32(p + 12, true);
  const ndyn = dv.getUint32(p + 16, true);
  const nseg = dv.getUint32(p + 20, true);
  const secName = nameReader(bytes, dv.getUint32(p + 32, true), dv.getUint32(p + 36, true));
  const strOff = dv.getUint32(p + 40, true);
  const strSize = dv.getUint32(p + 44, true);
  const symName = strOff === dv.getUint32(p + 32, true) && strSize === dv.getUint32(p + 36, true)
    ? secName // clang's objects keep every name in one table
    : nameReader(bytes, strOff, strSize);
  let at = p + REC_HEADER;
  const sections: ElfSection[] = new Array(nsec);
  for (let i = 0; i < nsec; i++, at += REC_SECTION) {
    sections[i] = {
      index: i,
      name: secName(dv.getUint32(at, true), dv.getUint32(at + 4, true)),
      type: dv.getUint32(at + 8, true),
      flags: u64(dv, at + 24),
      offset: u64(dv, at + 32),
      size: u64(dv, at + 40),
      link: dv.getUint32(at + 12, true),
      info: dv.getUint32(at + 16, true),
      entsize: u64(dv, at + 48),
      addralign: u64(dv, at + 56),
    };
  }
  const symbols = readSymbols(dv, at, nsym, symName);
  at += nsym * REC_SYMBOL;
  const file = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const relocations: ElfRelSection[] = new Array(nrel);
  for (let i = 0; i < nrel; i++, at += REC_REL) {
    const count = dv.getUint32(at + 8, true);
    let off = dv.getUint32(at + 12, true);
    const entries: ElfRel[] = new Array(count);
    for (let j = 0; j < count; j++, off += 16) {
      entries[j] = {
        offset: u64(file, off),
        type: file.getUint32(off + 8, true),
        sym: file.getUint32(off + 12, true),
      };
    }
    relocations[i] = {
      section: dv.getUint32(at, true),
      target: dv.getUint32(at + 4, true),
      entries,
    };
  }
  const elf: ElfFile = { sections, symbols, relocations, bytes };
  if (!native) return elf;
  const dynName = nameReader(bytes, dv.getUint32(p + 48, true), dv.getUint32(p + 52, true));
  elf.dynsyms = readSymbols(dv, at, ndyn, dynName);
  at += ndyn * REC_SYMBOL;
  const segments: ElfSegment[] = new Array(nseg);
  for (let i = 0; i < nseg; i++, at += REC_SEGMENT) {
    segments[i] = {
      type: dv.getUint32(at, true),
      flags: dv.getUint32(at + 4, true),
      offset: u64(dv, at + 8),
      vaddr: u64(dv, at + 16),
      filesz: u64(dv, at + 24),
      memsz: u64(dv, at + 32),
    };
  }
  elf.segments = segments;
  elf.etype = dv.getUint32(p + 24, true);
  elf.machine = dv.getUint32(p + 28, true);
  return elf;
}

/**
 * Parses an ELF file. `source` is the file's bytes or a path (read straight into the core).
 *
 * @param source The bytes of the object, or a path to it.
 * @param opts `native: true` reads an x86-64 or aarch64 executable or shared library instead of a
 *   BPF object (for uprobes and USDT): it adds `dynsyms`, `segments`, `etype` and `machine`, and
 *   leaves `relocations` empty. Default false. `debugRelocations: true` also lists the
 *   relocations of `.debug_*`, `.BTF` and `.BTF.ext`, which libbpf ignores. Default false. Only
 *   the relocations libbpf reads (of code, `.maps` and `.struct_ops`) are validated; the others
 *   come as the file has them, so a broken one does not make the object unusable.
 *   `debugSections: true` reads the contents of DWARF sections (`.debug_*` and their relocation
 *   sections) from a path; by default they are skipped, and are zeros in `bytes`. Bytes given by
 *   the caller are always whole.
 * @returns The headers, symbols and relocations, with the bytes of the file.
 * @throws {ElfError} When the file is not a well-formed little-endian ELF64 BPF object (or, with
 *   `native`, executable or shared library).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readElf } from "./elf.ts";
 * const elf = readElf("tests/bpf/build/globals.bpf.o");
 * assert(elf.sections.some((s) => s.name === ".BTF"));
 * ```
 */
export function readElf(
  source: Uint8Array | string,
  opts: { native?: boolean; debugRelocations?: boolean; debugSections?: boolean } = {},
): ElfFile {
  const core = Core.get();
  if (typeof source === "string") checkElfPath(source);
  const sparse = typeof source === "string" && !opts.native && !opts.debugRelocations &&
      !opts.debugSections
    ? readSkippingDebug(core, source)
    : undefined;
  const buf = sparse?.buf ??
    (typeof source === "string" ? readInto(core, source) : core.copyIn(source));
  try {
    const h = core.check(
      core.call(() =>
        opts.native
          ? core.exports.elf_open_native(buf.ptr, buf.len)
          : core.exports.elf_open(buf.ptr, buf.len)
      ),
      "Reading ELF",
    );
    try {
      const flags = opts.debugRelocations ? 1 : 0;
      core.check(core.call(() => core.exports.elf_records(h, flags)), "Reading ELF");
      const bytes = sparse?.bytes ??
        (typeof source === "string" ? core.u8().slice(buf.ptr, buf.ptr + buf.len) : source);
      // No call into the core between here and the end of decodeRecords: the view stays valid.
      return decodeRecords(core.dv(), core.exports.out_ptr(), bytes, opts.native === true);
    } finally {
      core.exports.elf_free(h);
    }
  } finally {
    core.free(buf);
  }
}

/** The bytes of a section (empty for SHT_NOBITS), a view into `elf.bytes`. */
export function sectionData(elf: ElfFile, s: ElfSection): Uint8Array {
  if (s.type === SHT.NOBITS) return new Uint8Array(0);
  return elf.bytes.subarray(s.offset, s.offset + s.size);
}
