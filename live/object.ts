/**
 * {@linkcode BpfObject}: libbpf's `bpf_object` for TypeScript. `BpfObject.open()` reads an object
 * file into an "opened" object (its spec, per-program and per-map settings, and global-data views
 * the caller can write before load); `load()` then does what `bpf_object__load` does: probe,
 * load the object's BTF, resolve externs, create maps, relocate and load programs, and fill
 * program arrays. A failed load releases everything it made before it throws.
 *
 * @module
 */
import { host } from "../_host.ts";
import type { Btf } from "../btf/btf.ts";
import {
  BpfError,
  NotSupportedError,
  RelocationError,
  type SyscallError,
  VerifierError,
} from "../errors.ts";
import { btfLoad, type Fd, mapCreate, mapFreeze, mapUpdate, progBindMap } from "../ffi/bpf.ts";
import { BpfMapFlags, BpfMapType, Libc } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import type { Sys } from "../ffi/sys.ts";
import { relocateProgram } from "../reloc/relocate.ts";
import type { ResolvedExtern } from "../reloc/types.ts";
import { type ElfFile, readElf } from "../spec/elf.ts";
import { openWithBtf as openSpec } from "../spec/open.ts";
import type { DataSecSpec, MapSpec, ObjectSpec, ProgramSpec } from "../spec/types.ts";
import { btfNeedsSanitization, fixupObjectBtf, sanitizeBtf } from "./_btf_fixup.ts";
import { initKernStructOps, type KernStructOps } from "./_struct_ops.ts";
import { fixupVerifierLog } from "./_log_fixup.ts";
import { kernelVersionCode, resolveKconfig } from "./kconfig.ts";
import { KernelBtfs, targetBtf } from "./kernel_btf.ts";
import { FdArray, resolveKsyms } from "./ksyms.ts";
import {
  adjustRingbufSize,
  BpfMap,
  isMapInMap,
  type MapDef,
  numPossibleCpus,
  pageSize,
} from "./map.ts";
import { FEATURES, probe } from "./probes.ts";
import {
  attachTypeNumber,
  BpfProgram,
  findAttachBtfId,
  loadProgram,
  progFlagsFor,
  progTypeNumber,
} from "./program.ts";
import { attachAll, detachAll } from "../link/auto.ts";
import type { BpfLink } from "../link/link.ts";

/** The names a map pinned by name may have: they become a file name under the pin root. */
const PIN_NAME = /^[A-Za-z0-9_]{1,255}$/;

/** Message levels of the print callback, as libbpf's `LIBBPF_WARN/INFO/DEBUG`. */
export type PrintLevel = "warn" | "info" | "debug";

/** A print callback, like `libbpf_set_print`'s. */
export type PrintFn = (level: PrintLevel, message: string) => void;

let globalPrint: PrintFn | undefined;

/**
 * Sets the process-wide print callback (libbpf's `libbpf_set_print`) for objects opened without
 * their own `print` option.
 *
 * @param fn the callback, or undefined for silence (the default).
 * @returns the previous callback.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject, setPrint } from "./object.ts";
 * const seen: string[] = [];
 * const old = setPrint((level, msg) => {
 *   if (level !== "debug") seen.push(msg);
 * });
 * try {
 *   BpfObject.open("tests/bpf/build/maps.bpf.o").close();
 * } finally {
 *   setPrint(old);
 * }
 * assert(seen.every((m) => m.startsWith("libbpf: ")));
 * ```
 */
export function setPrint(fn: PrintFn | undefined): PrintFn | undefined {
  const old = globalPrint;
  globalPrint = fn;
  return old;
}

/** Options of {@linkcode BpfObject.open}. */
export interface ObjectOpenOptions {
  /** The object's name (prefix of the data maps' names). Default: from the file name, as libbpf. */
  name?: string;
  /** A BTF file to resolve CO-RE against instead of the kernel's (libbpf's `btf_custom_path`). */
  btfCustomPath?: string;
  /** Where maps with `pinning = LIBBPF_PIN_BY_NAME` are pinned. Default `/sys/fs/bpf`. */
  pinRoot?: string;
  /** Print callback for this object; default the one set with {@linkcode setPrint}. */
  print?: PrintFn;
  /**
   * Per-program settings, applied as the setters would apply them: `autoload`, `type` (as
   * {@linkcode BpfObject.setProgramType}), `expectedAttachType`, `attachTarget`.
   */
  programs?: Record<
    string,
    { autoload?: boolean; type?: string; expectedAttachType?: string; attachTarget?: string }
  >;
  /** Per-map max_entries overrides (as {@linkcode BpfObject.setMaxEntries}). */
  maxEntries?: Record<string, number>;
  /** Per-map value size overrides (as {@linkcode BpfObject.setValueSize}). */
  valueSize?: Record<string, number>;
  /**
   * Extra kernel-config lines (`"CONFIG_HZ=100\nCONFIG_X=y"`) that `.kconfig` externs take before
   * the kernel's config file (libbpf's `kconfig` open option).
   */
  kconfig?: string;
}

/** Options of {@linkcode BpfObject.load}. */
export interface ObjectLoadOptions {
  /**
   * Verifier log level for the first load of every program (libbpf's `kernel_log_level`); 0 (the
   * default) asks for a log only after a failure.
   */
  logLevel?: number;
  /**
   * Let the kernel apply the CO-RE relocations (BPF_PROG_LOAD's `core_relos`, Linux 5.17+), as
   * libbpf's light skeletons do, instead of reading and indexing the kernel's BTF in this process:
   * a first load in a fresh process is then several milliseconds shorter. The kernel applies each
   * relocation against all of a type's candidates, where libbpf narrows a type's candidates as its
   * relocations succeed, so where the kernel has several candidates for one type the result can
   * differ from libbpf's. Needs the object's BTF loaded; not with `btfCustomPath` (the kernel
   * relocates against its own BTF only). Default false.
   */
  coreInKernel?: boolean;
}

interface DataView_ {
  spec: DataSecSpec;
  size: number; // the (possibly resized) value size
  addr: bigint;
  len: number; // mapped length
  bytes: Uint8Array | null;
  mappedMap: boolean; // the mapping is now the map's memory
  handedOut: boolean; // `bytes` went to a caller (data(), resizeData()), who may keep it
}

/**
 * Unmaps a retired view's placeholder once the view's buffer is collected (see
 * {@linkcode BpfObject}'s `#retire`).
 */
const retiredViews = new FinalizationRegistry<{ sys: Sys; addr: bigint; len: number }>((h) => {
  try {
    h.sys.munmap(h.addr, h.len);
  } catch {
    // A finalizer must not throw.
  }
});

interface ProgSettings {
  autoload: boolean;
  type: string;
  expectedAttachType: string;
  attachTarget: string;
}

/**
 * Where a {@linkcode BpfObject} is in its lifecycle: `"opened"` (specs only, global data writable),
 * `"loaded"` (in the kernel), `"failed"` (a `load()` threw and released what it made) or
 * `"closed"`.
 */
export type ObjectState = "opened" | "loaded" | "failed" | "closed";

const PROT_RW = Libc.PROT_READ | Libc.PROT_WRITE;

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * A BPF object: maps, programs and global data, opened from an ELF file and loaded into the
 * running kernel the way libbpf 1.1 loads it.
 *
 * Lifecycle: `open()` (no kernel objects yet; global-data views exist and can be written), then
 * settings (`setAutoload`, `setProgramType`, `setMaxEntries`...), then `load()`. `close()` (or
 * `using`) releases maps, programs, the BTF fd and the global-data mappings, and is safe to call
 * twice. Views from {@linkcode BpfObject.data} must not be touched after `close()`; after load,
 * views of read-only sections (`.rodata*`, `.kconfig`) are mapped read-only, and writing them faults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject } from "./object.ts";
 * using obj = BpfObject.open("tests/bpf/build/globals.bpf.o");
 * const rodata = obj.data(".rodata")!;
 * new DataView(rodata.buffer, rodata.byteOffset).setUint32(0, 42, true); // before load
 * obj.load();
 * assert.match(obj.program("use_globals").info().tag, /^[0-9a-f]{16}$/);
 * ```
 */
export class BpfObject {
  /** The object's spec (from `open()` in spec/open.ts). */
  readonly spec: ObjectSpec;
  /** The object's name. */
  readonly name: string;
  readonly #source: Uint8Array | string;
  readonly #opts: ObjectOpenOptions;
  readonly #sys: Sys;
  #state: ObjectState = "opened";
  readonly #dataEpoch = { n: 0 };
  readonly #data = new Map<string, DataView_>();
  readonly #progSettings = new Map<string, ProgSettings>();
  readonly #maxEntries = new Map<string, number>();
  readonly #valueSize = new Map<string, number>();
  readonly #maps = new Map<string, BpfMap>();
  readonly #programs = new Map<string, BpfProgram>();
  #btfFd: Fd | undefined;
  readonly #pinned: string[] = [];
  #structOps: Map<string, KernStructOps> | undefined;
  #links: Map<string, BpfLink> | undefined;
  // The ELF file open() read, kept for load()'s BTF fixups and dropped after it.
  #elf: ElfFile | undefined;

  private constructor(
    source: Uint8Array | string,
    spec: ObjectSpec,
    opts: ObjectOpenOptions,
    elf: ElfFile,
  ) {
    this.#source = source;
    this.#elf = elf;
    this.spec = spec;
    this.name = spec.name;
    this.#opts = opts;
    this.#sys = getSys();
    for (const p of spec.programs) {
      this.#progSettings.set(p.name, {
        autoload: p.autoload,
        type: p.type,
        expectedAttachType: p.expectedAttachType,
        attachTarget: "",
      });
    }
  }

  /**
   * Opens an object file: parses it (`open()` from spec/open.ts) and maps a writable view for
   * every global-data section, initialized with its image.
   *
   * @param source the path of a `.bpf.o` file, or its bytes.
   * @param opts name, CO-RE target BTF, pin root, print callback.
   * @returns the object, in the "opened" state.
   * @throws {ElfError} {BtfError} {RelocationError} the file is malformed.
   * @throws {SyscallError} mapping the views failed.
   */
  static open(source: Uint8Array | string, opts: ObjectOpenOptions = {}): BpfObject {
    getSys(); // fail on a runtime without FFI before parsing anything
    const elf = readElf(source);
    const spec = openSpec(source, { name: opts.name, elf });
    const obj = new BpfObject(source, spec, opts, elf);
    try {
      for (const d of spec.datasecs) {
        if (d.name === ".ksyms" || d.size === 0) continue;
        obj.#data.set(d.name, obj.#mapView(d, d.size));
      }
      for (const [name, o] of Object.entries(opts.programs ?? {})) {
        if (o.autoload !== undefined) obj.setAutoload(name, o.autoload);
        if (o.type !== undefined) obj.setProgramType(name, o.type);
        if (o.expectedAttachType !== undefined) {
          obj.setExpectedAttachType(name, o.expectedAttachType);
        }
        if (o.attachTarget !== undefined) obj.setAttachTarget(name, o.attachTarget);
      }
      for (const [name, n] of Object.entries(opts.maxEntries ?? {})) obj.setMaxEntries(name, n);
      for (const [name, n] of Object.entries(opts.valueSize ?? {})) obj.setValueSize(name, n);
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  #mapView(spec: DataSecSpec, size: number): DataView_ {
    // A fresh anonymous mapping reads as zeros: only the image's bytes (none for .bss) are copied.
    const len = Math.max(roundUp(roundUp(size, 8), pageSize()), pageSize());
    const addr = this.#sys.mmap(len, PROT_RW, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
    const bytes = new Uint8Array(this.#sys.view(addr, len), 0, size);
    bytes.set(spec.image.subarray(0, Math.min(size, spec.image.length)));
    return { spec, size, addr, len, bytes, mappedMap: false, handedOut: false };
  }

  #print(level: PrintLevel, msg: string): void {
    const fn = this.#opts.print ?? globalPrint;
    if (fn) fn(level, `libbpf: ${msg}`);
  }

  /**
   * A number that changes whenever the global-data views may have moved (`resizeData()`,
   * `load()`, `close()`), so that callers caching a view (skeleton accessors) know to ask again.
   */
  get dataEpoch(): number {
    return this.#dataEpoch.n;
  }

  /**
   * The same number as {@linkcode BpfObject.dataEpoch}, in a cell that callers can keep and read
   * without a call (skeleton accessors check it on every access).
   */
  get dataEpochCell(): { readonly n: number } {
    return this.#dataEpoch;
  }

  /** "opened", "loaded", "failed" (a load threw) or "closed". */
  get state(): ObjectState {
    return this.#state;
  }

  #requireOpened(what: string): void {
    if (this.#state !== "opened") {
      throw new BpfError(
        `${what} needs an object that is opened and not loaded (it is ${this.#state})`,
      );
    }
  }

  #requireLoaded(what: string): void {
    if (this.#state === "loaded") return;
    throw new BpfError(
      this.#state === "opened"
        ? `${what} on object '${this.name}' needs it loaded: call load() first`
        : `${what} on object '${this.name}' needs it loaded, and it was closed: open it again`,
    );
  }

  #settings(name: string): ProgSettings {
    const s = this.#progSettings.get(name);
    if (s === undefined) {
      throw new BpfError(
        `Object '${this.name}' has no program '${name}'; programs: ${
          [...this.#progSettings.keys()].join(", ")
        }`,
      );
    }
    return s;
  }

  /** The names of the entry programs, in ELF order. */
  get programNames(): string[] {
    return this.spec.programs.map((p) => p.name);
  }

  /** Whether `load()` will load a program (libbpf's autoload). */
  autoload(program: string): boolean {
    return this.#settings(program).autoload;
  }

  /**
   * Chooses whether `load()` loads a program (before load only).
   *
   * @param program the program's name.
   * @param on load it or not.
   * @throws {BpfError} unknown program, or the object is already loaded.
   */
  setAutoload(program: string, on: boolean): void {
    this.#requireOpened("setAutoload()");
    this.#settings(program).autoload = on;
  }

  /**
   * Overrides a program's type (before load), like `bpf_program__set_type`.
   *
   * @param program the program's name.
   * @param type the type name without prefix (`"XDP"`, `"SOCKET_FILTER"`).
   * @throws {BpfError} unknown program or type.
   */
  setProgramType(program: string, type: string): void {
    this.#requireOpened("setProgramType()");
    if (progTypeNumber(type) < 0) throw new BpfError(`Unknown program type '${type}'`);
    this.#settings(program).type = type;
  }

  /**
   * Overrides a program's expected attach type (before load).
   *
   * @param program the program's name.
   * @param attachType the attach type name without `BPF_` (`"CGROUP_INET_INGRESS"`), or "".
   * @throws {BpfError} unknown program or attach type.
   */
  setExpectedAttachType(program: string, attachType: string): void {
    this.#requireOpened("setExpectedAttachType()");
    attachTypeNumber(attachType);
    this.#settings(program).expectedAttachType = attachType;
  }

  /**
   * Names the kernel function (or tracepoint, LSM hook, iterator) a BTF-attached program
   * (fentry, fexit, fmod_ret, tp_btf, lsm, iter) loads for, before load, like
   * `bpf_program__set_attach_target(prog, 0, name)`; needed for sections without a target
   * (`SEC("fentry")`), and it overrides the section's target otherwise.
   *
   * @param program the program's name.
   * @param target the target's name, as the section would write it (`do_unlinkat`, `sched_switch`).
   * @throws {BpfError} unknown program, or the object is loaded.
   */
  setAttachTarget(program: string, target: string): void {
    this.#requireOpened("setAttachTarget()");
    if (target === "") throw new BpfError("An attach target name cannot be empty");
    this.#settings(program).attachTarget = target;
  }

  /**
   * Sets a map's max_entries before load (`bpf_map__set_max_entries`).
   *
   * @param map the map's name.
   * @param n the new max_entries.
   * @throws {BpfError} unknown map or the object is loaded.
   */
  setMaxEntries(map: string, n: number): void {
    this.#requireOpened("setMaxEntries()");
    if (!this.spec.maps.some((m) => m.name === map)) {
      throw new BpfError(`Object '${this.name}' has no map '${map}'`);
    }
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new RangeError(`Bad max_entries ${n}`);
    }
    this.#maxEntries.set(map, n);
  }

  /**
   * Sets a map's value size before load (`bpf_map__set_value_size` on a map that is not global
   * data), for maps whose value size user space decides, such as a `BPF_MAP_TYPE_STACK_TRACE`
   * map sized for the stack depth it wants. Global-data sections are resized with
   * {@linkcode BpfObject.resizeData}.
   *
   * @param map the map's name.
   * @param n the new value size in bytes.
   * @throws {BpfError} unknown map or the object is loaded.
   * @throws {RangeError} `n` is not a 32-bit unsigned integer.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpfObject } from "./object.ts";
   * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
   * obj.setValueSize("stack_map", 127 * 8); // 127 frames of 8 bytes
   * obj.setMaxEntries("stack_map", 1024);
   * obj.load();
   * assert.equal(obj.map("stack_map").valueSize, 127 * 8);
   * ```
   */
  setValueSize(map: string, n: number): void {
    this.#requireOpened("setValueSize()");
    if (!this.spec.maps.some((m) => m.name === map)) {
      const data = this.spec.datasecs.some((d) => d.name === map || d.mapName === map);
      throw new BpfError(
        data
          ? `Map '${map}' holds global data; resize it with resizeData()`
          : `Object '${this.name}' has no map '${map}'`,
      );
    }
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new RangeError(`Bad value size ${n}`);
    }
    this.#valueSize.set(map, n);
  }

  /**
   * Resizes a global-data section before load (`bpf_map__set_value_size` on a data map): the view
   * is replaced by a new one of `size` bytes holding the old bytes (cut or zero-extended).
   *
   * @param section the section (`.bss`, `.data.custom`...).
   * @param size the new size in bytes.
   * @returns the new view.
   * @throws {BpfError} unknown section or the object is loaded.
   */
  resizeData(section: string, size: number): Uint8Array {
    this.#requireOpened("resizeData()");
    const d = this.#data.get(section);
    if (d === undefined || d.bytes === null) {
      throw new BpfError(`Object '${this.name}' has no data section '${section}'`);
    }
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`Bad data section size ${size}`);
    const n = this.#mapView(d.spec, size);
    n.bytes!.fill(0);
    n.bytes!.set(d.bytes.subarray(0, Math.min(size, d.size)));
    this.#retire(d);
    this.#data.set(section, n);
    this.#dataEpoch.n++;
    n.handedOut = true;
    return n.bytes!;
  }

  /**
   * The view of a global-data section: writable before load (the kernel gets these bytes), and
   * after load the map's own memory for `.data*` and `.bss*`. The frozen sections (`.rodata*` and
   * `.kconfig`) keep the bytes they gave the kernel, which cannot change: a write to them after load
   * reaches nothing. Null after load when the section's map cannot be memory-mapped (no global
   * variables, or an old kernel). A view kept past close() or resizeData() reads zeros: it never
   * faults the process.
   *
   * @param section `.data`, `.rodata`, `.bss`, `.kconfig`, `.data.<x>`, `.rodata.<x>`.
   * @returns the view, or null.
   * @throws {BpfError} unknown section or the object is closed.
   */
  data(section: string): Uint8Array | null {
    if (this.#state === "closed") throw new BpfError(`Object '${this.name}' is closed`);
    const d = this.#data.get(section);
    if (d === undefined) {
      throw new BpfError(
        `Object '${this.name}' has no data section '${section}'; sections: ${
          [...this.#data.keys()].join(", ")
        }`,
      );
    }
    if (d.bytes !== null) d.handedOut = true;
    return d.bytes;
  }

  /** The data sections that have views, in ELF order. */
  get dataSections(): string[] {
    return [...this.#data.keys()];
  }

  /**
   * A live map by name (after load). Data maps are found by their map name (`obj.bss`) or their
   * section name (`.bss`).
   *
   * @throws {BpfError} not loaded, or no such map.
   */
  map(name: string): BpfMap {
    this.#requireLoaded("map()");
    const m = this.#maps.get(name) ??
      this.#maps.get(this.spec.datasecs.find((d) => d.name === name)?.mapName ?? "");
    if (m === undefined) {
      throw new BpfError(
        `Object '${this.name}' has no map '${name}'; maps: ${[...this.#maps.keys()].join(", ")}`,
      );
    }
    return m;
  }

  /**
   * The value a struct_ops map is registered with (`bpf_struct_ops_<name>`: the object's data
   * members at the kernel's offsets and the loaded programs' fds in the function pointers), as
   * libbpf 1.1 writes it in `bpf_map__attach_struct_ops`. Give it to `attachStructOps()`.
   *
   * @param map the struct_ops map's name.
   * @returns a copy of the value.
   * @throws {BpfError} not loaded, or not a struct_ops map of this object.
   */
  structOpsValue(map: string): Uint8Array {
    this.#requireLoaded("structOpsValue()");
    const so = this.#structOps?.get(map);
    if (so === undefined) {
      throw new BpfError(`Object '${this.name}' has no struct_ops map '${map}'`);
    }
    return so.value.slice();
  }

  /** Every live map, by name. */
  get maps(): ReadonlyMap<string, BpfMap> {
    return this.#maps;
  }

  /**
   * A loaded program by name.
   *
   * @throws {BpfError} not loaded, no such program, or it was not loaded (autoload off).
   */
  program(name: string): BpfProgram {
    this.#requireLoaded("program()");
    const p = this.#programs.get(name);
    if (p === undefined) {
      this.#settings(name);
      throw new BpfError(`Program '${name}' was not loaded (autoload is off)`);
    }
    return p;
  }

  /** Every loaded program, by name. */
  get programs(): ReadonlyMap<string, BpfProgram> {
    return this.#programs;
  }

  /**
   * Loads the object into the kernel, as `bpf_object__load`.
   *
   * @param opts verifier log level.
   * @throws {VerifierError} a program was refused; its log is in the error.
   * @throws {SyscallError} creating a map or loading BTF failed.
   * @throws {RelocationError} {BpfError} relocation or extern resolution failed.
   */
  load(opts: ObjectLoadOptions = {}): void {
    this.#requireOpened("load()");
    const kernel = new KernelBtfs();
    this.#dataEpoch.n++;
    try {
      this.#load(kernel, opts);
      this.#state = "loaded";
    } catch (e) {
      try {
        this.#unload();
      } catch {
        // Everything is released; the load's own error is the one to report.
      }
      this.#state = "failed";
      throw e;
    } finally {
      this.#dataEpoch.n++;
      kernel.close();
      this.#elf = undefined;
    }
  }

  #load(kernel: KernelBtfs, opts: ObjectLoadOptions): void {
    const spec = this.spec;
    const sys = this.#sys;
    const names = probe("prog_name");
    // A by-name pin path is the pin root joined with the map's name, which comes from the object:
    // refuse any name that could leave the root (../x, a/b) before any kernel object is made.
    for (const m of spec.maps) {
      if (m.pinning === 1 && !PIN_NAME.test(m.name)) {
        throw new BpfError(
          `Map ${
            JSON.stringify(m.name)
          }: a map pinned by name must be named with letters, digits and '_' only; its name would be a path under the pin root`,
        );
      }
    }

    // Externs: kconfig values into the .kconfig image, ksyms and kfuncs against kernel BTF.
    const externs = new Map<string, ResolvedExtern>();
    const fdArray = new FdArray();
    if (spec.externs.length > 0) {
      const kc = this.#data.get(".kconfig");
      if (spec.externs.some((e) => e.kind === "kconfig")) {
        if (kc === undefined || kc.bytes === null || spec.btf === undefined) {
          throw new BpfError("Object has kconfig externs but no .kconfig section or BTF");
        }
        const release = sys.uname().release;
        const set = resolveKconfig(spec.btf, spec.externs, kc.bytes, {
          release,
          hasBpfCookie: () => probe("bpf_cookie"),
          hasSyscallWrapper: () => probe("syscall_wrapper"),
          extra: this.#opts.kconfig,
        });
        for (const e of spec.externs) {
          if (e.kind !== "kconfig") continue;
          if (!set.has(e.name) && !e.weak) {
            throw new BpfError(
              `Extern '${e.name}' (strong): not resolved; the kernel config lacks it (declare it __weak if it is optional)`,
            );
          }
          externs.set(e.name, { kind: "kconfig", offset: e.offset });
        }
      }
      for (const [k, v] of resolveKsyms(spec.btf, spec.externs, kernel, fdArray)) externs.set(k, v);
    }

    // The object's BTF, fixed up as libbpf does, and sanitized for kinds the kernel lacks.
    if (spec.btf !== undefined && probe("btf")) {
      const elf = this.#elf ?? readElf(this.#source);
      let raw = fixupObjectBtf(spec.btf.rawBytes(), { elf, spec });
      const feats = {
        func: probe("btf_func"),
        funcGlobal: probe("btf_func_global"),
        datasec: probe("btf_datasec"),
        float: probe("btf_float"),
        declTag: probe("btf_decl_tag"),
        typeTag: probe("btf_type_tag"),
        enum64: probe("btf_enum64"),
      };
      if (btfNeedsSanitization(feats)) raw = sanitizeBtf(raw, feats);
      try {
        this.#btfFd = this.#loadBtf(raw);
      } catch (e) {
        // libbpf: BTF is optional unless the object has struct_ops.
        if (spec.programs.some((p) => p.type === "STRUCT_OPS")) throw e;
        this.#print("warn", `${(e as Error).message}; BTF is optional, ignoring`);
      }
    }
    const btfFd = this.#btfFd?.value ?? -1;
    const coreInKernel = opts.coreInKernel === true;
    if (coreInKernel) this.#checkCoreInKernel(btfFd);

    // Maps: .maps first, then data sections, in libbpf's order.
    const mapFds = new Map<string, number>();
    const dataMapFds = new Map<string, number>();
    const ctx = { btfFd, names, log: (m: string) => this.#print("warn", m) };
    // struct_ops maps: their kernel layout decides value sizes and the programs' attach targets.
    const structOps = new Map<string, KernStructOps>();
    for (const m of spec.maps) {
      if (m.structOps === undefined || m.autocreate === false) continue;
      if (spec.btf === undefined) {
        throw new BpfError(`struct_ops map '${m.name}' needs the object's BTF`);
      }
      structOps.set(m.name, initKernStructOps(m, spec.btf, kernel.vmlinux));
    }
    this.#structOps = structOps;
    for (const m of spec.maps) {
      if (m.autocreate === false) continue;
      const so = structOps.get(m.name);
      if (so !== undefined) {
        const def: MapDef = {
          name: m.name,
          type: m.typeId,
          keySize: 4,
          valueSize: so.valueSize,
          maxEntries: 1,
          flags: m.flags,
        };
        // As libbpf: the object's BTF fd, no key/value type ids, the kernel's value type.
        if (btfFd < 0) {
          throw new BpfError(`struct_ops map '${m.name}' needs the object's BTF loaded`);
        }
        const fd = mapCreate({
          btfFd,
          type: def.type,
          name: names ? def.name : undefined,
          keySize: 4,
          valueSize: def.valueSize,
          maxEntries: 1,
          flags: def.flags,
          btfVmlinuxValueTypeId: so.valueTypeId,
        });
        const map = new BpfMap(fd, def);
        this.#maps.set(m.name, map);
        mapFds.set(m.name, map.fd);
        continue;
      }
      const map = this.#createUserMap(m, ctx);
      this.#print("debug", `map '${m.name}': created, fd ${map.fd}`);
      this.#maps.set(m.name, map);
      mapFds.set(m.name, map.fd);
    }
    const mmapOk = probe("array_mmap");
    for (const [name, d] of this.#data) {
      let flags = d.spec.mapFlags;
      if (!mmapOk) flags &= ~BpfMapFlags.BPF_F_MMAPABLE;
      const def: MapDef = {
        name: d.spec.mapName,
        type: BpfMapType.BPF_MAP_TYPE_ARRAY,
        keySize: 4,
        valueSize: d.size,
        maxEntries: 1,
        flags,
      };
      const dspec: MapSpec = {
        name: d.spec.mapName,
        type: "ARRAY",
        typeId: BpfMapType.BPF_MAP_TYPE_ARRAY,
        keySize: 4,
        valueSize: d.size,
        maxEntries: 1,
        flags,
        numaNode: 0,
        mapExtra: 0n,
        pinning: 0,
        btfKeyTypeId: 0,
        btfValueTypeId: d.size === d.spec.size ? d.spec.btfId : 0,
        inner: undefined,
        initValues: [],
        section: name,
        sectionOffset: 0,
        btfVarId: 0,
      };
      const fd = BpfMap.createFd(dspec, def, ctx);
      const map = new BpfMap(fd, def);
      this.#maps.set(def.name, map);
      dataMapFds.set(name, map.fd);
      // The kernel makes array maps zeroed: an all-zero image (a .bss nobody wrote) needs no copy,
      // which spares touching every page of a large section.
      if (!allZero(d.bytes!)) mapUpdate(map.fd, new Uint8Array(4), d.bytes!);
      if (d.spec.readonly) mapFreeze(map.fd);
    }
    // map-in-map slots (prog arrays wait for the programs)
    for (const m of spec.maps) {
      if (!isMapInMap(m.typeId) || m.initValues.length === 0) continue;
      const outer = this.#maps.get(m.name)!;
      if (outer.reused) continue;
      for (const { index, name } of m.initValues) {
        const inner = this.#maps.get(name);
        if (inner === undefined) {
          throw new BpfError(`Map '${m.name}': slot ${index} names unknown map '${name}'`);
        }
        outer.update(u32(index), u32(inner.fd));
      }
    }

    // Programs: relocate every autoloaded one, then load them.
    const target = !coreInKernel && spec.programs.some((p) => this.#settings(p.name).autoload)
      ? targetBtf(this.#opts.btfCustomPath)
      : undefined;
    const coreModules: Btf[] = [];
    const relocated = new Map<string, ReturnType<typeof relocateProgram>>();
    for (const p of spec.programs) {
      const s = this.#settings(p.name);
      if (!s.autoload) continue;
      relocated.set(
        p.name,
        relocateProgram(spec, p.name, {
          mapFds,
          dataMapFds,
          targetBtf: target,
          externs,
          coreModules,
          coreInKernel,
        }),
      );
    }
    const rodata = [...this.#data.values()].filter((d) =>
      d.spec.readonly && d.spec.name !== ".kconfig"
    )
      .map((d) => this.#maps.get(d.spec.mapName)!);
    for (const p of spec.programs) {
      const r = relocated.get(p.name);
      if (r === undefined) continue;
      const prog = this.#loadOne(p, r, kernel, fdArray, btfFd, names, opts.logLevel ?? 0);
      this.#programs.set(p.name, prog);
      this.#print("debug", `prog '${p.name}': loaded, fd ${prog.fd}, ${prog.insnCount} insns`);
      if (rodata.length > 0 && probe("prog_bind_map")) {
        for (const m of rodata) {
          try {
            progBindMap(prog.fd, m.fd);
          } catch (e) {
            this.#print(
              "warn",
              `prog '${p.name}': failed to bind map '${m.name}': ${(e as Error).message}`,
            );
          }
        }
      }
    }

    // struct_ops images: each function pointer gets its program's fd (written to the map when
    // the map is registered, as libbpf 1.1 does in bpf_map__attach_struct_ops).
    for (const so of structOps.values()) {
      const dv = new DataView(so.value.buffer);
      for (const [prog, uses] of so.progs) {
        const loaded = this.#programs.get(prog);
        if (loaded === undefined) continue;
        for (const u of uses) dv.setBigUint64(u.offset, BigInt(loaded.fd), true);
      }
    }

    // Prog arrays from `values` initializers.
    for (const m of spec.maps) {
      if (m.typeId !== BpfMapType.BPF_MAP_TYPE_PROG_ARRAY || m.initValues.length === 0) continue;
      const arr = this.#maps.get(m.name)!;
      for (const { index, name } of m.initValues) {
        const prog = this.#programs.get(name);
        if (prog === undefined) {
          throw new BpfError(
            `Map '${m.name}': slot ${index} names program '${name}', which is not loaded; turn its autoload on`,
          );
        }
        arr.update(u32(index), u32(prog.fd));
      }
    }

    // Global data: map each data map over its view's address so the same views see the map.
    this.#remapData();
  }

  // coreInKernel needs the object's BTF in the kernel, the kernel's own BTF as the target, and a
  // kernel that takes core_relos.
  #checkCoreInKernel(btfFd: number): void {
    const what = "load({ coreInKernel: true })";
    if (this.#opts.btfCustomPath) {
      throw new BpfError(
        `${what}: the kernel relocates against its own BTF only; drop btfCustomPath or coreInKernel`,
      );
    }
    if (!(this.spec.btfExt?.coreRelos.size ?? 0)) return; // nothing to relocate
    if (btfFd < 0) {
      throw new BpfError(
        `${what}: the kernel did not take the object's BTF, which it reads CO-RE relocations against; load without coreInKernel`,
      );
    }
    if (!probe("core_relos")) {
      throw new NotSupportedError(
        FEATURES.core_relos,
        `${what}: this kernel does not apply CO-RE relocations itself (Linux 5.17+); load without coreInKernel`,
      );
    }
  }

  #loadBtf(raw: Uint8Array): Fd {
    try {
      return btfLoad(raw);
    } catch (e) {
      const se = e as SyscallError;
      if (typeof se.errno !== "number") throw e;
      const logBuf = new Uint8Array(16 * 1024 * 1024);
      let log = "";
      try {
        btfLoad(raw, { logBuf, logLevel: 1 }).close();
      } catch {
        const z = logBuf.indexOf(0);
        log = new TextDecoder().decode(logBuf.subarray(0, z < 0 ? logBuf.length : z));
      }
      const tail = log.split("\n").filter((l) => l.trim() !== "").slice(-6).join("\n");
      throw new BpfError(
        `Loading the object's BTF failed: ${se.code}${tail ? `; the kernel said:\n${tail}` : ""}`,
        { cause: e },
      );
    }
  }

  #createUserMap(
    m: MapSpec,
    ctx: { btfFd: number; names: boolean; log: (m: string) => void },
  ): BpfMap {
    let maxEntries = this.#maxEntries.get(m.name) ?? m.maxEntries;
    if (m.typeId === BpfMapType.BPF_MAP_TYPE_PERF_EVENT_ARRAY && maxEntries === 0) {
      maxEntries = numPossibleCpus();
    }
    if (
      m.typeId === BpfMapType.BPF_MAP_TYPE_RINGBUF ||
      m.typeId === BpfMapType.BPF_MAP_TYPE_USER_RINGBUF
    ) {
      maxEntries = adjustRingbufSize(maxEntries);
    }
    const def: MapDef = {
      name: m.name,
      type: m.typeId,
      keySize: m.keySize,
      valueSize: this.#valueSize.get(m.name) ?? m.valueSize,
      maxEntries,
      flags: m.flags,
    };
    const ids = {
      btfKeyTypeId: m.btfKeyTypeId,
      btfValueTypeId: m.btfValueTypeId,
      btf: this.spec.btf,
    };
    if (m.pinning !== 1) return new BpfMap(BpfMap.createFd(m, def, ctx), def, ids);
    const root = (this.#opts.pinRoot ?? "/sys/fs/bpf").replace(/\/+$/, "");
    const path = `${root}/${m.name}`;
    preparePinDir(root, m.name);
    for (let attempt = 0; attempt < 2; attempt++) {
      const reused = BpfMap.reusePinned(path, def, m.mapExtra);
      if (reused !== undefined) {
        this.#print("debug", `map '${m.name}': reusing pinned map at '${path}'`);
        return new BpfMap(reused, def, { pinPath: path, reused: true, ...ids });
      }
      const fd = BpfMap.createFd(m, def, ctx);
      const map = new BpfMap(fd, def, { pinPath: path, ...ids });
      try {
        map.pin(path);
        this.#pinned.push(path);
        return map;
      } catch (e) {
        map.close();
        if ((e as SyscallError).code === "EEXIST" && attempt === 0) continue;
        throw new BpfError(
          `Map '${m.name}': pinning at '${path}' failed: ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    throw new BpfError(`Map '${m.name}': cannot find or pin a map at '${path}'`);
  }

  #loadOne(
    p: ProgramSpec,
    r: ReturnType<typeof relocateProgram>,
    kernel: KernelBtfs,
    fdArray: FdArray,
    btfFd: number,
    names: boolean,
    logLevel: number,
  ): BpfProgram {
    const s = this.#settings(p.name);
    const type = progTypeNumber(s.type);
    if (type <= 0) {
      throw new RelocationError(
        `Program '${p.name}' has no program type; check its ELF section name '${p.section}' or set one with setProgramType()`,
        { program: p.name, section: p.section },
      );
    }
    let eat = attachTypeNumber(s.expectedAttachType);
    const flags = p.def ? progFlagsFor(p.def.flags, type) : 0;
    let attachBtfId = 0;
    let attachBtfObjFd = 0;
    if (p.def?.flags.includes("attachBtf")) {
      const slash = p.section.indexOf("/");
      let target = s.attachTarget;
      if (target === "") {
        if (slash < 0 || p.section.length === slash + 1) {
          throw new BpfError(
            `Program '${p.name}': section '${p.section}' names no BTF attach target; write it as ${p.section}/<target> or call setAttachTarget()`,
          );
        }
        target = p.section.slice(slash + 1);
      }
      let t;
      try {
        t = findAttachBtfId(kernel, eat, target);
      } catch (e) {
        if (!(e instanceof NotSupportedError)) throw e;
        throw new NotSupportedError(
          e.feature,
          `Loading program '${p.name}' (section ${p.section}) failed: its attach target '${target}' (${e.feature}) is not in the kernel's or any module's BTF; check the section name, call setAttachTarget() or turn the program's autoload off`,
          { cause: e, program: p.name, section: p.section },
        );
      }
      attachBtfId = t.id;
      attachBtfObjFd = t.module ? t.module.fd.value : 0;
    }
    for (const so of this.#structOps?.values() ?? []) {
      const uses = so.progs.get(p.name);
      if (uses === undefined) continue;
      attachBtfId = so.typeId;
      eat = uses[0].memberIndex;
    }
    const fds = fdArray.fds.length > 0 ? fdArray.fds : r.fdArray;
    let loaded;
    try {
      loaded = loadProgram({
        name: p.name,
        section: p.section,
        type,
        expectedAttachType: eat,
        relocated: r,
        license: this.spec.license,
        kernVersion: this.spec.kernelVersion || kernelVersionCode(this.#sys.uname().release),
        flags,
        btfFd: probe("btf_func") ? btfFd : -1,
        attachBtfId,
        attachBtfObjFd,
        fdArray: fds,
        names,
        logLevel,
      });
    } catch (e) {
      if (!(e instanceof VerifierError)) throw e;
      const log = fixupVerifierLog(e.log, this.spec, r, p);
      if (log === e.log) throw e;
      throw new VerifierError({
        program: e.program,
        section: e.section,
        errno: e.errno,
        code: e.code,
        log,
        cause: e.cause,
      });
    }
    const { fd, log } = loaded;
    return new BpfProgram(fd, {
      name: p.name,
      section: p.section,
      type,
      expectedAttachType: eat,
      attachBtfId,
      insnCount: r.insns.length / 8,
      log,
    });
  }

  #remapData(): void {
    const sys = this.#sys;
    const done: DataView_[] = [];
    try {
      for (const d of this.#data.values()) {
        const map = this.#maps.get(d.spec.mapName)!;
        if ((map.flags & BpfMapFlags.BPF_F_MMAPABLE) === 0) continue;
        // A frozen section (.rodata*, .kconfig) never changes after load, so its view keeps the
        // private bytes it gave the kernel: mapping the map read-only would make a write to the
        // view kill the process with SIGSEGV.
        if (d.spec.readonly) continue;
        const len = roundUp(roundUp(d.size, 8), pageSize());
        sys.mmap(len, PROT_RW, Libc.MAP_SHARED | Libc.MAP_FIXED, map.fd, 0, d.addr);
        d.mappedMap = true;
        done.push(d);
      }
    } catch (e) {
      // Put private memory back under the views already switched, with their bytes.
      for (const d of done) {
        const copy = d.bytes!.slice();
        sys.mmap(
          d.len,
          PROT_RW,
          Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_FIXED,
          -1,
          0,
          d.addr,
        );
        d.bytes!.set(copy);
        d.mappedMap = false;
      }
      throw e;
    }
    // Views of maps that cannot be mapped are gone after load (frozen ones keep their bytes).
    for (const d of this.#data.values()) {
      if (d.mappedMap || d.bytes === null) continue;
      const map = this.#maps.get(d.spec.mapName)!;
      if (d.spec.readonly && (map.flags & BpfMapFlags.BPF_F_MMAPABLE) !== 0) continue;
      this.#retire(d);
    }
  }

  /**
   * Ends a view: the memory under it becomes private zeros (MAP_FIXED, so the address range is
   * never free for something else while a stale view can still reach it), and is unmapped when the
   * view's buffer is collected. A view kept past close(), a resize or a load that dropped it reads
   * zeros and takes writes harmlessly, instead of faulting the process. A view never handed out is
   * unmapped at once.
   */
  #retire(d: DataView_): void {
    const bytes = d.bytes;
    d.bytes = null;
    d.mappedMap = false;
    if (bytes === null) return;
    if (!d.handedOut) {
      // No caller holds a view of this range (this object's own uses end here): unmap it now.
      // A placeholder would wait for the event loop to run the registry, and a loop that never
      // yields (open, load, close, again) would pile up address space until it did.
      try {
        this.#sys.munmap(d.addr, d.len);
        return;
      } catch {
        // Fall through to the placeholder, which replaces the range whatever is there.
      }
    }
    try {
      this.#sys.mmap(
        d.len,
        PROT_RW,
        Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_FIXED,
        -1,
        0,
        d.addr,
      );
      retiredViews.register(bytes.buffer, { sys: this.#sys, addr: d.addr, len: d.len });
    } catch {
      // Without a placeholder the range must still go: unmap it (a stale view then faults).
      try {
        this.#sys.munmap(d.addr, d.len);
      } catch {
        // nothing more to do
      }
    }
  }

  /** Closes programs, maps and the BTF fd, every one even when a close reports an error; then throws the first. */
  #unload(): void {
    const steps = [
      ...[...this.#programs.values()].map((p) => () => p.close()),
      ...[...this.#maps.values()].map((m) => () => m.close()),
    ];
    const btf = this.#btfFd;
    if (btf !== undefined) steps.push(() => btf.close());
    this.#programs.clear();
    this.#maps.clear();
    this.#btfFd = undefined;
    let first: unknown;
    for (const step of steps) {
      try {
        step();
      } catch (e) {
        first ??= e;
      }
    }
    for (const path of this.#pinned.splice(0)) {
      try {
        host().unlink(path);
      } catch {
        // already gone
      }
    }
    if (first !== undefined) throw first;
  }

  /**
   * Releases everything: programs, maps, the BTF fd, the global-data mappings (views must not be
   * used afterwards) and the spec's parsed BTF. Pins stay (as in libbpf). Safe to call twice.
   *
   * @throws {SyscallError} a `close` reported an error: thrown after everything is released (Linux
   *   releases an fd whatever its `close` reports).
   */
  close(): void {
    if (this.#state === "closed") return;
    try {
      this.detach();
    } catch {
      // The programs go below either way.
    }
    this.#pinned.length = 0; // a loaded object's pins outlive it
    let first: unknown;
    try {
      this.#unload();
    } catch (e) {
      first = e; // every fd is released (Linux's close releases it whatever it reports)
    }
    for (const d of this.#data.values()) this.#retire(d);
    this.spec.btf?.close();
    this.#state = "closed";
    this.#dataEpoch.n++;
    if (first !== undefined) throw first;
  }

  /**
   * Attaches every loaded program whose section says where (libbpf's skeleton `attach()`:
   * `tp/`, `raw_tp/`, `tp_btf/`, `fentry/`, `lsm/`, `kprobe/`, `ksyscall/`, `uprobe/BIN:FUNC`,
   * `usdt/BIN:PROV:NAME`, `iter/`...). Programs without a target in their section (`xdp`,
   * `SEC("uprobe")`) are left for the explicit attach functions of `link/`. When one program
   * fails, the ones attached before it are detached again. Calling it again returns the same
   * links. `detach()` or `close()` ends them.
   *
   * @returns the links by program name.
   * @throws {BpfError} {NotSupportedError} {SyscallError} a program failed to attach; the error
   *   names it and its section.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpfObject } from "./object.ts";
   * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
   * obj.load();
   * const links = obj.attach(); // tp/syscalls/sys_enter_write
   * assert(links.has("touch_maps"));
   * obj.detach();
   * ```
   */
  attach(): ReadonlyMap<string, BpfLink> {
    this.#requireLoaded("attach()");
    this.#links ??= attachAll(this);
    return this.#links;
  }

  /**
   * Detaches what `attach()` attached (closing its links; pinned links stay). Safe to call twice.
   *
   * @throws {SyscallError} undoing an attachment failed (the others are still detached).
   */
  detach(): void {
    const links = this.#links;
    this.#links = undefined;
    if (links !== undefined) detachAll(links);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

const BPF_FS_MAGIC = 0xcafe4a11;

// As libbpf's make_parent_dir and check_path: create the pin directory (one level, mode 0700) and
// refuse a directory that is not on a bpf filesystem.
function preparePinDir(dir: string, map: string): void {
  try {
    host().mkdir(dir, 0o700);
  } catch (e) {
    if ((e as { code?: string }).code !== "EEXIST") {
      throw new BpfError(
        `Map '${map}': creating the pin directory '${dir}' failed: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
  let type: number;
  try {
    type = host().fsType(dir);
  } catch (e) {
    throw new BpfError(
      `Map '${map}': checking the pin directory '${dir}' failed: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (type !== BPF_FS_MAGIC) {
    throw new BpfError(
      `Map '${map}': the pin directory '${dir}' is not on a BPF filesystem; mount one (mount -t bpf bpf /sys/fs/bpf) or choose a pinRoot under it`,
    );
  }
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** Whether every byte is zero (eight at a time where the view is aligned). */
function allZero(b: Uint8Array): boolean {
  const head = Math.min(b.length, (8 - (b.byteOffset & 7)) & 7);
  for (let i = 0; i < head; i++) if (b[i] !== 0) return false;
  const words = new BigUint64Array(b.buffer, b.byteOffset + head, (b.length - head) >>> 3);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  for (let i = head + words.length * 8; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
