/**
 * The run-time side of generated skeletons (`tsbpf gen skeleton`): the {@linkcode Skeleton} base
 * class a generated `FooSkel` extends (open, load, attach by libbpf's skeleton rules, detach,
 * destroy), {@linkcode SkelData} (a data section's memory, as the generated accessors read and
 * write it) and the helpers the accessors call (arrays, C strings, bitfields).
 *
 * User code does not call these directly: it uses the generated class, whose fields are typed.
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import { codecByName, codecFor } from "../btf/codec.ts";
import { BpfError } from "../errors.ts";
import { attachProgram, canAutoAttach } from "../link/auto.ts";
import type { BpfLink } from "../link/link.ts";
import { attachStructOps } from "../link/struct_ops.ts";
import type { BpfMap } from "./map.ts";
import { BpfObject, type ObjectLoadOptions, type ObjectOpenOptions } from "./object.ts";
import type { BpfProgram } from "./program.ts";

/** Options of a generated skeleton's `open()`. */
export interface SkeletonOpenOptions extends ObjectOpenOptions {
  /**
   * Read the object from this file instead of the bytes embedded in the skeleton. The file's
   * data sections must have the layout the skeleton was generated for (each exposed variable at
   * the same offset with the same size), else `open()` throws.
   */
  path?: string;
}

/** One exposed variable, as a skeleton was generated for it: `[name, offset, size]`. */
export type SkeletonVar = readonly [name: string, offset: number, size: number];

/** What a generated skeleton knows about its object (written by the generator, not by hand). */
export interface SkeletonDescriptor {
  /** The object's name. */
  readonly name: string;
  /** Map accessor name to map name (data maps by section name). */
  readonly maps: Readonly<Record<string, string>>;
  /** Program accessor name to program name. */
  readonly progs: Readonly<Record<string, string>>;
  /** struct_ops accessor name to map name. */
  readonly structOps: Readonly<Record<string, string>>;
  /** Data section accessor name to the section and its exposed variables. */
  readonly sections: Readonly<
    Record<string, { readonly section: string; readonly vars: readonly SkeletonVar[] }>
  >;
  /** Codec accessor name to the type's C name ("" when anonymous) and its id in the object. */
  readonly codecs?: Readonly<Record<string, readonly [cName: string, typeId: number]>>;
  /** Map accessor name to map name, for maps with key and value codecs. */
  readonly mapCodecs?: Readonly<Record<string, string>>;
}

function lazy<T>(entries: [string, () => unknown][]): T {
  const o = {};
  for (const [key, make] of entries) {
    let v: unknown;
    let made = false;
    Object.defineProperty(o, key, {
      get: () => {
        if (!made) {
          v = make();
          made = true;
        }
        return v;
      },
      enumerable: true,
    });
  }
  return Object.freeze(o) as T;
}

/** The memory a generated accessor reads and writes (a data section, a struct_ops value). */
export interface SkelMemory {
  /** A view for reading, valid until the next call into the library. */
  r(): DataView;
  /**
   * A view for writing `what` (the variable's path, for the error message).
   *
   * @throws {BpfError} the memory is read-only now (`.rodata` after load) or gone.
   */
  w(what: string): DataView;
  /** Ends a write (pushes it to the kernel where the memory is not mapped). */
  c(): void;
}

const KEY0 = new Uint8Array(4);

/**
 * A global-data section's memory as a skeleton's accessors see it: the object's view of the
 * section (the open-time image before load, the map's mapped memory after), followed across
 * `resizeData()` and `load()`; through map lookup and update of element 0 when the kernel cannot
 * map the section. Writes to `.rodata*` and `.kconfig` after load throw instead of faulting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfError, BpfObject } from "../mod.ts";
 * import { SkelData } from "./skeleton.ts";
 * using obj = BpfObject.open("tests/bpf/build/load_globals.bpf.o");
 * const ro = new SkelData(obj, ".rodata", "rodata");
 * ro.w("ro_value").setBigUint64(0, 7n, true); // before load: the image the kernel gets
 * ro.c();
 * obj.load();
 * assert.equal(ro.r().getBigUint64(0, true), 7n);
 * assert.throws(() => ro.w("ro_value"), BpfError); // read-only after load
 * ```
 */
export class SkelData implements SkelMemory {
  readonly #obj: BpfObject;
  readonly #cell: { readonly n: number };
  readonly #section: string;
  readonly #label: string;
  readonly #readonly: boolean;
  #epoch = -1;
  #dv: DataView | undefined;
  #map: BpfMap | undefined;
  #buf: Uint8Array | undefined;

  /**
   * Follows one data section of `obj` through resize, load and close.
   *
   * @param obj the object.
   * @param section the section (`.rodata`, `.data.foo`).
   * @param label the accessor's name in the skeleton (`rodata`, `data_foo`), for messages.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BpfObject } from "../mod.ts";
   * import { SkelData } from "./skeleton.ts";
   * using obj = BpfObject.open("tests/bpf/build/load_globals.bpf.o");
   * const m = new SkelData(obj, ".bss", "bss");
   * assert.equal(m.r().getUint32(0, true), 0); // .bss starts zeroed
   * ```
   */
  constructor(obj: BpfObject, section: string, label: string) {
    this.#obj = obj;
    this.#cell = obj.dataEpochCell;
    this.#section = section;
    this.#label = label;
    this.#readonly = obj.spec.datasecs.find((d) => d.name === section)?.readonly ?? false;
  }

  /** The view to read; see {@linkcode SkelMemory.r}. */
  r(): DataView {
    const dv = this.#dv;
    if (dv !== undefined && this.#epoch === this.#cell.n) return dv;
    return this.#refresh();
  }

  /** The view to write `what` in; see {@linkcode SkelMemory.w}. */
  w(what: string): DataView {
    if (this.#readonly && this.#obj.state !== "opened") {
      throw new BpfError(
        `Cannot write ${this.#label}.${what}: section ${
          JSON.stringify(this.#section)
        } is read-only after load (the BPF side sees it as constant); set it between open() and load()`,
      );
    }
    return this.r();
  }

  /** Ends a write; see {@linkcode SkelMemory.c}. */
  c(): void {
    if (this.#map !== undefined && this.#buf !== undefined) this.#map.update(KEY0, this.#buf);
  }

  #refresh(): DataView {
    const obj = this.#obj;
    if (obj.state === "closed") {
      throw new BpfError(`Skeleton of '${obj.name}' is destroyed; ${this.#label} is gone`);
    }
    this.#epoch = obj.dataEpoch;
    this.#dv = undefined;
    this.#map = undefined;
    const bytes = obj.data(this.#section);
    if (bytes !== null) {
      this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#buf = undefined;
      return this.#dv;
    }
    if (obj.state !== "loaded") {
      throw new BpfError(`Section ${this.#label} of '${obj.name}' has no memory (${obj.state})`);
    }
    // The kernel could not map the section: go through element 0 of its map on every access.
    const map = obj.map(this.#section);
    const v = map.lookup(KEY0);
    if (v === undefined) throw new BpfError(`Map of ${this.#label} has no element 0`);
    this.#map = map;
    this.#buf = v;
    this.#epoch = -1; // read again next time
    return new DataView(v.buffer, v.byteOffset, v.byteLength);
  }
}

/**
 * A fixed buffer as skeleton memory: the struct_ops value an object declares, writable until
 * the object is loaded (the loader takes it from there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SkelBytes } from "./skeleton.ts";
 * const m = new SkelBytes({ state: "opened" } as never, new Uint8Array(8), "structOps.x");
 * m.w("x").setUint32(0, 5, true);
 * assert.equal(m.r().getUint32(0, true), 5);
 * ```
 */
export class SkelBytes implements SkelMemory {
  readonly #obj: BpfObject;
  readonly #dv: DataView;
  readonly #label: string;

  /**
   * Wraps a struct_ops value's bytes, writable until `obj` is loaded.
   *
   * @param obj the object.
   * @param bytes the memory.
   * @param label the accessor's name, for messages.
   * @example
   * ```ts
   * import { SkelBytes } from "./skeleton.ts";
   * const m = new SkelBytes({ state: "opened" } as never, new Uint8Array(8), "structOps.x");
   * m.w("y").setUint32(0, 5, true);
   * if (m.r().getUint32(0, true) !== 5) throw new Error("no");
   * ```
   */
  constructor(obj: BpfObject, bytes: Uint8Array, label: string) {
    this.#obj = obj;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#label = label;
  }
  /** The view to read. */
  r(): DataView {
    return this.#dv;
  }
  /** The view to write; throws after load. */
  w(what: string): DataView {
    if (this.#obj.state !== "opened") {
      throw new BpfError(
        `Cannot write ${this.#label}.${what}: the struct_ops value is fixed at load; set it between open() and load()`,
      );
    }
    return this.#dv;
  }
  /** Nothing to push. */
  c(): void {}
}

/** An element type of a skeleton array: how to read (and write) one element at an offset. */
export interface Elem<T> {
  /** Size of one element in bytes. */
  readonly size: number;
  /** Reads the element at `off`. */
  get(m: SkelMemory, off: number, path: string): T;
  /** Writes it; absent for elements that are not assignable (structs, nested arrays). */
  set?(m: SkelMemory, off: number, v: T, path: string): void;
}

/** A C array in skeleton memory: indexable, assignable (`a[3] = 0n`), iterable. */
export interface ArrayView<T> extends Iterable<T> {
  /** The number of elements. */
  readonly length: number;
  /** Element `i`. */
  [index: number]: T;
  /** The elements, copied out. */
  toArray(): T[];
}

/** A C array of structs or arrays: indexable (each element is an accessor), iterable. */
export interface ReadonlyArrayView<T> extends Iterable<T> {
  /** The number of elements. */
  readonly length: number;
  /** Element `i`. */
  readonly [index: number]: T;
  /** The elements. */
  toArray(): T[];
}

function scalar<T>(
  size: number,
  get: (d: DataView, o: number) => T,
  set: (d: DataView, o: number, v: T) => void,
): Elem<T> {
  return {
    size,
    get: (m, o) => get(m.r(), o),
    set: (m, o, v, p) => {
      set(m.w(p), o, v);
      m.c();
    },
  };
}

/** The element types of scalar arrays, by C type. */
export interface ScalarElems {
  /** `__u8`. */
  readonly u8: Elem<number>;
  /** `__s8`. */
  readonly i8: Elem<number>;
  /** `__u16`. */
  readonly u16: Elem<number>;
  /** `__s16`. */
  readonly i16: Elem<number>;
  /** `__u32`. */
  readonly u32: Elem<number>;
  /** `__s32`. */
  readonly i32: Elem<number>;
  /** `__u64` and pointers. */
  readonly u64: Elem<bigint>;
  /** `__s64`. */
  readonly i64: Elem<bigint>;
  /** `float`. */
  readonly f32: Elem<number>;
  /** `double`. */
  readonly f64: Elem<number>;
  /** `bool`. */
  readonly bool: Elem<boolean>;
  /** `__int128`. */
  readonly i128: Elem<bigint>;
  /** `unsigned __int128`. */
  readonly u128: Elem<bigint>;
}

/**
 * Element types of scalar arrays (for {@linkcode arrayView}).
 *
 * @example
 * ```ts
 * import { arrayView, E, SkelBytes } from "./skeleton.ts";
 * const m = new SkelBytes({ state: "opened" } as never, new Uint8Array(16), "x");
 * const a = arrayView(m, 0, E.i64, 2, "a");
 * a[1] = -1n;
 * if (a[1] !== -1n || E.i64.size !== 8) throw new Error("no");
 * ```
 */
export const E: ScalarElems = {
  /** `__u8`. */
  u8: scalar<number>(1, (d, o) => d.getUint8(o), (d, o, v) => d.setUint8(o, v)),
  /** `__s8`. */
  i8: scalar<number>(1, (d, o) => d.getInt8(o), (d, o, v) => d.setInt8(o, v)),
  /** `__u16`. */
  u16: scalar<number>(2, (d, o) => d.getUint16(o, true), (d, o, v) => d.setUint16(o, v, true)),
  /** `__s16`. */
  i16: scalar<number>(2, (d, o) => d.getInt16(o, true), (d, o, v) => d.setInt16(o, v, true)),
  /** `__u32`. */
  u32: scalar<number>(4, (d, o) => d.getUint32(o, true), (d, o, v) => d.setUint32(o, v, true)),
  /** `__s32`. */
  i32: scalar<number>(4, (d, o) => d.getInt32(o, true), (d, o, v) => d.setInt32(o, v, true)),
  /** `__u64` and pointers. */
  u64: scalar<bigint>(
    8,
    (d, o) => d.getBigUint64(o, true),
    (d, o, v) => d.setBigUint64(o, v, true),
  ),
  /** `__s64`. */
  i64: scalar<bigint>(8, (d, o) => d.getBigInt64(o, true), (d, o, v) => d.setBigInt64(o, v, true)),
  /** `float`. */
  f32: scalar<number>(4, (d, o) => d.getFloat32(o, true), (d, o, v) => d.setFloat32(o, v, true)),
  /** `double`. */
  f64: scalar<number>(8, (d, o) => d.getFloat64(o, true), (d, o, v) => d.setFloat64(o, v, true)),
  /** `bool`. */
  bool: scalar<boolean>(1, (d, o) => d.getUint8(o) !== 0, (d, o, v) => d.setUint8(o, v ? 1 : 0)),
  /** `__int128`. */
  i128: scalar<bigint>(16, (d, o) => getInt128(d, o, true), (d, o, v) => setInt128(d, o, v)),
  /** `unsigned __int128`. */
  u128: scalar<bigint>(16, (d, o) => getInt128(d, o, false), (d, o, v) => setInt128(d, o, v)),
};

/**
 * A char array element (`char names[4][16]`): read as a string, written from one.
 *
 * @example
 * ```ts
 * import { arrayView, cstrElem, SkelBytes } from "./skeleton.ts";
 * const m = new SkelBytes({ state: "opened" } as never, new Uint8Array(32), "x");
 * const names = arrayView(m, 0, cstrElem(16), 2, "names");
 * names[1] = "bob";
 * if (names[1] !== "bob" || names[0] !== "") throw new Error("no");
 * ```
 */
export function cstrElem(size: number): Elem<string> {
  return {
    size,
    get: (m, o) => getCstr(m.r(), o, size),
    set: (m, o, v, p) => {
      setCstr(m.w(p), o, size, v, p);
      m.c();
    },
  };
}

/**
 * An element that is an accessor object (a struct or union), made by `make` at each offset.
 *
 * @example
 * ```ts
 * import { arrayView, SkelBytes, viewElem } from "./skeleton.ts";
 * const m = new SkelBytes({ state: "opened" } as never, new Uint8Array(16), "x");
 * const a = arrayView(m, 0, viewElem(8, (_m, o) => ({ at: o })), 2, "a");
 * if (a[1].at !== 8) throw new Error("no");
 * ```
 */
export function viewElem<T>(
  size: number,
  make: (m: SkelMemory, o: number, p: string) => T,
): Elem<T> {
  return { size, get: make };
}

/**
 * An element that is itself an array (`int m[2][3]`).
 *
 * @example
 * ```ts
 * import { arrayElem, arrayView, E, SkelBytes } from "./skeleton.ts";
 * const m = new SkelBytes({ state: "opened" } as never, new Uint8Array(24), "x");
 * const grid = arrayView(m, 0, arrayElem(E.i32, 3), 2, "grid");
 * grid[1][2] = -5;
 * if (m.r().getInt32(20, true) !== -5) throw new Error("no");
 * ```
 */
export function arrayElem<T>(inner: Elem<T>, n: number): Elem<ArrayView<T>> {
  return { size: inner.size * n, get: (m, o, p) => arrayView(m, o, inner, n, p) };
}

const INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * An array accessor over skeleton memory.
 *
 * @param m the memory.
 * @param off the first element's offset.
 * @param elem the element type.
 * @param n the element count, or -1 for "to the end of the memory" (the last array of a data
 *   section that can be resized).
 * @param path the variable's path, for messages.
 * @returns the accessor.
 * @example
 * ```ts
 * import { arrayView, E, SkelBytes } from "./skeleton.ts";
 * const m = new SkelBytes({ state: "opened" } as never, new Uint8Array(16), "x");
 * const a = arrayView(m, 0, E.u32, 4, "a");
 * a[2] = 7;
 * if (a[2] !== 7 || a.length !== 4 || a[4] !== undefined) throw new Error("no");
 * ```
 */
export function arrayView<T>(
  m: SkelMemory,
  off: number,
  elem: Elem<T>,
  n: number,
  path: string,
): ArrayView<T> {
  const length = n >= 0
    ? () => n
    : () => Math.max(0, Math.floor((m.r().byteLength - off) / elem.size));
  const target = {
    get length(): number {
      return length();
    },
    toArray(): T[] {
      const out: T[] = [];
      const len = length();
      for (let i = 0; i < len; i++) out.push(elem.get(m, off + i * elem.size, `${path}[${i}]`));
      return out;
    },
    *[Symbol.iterator](): Iterator<T> {
      const len = length();
      for (let i = 0; i < len; i++) yield elem.get(m, off + i * elem.size, `${path}[${i}]`);
    },
  };
  return new Proxy(target, {
    get(t, key, recv) {
      if (typeof key === "string" && INDEX.test(key)) {
        const i = Number(key);
        return i < length() ? elem.get(m, off + i * elem.size, `${path}[${i}]`) : undefined;
      }
      return Reflect.get(t, key, recv);
    },
    set(_t, key, v) {
      if (typeof key !== "string" || !INDEX.test(key)) {
        throw new TypeError(`Cannot set property ${String(key)} of array ${path}`);
      }
      const i = Number(key);
      if (i >= length()) {
        throw new RangeError(`Index ${i} is out of range for ${path} (length ${length()})`);
      }
      if (elem.set === undefined) {
        throw new TypeError(`${path}[${i}] is not assignable; assign its members`);
      }
      elem.set(m, off + i * elem.size, v as T, `${path}[${i}]`);
      return true;
    },
    has(t, key) {
      if (typeof key === "string" && INDEX.test(key)) return Number(key) < length();
      return Reflect.has(t, key);
    },
  }) as unknown as ArrayView<T>;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

/**
 * Reads a C string: the bytes up to the first NUL (or all `size`), as UTF-8.
 *
 * @example
 * ```ts
 * import { getCstr } from "./skeleton.ts";
 * const d = new DataView(new Uint8Array([104, 105, 0, 120]).buffer);
 * if (getCstr(d, 0, 4) !== "hi") throw new Error("no");
 * ```
 */
export function getCstr(d: DataView, off: number, size: number): string {
  const b = new Uint8Array(d.buffer, d.byteOffset + off, size);
  const nul = b.indexOf(0);
  return dec.decode(b.slice(0, nul < 0 ? size : nul));
}

/**
 * Writes a C string: its UTF-8 bytes, then zeros to `size`.
 *
 * @throws {RangeError} the string's bytes do not fit.
 * @example
 * ```ts
 * import { getCstr, setCstr } from "./skeleton.ts";
 * const d = new DataView(new ArrayBuffer(8));
 * setCstr(d, 0, 8, "abc", "name");
 * if (getCstr(d, 0, 8) !== "abc") throw new Error("no");
 * ```
 */
export function setCstr(d: DataView, off: number, size: number, v: string, path: string): void {
  const b = enc.encode(String(v));
  if (b.length > size) {
    throw new RangeError(`${path} holds ${size} bytes; the string takes ${b.length}`);
  }
  const dst = new Uint8Array(d.buffer, d.byteOffset + off, size);
  dst.set(b);
  dst.fill(0, b.length);
}

function readLe(d: DataView, off: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(d.getUint8(off + i));
  return v;
}

function writeLe(d: DataView, off: number, n: number, v: bigint): void {
  for (let i = 0; i < n; i++) {
    d.setUint8(off + i, Number(v & 0xffn));
    v >>= 8n;
  }
}

/**
 * Reads a 128-bit integer (little-endian).
 *
 * @example
 * ```ts
 * import { getInt128, setInt128 } from "./skeleton.ts";
 * const d = new DataView(new ArrayBuffer(16));
 * setInt128(d, 0, -2n);
 * if (getInt128(d, 0, true) !== -2n || getInt128(d, 0, false) !== (1n << 128n) - 2n) {
 *   throw new Error("no");
 * }
 * ```
 */
export function getInt128(d: DataView, off: number, signed: boolean): bigint {
  const v = readLe(d, off, 16);
  return signed ? BigInt.asIntN(128, v) : v;
}

/**
 * Writes a 128-bit integer (little-endian, two's complement).
 *
 * @example
 * ```ts
 * import { setInt128 } from "./skeleton.ts";
 * const d = new DataView(new ArrayBuffer(16));
 * setInt128(d, 0, 1n << 64n);
 * if (d.getBigUint64(8, true) !== 1n) throw new Error("no");
 * ```
 */
export function setInt128(d: DataView, off: number, v: bigint): void {
  writeLe(d, off, 16, BigInt.asUintN(128, v));
}

/**
 * Reads a bitfield as a bigint.
 *
 * @param d the memory.
 * @param off the byte holding the field's first bit.
 * @param bit the first bit within that byte (0..7, from the least significant).
 * @param bits the width.
 * @param signed sign-extend.
 * @example
 * ```ts
 * import { getBitsBig } from "./skeleton.ts";
 * const d = new DataView(new Uint8Array([0b1011_0000]).buffer);
 * if (getBitsBig(d, 0, 4, 4, false) !== 11n) throw new Error("no");
 * ```
 */
export function getBitsBig(
  d: DataView,
  off: number,
  bit: number,
  bits: number,
  signed: boolean,
): bigint {
  const n = (bit + bits + 7) >> 3;
  const v = BigInt.asUintN(bits, readLe(d, off, n) >> BigInt(bit));
  return signed ? BigInt.asIntN(bits, v) : v;
}

/**
 * Reads a bitfield of at most 53 bits as a number (see {@linkcode getBitsBig}).
 *
 * @example
 * ```ts
 * import { getBits } from "./skeleton.ts";
 * const d = new DataView(new Uint8Array([0xf0, 0x01]).buffer);
 * if (getBits(d, 0, 4, 5, true) !== -1) throw new Error("no");
 * ```
 */
export function getBits(
  d: DataView,
  off: number,
  bit: number,
  bits: number,
  signed: boolean,
): number {
  return Number(getBitsBig(d, off, bit, bits, signed));
}

/**
 * Writes a bitfield (the value is cut to its width), leaving the bits around it alone.
 *
 * @example
 * ```ts
 * import { getBits, setBits } from "./skeleton.ts";
 * const d = new DataView(new Uint8Array([0xff, 0xff]).buffer);
 * setBits(d, 0, 6, 4, 0);
 * if (d.getUint16(0, true) !== 0xfc3f || getBits(d, 0, 6, 4, false) !== 0) throw new Error("no");
 * ```
 */
export function setBits(
  d: DataView,
  off: number,
  bit: number,
  bits: number,
  v: number | bigint,
): void {
  const n = (bit + bits + 7) >> 3;
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(bit);
  const old = readLe(d, off, n);
  const val = (BigInt.asUintN(bits, BigInt(v)) << BigInt(bit)) & mask;
  writeLe(d, off, n, (old & ~mask) | val);
}

/**
 * Decodes the base64 text a skeleton embeds its object in.
 *
 * @example
 * ```ts
 * import { fromBase64 } from "./skeleton.ts";
 * if (fromBase64("AQID").join() !== "1,2,3") throw new Error("no");
 * ```
 */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function namedGetters<T>(
  names: Readonly<Record<string, string>>,
  get: (name: string) => unknown,
): T {
  const o = {};
  for (const [key, name] of Object.entries(names)) {
    Object.defineProperty(o, key, { get: () => get(name), enumerable: true });
  }
  return Object.freeze(o) as T;
}

/**
 * The base class of generated skeletons: one object, its typed maps, programs and links, and
 * libbpf's skeleton lifecycle (`open`, `load`, `attach`, `detach`, `destroy`). Generated classes
 * (`tsbpf gen skeleton`) extend it; user code does not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * // written by `tsbpf gen skeleton load_globals.bpf.o` (the golden copy reads the object from a path)
 * import { LoadGlobalsSkel } from "../tests/golden/load_globals.skel.ts";
 * using skel = LoadGlobalsSkel.open({ path: "tests/bpf/build/load_globals.bpf.o" });
 * skel.rodata.ro_value = 42n; // const volatile: set before load
 * skel.load();
 * skel.progs.copy_globals.testRun({ ctxIn: new Uint8Array(8) });
 * assert.equal(skel.bss.bss_out_ro, 42n); // what the program copied, read from mmapped .bss
 * ```
 *
 * @typeParam M the generated maps interface.
 * @typeParam P the generated programs interface.
 * @typeParam L the generated links interface.
 */
export class Skeleton<M, P, L> {
  /** The object: everything the typed fields do not cover (`setMaxEntries`, `resizeData`...). */
  readonly obj: BpfObject;
  /** Maps by name; each getter throws before load. */
  readonly maps: M;
  /** Programs by name; each getter throws before load and for programs not loaded. */
  readonly progs: P;
  /**
   * Links by program (and struct_ops map) name: `attach()` fills them, and a link made by hand
   * (XDP on an interface, a uprobe on a pid) can be stored here too; `detach()` and `destroy()`
   * close every link found here.
   */
  readonly links: L;
  readonly #desc: SkeletonDescriptor;
  readonly #noAutoattach = new Set<string>();

  /**
   * Wraps an opened object with the typed fields a generated class describes.
   *
   * @param obj the opened object.
   * @param desc the generated descriptor.
   */
  protected constructor(obj: BpfObject, desc: SkeletonDescriptor) {
    this.obj = obj;
    this.#desc = desc;
    this.maps = namedGetters<M>(desc.maps, (n) => obj.map(n));
    this.progs = namedGetters<P>(desc.progs, (n) => obj.program(n));
    this.links = {} as L;
  }

  /**
   * Opens the object for a generated skeleton: from `options.path` (checked against the layout
   * the skeleton was generated for) or from the embedded bytes.
   *
   * @param bytes the embedded object.
   * @param desc the generated descriptor.
   * @param options open options.
   * @returns the opened object.
   * @throws {BpfError} the file does not match the skeleton (a variable moved or changed size, a
   *   map or program is missing); the message names it.
   */
  protected static openObject(
    bytes: () => Uint8Array,
    desc: SkeletonDescriptor,
    options: SkeletonOpenOptions,
  ): BpfObject {
    const { path, ...opts } = options;
    const obj = BpfObject.open(path ?? bytes(), { name: desc.name, ...opts });
    if (path !== undefined) {
      try {
        checkLayout(obj, desc, path);
      } catch (e) {
        obj.close();
        throw e;
      }
    }
    return obj;
  }

  /** The memory of a data section, for the generated accessor classes. */
  protected section(ident: string): SkelData {
    const s = this.#desc.sections[ident];
    if (s === undefined) throw new BpfError(`Skeleton has no data section ${ident}`);
    return new SkelData(this.obj, s.section, ident);
  }

  #btf(): Btf {
    const btf = this.obj.spec.btf;
    if (btf === undefined) throw new BpfError(`Object '${this.obj.name}' has no BTF`);
    return btf;
  }

  /** The codecs of the object's types, built on first use (for the generated `codecs`). */
  protected codecsOf<T>(): T {
    return lazy<T>(
      Object.entries(this.#desc.codecs ?? {}).map(([key, [cName, id]]) => [key, () => {
        const btf = this.#btf();
        if (cName !== "") {
          try {
            return codecByName(btf, cName);
          } catch {
            // fall back to the id the skeleton was generated with
          }
        }
        return codecFor(btf, id);
      }]),
    );
  }

  /** The key and value codecs of maps, built on first use (for the generated `mapCodecs`). */
  protected mapCodecsOf<T>(): T {
    return lazy<T>(
      Object.entries(this.#desc.mapCodecs ?? {}).map(([key, name]) => [key, () => {
        const m = this.obj.spec.maps.find((x) => x.name === name);
        if (m === undefined) throw new BpfError(`Object '${this.obj.name}' has no map ${name}`);
        const btf = this.#btf();
        return Object.freeze({
          key: m.btfKeyTypeId !== 0 ? codecFor(btf, m.btfKeyTypeId) : undefined,
          value: m.btfValueTypeId !== 0 ? codecFor(btf, m.btfValueTypeId) : undefined,
        });
      }]),
    );
  }

  /**
   * Typed views of the maps that have key and value codecs (for the generated `typedMaps`): each
   * getter gives `obj.map(name).typed()` with the object's BTF, and throws before load.
   */
  protected typedMapsOf<T>(): T {
    const cache = new Map<string, unknown>();
    return namedGetters<T>(this.#desc.mapCodecs ?? {}, (name) => {
      const map = this.obj.map(name);
      let t = cache.get(name) as { map: BpfMap } | undefined;
      if (t === undefined || t.map !== map) {
        t = map.typed(this.#btf());
        cache.set(name, t);
      }
      return t;
    });
  }

  /** The struct_ops value of a map, for the generated accessor classes. */
  protected structOpsMemory(ident: string): SkelBytes {
    const name = this.#desc.structOps[ident];
    const so = this.obj.spec.maps.find((m) => m.name === name)?.structOps;
    if (so === undefined) throw new BpfError(`Skeleton has no struct_ops map ${ident}`);
    return new SkelBytes(this.obj, so.data, `structOps.${ident}`);
  }

  /**
   * Loads the object (`bpf_object__load`). Data accessors move to the maps' memory.
   *
   * @param opts load options.
   * @throws {VerifierError} {SyscallError} {BpfError} as `BpfObject.load()`.
   */
  load(opts: ObjectLoadOptions = {}): void {
    this.obj.load(opts);
  }

  /**
   * Whether `load()` loads a program (libbpf's `bpf_program__set_autoload`); before load only.
   *
   * @param prog the program's accessor name, as in `progs`.
   * @param on load it or not.
   * @throws {BpfError} no such program, or the object is loaded.
   */
  setAutoload(prog: keyof P & string, on: boolean): void {
    const name = this.#desc.progs[prog];
    if (name === undefined) {
      throw new BpfError(`Skeleton of '${this.obj.name}' has no program ${prog}`);
    }
    this.obj.setAutoload(name, on);
  }

  /**
   * Whether `attach()` attaches a program or a struct_ops map (libbpf's
   * `bpf_program__set_autoattach` and `bpf_map__set_autoattach`); default on.
   *
   * @param name the program's (or struct_ops map's) accessor name, as in `links`.
   * @param on attach it or not.
   * @throws {BpfError} no such program or struct_ops map.
   */
  setAutoattach(name: keyof L & string, on: boolean): void {
    if (this.#desc.progs[name] === undefined && this.#desc.structOps[name] === undefined) {
      throw new BpfError(`Skeleton of '${this.obj.name}' has no program or struct_ops map ${name}`);
    }
    if (on) this.#noAutoattach.delete(name);
    else this.#noAutoattach.add(name);
  }

  /**
   * Attaches as libbpf's `bpf_object__attach_skeleton`: every loaded program (autoload) with
   * autoattach on, whose section has an attach function and names its target, and whose link
   * is not set yet; then every struct_ops map whose link is not set. Programs whose section
   * names no target (`SEC("uprobe")`, `SEC("xdp")`) are left alone. When one fails, the links
   * made so far stay in `links` (`detach()` or `destroy()` closes them) and the error names it.
   *
   * @throws {BpfError} {NotSupportedError} {SyscallError} an attach failed.
   */
  attach(): void {
    const obj = this.obj;
    if (obj.state !== "loaded") {
      throw new BpfError(
        `Skeleton of '${obj.name}' is not loaded (${obj.state}); call load() first`,
      );
    }
    const links = this.links as Record<string, BpfLink | undefined>;
    for (const [key, name] of Object.entries(this.#desc.progs)) {
      if (this.#noAutoattach.has(key) || links[key] !== undefined) continue;
      const p = obj.programs.get(name);
      const spec = obj.spec.programs.find((s) => s.name === name);
      if (p === undefined || spec === undefined || !canAutoAttach(spec)) continue;
      let l: BpfLink | undefined;
      try {
        l = attachProgram({ fd: p.fd, name, section: spec.section, spec });
      } catch (e) {
        const msg = (e as Error)?.message ?? String(e);
        throw new BpfError(
          `Skeleton of '${obj.name}': attaching program ${JSON.stringify(name)} (section ${
            JSON.stringify(spec.section)
          }) failed: ${msg}`,
          { cause: e },
        );
      }
      if (l !== undefined) links[key] = l;
    }
    for (const [key, name] of Object.entries(this.#desc.structOps)) {
      if (this.#noAutoattach.has(key) || links[key] !== undefined || !obj.maps.has(name)) continue;
      links[key] = attachStructOps(obj.map(name), obj.structOpsValue(name));
    }
  }

  /**
   * Closes every link in `links` (the ones `attach()` made and the ones stored by hand), last
   * made first. Safe to call twice. A link whose close failed to undo its attachment stays in
   * `links` (still open), so that calling `detach()` again retries it.
   *
   * @throws the first error, after every link was closed.
   */
  detach(): void {
    const links = this.links as Record<string, BpfLink | undefined>;
    let first: unknown;
    for (const key of Object.keys(links).reverse()) {
      const l = links[key];
      try {
        l?.close();
      } catch (e) {
        first ??= e;
      }
      if (l === undefined || l.closed) delete links[key];
    }
    if (first !== undefined) throw first;
  }

  /** Detaches, then closes the object (maps, programs, data). Safe to call twice. */
  destroy(): void {
    try {
      this.detach();
    } finally {
      this.obj.close();
    }
  }

  /** Same as `destroy()`. */
  [Symbol.dispose](): void {
    this.destroy();
  }
}

/**
 * Checks that an object has the layout a skeleton was generated for (bpftool's `__assert`s, at
 * run time): each exposed variable at the same offset with the same size, and every map and
 * program present. Generated skeletons call it when opened from a `path`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfError, BpfObject } from "../mod.ts";
 * import { checkLayout } from "./skeleton.ts";
 * using obj = BpfObject.open("tests/bpf/build/load_globals.bpf.o");
 * const desc = { name: "x", maps: {}, progs: { p: "no_such_prog" }, structOps: {}, sections: {} };
 * assert.throws(() => checkLayout(obj, desc, "load_globals.bpf.o"), BpfError);
 * ```
 *
 * @param obj the opened object.
 * @param desc the skeleton's descriptor.
 * @param file the file name, for messages.
 * @throws {BpfError} naming the first difference.
 */
export function checkLayout(obj: BpfObject, desc: SkeletonDescriptor, file: string): void {
  const spec = obj.spec;
  const regen = `; regenerate the skeleton from this file (tsbpf gen skeleton)`;
  for (const [ident, s] of Object.entries(desc.sections)) {
    const d = spec.datasecs.find((x) => x.name === s.section);
    if (d === undefined) {
      throw new BpfError(
        `Object ${JSON.stringify(file)} has no section ${
          JSON.stringify(s.section)
        } (${ident})${regen}`,
      );
    }
    for (const [name, offset, size] of s.vars) {
      const v = d.vars.find((x) => x.name === name && x.linkage !== "static");
      if (v === undefined) {
        throw new BpfError(
          `Object ${JSON.stringify(file)} has no variable ${ident}.${JSON.stringify(name)}${regen}`,
        );
      }
      if (v.offset !== offset || v.size !== size) {
        throw new BpfError(
          `Variable ${ident}.${
            JSON.stringify(name)
          } is at offset ${v.offset} with size ${v.size} in ${
            JSON.stringify(file)
          }, but the skeleton was generated for offset ${offset} and size ${size}${regen}`,
        );
      }
    }
  }
  for (const name of Object.values(desc.progs)) {
    if (!spec.programs.some((p) => p.name === name)) {
      throw new BpfError(
        `Object ${JSON.stringify(file)} has no program ${JSON.stringify(name)}${regen}`,
      );
    }
  }
  for (const name of [...Object.values(desc.maps), ...Object.values(desc.structOps)]) {
    if (!spec.maps.some((m) => m.name === name) && !spec.datasecs.some((d) => d.name === name)) {
      throw new BpfError(
        `Object ${JSON.stringify(file)} has no map ${JSON.stringify(name)}${regen}`,
      );
    }
  }
}

export type { BpfLink, BpfMap, BpfProgram };
