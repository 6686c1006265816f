/**
 * The pure description of a BPF object: `open()` reads a clang-built object into an
 * `ObjectSpec` (programs, relocations, maps, data sections, externs, BTF) with no syscalls; the
 * section-definition table maps section names to program and attach types as libbpf does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { open } from "./mod.ts";
 * const spec = open("tests/bpf/build/net.bpf.o");
 * for (const p of spec.programs) console.log(p.name, p.section, p.type);
 * assert(spec.programs.some((p) => p.name === "xdp_pass" && p.type === "XDP"));
 * spec.btf?.close();
 * ```
 *
 * @module
 */
export * from "./types.ts";
export { internalMapName, objectNameFromPath, open, type OpenOptions } from "./open.ts";
export {
  ATTACH_TYPE_NAMES,
  attachTarget,
  attachTypeStr,
  findSectionDef,
  MAP_TYPE_NAMES,
  mapTypeStr,
  PROG_TYPE_NAMES,
  progTypeStr,
  SECTION_DEFS,
  sectionMatches,
} from "./section_defs.ts";
export {
  type ElfFile,
  type ElfRel,
  type ElfRelSection,
  type ElfSection,
  type ElfSymbol,
  R_BPF,
  readElf,
  sectionData,
  SHF,
  SHN,
  SHT,
  STB,
  STT,
} from "./elf.ts";
