/**
 * The pure description of a BPF object: what `open()` returns. Nothing here depends on the running
 * kernel; reading the same file anywhere gives the same spec. The live counterparts (`BpfObject`,
 * `BpfMap`, `BpfProgram`, `BpfLink`) are made from these at load time.
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import type { BtfExt } from "../btf/ext.ts";

/** How a program's section says it attaches; one row of the section-definition table. */
export interface SectionDef {
  /** The pattern as libbpf writes it: `"kprobe+"`, `"xdp"`, `"cgroup/connect4"`, `"tp_btf+"`. */
  pattern: string;
  /** The program type name, as in enum bpf_prog_type without the prefix: `"KPROBE"`, `"XDP"`. */
  progType: string;
  /** The expected attach type name, as in enum bpf_attach_type without the prefix, or `""`. */
  attachType: string;
  /** Flags: `sleepable`, `attachBtf` (needs attach_btf_id), `autoAttach`, `multi`, `uprobe`... */
  flags: readonly string[];
  /** The attach kind that auto-attach uses (`"kprobe"`, `"uprobe"`, `"tracepoint"`...), or `""`. */
  attach: string;
}

/** The kinds of instruction relocation an object's REL sections carry. */
export type RelocKind =
  /** A `ld_imm64` of a map from `.maps`: becomes BPF_PSEUDO_MAP_FD. */
  | "map"
  /** A `ld_imm64` of a global variable: BPF_PSEUDO_MAP_VALUE with an offset into a data map. */
  | "data"
  /** A bpf-to-bpf call (`call` with src_reg BPF_PSEUDO_CALL). */
  | "call"
  /** A `ld_imm64` of a function's address (BPF_PSEUDO_FUNC), for callbacks. */
  | "func_addr"
  /** A `ld_imm64` of an extern: a kconfig value or a ksym address. */
  | "extern_ld64"
  /** A `call` of an extern function: a kfunc. */
  | "extern_call";

/** One relocation of one instruction of one program. */
export interface RelocSpec {
  /** The instruction index within the program's own instructions. */
  insn: number;
  /** What the relocation is. */
  kind: RelocKind;
  /** The symbol the relocation names ("" for an unnamed section symbol). */
  symbol: string;
  /** For "map": the map's name. */
  map?: string;
  /** For "data": the data section's name, and the byte offset into it. */
  section?: string;
  /** For "data": the byte offset into the section the instruction must point at. */
  offset?: number;
  /** For "call" and "func_addr": the target function's ELF section and instruction index in it. */
  targetSection?: string;
  /** For "call" and "func_addr": instruction index of the target within its section. */
  targetInsn?: number;
  /** For "extern_*": the extern's name. */
  extern?: string;
}

/** A function of an executable section: an entry program or a subprogram. */
export interface ProgramSpec {
  /** The C function name. */
  name: string;
  /** The ELF section name, such as `"tp/syscalls/sys_enter_write"` or `".text"`. */
  section: string;
  /** The matched section definition, or undefined for subprograms and unknown sections. */
  def: SectionDef | undefined;
  /** The program type name (`"TRACEPOINT"`); `"UNSPEC"` when the section is unknown. */
  type: string;
  /** The expected attach type name, or `""`. */
  expectedAttachType: string;
  /** What the section names as the attach target (`"syscalls/sys_enter_write"`), or `""`. */
  attachTo: string;
  /** True for sleepable sections (`.s` suffixes). */
  sleepable: boolean;
  /** True for functions of `.text` (and other functions that are only called). */
  isSubprogram: boolean;
  /** The function's own instructions, 8 bytes each, as in the ELF file. */
  insns: Uint8Array;
  /** Index of the function's first instruction within its section. */
  sectionInsnOffset: number;
  /** The relocations of the function's own instructions. */
  relocations: RelocSpec[];
  /** The object's license, repeated here for the loader. */
  license: string;
  /** The object's kernel version (`version` section), 0 when absent. */
  kernelVersion: number;
  /** Whether `load()` loads it unless told otherwise (libbpf's autoload; false for `SEC("?...")`). */
  autoload: boolean;
  /** The index of the function's ELF section. */
  sectionIndex: number;
  /** True for a global (or weak) symbol, false for a static function. */
  global: boolean;
  /** True for a global function with hidden or internal visibility (libbpf marks it static in BTF). */
  hidden: boolean;
}

/** A BTF-defined map from `.maps`. */
export interface MapSpec {
  /** The map's name (the variable's name). */
  name: string;
  /** The map type name, as in enum bpf_map_type without the prefix: `"HASH"`, `"RINGBUF"`. */
  type: string;
  /** The map type number. */
  typeId: number;
  /** Key size in bytes (0 for maps with no key). */
  keySize: number;
  /** Value size in bytes. */
  valueSize: number;
  /** max_entries. */
  maxEntries: number;
  /** map_flags. */
  flags: number;
  /** numa_node, when BPF_F_NUMA_NODE is set. */
  numaNode: number;
  /** map_extra (bloom filter hashes, arena address). */
  mapExtra: bigint;
  /** Pinning: 0 none, 1 by name (LIBBPF_PIN_BY_NAME). */
  pinning: number;
  /** BTF type id of the key in the object's BTF, 0 when none. */
  btfKeyTypeId: number;
  /** BTF type id of the value in the object's BTF, 0 when none. */
  btfValueTypeId: number;
  /** The inner map template of a map-in-map, else undefined. */
  inner: MapSpec | undefined;
  /** `values` initializers: slot index to program name (prog arrays) or map name (map-in-maps). */
  initValues: { index: number; name: string }[];
  /** The map's section: `".maps"`. Data section maps are {@linkcode DataSecSpec}. */
  section: string;
  /** Byte offset of the map's variable in `.maps` (0 for inner map templates). */
  sectionOffset: number;
  /** The map variable's BTF VAR id (0 for inner map templates). */
  btfVarId: number;
  /** False when the map is not created unless asked for (`SEC("?.struct_ops")`); default true. */
  autocreate?: boolean;
  /** For STRUCT_OPS maps (from `.struct_ops` / `.struct_ops.link`), the struct and its programs. */
  structOps?: StructOpsSpec;
}

/** The contents of a struct_ops map, as the object declares it. */
export interface StructOpsSpec {
  /** The struct's name, such as `"tcp_congestion_ops"`. The kernel's type of that name is the target. */
  typeName: string;
  /** The struct's BTF type id in the object's BTF. */
  btfTypeId: number;
  /** The variable's initial bytes (the struct, as laid out in the object; function pointers zero). */
  data: Uint8Array;
  /** Function-pointer members set to programs, by member. */
  progs: { member: string; memberIndex: number; program: string }[];
}

/** A variable of a data section. */
export interface VarSpec {
  /** The variable's name. */
  name: string;
  /** Byte offset in the section. */
  offset: number;
  /** Size in bytes. */
  size: number;
  /** The VAR's own BTF type id (its `type` field points at the value type). */
  btfVarId: number;
  /** The value's BTF type id. */
  btfTypeId: number;
  /** "static", "global" or "extern". */
  linkage: "static" | "global" | "extern";
}

/** A global-data section: `.data`, `.rodata`, `.bss`, `.data.*`, `.rodata.*`, `.kconfig`, `.ksyms`. */
export interface DataSecSpec {
  /** The section's name. */
  name: string;
  /** The name of the ARRAY map libbpf would make for it (object name prefix + suffix). */
  mapName: string;
  /** Size in bytes. */
  size: number;
  /**
   * The initial image. It may be shorter than `size`: the bytes past it are zeros (`.bss` and
   * `.kconfig` have an empty image).
   */
  image: Uint8Array;
  /** True for sections the program cannot write (`.rodata*`, `.kconfig`). */
  readonly: boolean;
  /**
   * The map_flags libbpf gives its ARRAY map: BPF_F_RDONLY_PROG (0x80) for read-only sections,
   * plus BPF_F_MMAPABLE (0x400) when a variable is global (not static or hidden).
   */
  mapFlags: number;
  /** The section's DATASEC type id in the object's BTF, 0 when none. */
  btfId: number;
  /** Its variables, by offset. */
  vars: VarSpec[];
}

/** An extern symbol: a kconfig value, a ksym, or a kfunc. */
export interface ExternSpec {
  /** The symbol name. */
  name: string;
  /** "kconfig" for `.kconfig`, "ksym" for `.ksyms` variables, "kfunc" for functions. */
  kind: "kconfig" | "ksym" | "kfunc";
  /** True for `__weak` externs, which resolve to zero when absent. */
  weak: boolean;
  /** BTF type id of the extern's VAR or FUNC in the object's BTF, 0 when untyped. */
  btfId: number;
  /** The resolved value type id (after the VAR/FUNC), 0 when typeless. */
  btfTypeId: number;
  /** Offset in `.kconfig` or `.ksyms` data, -1 when not placed. */
  offset: number;
  /** Size of the value in bytes. */
  size: number;
}

/** Everything `open()` finds in a BPF object. */
export interface ObjectSpec {
  /** The object's name, libbpf-style: the file name without `.bpf.o` / `.o`, truncated. */
  name: string;
  /** Entry programs, in ELF order (section by section, then by offset). */
  programs: ProgramSpec[];
  /** Subprograms (functions of `.text` and other called functions), in ELF order. */
  subprograms: ProgramSpec[];
  /** BTF-defined maps, in `.maps` order. */
  maps: MapSpec[];
  /** Data sections, in ELF order. */
  datasecs: DataSecSpec[];
  /** Extern symbols. */
  externs: ExternSpec[];
  /** The `license` section's string. */
  license: string;
  /** The `version` section's value, 0 when absent. */
  kernelVersion: number;
  /** The object's BTF, undefined when it has none. */
  btf: Btf | undefined;
  /** The object's .BTF.ext (func_info, line_info, CO-RE relocations), undefined when none. */
  btfExt: BtfExt | undefined;
}
