/**
 * Pure USDT helpers: the `.note.stapsdt` notes of a binary (with the `.stapsdt.base` prelink
 * adjustment and semaphore offsets) and the argument specs libbpf's `usdt.bpf.h` reads
 * (`struct __bpf_usdt_spec`), parsed from the notes' argument strings (`-4@%eax`, `8@-8(%rbp)`).
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { type ElfFile, sectionData } from "../spec/elf.ts";
import { addrToFileOffset } from "./elf_target.ts";

/** One USDT call site of a binary. */
export interface UsdtNote {
  /** The provider (`tsbpf`). */
  provider: string;
  /** The probe name (`add`). */
  name: string;
  /** The call site's virtual address, after the `.stapsdt.base` adjustment. */
  addr: number;
  /** The call site's file offset (what the uprobe takes). */
  fileOffset: number;
  /** The semaphore's virtual address, 0 when none. */
  semaAddr: number;
  /** The semaphore's file offset, 0 when none. */
  semaOffset: number;
  /** The argument string (`-8@%rax -8@%rbx`). */
  args: string;
}

const NT_STAPSDT = 3;

/**
 * Reads every USDT note of a binary.
 *
 * @param elf the binary, read with `readElf(path, { native: true })`.
 * @returns the call sites, in note order.
 * @throws {BpfError} a note is malformed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { usdtNotes } from "./usdt_notes.ts";
 * import { readElf } from "../spec/elf.ts";
 * const notes = usdtNotes(readElf("tests/bin/build/uprobe_target", { native: true }));
 * assert(notes.some((n) => n.provider === "tsbpf" && n.name === "add"));
 * ```
 */
export function usdtNotes(elf: ElfFile): UsdtNote[] {
  const sec = elf.sections.find((s) => s.name === ".note.stapsdt");
  if (sec === undefined) return [];
  const base = elf.sections.find((s) => s.name === ".stapsdt.base");
  const data = sectionData(elf, sec);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder();
  const out: UsdtNote[] = [];
  let off = 0;
  const cstr = (p: number, end: number): [string, number] => {
    let z = p;
    while (z < end && data[z] !== 0) z++;
    if (z >= end) throw new BpfError("Malformed .note.stapsdt: unterminated string");
    return [dec.decode(data.subarray(p, z)), z + 1];
  };
  while (off + 12 <= data.length) {
    const namesz = dv.getUint32(off, true);
    const descsz = dv.getUint32(off + 4, true);
    const type = dv.getUint32(off + 8, true);
    const nameOff = off + 12;
    const descOff = nameOff + ((namesz + 3) & ~3);
    const next = descOff + ((descsz + 3) & ~3);
    if (descOff + descsz > data.length) {
      throw new BpfError("Malformed .note.stapsdt: note out of range");
    }
    const owner = dec.decode(data.subarray(nameOff, nameOff + Math.max(0, namesz - 1)));
    if (owner === "stapsdt" && type === NT_STAPSDT && descsz >= 24) {
      let addr = Number(dv.getBigUint64(descOff, true));
      const baseAddr = Number(dv.getBigUint64(descOff + 8, true));
      const semaAddr0 = Number(dv.getBigUint64(descOff + 16, true));
      let semaAddr = semaAddr0;
      if (base !== undefined && baseAddr !== 0) {
        // Prelinking may have moved the binary: shift by how far .stapsdt.base moved.
        const baseSh = sectionAddr(elf, base.index);
        addr += baseSh - baseAddr;
        if (semaAddr !== 0) semaAddr += baseSh - baseAddr;
      }
      const end = descOff + descsz;
      const [provider, p1] = cstr(descOff + 24, end);
      const [name, p2] = cstr(p1, end);
      const [args] = p2 < end ? cstr(p2, end) : [""];
      out.push({
        provider,
        name,
        addr,
        fileOffset: addrToFileOffset(elf, addr),
        semaAddr,
        semaOffset: semaAddr === 0 ? 0 : addrToFileOffset(elf, semaAddr),
        args,
      });
    }
    off = next;
  }
  return out;
}

function sectionAddr(elf: ElfFile, index: number): number {
  // The core reports section offsets, not addresses; map the file offset back through the
  // segment that holds it.
  const s = elf.sections[index];
  for (const g of elf.segments ?? []) {
    if (g.type === 1 && s.offset >= g.offset && s.offset < g.offset + g.filesz) {
      return s.offset - g.offset + g.vaddr;
    }
  }
  return s.offset;
}

/** `enum __bpf_usdt_arg_type`. */
export const UsdtArgType = { CONST: 0, REG: 1, REG_DEREF: 2 } as const;

/** One parsed argument (`struct __bpf_usdt_arg_spec`). */
export interface UsdtArgSpec {
  /** The constant, or the offset added to the register for REG_DEREF. */
  valOff: bigint;
  /** CONST, REG or REG_DEREF. */
  argType: number;
  /** offsetof(struct pt_regs, reg). */
  regOff: number;
  /** Signed argument. */
  signed: boolean;
  /** 64 - size in bits. */
  bitshift: number;
}

const X86_REGS: Record<string, number> = {};
{
  const add = (off: number, ...names: string[]) => names.forEach((n) => (X86_REGS[n] = off));
  add(0, "r15", "r15d", "r15w", "r15b");
  add(8, "r14", "r14d", "r14w", "r14b");
  add(16, "r13", "r13d", "r13w", "r13b");
  add(24, "r12", "r12d", "r12w", "r12b");
  add(32, "rbp", "ebp", "bp", "bpl");
  add(40, "rbx", "ebx", "bx", "bl", "bh");
  add(48, "r11", "r11d", "r11w", "r11b");
  add(56, "r10", "r10d", "r10w", "r10b");
  add(64, "r9", "r9d", "r9w", "r9b");
  add(72, "r8", "r8d", "r8w", "r8b");
  add(80, "rax", "eax", "ax", "al", "ah");
  add(88, "rcx", "ecx", "cx", "cl", "ch");
  add(96, "rdx", "edx", "dx", "dl", "dh");
  add(104, "rsi", "esi", "si", "sil");
  add(112, "rdi", "edi", "di", "dil");
  add(128, "rip", "eip", "ip");
  add(152, "rsp", "esp", "sp", "spl");
}

function aarch64Reg(name: string): number {
  if (name === "sp") return 31 * 8;
  if (name === "pc") return 32 * 8;
  const m = /^[xw](\d+)$/.exec(name);
  if (m && Number(m[1]) <= 30) return Number(m[1]) * 8;
  return -1;
}

/**
 * Parses one USDT argument (`-4@%eax`, `8@-8(%rbp)`, `4@$5` on x86-64; `-8@x1`, `4@[sp, 12]`,
 * `8@5` on aarch64).
 *
 * @param arg one argument string.
 * @param arch `x86_64` or `aarch64`.
 * @returns the spec.
 * @throws {BpfError} the form or register is not supported.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUsdtArg } from "./usdt_notes.ts";
 * assert(parseUsdtArg("-4@%eax", "x86_64").regOff === 80);
 * ```
 */
export function parseUsdtArg(arg: string, arch: "x86_64" | "aarch64"): UsdtArgSpec {
  const at = arg.indexOf("@");
  if (at <= 0) throw new BpfError(`Bad USDT argument '${arg}': no size@location`);
  const size = Number(arg.slice(0, at));
  const loc = arg.slice(at + 1);
  const abs = Math.abs(size);
  if (![1, 2, 4, 8].includes(abs)) throw new BpfError(`Bad USDT argument size in '${arg}'`);
  const base = { signed: size < 0, bitshift: 64 - abs * 8 };
  const reg = (name: string): number => {
    const off = arch === "x86_64" ? (X86_REGS[name] ?? -1) : aarch64Reg(name);
    if (off < 0) throw new BpfError(`Unsupported register '${name}' in USDT argument '${arg}'`);
    return off;
  };
  let m: RegExpExecArray | null;
  if (arch === "x86_64") {
    if ((m = /^\$(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(loc))) {
      return { ...base, argType: UsdtArgType.CONST, valOff: BigInt(m[1]), regOff: 0 };
    }
    if ((m = /^%(\w+)$/.exec(loc))) {
      return { ...base, argType: UsdtArgType.REG, valOff: 0n, regOff: reg(m[1]) };
    }
    if ((m = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%(\w+)\)$/.exec(loc))) {
      return {
        ...base,
        argType: UsdtArgType.REG_DEREF,
        valOff: BigInt(m[1] ?? 0),
        regOff: reg(m[2]),
      };
    }
  } else {
    if ((m = /^\[(\w+)(?:,\s*(-?\d+))?\]$/.exec(loc))) {
      return {
        ...base,
        argType: UsdtArgType.REG_DEREF,
        valOff: BigInt(m[2] ?? 0),
        regOff: reg(m[1]),
      };
    }
    if ((m = /^(-?\d+)$/.exec(loc))) {
      return { ...base, argType: UsdtArgType.CONST, valOff: BigInt(m[1]), regOff: 0 };
    }
    if ((m = /^(\w+)$/.exec(loc))) {
      return { ...base, argType: UsdtArgType.REG, valOff: 0n, regOff: reg(m[1]) };
    }
  }
  throw new BpfError(`Unsupported USDT argument form '${arg}' on ${arch}`);
}

/** Maximum arguments of a USDT spec (`BPF_USDT_MAX_ARG_CNT`). */
export const USDT_MAX_ARGS = 12;
/** Size of `struct __bpf_usdt_spec` in libbpf's usdt.bpf.h. */
export const USDT_SPEC_SIZE = 208;

/**
 * Encodes a `struct __bpf_usdt_spec` for the `__bpf_usdt_specs` map.
 *
 * @param args the argument string of a note.
 * @param arch the target's architecture.
 * @param cookie the user's cookie (`bpf_usdt_cookie()`).
 * @returns 208 bytes.
 * @throws {BpfError} an argument cannot be parsed, or there are more than 12.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeUsdtSpec } from "./usdt_notes.ts";
 * assert(encodeUsdtSpec("-4@%eax 8@-8(%rbp)", "x86_64").length === 208);
 * ```
 */
export function encodeUsdtSpec(
  args: string,
  arch: "x86_64" | "aarch64",
  cookie = 0n,
): Uint8Array {
  const parts = splitArgs(args);
  if (parts.length > USDT_MAX_ARGS) {
    throw new BpfError(`USDT probe has ${parts.length} arguments; at most ${USDT_MAX_ARGS} work`);
  }
  const out = new Uint8Array(USDT_SPEC_SIZE);
  const dv = new DataView(out.buffer);
  parts.forEach((p, i) => {
    const a = parseUsdtArg(p, arch);
    const o = i * 16;
    dv.setBigUint64(o, BigInt.asUintN(64, a.valOff), true);
    dv.setUint32(o + 8, a.argType, true);
    dv.setInt16(o + 12, a.regOff, true);
    dv.setUint8(o + 14, a.signed ? 1 : 0);
    dv.setInt8(o + 15, a.bitshift);
  });
  dv.setBigUint64(192, BigInt.asUintN(64, cookie), true);
  dv.setInt16(200, parts.length, true);
  return out;
}

function splitArgs(args: string): string[] {
  // aarch64 memory operands hold a space after the comma (`[sp, 12]`): keep brackets together.
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  for (const ch of args.trim()) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (ch === " " && depth === 0) {
      if (cur !== "") out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur !== "") out.push(cur);
  return out;
}
