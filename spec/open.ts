/**
 * `open()`: reads a clang-built BPF object into an {@linkcode ObjectSpec}, the way libbpf's
 * `bpf_object__open()` sees it, with no syscalls and nothing that depends on the running kernel.
 *
 * @module
 */
import { type BpfError, BtfError, ElfError, RelocationError } from "../errors.ts";
import { Btf } from "../btf/btf.ts";
import { BtfExt } from "../btf/ext.ts";
import { BtfKind, BtfLinkage, type BtfMember, type BtfType } from "../btf/types.ts";
import {
  type ElfFile,
  type ElfSection,
  type ElfSymbol,
  readElf,
  SHF,
  SHN,
  SHT,
  STB,
  STT,
} from "./elf.ts";
import { attachTarget, findSectionDef, MAP_TYPE_NAMES } from "./section_defs.ts";
import { kcfgType } from "./_kcfg.ts";
import type {
  DataSecSpec,
  ExternSpec,
  MapSpec,
  ObjectSpec,
  ProgramSpec,
  RelocSpec,
  VarSpec,
} from "./types.ts";

/** Options of {@linkcode open}. */
export interface OpenOptions {
  /**
   * The object's name, which prefixes the internal map names (`name.bss`). Default: derived from
   * the path as libbpf does (the file name up to its first `.`, at most 15 characters), or
   * `"bpf_object"` when `source` is bytes.
   */
  name?: string;
  /**
   * `source` already read with `readElf()` (the loader keeps it for load, so the file is parsed
   * once). Default: read `source` here.
   */
  elf?: ElfFile;
}

const BPF_OBJ_NAME_LEN = 16;
const STV_HIDDEN = 2;
// A .bss section has no bytes in the file, only a size. No kernel takes a map value past
// KMALLOC_MAX_SIZE (4 MiB on x86-64, 512 MiB at most), so a larger one is corrupt: refusing it
// here keeps open() from trying to allocate whatever size a broken header claims.
const MAX_BSS_SIZE = 1 << 30;
// All data sections together: two sections each under the cap above still made a 4 KiB object ask
// for 2 GiB of kernel memory.
const MAX_DATA_TOTAL = 1 << 30;
const STV_INTERNAL = 1;
const INSN_SZ = 8;
const BPF_JMP_CALL = 0x85;
const BPF_LD_IMM64 = 0x18;
const BPF_PSEUDO_CALL = 1;
const BPF_F_RDONLY_PROG = 0x80;
const BPF_F_MMAPABLE = 0x400;
const BPF_F_LINK = 0x2000;

/**
 * The object name libbpf derives from a path: the base name, cut to 15 characters, then cut at
 * its first `.`.
 *
 * @param path A file path.
 * @returns `"minimal"` for `/x/minimal.bpf.o`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { objectNameFromPath } from "./open.ts";
 * assert(objectNameFromPath("/tmp/minimal.bpf.o") === "minimal");
 * ```
 */
export function objectNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1).slice(0, BPF_OBJ_NAME_LEN - 1);
  const dot = base.indexOf(".");
  return dot >= 0 ? base.slice(0, dot) : base;
}

/**
 * The name libbpf gives the ARRAY map of a data section (`internal_map_name`): as much of the
 * object name as fits before a suffix of at least 7 characters, or the section name alone (cut to
 * 15 characters) for `.data.*`/`.rodata.*` style names; other characters than `[A-Za-z0-9_.]`
 * become `_`.
 *
 * @param objName The object's name.
 * @param section The data section's name.
 * @returns For `("my_object_name", ".rodata")`, `"my_objec.rodata"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { internalMapName } from "./open.ts";
 * assert(internalMapName("my_object_name", ".bss") === "my_objec.bss");
 * assert(internalMapName("x", ".rodata.abracadabra") === ".rodata.abracad");
 * ```
 */
export function internalMapName(objName: string, section: string): string {
  let sfx = Math.max(7, section.length);
  if (sfx >= BPF_OBJ_NAME_LEN) sfx = BPF_OBJ_NAME_LEN - 1;
  const pfx = section.indexOf(".", 1) >= 0
    ? 0
    : Math.min(BPF_OBJ_NAME_LEN - sfx - 1, objName.length);
  const name = (objName.slice(0, pfx) + section.slice(0, sfx)).slice(0, BPF_OBJ_NAME_LEN - 1);
  return name.replace(/[^A-Za-z0-9_.]/g, "_");
}

function dataSectionKind(s: ElfSection): "data" | "rodata" | "bss" | undefined {
  if (s.type === SHT.PROGBITS && s.size > 0 && (s.flags & SHF.EXECINSTR) === 0) {
    if (s.name === ".data" || s.name.startsWith(".data.")) return "data";
    if (s.name === ".rodata" || s.name.startsWith(".rodata.")) return "rodata";
  }
  if (
    s.type === SHT.NOBITS && s.size > 0 && (s.name === ".bss" || s.name.startsWith(".bss."))
  ) return "bss";
  return undefined;
}

function symName(elf: ElfFile, sym: ElfSymbol): string {
  if (sym.type === STT.SECTION && sym.name === "") return elf.sections[sym.shndx]?.name ?? "";
  return sym.name;
}

function isExtern(sym: ElfSymbol): boolean {
  return sym.shndx === SHN.UNDEF && (sym.bind === STB.GLOBAL || sym.bind === STB.WEAK) &&
    sym.type === STT.NOTYPE;
}

/**
 * Opens a BPF object: its programs and subprograms with their relocations, BTF-defined maps,
 * data sections, externs, license and version, and its BTF and .BTF.ext.
 *
 * @param source The object's bytes, or a path (read straight into the core).
 * @param opts See {@linkcode OpenOptions}.
 * @returns The object's spec. Its `btf` is parsed into the core on first use (open() itself keeps
 *   only a copy of the bytes in JavaScript), so a loop of open() calls that never reads `btf` holds
 *   no core memory, yielding or not. Once read, `btf` holds core memory until `using` ends (or
 *   `spec.btf?.close()`), or until the event loop runs the FinalizationRegistry.
 * @throws {ElfError} A malformed ELF file, a legacy `maps` section, a static entry program.
 * @throws {BtfError} Malformed BTF, or a map or struct_ops definition libbpf would refuse
 *   (message `Map 'name': ...`).
 * @throws {RelocationError} A relocation libbpf would refuse.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { open } from "./open.ts";
 * const spec = open("tests/bpf/build/globals.bpf.o");
 * assert(spec.programs.length > 0);
 * console.log(spec.programs.map((p) => `${p.name} ${p.section} ${p.type}`));
 * spec.btf?.close();
 * ```
 */
export function open(
  source: Uint8Array | string,
  opts: OpenOptions = {},
): ObjectSpec & Disposable {
  const spec = openWithBtf(source, opts);
  const parsed = spec.btf;
  if (parsed === undefined) return spec;
  // The core's copy goes now: a loop that drops specs without closing them (and never lets the
  // FinalizationRegistry run) would otherwise grow the core by one BTF per call.
  const raw = parsed.rawBytes();
  parsed.close();
  let btf: Btf | undefined;
  Object.defineProperty(spec, "btf", {
    get: () => (btf ??= Btf.parse(raw)),
    set: (b: Btf | undefined) => {
      btf = b;
    },
    enumerable: true,
    configurable: true,
  });
  spec[Symbol.dispose] = () => btf?.close();
  return spec;
}

/**
 * As {@linkcode open}, with the object's BTF parsed in the core and kept there (`spec.btf`), for
 * callers that use it at once and close it (the loader, through `BpfObject`).
 *
 * @param source The object's bytes, or a path.
 * @param opts See {@linkcode OpenOptions}.
 * @returns The spec; close `spec.btf` (or dispose the spec) when done.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openWithBtf } from "./open.ts";
 * using spec = openWithBtf("tests/bpf/build/globals.bpf.o");
 * assert(spec.btf !== undefined && spec.btf.typeCount > 1);
 * ```
 */
export function openWithBtf(
  source: Uint8Array | string,
  opts: OpenOptions = {},
): ObjectSpec & Disposable {
  const elf = opts.elf ?? readElf(source);
  const name = opts.name ??
    (typeof source === "string" ? objectNameFromPath(source) : "bpf_object");
  const secs = elf.sections;
  const bytes = elf.bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let license = "";
  let kernelVersion = 0;
  let textIdx = -1;
  let mapsIdx = -1;
  let btfSec: ElfSection | undefined;
  let btfExtSec: ElfSection | undefined;
  const progSecs: ElfSection[] = [];
  const stOpsSecs: ElfSection[] = [];
  const dataSecs: ElfSection[] = [];
  for (const s of secs) {
    if (s.index === 0) continue;
    if (s.name === "license") {
      const raw = bytes.subarray(s.offset, s.offset + s.size);
      const nul = raw.indexOf(0);
      license = new TextDecoder().decode(nul >= 0 ? raw.subarray(0, nul) : raw);
    } else if (s.name === "version") {
      if (s.size !== 4) {
        throw new ElfError(`Section 'version' has size ${s.size}, expected 4`, {
          offset: s.offset,
        });
      }
      kernelVersion = dv.getUint32(s.offset, true);
    } else if (s.name === "maps") {
      throw new ElfError(
        "Legacy 'maps' section is not supported (libbpf 1.x dropped it); declare maps with BTF in SEC(\".maps\")",
        { offset: s.offset },
      );
    } else if (s.name === ".maps") {
      mapsIdx = s.index;
    } else if (s.name === ".BTF") {
      btfSec = s;
    } else if (s.name === ".BTF.ext") {
      btfExtSec = s;
    } else if (
      s.type === SHT.PROGBITS && s.size > 0 &&
      /^\??\.struct_ops(\.link)?$/.test(s.name)
    ) {
      stOpsSecs.push(s);
    } else if (s.type === SHT.PROGBITS && s.size > 0 && (s.flags & SHF.EXECINSTR) !== 0) {
      if (s.name === ".text") textIdx = s.index;
      progSecs.push(s);
    } else if (dataSectionKind(s) !== undefined) {
      dataSecs.push(s);
    }
  }
  if (!elf.symbols.length) {
    throw new ElfError("Object has no symbol table; was it stripped?", { offset: -1 });
  }

  // ---- BTF -------------------------------------------------------------------------------
  let btf: Btf | undefined;
  let btfExt: BtfExt | undefined;
  if (btfSec) {
    btf = Btf.parse(bytes.subarray(btfSec.offset, btfSec.offset + btfSec.size));
    if (btfExtSec) {
      try {
        btfExt = BtfExt.parse(
          bytes.subarray(btfExtSec.offset, btfExtSec.offset + btfExtSec.size),
          btf,
        );
      } catch (e) {
        btf.close();
        throw e;
      }
    }
  }

  try {
    if (btf) checkDatasecSymbols(elf, btf);

    // ---- programs -------------------------------------------------------------------------
    const all: ProgramSpec[] = [];
    for (const s of progSecs) {
      let secName = s.name;
      let autoload = true;
      if (secName.startsWith("?")) {
        secName = secName.slice(1);
        autoload = false;
      }
      const def = s.index === textIdx ? undefined : findSectionDef(secName);
      const found: ProgramSpec[] = [];
      for (const sym of elf.symbols) {
        if (sym.shndx !== s.index || sym.type !== STT.FUNC) continue;
        if (sym.value + sym.size > s.size) {
          throw new ElfError(
            `Program '${sym.name}' crosses the end of section '${s.name}'`,
            { offset: s.offset + sym.value },
          );
        }
        if (sym.value % INSN_SZ !== 0 || sym.size % INSN_SZ !== 0) {
          throw new ElfError(
            `Program '${sym.name}' in section '${s.name}' is not aligned to 8-byte instructions`,
            { offset: s.offset + sym.value },
          );
        }
        if (s.index !== textIdx && sym.bind === STB.LOCAL) {
          throw new ElfError(
            `Program '${sym.name}' in section '${s.name}' is static, which libbpf does not support; drop 'static'`,
            { offset: s.offset + sym.value },
          );
        }
        const isSub = s.index === textIdx;
        found.push({
          name: sym.name,
          section: secName,
          def,
          type: def?.progType ?? "UNSPEC",
          expectedAttachType: def?.attachType ?? "",
          attachTo: def ? attachTarget(def, secName) : "",
          sleepable: def?.flags.includes("sleepable") ?? false,
          isSubprogram: isSub,
          insns: bytes.slice(s.offset + sym.value, s.offset + sym.value + sym.size),
          sectionInsnOffset: sym.value / INSN_SZ,
          relocations: [],
          license: "",
          kernelVersion: 0,
          autoload: isSub ? false : autoload,
          sectionIndex: s.index,
          global: sym.bind !== STB.LOCAL,
          hidden: sym.bind !== STB.LOCAL &&
            (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL),
        });
      }
      found.sort((a, b) => a.sectionInsnOffset - b.sectionInsnOffset);
      all.push(...found);
    }
    for (const p of all) {
      p.license = license;
      p.kernelVersion = kernelVersion;
    }

    // ---- maps -----------------------------------------------------------------------------
    const maps = mapsIdx >= 0 ? collectMaps(elf, mapsIdx, btf) : [];
    for (const s of stOpsSecs) maps.push(...collectStructOps(elf, s, btf, all));

    // ---- data sections --------------------------------------------------------------------
    const datasecs: DataSecSpec[] = [];
    for (const s of dataSecs) {
      if (dataSectionKind(s) === "bss" && s.size > MAX_BSS_SIZE) {
        throw new ElfError(
          `Section '${s.name}' claims ${s.size} bytes, more than any kernel takes as a map value; the object is corrupt`,
          { offset: -1 },
        );
      }
    }
    const total = dataSecs.reduce((n, s) => n + s.size, 0);
    if (total > MAX_DATA_TOTAL) {
      throw new ElfError(
        `The data sections (${
          dataSecs.map((s) => JSON.stringify(s.name)).join(", ")
        }) claim ${total} bytes together, more than the ${MAX_DATA_TOTAL} tsbpf takes for one object; the object is corrupt`,
        { offset: -1 },
      );
    }
    for (const s of dataSecs) {
      const kind = dataSectionKind(s)!;
      const vars = btf ? dataVars(elf, s, btf) : [];
      datasecs.push({
        name: s.name,
        mapName: internalMapName(name, s.name),
        size: s.size,
        image: kind === "bss" ? new Uint8Array(0) : bytes.slice(s.offset, s.offset + s.size),
        readonly: kind === "rodata",
        mapFlags: (kind === "rodata" ? BPF_F_RDONLY_PROG : 0) |
          (vars.some((v) => v.linkage !== "static") ? BPF_F_MMAPABLE : 0),
        btfId: btf ? Math.max(btf.findByName(s.name, BtfKind.Datasec), 0) : 0,
        vars,
      });
    }

    // ---- externs --------------------------------------------------------------------------
    const externs = collectExterns(elf, btf);
    const kcfg = externs.filter((e) => e.kind === "kconfig");
    if (kcfg.length > 0) {
      const last = kcfg[kcfg.length - 1];
      const size = last.offset + last.size;
      datasecs.push({
        name: ".kconfig",
        mapName: internalMapName(name, ".kconfig"),
        size,
        image: new Uint8Array(0),
        readonly: true,
        mapFlags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE,
        btfId: btf ? Math.max(btf.findByName(".kconfig", BtfKind.Datasec), 0) : 0,
        vars: kcfg.map((e) => ({
          name: e.name,
          offset: e.offset,
          size: e.size,
          btfVarId: e.btfId,
          btfTypeId: e.btfTypeId,
          linkage: "extern" as const,
        })),
      });
    }

    // ---- relocations ----------------------------------------------------------------------
    const dataIdx = new Map(dataSecs.map((s) => [s.index, s]));
    for (const rs of elf.relocations) {
      const tgt = secs[rs.target];
      if (!progSecs.includes(tgt)) continue;
      const relSec = secs[rs.section];
      rs.entries.forEach((r, j) => {
        const at = relSec.offset + j * 16;
        if (r.offset % INSN_SZ !== 0 || r.offset >= tgt.size) {
          throw new ElfError(`Invalid relocation offset in section '${relSec.name}'`, {
            offset: at,
          });
        }
        const secInsn = r.offset / INSN_SZ;
        const prog = all.find((p) =>
          p.sectionIndex === tgt.index && secInsn >= p.sectionInsnOffset &&
          secInsn < p.sectionInsnOffset + p.insns.length / INSN_SZ
        );
        if (!prog) return; // libbpf skips relocations outside any function (overridden weak code)
        const sym = elf.symbols[r.sym];
        const insn = secInsn - prog.sectionInsnOffset;
        prog.relocations.push(
          classify(elf, prog, insn, sym, { textIdx, mapsIdx, maps, dataIdx, externs }),
        );
      });
    }

    return {
      name,
      programs: all.filter((p) => !p.isSubprogram),
      subprograms: all.filter((p) => p.isSubprogram),
      maps,
      datasecs,
      externs,
      license,
      kernelVersion,
      btf,
      btfExt,
      // `using spec = open(...)` frees the BTF at the end of the block: a loop that never yields
      // otherwise keeps every spec's BTF in the core until the FinalizationRegistry runs.
      [Symbol.dispose]: () => btf?.close(),
    };
  } catch (e) {
    btf?.close();
    throw e;
  }
}

interface RelocContext {
  textIdx: number;
  mapsIdx: number;
  maps: MapSpec[];
  dataIdx: Map<number, ElfSection>;
  externs: ExternSpec[];
}

function classify(
  elf: ElfFile,
  prog: ProgramSpec,
  insn: number,
  sym: ElfSymbol,
  cx: RelocContext,
): RelocSpec {
  const b = prog.insns;
  const o = insn * INSN_SZ;
  const code = b[o];
  const srcReg = b[o + 1] >> 4;
  const imm = new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(o + 4, true);
  const name = symName(elf, sym);
  const where = { program: prog.name, section: prog.section, insn };
  const isCall = code === BPF_JMP_CALL;
  if (!isCall && code !== BPF_LD_IMM64) {
    throw new RelocationError(
      `Relocation against '${name}' is on instruction code 0x${
        code.toString(16)
      }, neither a call nor a ld_imm64`,
      where,
    );
  }
  if (code === BPF_LD_IMM64 && o + 16 > b.length) {
    throw new RelocationError(
      `The ld_imm64 against '${name}' is cut off at the program's end`,
      where,
    );
  }
  if (isExtern(sym)) {
    const ext = cx.externs.find((e) => e.name === sym.name);
    if (!ext) {
      throw new RelocationError(`Relocation names extern '${name}' that has no BTF`, where);
    }
    return { insn, kind: isCall ? "extern_call" : "extern_ld64", symbol: name, extern: ext.name };
  }
  if (isCall) {
    if (srcReg !== BPF_PSEUDO_CALL) {
      throw new RelocationError(`Relocated call to '${name}' is not a bpf-to-bpf call`, where);
    }
    if (sym.shndx === 0 || sym.shndx !== cx.textIdx) {
      throw new RelocationError(
        `Call to '${name}' in section '${
          elf.sections[sym.shndx]?.name ?? sym.shndx
        }'; subprograms must live in .text`,
        where,
      );
    }
    if (sym.value % INSN_SZ !== 0) {
      throw new RelocationError(`Call to '${name}' at a misaligned offset ${sym.value}`, where);
    }
    return {
      insn,
      kind: "call",
      symbol: name,
      targetSection: ".text",
      targetInsn: sym.value / INSN_SZ + imm + 1,
    };
  }
  if (sym.shndx === 0 || sym.shndx >= 0xff00) {
    throw new RelocationError(
      `Relocation against '${name}' in special section 0x${
        sym.shndx.toString(16)
      }; is a global variable uninitialized?`,
      where,
    );
  }
  const isSubprogSym = sym.shndx === cx.textIdx &&
    ((sym.bind === STB.LOCAL && sym.type === STT.SECTION) ||
      ((sym.bind === STB.GLOBAL || sym.bind === STB.WEAK) && sym.type === STT.FUNC));
  if (isSubprogSym) {
    if (sym.value % INSN_SZ !== 0 || imm % INSN_SZ !== 0) {
      throw new RelocationError(`Function address of '${name}' is misaligned`, where);
    }
    return {
      insn,
      kind: "func_addr",
      symbol: name,
      targetSection: ".text",
      targetInsn: (sym.value + imm) / INSN_SZ,
    };
  }
  if (sym.shndx === cx.mapsIdx) {
    const map = cx.maps.find((m) => m.sectionOffset === sym.value);
    if (!map) {
      throw new RelocationError(`No map at offset ${sym.value} of .maps for '${name}'`, where);
    }
    return { insn, kind: "map", symbol: name, map: map.name };
  }
  const data = cx.dataIdx.get(sym.shndx);
  if (!data) {
    throw new RelocationError(
      `Relocation against '${name}' in section '${
        elf.sections[sym.shndx]?.name ?? sym.shndx
      }', which is neither .maps nor a data section`,
      where,
    );
  }
  return { insn, kind: "data", symbol: name, section: data.name, offset: imm + sym.value };
}

// ---- maps ---------------------------------------------------------------------------------

function requireBtf(btf: Btf | undefined, what: string): Btf {
  if (!btf) {
    throw new ElfError(`${what} needs BTF, but the object has no .BTF section; build with -g`);
  }
  return btf;
}

function mapError(map: string, msg: string): BpfError {
  return new BtfError(`Map '${map}': ${msg}`);
}

function findGlobalObject(elf: ElfFile, name: string, shndx: number): ElfSymbol | undefined {
  return elf.symbols.find((s) => s.type === STT.OBJECT && s.name === name && s.shndx === shndx);
}

function collectMaps(elf: ElfFile, mapsIdx: number, maybeBtf: Btf | undefined): MapSpec[] {
  const btf = requireBtf(maybeBtf, "Section .maps");
  const secId = btf.findByName(".maps", BtfKind.Datasec);
  if (secId < 0) throw new ElfError("Section .maps has no DATASEC '.maps' in BTF");
  const sec = btf.type(secId);
  if (sec.kind !== BtfKind.Datasec) throw new ElfError("BTF '.maps' is not a DATASEC");
  const mapsSec = elf.sections[mapsIdx];
  const out: (MapSpec & { varSize: number })[] = [];
  for (const vi of sec.vars) {
    const v = btf.type(vi.type);
    if (v.kind !== BtfKind.Var) throw new ElfError(`.maps entry [${vi.type}] is not a VAR`);
    if (v.name === "") throw new ElfError(".maps has a map without a name");
    if (v.linkage !== BtfLinkage.Global) {
      throw mapError(v.name, "unsupported map linkage (only global maps are supported)");
    }
    const sym = findGlobalObject(elf, v.name, mapsIdx);
    const offset = sec.size === 0 && sym ? sym.value : vi.offset;
    if (offset + vi.size > mapsSec.size) throw mapError(v.name, "BTF offset/size out of .maps");
    const defId = btf.skipModsAndTypedefs(v.type);
    const def = btf.type(defId);
    if (def.kind !== BtfKind.Struct) throw mapError(v.name, "definition is not a struct");
    if (def.size > vi.size) throw mapError(v.name, "definition is larger than its variable");
    const spec = parseMapDef(btf, v.name, def, false);
    spec.sectionOffset = offset;
    spec.btfVarId = vi.type;
    out.push({ ...spec, varSize: vi.size });
  }
  out.sort((a, b) => a.sectionOffset - b.sectionOffset);
  const maps: MapSpec[] = out.map(({ varSize: _, ...m }) => m);

  // `values` initializers from .rel.maps.
  const rel = elf.relocations.find((r) => r.target === mapsIdx);
  if (rel) {
    for (const r of rel.entries) {
      const sym = elf.symbols[r.sym];
      const idx = out.findIndex((m) =>
        m.sectionOffset <= r.offset && r.offset + 8 <= m.sectionOffset + m.varSize
      );
      if (idx < 0) {
        throw new ElfError(`.rel.maps entry at offset ${r.offset} is in no map`);
      }
      const map = maps[idx];
      const isMapInMap = map.type === "ARRAY_OF_MAPS" || map.type === "HASH_OF_MAPS";
      let target: string;
      if (isMapInMap) {
        if (sym.shndx !== mapsIdx) {
          throw mapError(map.name, `inner map '${sym.name}' is not in .maps`);
        }
        if (map.type === "HASH_OF_MAPS" && map.keySize !== 4) {
          throw mapError(map.name, "hash-of-maps with initial values needs a 4-byte key");
        }
        if (!maps.some((m) => m.name === sym.name)) {
          throw mapError(map.name, `inner map '${sym.name}' not found`);
        }
        target = sym.name;
      } else if (map.type === "PROG_ARRAY") {
        const s = elf.sections[sym.shndx];
        if (
          sym.type !== STT.FUNC || !s || (s.flags & SHF.EXECINSTR) === 0 || s.name === ".text"
        ) {
          throw mapError(map.name, `'${sym.name}' is not an entry program`);
        }
        target = sym.name;
      } else {
        throw mapError(map.name, "only prog arrays and map-in-maps take initial values");
      }
      const def = btf.type(btf.skipModsAndTypedefs(btf.refType(out[idx].btfVarId)));
      if (def.kind !== BtfKind.Struct || def.members.length === 0) {
        throw mapError(map.name, "definition has no members");
      }
      const last = def.members[def.members.length - 1];
      if (last.name !== "values") {
        throw mapError(map.name, "initial values need a last 'values' member");
      }
      const moff = r.offset - map.sectionOffset - last.bitOffset / 8;
      if (moff < 0 || moff % 8 !== 0) throw mapError(map.name, "misaligned initial value");
      map.initValues.push({ index: moff / 8, name: target });
    }
  }
  return maps;
}

function fieldInt(btf: Btf, map: string, field: string, typeId: number): number {
  const t = btf.type(btf.skipModsAndTypedefs(typeId));
  if (t.kind !== BtfKind.Ptr) throw mapError(map, `attribute '${field}' is not a pointer`);
  const a = btf.type(t.type);
  if (a.kind !== BtfKind.Array) throw mapError(map, `attribute '${field}' is not an array pointer`);
  return a.nelems;
}

function fieldLong(btf: Btf, map: string, field: string, typeId: number): bigint {
  const t = btf.type(btf.skipModsAndTypedefs(typeId));
  if (t.kind === BtfKind.Ptr) return BigInt(fieldInt(btf, map, field, typeId));
  if ((t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && t.values.length === 1) {
    return BigInt.asUintN(64, t.values[0].value);
  }
  throw mapError(map, `attribute '${field}' is neither an array pointer nor a one-value enum`);
}

function parseMapDef(
  btf: Btf,
  name: string,
  def: { members: BtfMember[] },
  isInner: boolean,
): MapSpec {
  const m: MapSpec = {
    name,
    type: "UNSPEC",
    typeId: 0,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    numaNode: 0,
    mapExtra: 0n,
    pinning: 0,
    btfKeyTypeId: 0,
    btfValueTypeId: 0,
    inner: undefined,
    initValues: [],
    section: ".maps",
    sectionOffset: 0,
    btfVarId: 0,
  };
  const setSize = (which: "keySize" | "valueSize", sz: number) => {
    if (m[which] !== 0 && m[which] !== sz) {
      throw mapError(
        name,
        `conflicting ${which === "keySize" ? "key" : "value"} size ${m[which]} != ${sz}`,
      );
    }
    m[which] = sz;
  };
  def.members.forEach((mem, i) => {
    switch (mem.name) {
      case "type":
        m.typeId = fieldInt(btf, name, mem.name, mem.type);
        m.type = MAP_TYPE_NAMES[m.typeId] ?? String(m.typeId);
        break;
      case "max_entries":
        m.maxEntries = fieldInt(btf, name, mem.name, mem.type);
        break;
      case "map_flags":
        m.flags = fieldInt(btf, name, mem.name, mem.type);
        break;
      case "numa_node":
        m.numaNode = fieldInt(btf, name, mem.name, mem.type);
        break;
      case "key_size":
        setSize("keySize", fieldInt(btf, name, mem.name, mem.type));
        break;
      case "value_size":
        setSize("valueSize", fieldInt(btf, name, mem.name, mem.type));
        break;
      case "key":
      case "value": {
        const t = btf.type(mem.type);
        if (t.kind !== BtfKind.Ptr) throw mapError(name, `${mem.name} spec is not a pointer`);
        setSize(mem.name === "key" ? "keySize" : "valueSize", btf.resolveSize(t.type));
        if (mem.name === "key") m.btfKeyTypeId = t.type;
        else m.btfValueTypeId = t.type;
        break;
      }
      case "values": {
        const mim = m.type === "ARRAY_OF_MAPS" || m.type === "HASH_OF_MAPS";
        if (isInner) throw mapError(name, "multi-level inner maps are not supported");
        if (i !== def.members.length - 1) throw mapError(name, "'values' must be the last member");
        if (!mim && m.type !== "PROG_ARRAY") {
          throw mapError(name, "'values' is only for map-in-maps and prog arrays");
        }
        if (m.valueSize !== 0 && m.valueSize !== 4) {
          throw mapError(name, `conflicting value size ${m.valueSize} != 4`);
        }
        m.valueSize = 4;
        const arr = btf.type(mem.type);
        if (arr.kind !== BtfKind.Array || arr.nelems !== 0) {
          throw mapError(name, "'values' must be a zero-sized array");
        }
        const ptr = btf.type(btf.skipModsAndTypedefs(arr.type));
        if (ptr.kind !== BtfKind.Ptr) throw mapError(name, "'values' must be an array of pointers");
        const target = btf.type(btf.skipModsAndTypedefs(ptr.type));
        if (m.type === "PROG_ARRAY") {
          if (target.kind !== BtfKind.FuncProto) {
            throw mapError(name, "prog array 'values' must point at functions");
          }
          break;
        }
        if (target.kind !== BtfKind.Struct) {
          throw mapError(name, "inner map definition is not a struct");
        }
        m.inner = parseMapDef(btf, `${name}.inner`, target, true);
        break;
      }
      case "pinning": {
        if (isInner) throw mapError(name, "inner maps cannot be pinned");
        const v = fieldInt(btf, name, mem.name, mem.type);
        if (v !== 0 && v !== 1) throw mapError(name, `invalid pinning value ${v}`);
        m.pinning = v;
        break;
      }
      case "map_extra":
        m.mapExtra = fieldLong(btf, name, mem.name, mem.type);
        break;
      default:
        throw mapError(name, `unknown attribute '${mem.name}'`);
    }
  });
  if (m.typeId === 0) throw mapError(name, "map type is not specified");
  return m;
}

// ---- struct_ops ---------------------------------------------------------------------------

function collectStructOps(
  elf: ElfFile,
  s: ElfSection,
  maybeBtf: Btf | undefined,
  progs: ProgramSpec[],
): MapSpec[] {
  const btf = requireBtf(maybeBtf, `Section ${s.name}`);
  const secId = btf.findByName(s.name, BtfKind.Datasec);
  if (secId < 0) throw new ElfError(`Section ${s.name} has no DATASEC in BTF`);
  const sec = btf.type(secId);
  if (sec.kind !== BtfKind.Datasec) throw new ElfError(`BTF '${s.name}' is not a DATASEC`);
  const bytes = elf.bytes;
  const maps: MapSpec[] = [];
  const isLink = s.name.endsWith(".link");
  for (const vi of sec.vars) {
    const v = btf.type(vi.type);
    if (v.kind !== BtfKind.Var) throw new ElfError(`${s.name} entry [${vi.type}] is not a VAR`);
    const typeId = btf.skipModsAndTypedefs(v.type);
    const t = btf.type(typeId);
    if (t.name === "") throw mapError(v.name, "anonymous struct_ops types are not supported");
    if (t.kind !== BtfKind.Struct) {
      throw mapError(v.name, `struct_ops type ${t.name} is not a struct`);
    }
    const sym = findGlobalObject(elf, v.name, s.index);
    const offset = sec.size === 0 && sym ? sym.value : vi.offset;
    if (offset + t.size > s.size) {
      throw mapError(v.name, `struct_ops variable is beyond the end of ${s.name}`);
    }
    maps.push({
      name: v.name,
      type: "STRUCT_OPS",
      typeId: 26,
      keySize: 4,
      valueSize: t.size,
      maxEntries: 1,
      flags: isLink ? BPF_F_LINK : 0,
      numaNode: 0,
      mapExtra: 0n,
      pinning: 0,
      btfKeyTypeId: 0,
      btfValueTypeId: typeId,
      inner: undefined,
      initValues: [],
      section: s.name,
      sectionOffset: offset,
      btfVarId: vi.type,
      autocreate: !s.name.startsWith("?"),
      structOps: {
        typeName: t.name,
        btfTypeId: typeId,
        data: bytes.slice(s.offset + offset, s.offset + offset + t.size),
        progs: [],
      },
    });
  }
  const rel = elf.relocations.find((r) => r.target === s.index);
  for (const r of rel?.entries ?? []) {
    const sym = elf.symbols[r.sym];
    const map = maps.find((m) =>
      m.sectionOffset <= r.offset && r.offset < m.sectionOffset + m.valueSize
    );
    if (!map) {
      throw new ElfError(`${s.name} relocation at offset ${r.offset} is in no struct_ops map`);
    }
    const moff = r.offset - map.sectionOffset;
    if (sym.shndx === 0 || sym.shndx >= 0xff00) {
      throw mapError(
        map.name,
        `struct_ops member at offset ${moff} names a function that is not defined here`,
      );
    }
    if (sym.value % INSN_SZ !== 0) {
      throw mapError(map.name, `misaligned program offset ${sym.value}`);
    }
    const t = btf.type(map.structOps!.btfTypeId);
    if (t.kind !== BtfKind.Struct) continue;
    const memberIndex = t.members.findIndex((m) => m.bitOffset === moff * 8);
    if (memberIndex < 0) throw mapError(map.name, `no member at offset ${moff}`);
    const member = t.members[memberIndex];
    const ptr = btf.type(btf.skipModsAndTypedefs(member.type));
    const isFuncPtr = ptr.kind === BtfKind.Ptr &&
      btf.kind(btf.skipModsAndTypedefs(ptr.type)) === BtfKind.FuncProto;
    if (!isFuncPtr) throw mapError(map.name, `member '${member.name}' is not a function pointer`);
    const insn = sym.value / INSN_SZ;
    const prog = progs.find((p) => p.sectionIndex === sym.shndx && p.sectionInsnOffset === insn);
    if (!prog) throw mapError(map.name, `no program for member '${member.name}'`);
    if (prog.type !== "STRUCT_OPS") {
      throw mapError(
        map.name,
        `program '${prog.name}' for '${member.name}' is not a struct_ops program`,
      );
    }
    map.structOps!.progs.push({ member: member.name, memberIndex, program: prog.name });
  }
  return maps;
}

// ---- data sections and externs ------------------------------------------------------------

function linkageName(l: number): "static" | "global" | "extern" {
  return l === BtfLinkage.Static ? "static" : l === BtfLinkage.Extern ? "extern" : "global";
}

// libbpf fixes up every DATASEC of the object's BTF when it opens it, and refuses the object when
// that cannot be done: a DATASEC of size 0 (as clang leaves them) must name an ELF section with
// data, and each of its global VARs must have a global or weak STT_OBJECT symbol of its name.
// Extern-backed DATASECs (.kconfig, .ksyms) are laid out from the externs instead.
function checkDatasecSymbols(elf: ElfFile, btf: Btf): void {
  let globals: Set<string> | undefined;
  for (let id = btf.startId; id < btf.typeCount; id++) {
    if (btf.kind(id) !== BtfKind.Datasec) continue;
    const name = btf.name(id);
    if (name === ".kconfig" || name === ".ksyms") continue;
    if (btf.size(id) === 0 && !(elf.sections.find((s) => s.name === name)?.size)) {
      throw new BtfError(
        `BTF DATASEC '${name}' has size 0 and no ELF section of that name gives it one; rebuild the object (libbpf refuses it too)`,
        { typeId: id },
      );
    }
    const sec = btf.type(id);
    if (sec.kind !== BtfKind.Datasec) continue;
    for (const vi of sec.vars) {
      const v = btf.type(vi.type);
      if (v.kind !== BtfKind.Var) {
        throw new BtfError(`DATASEC '${name}' entry [${vi.type}] is not a VAR`, { typeId: id });
      }
      if (v.linkage === BtfLinkage.Static || v.linkage === BtfLinkage.Extern) continue;
      globals ??= new Set(
        elf.symbols.filter((y) =>
          y.type === STT.OBJECT && (y.bind === STB.GLOBAL || y.bind === STB.WEAK)
        ).map((y) => y.name),
      );
      if (!globals.has(v.name)) {
        throw new BtfError(
          `BTF VAR '${v.name}' of DATASEC '${name}' has no global ELF symbol; rebuild the object (libbpf refuses it too)`,
          { typeId: vi.type },
        );
      }
    }
  }
}

function dataVars(elf: ElfFile, s: ElfSection, btf: Btf): VarSpec[] {
  const id = btf.findByName(s.name, BtfKind.Datasec);
  if (id < 0) return [];
  const sec = btf.type(id);
  if (sec.kind !== BtfKind.Datasec) return [];
  const vars: VarSpec[] = [];
  for (const vi of sec.vars) {
    const v = btf.type(vi.type);
    if (v.kind !== BtfKind.Var) {
      throw new ElfError(`DATASEC '${s.name}' entry [${vi.type}] is not a VAR`);
    }
    let offset = vi.offset;
    let linkage = linkageName(v.linkage);
    const sym = elf.symbols.find((y) =>
      y.type === STT.OBJECT && y.name === v.name && y.shndx === s.index &&
      (linkage === "static" ? y.bind === STB.LOCAL : y.bind !== STB.LOCAL)
    );
    if (sec.size === 0 && sym) offset = sym.value;
    if (
      linkage === "global" && sym &&
      (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL)
    ) linkage = "static";
    vars.push({
      name: v.name,
      offset,
      size: vi.size,
      btfVarId: vi.type,
      btfTypeId: v.type,
      linkage,
    });
  }
  return vars.sort((a, b) => a.offset - b.offset);
}

function collectExterns(elf: ElfFile, btf: Btf | undefined): ExternSpec[] {
  const out: (ExternSpec & { align: number })[] = [];
  for (const sym of elf.symbols) {
    if (!isExtern(sym) || sym.name === "") continue;
    const b = requireBtf(btf, `Extern '${sym.name}'`);
    let id = -1;
    for (const c of b.findAllByName(sym.name)) {
      const k = b.kind(c);
      if (k !== BtfKind.Var && k !== BtfKind.Func) continue;
      const t = b.type(c);
      if ((t.kind === BtfKind.Var || t.kind === BtfKind.Func) && t.linkage === BtfLinkage.Extern) {
        id = c;
        break;
      }
    }
    if (id < 0) throw new ElfError(`Extern '${sym.name}' has no BTF VAR or FUNC`);
    let secName = "";
    for (
      const secId of b.findAllByName(".kconfig", BtfKind.Datasec).concat(
        b.findAllByName(".ksyms", BtfKind.Datasec),
      )
    ) {
      const sec = b.type(secId);
      if (sec.kind === BtfKind.Datasec && sec.vars.some((v) => v.type === id)) secName = sec.name;
    }
    if (secName === "") {
      throw new ElfError(`Extern '${sym.name}' is in no .kconfig or .ksyms DATASEC`);
    }
    const t = b.type(id) as BtfType & { type: number };
    const weak = sym.bind === STB.WEAK;
    if (secName === ".kconfig") {
      if (t.kind === BtfKind.Func) {
        throw new ElfError(`Extern function '${sym.name}' is not supported in .kconfig`);
      }
      if (kcfgType(b, t.type).type === "unknown") {
        throw new BtfError(
          `Kconfig extern '${sym.name}' has a type libbpf does not support; use bool, char, a 1/2/4/8-byte int, enum libbpf_tristate or a char array`,
          { typeId: id },
        );
      }
      out.push({
        name: sym.name,
        kind: "kconfig",
        weak,
        btfId: id,
        btfTypeId: t.type,
        offset: 0,
        size: b.resolveSize(t.type),
        align: b.alignOf(t.type),
      });
    } else {
      const isFunc = t.kind === BtfKind.Func;
      out.push({
        name: sym.name,
        kind: isFunc ? "kfunc" : "ksym",
        weak,
        btfId: id,
        btfTypeId: isFunc ? t.type : b.skipModsAndTypedefs(t.type),
        offset: -1,
        size: 0,
        align: 0,
      });
    }
  }
  // libbpf's order: kconfig first (alignment descending, size ascending), then by name.
  out.sort((a, b) => {
    const ka = a.kind === "kconfig" ? 0 : 1;
    const kb = b.kind === "kconfig" ? 0 : 1;
    if (ka !== kb) return ka - kb;
    if (ka === 0) {
      if (a.align !== b.align) return b.align - a.align;
      if (a.size !== b.size) return a.size - b.size;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  let off = 0;
  for (const e of out) {
    if (e.kind !== "kconfig") continue;
    e.offset = Math.ceil(off / e.align) * e.align;
    off = e.offset + e.size;
  }
  return out.map(({ align: _, ...e }) => e);
}
