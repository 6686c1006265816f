/**
 * Pure helpers over a target binary's ELF (the thing a uprobe or USDT probe is placed in): finding
 * a function's file offset through .symtab and .dynsym and the program headers, and libbpf's
 * search path for bare library names. The ELF itself is read by the core (`readElf` with
 * `native: true`).
 *
 * @module
 */
import { host } from "../_host.ts";
import { BpfError } from "../errors.ts";
import { type ElfFile, type ElfSymbol, readElf } from "../spec/elf.ts";

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const PT_LOAD = 1;

/**
 * Converts a virtual address of an executable or shared library into the file offset the kernel's
 * uprobes take, through the PT_LOAD segment that contains it.
 *
 * @param elf the target, read with `native: true`.
 * @param addr the address (a symbol's value, a USDT note's pc).
 * @returns the file offset.
 * @throws {BpfError} no loadable segment contains the address.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addrToFileOffset, findFunctionSymbol } from "./elf_target.ts";
 * import { readElf } from "../spec/elf.ts";
 * const elf = readElf("tests/bin/build/uprobe_target", { native: true });
 * const off = addrToFileOffset(elf, findFunctionSymbol(elf, "tsbpf_add").value);
 * assert(off > 0);
 * ```
 */
export function addrToFileOffset(elf: ElfFile, addr: number): number {
  for (const s of elf.segments ?? []) {
    if (s.type !== PT_LOAD) continue;
    if (addr >= s.vaddr && addr < s.vaddr + Math.max(s.memsz, s.filesz)) {
      return addr - s.vaddr + s.offset;
    }
  }
  throw new BpfError(`No loadable segment of the target contains address 0x${addr.toString(16)}`);
}

function baseName(sym: string): string {
  const at = sym.indexOf("@");
  return at < 0 ? sym : sym.slice(0, at);
}

/**
 * Finds a function symbol by name in .symtab and .dynsym (a versioned name such as
 * `malloc@@GLIBC_2.2.5` matches `malloc`), preferring a global definition over a weak one.
 *
 * @param elf the target, read with `native: true`.
 * @param name the function.
 * @returns the symbol.
 * @throws {BpfError} no such function, or two different global definitions.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findFunctionSymbol } from "./elf_target.ts";
 * import { readElf } from "../spec/elf.ts";
 * const sym = findFunctionSymbol(readElf("tests/bin/build/uprobe_target", { native: true }), "tsbpf_add");
 * assert(sym.name === "tsbpf_add" && sym.value > 0);
 * ```
 */
export function findFunctionSymbol(elf: ElfFile, name: string): ElfSymbol {
  let best: ElfSymbol | undefined;
  for (const table of [elf.symbols, elf.dynsyms ?? []]) {
    for (const s of table) {
      if (s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC) continue;
      if (s.shndx === 0 || s.value === 0) continue;
      if (s.name !== name && baseName(s.name) !== name) continue;
      if (best === undefined) {
        best = s;
        continue;
      }
      if (best.value === s.value) continue;
      if (best.bind === STB_WEAK && s.bind === STB_GLOBAL) {
        best = s;
      } else if (best.bind === STB_GLOBAL && s.bind === STB_GLOBAL) {
        throw new BpfError(
          `Function ${name} is defined twice (at 0x${best.value.toString(16)} and 0x${
            s.value.toString(16)
          }); attach by offset instead`,
        );
      }
    }
  }
  if (best === undefined) throw new BpfError(`No function ${name} in the target binary`);
  return best;
}

/**
 * The file offset of `func` (plus `offset`) in an ELF file.
 *
 * @param path the binary or library.
 * @param func the function name.
 * @param offset bytes into the function.
 * @returns the offset for the uprobe.
 * @throws {BpfError} the function is missing.
 * @throws {ElfError} the file is not a readable x86-64/aarch64 ELF.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { functionFileOffset, resolveBinaryPath } from "./elf_target.ts";
 * assert(functionFileOffset(resolveBinaryPath("libc.so.6"), "malloc") > 0);
 * ```
 */
export function functionFileOffset(path: string, func: string, offset = 0): number {
  const elf = readElf(path, { native: true });
  let sym: ElfSymbol;
  try {
    sym = findFunctionSymbol(elf, func);
  } catch (e) {
    throw new BpfError(`${(e as Error).message.replace("the target binary", path)}`, { cause: e });
  }
  return addrToFileOffset(elf, sym.value) + offset;
}

const LIB_DIRS = [
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
];

function readable(p: string): boolean {
  return host().readable(p);
}

/**
 * Resolves a uprobe target path the way libbpf does: a path with a `/` is used as is; a bare
 * library name (`libc.so.6`) is searched in LD_LIBRARY_PATH and the standard library directories;
 * another bare name is searched in PATH.
 *
 * @param name the binary or library.
 * @returns an absolute (or as given) path that exists.
 * @throws {BpfError} nothing found.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveBinaryPath } from "./elf_target.ts";
 * assert.match(resolveBinaryPath("libc.so.6"), /^\/.*\/libc\.so\.6$/); // /lib/x86_64-linux-gnu/libc.so.6
 * ```
 */
export function resolveBinaryPath(name: string): string {
  if (name.includes("/")) {
    try {
      host().open(name).close();
    } catch (e) {
      throw new BpfError(
        `The uprobe target ${name} does not exist or is not readable: ${(e as Error).message}`,
        { cause: e },
      );
    }
    return name;
  }
  const dirs = name.includes(".so")
    ? [...(host().env("LD_LIBRARY_PATH") ?? "").split(":").filter((d) => d !== ""), ...LIB_DIRS]
    : (host().env("PATH") ?? "/usr/bin:/bin").split(":").filter((d) => d !== "");
  for (const d of dirs) {
    const p = `${d}/${name}`;
    if (readable(p)) return p;
  }
  throw new BpfError(
    `Cannot find ${name} in ${
      name.includes(".so") ? "LD_LIBRARY_PATH or the library directories" : "PATH"
    }; give its full path`,
  );
}

/**
 * Parses a uprobe section target, `binary:function[+offset]` or `binary:0xOFFSET`.
 *
 * @param target what follows `uprobe/`.
 * @returns the binary, and the function (or "") with the offset.
 * @throws {BpfError} the target has no `:`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUprobeTarget } from "./elf_target.ts";
 * assert(parseUprobeTarget("libc.so.6:malloc+4").offset === 4);
 * ```
 */
export function parseUprobeTarget(
  target: string,
): { binary: string; func: string; offset: number } {
  const i = target.lastIndexOf(":");
  if (i <= 0) {
    throw new BpfError(
      `Uprobe section target '${target}' is not 'binary:function[+offset]' (SEC("uprobe/libc.so.6:malloc"))`,
    );
  }
  const binary = target.slice(0, i);
  const rest = target.slice(i + 1);
  const m = /^([^+]*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(rest);
  if (!m) throw new BpfError(`Bad uprobe function '${rest}' in section target '${target}'`);
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(m[1]) && m[2] === undefined) {
    return { binary, func: "", offset: Number(m[1]) };
  }
  return { binary, func: m[1], offset: m[2] === undefined ? 0 : Number(m[2]) };
}
