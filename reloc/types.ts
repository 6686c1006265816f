/**
 * The contract between the pure relocation engine (`reloc/relocate.ts` over the core's
 * `reloc.ts` and `core_relo.ts`) and the loader (`live/`). The loader makes maps and resolves
 * externs against the running kernel, then hands their fds and values here as plain data; the
 * engine returns the final instructions of one program, ready for BPF_PROG_LOAD.
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";

/** What an extern resolved to in the running kernel. */
export type ResolvedExtern =
  /** A `.kconfig` extern: a value at `offset` in the kconfig data map. */
  | { kind: "kconfig"; offset: number }
  /** A typed `__ksym` variable: its BTF id in vmlinux (btfObjFd 0) or in a module's BTF. */
  | { kind: "ksym"; btfId: number; btfObjFd: number }
  /** A typeless `__ksym` (from /proc/kallsyms): its address. */
  | { kind: "ksym_addr"; addr: bigint }
  /**
   * A kfunc: its BTF id, and its module BTF's slot in fd_array (0 for vmlinux). With `btfObjFd`
   * (the module BTF's fd), the engine also fills {@linkcode RelocatedProgram.fdArray}.
   */
  | { kind: "kfunc"; btfId: number; fdArrayIdx: number; btfObjFd?: number }
  /** A `__weak` extern the kernel does not have: it resolves to zero. */
  | { kind: "missing_weak" };

/** The kernel facts one program's relocation needs. */
export interface RelocInput {
  /** Map name (from `.maps`) to the fd of its live map. */
  mapFds: ReadonlyMap<string, number>;
  /** Data section name (`.bss`, `.rodata.str1.1`, `.kconfig`...) to the fd of its ARRAY map. */
  dataMapFds: ReadonlyMap<string, number>;
  /** Target BTF for CO-RE: the kernel's, or a user-supplied one. Undefined skips CO-RE (error if the program has CO-RE relocations). */
  targetBtf: Btf | undefined;
  /**
   * Module BTFs (split over `targetBtf`) that CO-RE searches when the target has no candidate for
   * a type, as libbpf does with the running kernel's modules. Default: none.
   */
  coreModules?: readonly Btf[];
  /**
   * Leave CO-RE to the kernel (BPF_PROG_LOAD's `core_relos`, Linux 5.17+, as libbpf's light
   * skeletons do): the instructions at CO-RE sites stay as compiled, `targetBtf` is not used, and
   * {@linkcode RelocatedProgram.coreRelos} lists the relocations at their final offsets. The kernel
   * applies each relocation against all of a type's candidates, where libbpf narrows them as a
   * type's relocations succeed: results can differ where the kernel has several candidates for one
   * type. Default false.
   */
  coreInKernel?: boolean;
  /**
   * The entry programs loaded together with this one (libbpf's autoload set). CO-RE runs over
   * them and every subprogram, in `.BTF.ext` order, sharing one candidate cache whose lists shrink
   * as relocations succeed, so the set can change a result when a type has several candidates.
   * Default: the programs whose `autoload` is true, plus the one being relocated.
   */
  loadedPrograms?: readonly string[];
  /** Extern name to what it resolved to. */
  externs: ReadonlyMap<string, ResolvedExtern>;
}

/** One program's final instructions and the BTF records that go with them. */
export interface RelocatedProgram {
  /** The main function followed by every subprogram it reaches, in libbpf's order, relocated. */
  insns: Uint8Array;
  /** bpf_func_info records (insn_off in instructions, type_id), 8 bytes each; empty when no BTF. */
  funcInfo: Uint8Array;
  /** The record size of `funcInfo` (8). */
  funcInfoRecSize: number;
  /** bpf_line_info records (insn_off in instructions, file_name_off, line_off, line_col), 16 bytes each. */
  lineInfo: Uint8Array;
  /** The record size of `lineInfo` (16). */
  lineInfoRecSize: number;
  /** The fd_array to pass to BPF_PROG_LOAD (module BTF fds that kfunc calls index), empty when none. */
  fdArray: number[];
  /**
   * With {@linkcode RelocInput.coreInKernel}: bpf_core_relo records (insn_off in bytes, type_id,
   * access_str_off, kind), 16 bytes each, for BPF_PROG_LOAD; absent or empty otherwise.
   */
  coreRelos?: Uint8Array;
}
