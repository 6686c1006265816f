/**
 * The BTF reader: {@linkcode Btf} parses a blob inside the tsbpf core and answers questions about its
 * types straight from the core's memory, without decoding the whole blob.
 *
 * @module
 */
import { BpfError, BtfError, cannotRead, SyscallError } from "../errors.ts";
import { Core, type CoreBuf } from "../core-wasm/mod.ts";
import {
  type BtfEnumValue,
  BtfKind,
  type BtfMember,
  type BtfParam,
  type BtfType,
  type BtfVarSecinfo,
} from "./types.ts";

/** Options of {@linkcode Btf.parse} and {@linkcode Btf.load}. */
export interface BtfOptions {
  /** The base BTF for split BTF (a kernel module's BTF is split over vmlinux). Default: none. */
  base?: Btf;
  /**
   * How much to check while parsing. `"full"` (the default) checks every string offset and type id
   * in the blob, members and parameters included. `"records"` checks the header, every record's
   * kind and bounds and each type's own name and type id, but not those inside members,
   * parameters, enum values and DATASEC entries: for BTF the kernel has already validated (about
   * 30% faster on vmlinux). Either way no accessor reads out of bounds; a bad id or offset met
   * later throws a {@linkcode BtfError} then.
   */
  validate?: "full" | "records";
}

/** The header fields of a BTF blob, as stored. */
export interface BtfHeader {
  /** Always 1. */
  version: number;
  /** Always 0. */
  flags: number;
  /** Header length in bytes. */
  hdrLen: number;
  /** Offset of the type section after the header. */
  typeOff: number;
  /** Length of the type section. */
  typeLen: number;
  /** Offset of the string section after the header. */
  strOff: number;
  /** Length of the string section. */
  strLen: number;
}

const VMLINUX = "/sys/kernel/btf/vmlinux";
// Btf.str(): string sections up to this size are decoded whole on first use; larger ones after
// this many strings were decoded one by one.
const WHOLE_STRINGS_BELOW = 64 * 1024;
const DECODED_BEFORE_WHOLE = 1024;

/**
 * Another way to put the kernel's BTF into the core for {@linkcode Btf.kernel}, which the live
 * layer (the one that can map files and advise memory) gives: sysfs hands the file out 4 KiB per
 * read(). Returns undefined to fall back to reading the file.
 */
export type KernelBtfSource = () => KernelBtfPlacement | undefined;

/** What a {@linkcode KernelBtfSource} offers: the blob's size and a way to copy it into the core. */
export interface KernelBtfPlacement {
  /** The blob's size in bytes. */
  readonly size: number;
  /** Bytes of room beyond `size` that `place()` wants, to choose an aligned start. */
  readonly slack: number;
  /**
   * Copies the blob into `memory` (the core's whole memory) somewhere in `[ptr, ptr + room)` and
   * returns where it starts, or undefined when it could not (then the file is read instead).
   */
  place(memory: Uint8Array, ptr: number, room: number): number | undefined;
}

let kernelBtf: Btf | undefined;
let scratch: { core: Core; buf: CoreBuf } | undefined;
const enc = new TextEncoder();
const dec = new TextDecoder();

const registry = new FinalizationRegistry<{ core: Core; h: number; buf: CoreBuf | undefined }>(
  (held) => {
    try {
      held.core.exports.btf_free(held.h);
      if (held.buf !== undefined) held.core.free(held.buf);
    } catch {
      // A finalizer must not throw; the core may be gone.
    }
  },
);

/** Decodes the NUL-terminated UTF-8 string at `p`. */
function cString(u8: Uint8Array, p: number): string {
  let e = p;
  let ascii = true;
  while (u8[e] !== 0) {
    if (u8[e] >= 0x80) ascii = false;
    e++;
  }
  if (e === p) return "";
  if (ascii && e - p < 4096) {
    return String.fromCharCode.apply(null, u8.subarray(p, e) as unknown as number[]);
  }
  return dec.decode(u8.subarray(p, e));
}

/** Where the .BTF section of a little-endian ELF64 file is, or undefined when it has none. */
function elfBtfSection(u8: Uint8Array, base: number, len: number): CoreBuf | undefined {
  const dv = new DataView(u8.buffer, u8.byteOffset);
  const bad = (what: string): never => {
    throw new BtfError(`Malformed ELF file: ${what}`);
  };
  if (len < 64) bad("the header is truncated");
  if (u8[base + 4] !== 2 || u8[base + 5] !== 1) {
    throw new BtfError("Only little-endian 64-bit ELF files are supported");
  }
  const shoff = Number(dv.getBigUint64(base + 0x28, true));
  const shentsize = dv.getUint16(base + 0x3a, true);
  let shnum = dv.getUint16(base + 0x3c, true);
  let shstrndx = dv.getUint16(base + 0x3e, true);
  if (shoff === 0) return undefined;
  if (shentsize < 64 || shoff + 64 > len) bad("the section header table is out of range");
  if (shnum === 0) shnum = Number(dv.getBigUint64(base + shoff + 0x20, true));
  if (shstrndx === 0xffff) shstrndx = dv.getUint32(base + shoff + 0x28, true);
  if (shoff + shnum * shentsize > len) bad("the section header table is out of range");
  if (shstrndx >= shnum) bad("the section name table index is out of range");
  const sh = (i: number) => base + shoff + i * shentsize;
  const strOff = Number(dv.getBigUint64(sh(shstrndx) + 0x18, true));
  const strSize = Number(dv.getBigUint64(sh(shstrndx) + 0x20, true));
  if (strOff + strSize > len) bad("the section name table is out of range");
  for (let i = 1; i < shnum; i++) {
    const nameOff = dv.getUint32(sh(i), true);
    if (nameOff + 5 > strSize) continue;
    const n = base + strOff + nameOff;
    if (
      u8[n] === 0x2e && u8[n + 1] === 0x42 && u8[n + 2] === 0x54 && u8[n + 3] === 0x46 &&
      u8[n + 4] === 0
    ) {
      const type = dv.getUint32(sh(i) + 4, true);
      if (type === 8) bad("the .BTF section has no data (SHT_NOBITS)");
      const off = Number(dv.getBigUint64(sh(i) + 0x18, true));
      const size = Number(dv.getBigUint64(sh(i) + 0x20, true));
      if (off + size > len) bad("the .BTF section is out of range");
      return { ptr: base + off, len: size };
    }
  }
  return undefined;
}

/**
 * A parsed BTF blob, held inside the tsbpf core. Accessors read the type records straight from the
 * core's memory; nothing is decoded until asked for.
 *
 * Lifecycle: the creator owns a `Btf` and calls {@linkcode Btf.close} (or uses `using`). A split
 * BTF needs its base alive: close the split one first. {@linkcode Btf.kernel} is shared by the
 * process: do not close it (if it is closed, the next call loads it again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Btf } from "./btf.ts";
 * import { BtfKind } from "./types.ts";
 * const vmlinux = Btf.kernel();
 * const id = vmlinux.findByName("task_struct", BtfKind.Struct);
 * assert(id > 0 && vmlinux.size(id) > 0);
 * ```
 */
export class Btf {
  /** The base BTF of a split BTF, or undefined. */
  readonly base: Btf | undefined;
  /** The first id of this blob's own types (1, or the base's typeCount). */
  readonly startId: number;
  /** Valid ids are in [0, typeCount); 0 is void. */
  readonly typeCount: number;
  readonly #core: Core;
  #h: number;
  readonly #buf: CoreBuf | undefined;
  readonly #offs: number;
  readonly #strBase: number;
  readonly #strs: number;
  readonly #strLen: number;
  readonly #blob: CoreBuf;
  readonly #header: BtfHeader;
  readonly #names = new Map<number, string>();
  /** The string section as one string when it is all ASCII, null when not, undefined until read. */
  #ascii: string | null | undefined;
  /** Strings decoded one by one so far (a large section is decoded whole only after many). */
  #decoded = 0;
  readonly #token = {};

  private constructor(core: Core, h: number, buf: CoreBuf | undefined, base: Btf | undefined) {
    this.#core = core;
    this.#h = h;
    this.#buf = buf;
    this.base = base;
    const dv = core.dv();
    const info = core.exports.btf_info(h) as number;
    this.#offs = dv.getUint32(info, true);
    const count = dv.getUint32(info + 4, true);
    this.startId = dv.getUint32(info + 8, true);
    this.typeCount = this.startId + count;
    this.#strs = dv.getUint32(info + 12, true);
    this.#strLen = dv.getUint32(info + 16, true);
    this.#strBase = dv.getUint32(info + 20, true);
    this.#blob = { ptr: dv.getUint32(info + 24, true), len: dv.getUint32(info + 28, true) };
    this.#header = {
      version: dv.getUint32(info + 52, true),
      flags: dv.getUint32(info + 56, true),
      hdrLen: dv.getUint32(info + 32, true),
      typeOff: dv.getUint32(info + 36, true),
      typeLen: dv.getUint32(info + 40, true),
      strOff: dv.getUint32(info + 44, true),
      strLen: dv.getUint32(info + 48, true),
    };
    registry.register(this, { core, h, buf }, this.#token);
  }

  static #make(
    core: Core,
    buf: CoreBuf,
    blob: CoreBuf,
    opts: BtfOptions,
    what: string,
  ): Btf {
    const base = opts.base;
    const parse = opts.validate === "records"
      ? core.exports.btf_parse_trusted
      : core.exports.btf_parse;
    if (base !== undefined && base.#core !== core) {
      throw new BtfError("The base BTF belongs to an older core instance; load it again");
    }
    const baseH = base === undefined ? -1 : base.#live();
    let h: number;
    try {
      h = core.check(
        core.call(() => parse(blob.ptr, blob.len, baseH) as number),
        what,
      );
    } catch (e) {
      core.free(buf);
      throw e;
    }
    return new Btf(core, h, buf, base);
  }

  /**
   * Parses a BTF blob (a copy goes into the core).
   *
   * @param bytes The raw BTF: header, type section, string section.
   * @param opts `base` for split BTF; `validate` (default `"full"`).
   * @returns The parsed BTF; close it when done.
   * @throws {BtfError} When the blob is malformed; the error names the type id or offset.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * const k = Btf.kernel();
   * using copy = Btf.parse(k.rawBytes());
   * assert(copy.typeCount === k.typeCount);
   * ```
   */
  static parse(bytes: Uint8Array, opts: BtfOptions = {}): Btf {
    const core = Core.get();
    const buf = core.copyIn(bytes);
    return Btf.#make(core, buf, buf, opts, "Parsing BTF");
  }

  /**
   * Reads a BTF file straight into the core and parses it. Accepts raw BTF (such as
   * `/sys/kernel/btf/vmlinux`) or an ELF object, whose `.BTF` section is used.
   *
   * @param path The file.
   * @param opts `base` for split BTF; `validate` (default `"full"`).
   * @returns The parsed BTF; close it when done.
   * @throws {BpfError} When the file cannot be read.
   * @throws {BtfError} When it holds no BTF or malformed BTF.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * using btf = Btf.load("/sys/kernel/btf/vmlinux");
   * assert(btf.typeCount > 1);
   * ```
   */
  static load(path: string, opts: BtfOptions = {}): Btf {
    const core = Core.get();
    let buf: CoreBuf;
    try {
      buf = core.readFile(path);
    } catch (e) {
      // A file error (the runtime's, or a SyscallError from the libc file layer) reads the same
      // on every runtime; other library errors pass on.
      if (e instanceof BpfError && !(e instanceof SyscallError)) throw e;
      throw cannotRead(path, e);
    }
    let blob = buf;
    const u8 = core.u8();
    if (
      buf.len >= 4 && u8[buf.ptr] === 0x7f && u8[buf.ptr + 1] === 0x45 &&
      u8[buf.ptr + 2] === 0x4c &&
      u8[buf.ptr + 3] === 0x46
    ) {
      let sec: CoreBuf | undefined;
      try {
        sec = elfBtfSection(u8, buf.ptr, buf.len);
      } catch (e) {
        core.free(buf);
        throw e instanceof BtfError ? new BtfError(`${path}: ${e.message}`) : e;
      }
      if (sec === undefined) {
        core.free(buf);
        throw new BtfError(`${path} is an ELF file with no .BTF section; build it with clang -g`);
      }
      blob = sec;
    }
    return Btf.#make(core, buf, blob, opts, `Parsing BTF from ${path}`);
  }

  /**
   * The running kernel's BTF (`/sys/kernel/btf/vmlinux`), read and parsed once per process (with
   * `validate: "records"`: the kernel has checked its own BTF).
   *
   * @param source Another way to get the bytes the first time (see {@linkcode KernelBtfSource});
   *   default: read the file.
   * @returns The shared instance; do not close it.
   * @throws {BpfError} When the kernel has no BTF (CONFIG_DEBUG_INFO_BTF).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * assert(Btf.kernel() === Btf.kernel());
   * ```
   */
  static kernel(source?: KernelBtfSource): Btf {
    if (kernelBtf === undefined || kernelBtf.#h < 0 || kernelBtf.#core !== Core.get()) {
      kernelBtf = Btf.#placed(source) ?? Btf.load(VMLINUX, { validate: "records" });
    }
    return kernelBtf;
  }

  // The kernel's BTF put into the core by a KernelBtfSource, or undefined.
  static #placed(source: KernelBtfSource | undefined): Btf | undefined {
    const src = source?.();
    if (src === undefined || src.size <= 0) return undefined;
    const core = Core.get();
    const buf = core.alloc(src.size + src.slack);
    let at: number | undefined;
    try {
      at = src.place(core.u8(), buf.ptr, buf.len);
    } finally {
      if (at === undefined) core.free(buf);
    }
    if (at === undefined) return undefined;
    if (at < buf.ptr || at + src.size > buf.ptr + buf.len) {
      core.free(buf);
      throw new BpfError(`The kernel BTF source placed ${src.size} bytes outside its room`);
    }
    return Btf.#make(
      core,
      buf,
      { ptr: at, len: src.size },
      { validate: "records" },
      `Parsing BTF from ${VMLINUX}`,
    );
  }

  /**
   * A kernel module's BTF (`/sys/kernel/btf/<name>`), split over {@linkcode Btf.kernel}.
   *
   * @param name The module's name, such as `nf_tables`.
   * @returns A new instance; close it when done.
   * @throws {BpfError} When the module has no BTF or is not loaded.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { readdirSync } from "node:fs";
   * const mod = readdirSync("/sys/kernel/btf").find((n) => n !== "vmlinux");
   * if (mod !== undefined) {
   *   using m = Btf.kernelModule(mod);
   *   assert(m.startId === Btf.kernel().typeCount);
   * }
   * ```
   */
  static kernelModule(name: string): Btf {
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") {
      throw new BpfError(`Bad kernel module name '${name}'`);
    }
    return Btf.load(`/sys/kernel/btf/${name}`, { base: Btf.kernel(), validate: "records" });
  }

  #live(): number {
    if (this.#h < 0) throw new BpfError("This Btf is closed");
    return this.#h;
  }

  /** The address in core memory of type `id`'s record; throws when out of range or void. */
  #rec(id: number): number {
    if (id >= this.startId && id < this.typeCount) {
      if (this.#h < 0) this.#live();
      return this.#core.dv().getUint32(this.#offs + 4 * (id - this.startId), true);
    }
    if (id < this.startId && this.base !== undefined) return this.base.#rec(id);
    throw new BtfError(
      id === 0
        ? "Type id 0 is void and has no record"
        : `Type id ${id} is out of range (the BTF has ids 0 to ${this.typeCount - 1})`,
      { typeId: id },
    );
  }

  /**
   * Type `id`'s raw record (the 12-byte btf_type and what follows it) as a view into the core's
   * memory: valid only until the next call into the core, never kept.
   * @throws {BtfError} When `id` is out of range or 0.
   */
  record(id: number): { dv: DataView; offset: number } {
    const p = this.#rec(id);
    return { dv: this.#core.dv(), offset: p };
  }

  /**
   * The name offset of type `id` in the string section (0 for void and anonymous types).
   * @param id A type id.
   * @returns The offset; {@linkcode Btf.str} decodes it.
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * const k = Btf.kernel();
   * assert(k.str(k.nameOff(1)) === k.name(1));
   * ```
   */
  nameOff(id: number): number {
    if (id === 0) return 0;
    return this.#core.dv().getUint32(this.#rec(id), true);
  }

  /**
   * The header fields of this blob.
   * @returns A copy of the header.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * const k = Btf.kernel();
   * assert(k.header().version === 1);
   * ```
   */
  header(): BtfHeader {
    return { ...this.#header };
  }

  /**
   * The kind of type `id` (Unknown for void).
   * @param id A type id.
   * @returns The kind number.
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * assert(k.kind(k.findByName("task_struct")) === BtfKind.Struct);
   * ```
   */
  kind(id: number): BtfKind {
    if (id === 0) return BtfKind.Unknown;
    const p = this.#rec(id);
    return ((this.#core.dv().getUint32(p + 4, true) >>> 24) & 0x1f) as BtfKind;
  }

  /**
   * The name of type `id`, "" when anonymous or void.
   * @param id A type id.
   * @returns The name.
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * assert(k.name(k.findByName("pid_t", BtfKind.Typedef)) === "pid_t");
   * ```
   */
  name(id: number): string {
    if (id === 0) return "";
    const p = this.#rec(id);
    return this.str(this.#core.dv().getUint32(p, true));
  }

  /**
   * The vlen field of type `id` (members, values, params, vars; linkage for FUNC).
   * @param id A type id (0, void, gives 0 or false).
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * assert(k.vlen(k.findByName("list_head", BtfKind.Struct)) === 2);
   * ```
   */
  vlen(id: number): number {
    if (id === 0) return 0;
    return this.#core.dv().getUint32(this.#rec(id) + 4, true) & 0xffff;
  }

  /**
   * The kind_flag of type `id`.
   * @param id A type id (0, void, gives 0 or false).
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * const k = Btf.kernel();
   * assert(typeof k.kflag(1) === "boolean");
   * ```
   */
  kflag(id: number): boolean {
    if (id === 0) return false;
    return (this.#core.dv().getUint32(this.#rec(id) + 4, true) >>> 31) === 1;
  }

  /**
   * The size field (INT, STRUCT, UNION, ENUM*, DATASEC, FLOAT).
   * @param id A type id (0, void, gives 0 or false).
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * assert(k.size(k.findByName("list_head", BtfKind.Struct)) === 16);
   * ```
   */
  size(id: number): number {
    if (id === 0) return 0;
    return this.#core.dv().getUint32(this.#rec(id) + 8, true);
  }

  /**
   * The type field (PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO's return, VAR, DECL_TAG, TYPE_TAG).
   * @param id A type id (0, void, gives 0 or false).
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * assert(k.kind(k.refType(k.findByName("pid_t", BtfKind.Typedef))) !== BtfKind.Unknown);
   * ```
   */
  refType(id: number): number {
    if (id === 0) return 0;
    return this.#core.dv().getUint32(this.#rec(id) + 8, true);
  }

  /**
   * The string at offset `offset` of the string section ("" for 0).
   * @param offset A string offset (below the base's string length for split BTF: the base's).
   * @returns The string.
   * @throws {BtfError} When the offset is out of range.
   */
  str(offset: number): string {
    if (offset < this.#strBase && this.base !== undefined) return this.base.str(offset);
    const rel = offset - this.#strBase;
    if (rel < 0 || rel >= this.#strLen) {
      throw new BtfError(`String offset ${offset} is out of range`, { offset });
    }
    this.#live();
    // A small section, or a large one read by many lookups (dumps), is decoded whole once; a
    // loader that reads a few names of the kernel's 2 MB section decodes just those.
    if (
      this.#ascii === undefined &&
      (this.#strLen <= WHOLE_STRINGS_BELOW || this.#decoded >= DECODED_BEFORE_WHOLE)
    ) {
      this.#loadStrings();
    }
    const all = this.#ascii;
    if (all !== null && all !== undefined) {
      // Byte offsets are character offsets in an all-ASCII section.
      return all.substring(rel, all.indexOf("\0", rel));
    }
    const cached = this.#names.get(offset);
    if (cached !== undefined) return cached;
    const str = cString(this.#core.u8(), this.#strs + rel);
    this.#names.set(offset, str);
    this.#decoded++;
    return str;
  }

  /** Decodes the whole string section once when it is ASCII (it nearly always is). */
  #loadStrings(): void {
    const text = dec.decode(this.#core.u8().subarray(this.#strs, this.#strs + this.#strLen));
    this.#ascii = text.length === this.#strLen && !/[\u0080-\uffff]/.test(text) ? text : null;
  }

  /**
   * Whether a string offset is inside this blob's string section or its base's.
   * @param offset A string offset.
   * @returns True when {@linkcode Btf.str} can decode it.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * const k = Btf.kernel();
   * assert(k.hasStr(0) && !k.hasStr(-1));
   * ```
   */
  hasStr(offset: number): boolean {
    return offset >= 0 && offset < this.#strBase + this.#strLen;
  }

  /**
   * The decoded record of type `id`: members, values, parameters and variables included.
   * @param id A type id.
   * @returns The record; its `kind` tells which fields it has.
   * @throws {BtfError} When `id` is out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * const t = k.type(k.findByName("list_head", BtfKind.Struct));
   * assert(t.kind === BtfKind.Struct && t.members[0].name === "next");
   * ```
   */
  type(id: number): BtfType {
    if (id === 0) return { id: 0, name: "", kind: BtfKind.Unknown };
    const p = this.#rec(id);
    const dv = this.#core.dv();
    const name = this.str(dv.getUint32(p, true));
    const info = dv.getUint32(p + 4, true);
    const kind = ((info >>> 24) & 0x1f) as BtfKind;
    const vlen = info & 0xffff;
    const kflag = (info >>> 31) === 1;
    const st = dv.getUint32(p + 8, true);
    const u = (o: number) => dv.getUint32(p + o, true);
    switch (kind) {
      case BtfKind.Int: {
        const v = u(12);
        return {
          id,
          name,
          kind,
          size: st,
          encoding: (v >>> 24) & 0x0f,
          bitOffset: (v >>> 16) & 0xff,
          bits: v & 0xff,
        };
      }
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        return { id, name, kind, type: st };
      case BtfKind.Array:
        return { id, name, kind, type: u(12), indexType: u(16), nelems: u(20) };
      case BtfKind.Struct:
      case BtfKind.Union: {
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = 12 + 12 * i;
          const off = u(m + 8);
          members.push({
            name: this.str(u(m)),
            type: u(m + 4),
            bitOffset: kflag ? off & 0xffffff : off,
            bitSize: kflag ? off >>> 24 : 0,
          });
        }
        return { id, name, kind, size: st, kflag, members };
      }
      case BtfKind.Enum: {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = 12 + 8 * i;
          const raw = kflag ? dv.getInt32(p + m + 4, true) : u(m + 4);
          values.push({ name: this.str(u(m)), value: BigInt(raw) });
        }
        return { id, name, kind, size: st, signed: kflag, values };
      }
      case BtfKind.Enum64: {
        const values: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = 12 + 12 * i;
          const v = (BigInt(u(m + 8)) << 32n) | BigInt(u(m + 4));
          values.push({ name: this.str(u(m)), value: kflag ? BigInt.asIntN(64, v) : v });
        }
        return { id, name, kind, size: st, signed: kflag, values };
      }
      case BtfKind.Fwd:
        return { id, name, kind, union: kflag };
      case BtfKind.Func:
        return { id, name, kind, type: st, linkage: vlen };
      case BtfKind.FuncProto: {
        const params: BtfParam[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = 12 + 8 * i;
          params.push({ name: this.str(u(m)), type: u(m + 4) });
        }
        return { id, name, kind, returnType: st, params };
      }
      case BtfKind.Var:
        return { id, name, kind, type: st, linkage: u(12) };
      case BtfKind.Datasec: {
        const vars: BtfVarSecinfo[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = 12 + 12 * i;
          vars.push({ type: u(m), offset: u(m + 4), size: u(m + 8) });
        }
        return { id, name, kind, size: st, vars };
      }
      case BtfKind.Float:
        return { id, name, kind, size: st };
      case BtfKind.DeclTag:
        return { id, name, kind, type: st, componentIdx: dv.getInt32(p + 12, true) };
      default:
        return { id, name, kind: BtfKind.Unknown };
    }
  }

  #withName<T>(name: string, fn: (ptr: number, len: number) => T): T {
    const core = this.#core;
    const need = name.length * 3 + 1;
    if (scratch === undefined || scratch.core !== core || scratch.buf.len < need) {
      if (scratch !== undefined && scratch.core === core) core.free(scratch.buf);
      scratch = { core, buf: core.alloc(Math.max(256, need)) };
    }
    const { written } = enc.encodeInto(
      name,
      core.u8().subarray(scratch.buf.ptr, scratch.buf.ptr + need),
    );
    return fn(scratch.buf.ptr, written);
  }

  /**
   * The first type named `name` (of `kind`, when given), searching the base first. A name index is
   * built on the first call, so each call costs a hash lookup.
   *
   * @param name The type's name.
   * @param kind Only types of this kind.
   * @returns The id, or -1 when there is none.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * assert(Btf.kernel().findByName("no such type", BtfKind.Struct) === -1);
   * ```
   */
  findByName(name: string, kind?: BtfKind): number {
    if (name === "") return -1;
    const h = this.#live();
    const core = this.#core;
    const r = this.#withName(name, (ptr, len) =>
      core.check(
        core.call(() => core.exports.btf_find_by_name_kind(h, ptr, len, kind ?? -1) as number),
        "Finding a BTF type",
      ));
    return r === 0 ? -1 : r;
  }

  /**
   * Every type named `name` (of `kind`, when given), in id order, base first.
   *
   * @param name The type's name.
   * @param kind Only types of this kind.
   * @returns The ids, possibly none.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * const k = Btf.kernel();
   * assert(k.findAllByName("task_struct").includes(k.findByName("task_struct")));
   * ```
   */
  findAllByName(name: string, kind?: BtfKind): number[] {
    if (name === "") return [];
    const h = this.#live();
    const core = this.#core;
    const n = this.#withName(name, (ptr, len) =>
      core.check(
        core.call(() => core.exports.btf_find_all_by_name_kind(h, ptr, len, kind ?? -1) as number),
        "Finding BTF types",
      ));
    const dv = core.dv();
    const p = core.exports.out_ptr() as number;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(dv.getUint32(p + 4 * i, true));
    return ids;
  }

  /**
   * The size in bytes of type `id`, following typedefs, modifiers and arrays (libbpf's
   * btf__resolve_size).
   * @param id A type id.
   * @returns The size in bytes.
   * @throws {BtfError} For a type without a size (void, FUNC, FWD), an overflow, or a loop.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * assert(k.resolveSize(k.findByName("pid_t", BtfKind.Typedef)) === 4);
   * ```
   */
  resolveSize(id: number): number {
    const h = this.#live();
    const core = this.#core;
    return core.check(
      core.call(() => core.exports.btf_resolve_size(h, id) as number),
      "Resolving a BTF type's size",
    );
  }

  /**
   * The alignment of type `id` (libbpf's btf__align_of: 1 for a packed struct).
   * @param id A type id.
   * @returns The alignment in bytes.
   * @throws {BtfError} For a type without an alignment, or a loop.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * assert(k.alignOf(k.findByName("list_head", BtfKind.Struct)) === 8);
   * ```
   */
  alignOf(id: number): number {
    const h = this.#live();
    const core = this.#core;
    return core.check(
      core.call(() => core.exports.btf_align_of(h, id) as number),
      "Resolving a BTF type's alignment",
    );
  }

  /**
   * Follows typedefs, const, volatile, restrict and type tags from `id`.
   * @param id A type id.
   * @returns The first id on the chain that is none of those (0 for void).
   * @throws {BtfError} On a loop or an id out of range.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * import { BtfKind } from "./types.ts";
   * const k = Btf.kernel();
   * const pid = k.findByName("pid_t", BtfKind.Typedef);
   * assert(k.kind(k.skipModsAndTypedefs(pid)) === BtfKind.Int);
   * ```
   */
  skipModsAndTypedefs(id: number): number {
    const h = this.#live();
    const core = this.#core;
    return core.check(
      core.call(() => core.exports.btf_skip_mods(h, id) as number),
      "Skipping BTF modifiers",
    );
  }

  /**
   * The handle of this BTF inside the core, for other core users (ELF, CO-RE).
   * @throws {BpfError} When closed.
   */
  get handle(): number {
    return this.#live();
  }

  /**
   * The whole blob (header, types, strings), a copy.
   * @returns The bytes.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * assert(Btf.kernel().rawBytes()[0] === 0x9f);
   * ```
   */
  rawBytes(): Uint8Array {
    this.#live();
    return this.#core.u8().slice(this.#blob.ptr, this.#blob.ptr + this.#blob.len);
  }

  /**
   * Frees the core's tables and the blob. Safe to call twice; using the Btf afterwards throws.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "./btf.ts";
   * const b = Btf.parse(Btf.kernel().rawBytes());
   * b.close();
   * b.close(); // safe
   * assert.throws(() => b.kind(1)); // closed
   * ```
   */
  close(): void {
    if (this.#h < 0) return;
    const h = this.#h;
    this.#h = -1;
    registry.unregister(this.#token);
    this.#names.clear();
    this.#ascii = undefined;
    try {
      this.#core.exports.btf_free(h);
    } finally {
      if (this.#buf !== undefined) this.#core.free(this.#buf);
    }
  }

  /** Same as {@linkcode Btf.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
