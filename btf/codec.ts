/**
 * Typed codecs built from BTF: {@linkcode codecFor} turns a BTF type into a {@linkcode Codec} that
 * decodes bytes laid out as C lays out that type into plain JavaScript values, and encodes such
 * values back into bytes. The map API, the ring buffer and the skeleton's accessors share them, and
 * `gen/ts_types.ts` prints the TypeScript types that match them (from {@linkcode codecShape}).
 *
 * ## Representation
 *
 * Bytes are little-endian (the BTF of every BPF object tsbpf loads on x86_64, arm64 and the other
 * little-endian hosts). Typedefs, `const`, `volatile`, `restrict` and type tags are looked through.
 *
 * | C type                                             | JavaScript value                                 |
 * | -------------------------------------------------- | ------------------------------------------------ |
 * | integer of 1, 2 or 4 bytes, a lone `char`          | `number`                                         |
 * | integer of 8 or 16 bytes                           | `bigint`                                         |
 * | `_Bool` (an INT with the BOOL encoding)            | `boolean` (any non-zero byte decodes as true)    |
 * | enum of 1, 2 or 4 bytes / of 8 bytes (ENUM64)      | `number` / `bigint` (signed as the enum says)    |
 * | `float`, `double`                                  | `number`                                         |
 * | other floats (`long double`, 2-byte)               | `Uint8Array` of its bytes                        |
 * | pointer                                            | `bigint` (the address, unsigned)                 |
 * | `char s[N]` (see below)                            | `string`                                         |
 * | array of integers, enums, floats or pointers       | the typed array: `Int32Array`, `BigUint64Array`… |
 * | any other array                                    | a JS array; `int m[2][3]` is `Int32Array[]`      |
 * | struct, union, DATASEC                             | a plain object with every member                 |
 * | bitfield of up to 32 bits / of more                | `number` / `bigint` (`_Bool x : 1` is `boolean`) |
 *
 * - A char array is an array whose element is a 1-byte INT with the CHAR encoding, or the INT named
 *   `char`, `signed char` or `unsigned char` itself (modifiers allowed, typedefs not: `__u8 mac[6]`
 *   is a `Uint8Array`). Decoding reads up to the first NUL as UTF-8 (invalid bytes become U+FFFD);
 *   encoding writes the UTF-8 bytes and zero-fills the rest. A string of exactly N bytes is written
 *   without a NUL (as `strncpy` would); a longer one is a {@linkcode CodecError}.
 * - Typed arrays are copies, never views of the decoded bytes. Those of up to 256 bytes are views
 *   into a shared 8 KiB pool (V8 makes a backing store for each new typed array, ten times the cost
 *   of the whole decode): their `byteOffset` may be non-zero and their `buffer` holds other values
 *   too; `.slice()` gives one a buffer of its own. Encode takes the matching typed array, or any
 *   array-like of the right length whose elements fit (`[1, 2, 3]` for `int a[3]`).
 * - Zero-length and flexible arrays decode as empty (`""`, an empty typed array, `[]`).
 * - Signed bitfields are sign-extended. The representation of a bitfield follows its width, not
 *   its declared type: `u64 flag : 1` is a `number`, `u64 big : 40` a `bigint`.
 * - Members of an unnamed struct or union member are flattened into the containing object, as C
 *   accesses them (`e.pid` for `struct e { union { int pid; int tgid; }; }`). Unnamed members of any
 *   other type (padding bitfields) are left out and encoded as zeros.
 * - Keys are the C member names. A name that is not an identifier (only hand-made BTF has these)
 *   gets every character outside `[A-Za-z0-9_$]` replaced by `_`, a `_` in front of a leading digit
 *   or of an empty name, and `__proto__` becomes `__proto___`. When two members of one object end
 *   up with the same key (after flattening or that replacement; C forbids it, hostile BTF does
 *   not), the later one gets `_2`, `_3`… in declaration order. {@linkcode codecShape} gives the
 *   keys.
 * - A union decodes every member from the same bytes. Encoding zeroes the union, then writes each
 *   member the value has (not `undefined`) in declaration order, so where they overlap the last
 *   one given wins; a union value with none of its members is a {@linkcode CodecError}. A flattened
 *   unnamed struct inside a union counts as given when any of its members is, and then needs all.
 * - Encoding a struct needs every member: a missing one is a {@linkcode CodecError} naming it, as
 *   is a wrong JS type (`1` for a `u64`, which takes `1n`), an integer out of range, a non-integer
 *   number, or a typed array of the wrong length. Keys the type does not have are ignored.
 *   Encoding writes every byte of the type: padding and unnamed bitfields become zeros.
 *
 * `encode(decode(b))` gives `b` back except where the representation drops bytes: padding and
 * unnamed bitfields (zeroed), a `_Bool` byte other than 0 or 1 (written as 1), the bytes after the
 * first NUL of a char array (zeroed) or invalid UTF-8 in it, and overlapping union members when a
 * later member is one of those (the last member's bytes are written last). A char array with
 * invalid UTF-8 may even decode into a string that no longer fits (each U+FFFD takes three bytes):
 * encoding it is a {@linkcode CodecError}.
 *
 * A DATASEC decodes with the offsets its BTF gives; in an object file's own BTF they are zero until
 * fixed up (libbpf's `btf_fixup_datasec`), so decode an `ObjectSpec`'s data section variable by
 * variable, with each `VarSpec`'s codec at its offset.
 *
 * ## Limits
 *
 * Codecs are built once per (`Btf`, type id) and cached; building does bounded work on hostile BTF:
 * nesting (structs, arrays, unnamed members) deeper than {@linkcode CODEC_MAX_DEPTH}, a type that
 * contains itself, and a type whose decoded value would hold more than
 * {@linkcode CODEC_MAX_VALUES} JavaScript values (arrays of structs; a typed array, a string counts
 * as one) are a {@linkcode CodecError} at build time, as are void, functions, function prototypes
 * and forward declarations used by value, and members that do not fit inside their struct.
 * Decoding and encoding build no closures, use no regular expressions and no `eval`.
 *
 * @module
 */
import type { Btf } from "./btf.ts";
import { BtfIntEncoding, BtfKind, type BtfMember, type BtfType } from "./types.ts";
import { BpfError, CodecError } from "../errors.ts";

export { CodecError };

/**
 * A decoder and encoder for one BTF type. Made by {@linkcode codecFor} or {@linkcode codecByName};
 * the module doc describes the values.
 *
 * @example
 * ```ts
 * import { Btf, BtfBuilder, codecFor } from "./mod.ts";
 * const b = new BtfBuilder();
 * const u32 = b.int("unsigned int", 4);
 * const pt = b.struct("pt", 8, [{ name: "x", type: u32, bitOffset: 0 }, { name: "y", type: u32, bitOffset: 32 }]);
 * using btf = Btf.parse(b.build());
 * const c = codecFor<{ x: number; y: number }>(btf, pt);
 * const bytes = c.toBytes({ x: 1, y: 2 });
 * if (bytes.length !== 8 || c.fromBytes(bytes).y !== 2) throw new Error("round trip failed");
 * ```
 */
export interface Codec<T = unknown> {
  /** The BTF id it was built from. */
  readonly typeId: number;
  /** The C name of that type ("" when anonymous): a struct's tag, a typedef's or variable's name. */
  readonly name: string;
  /** The size in bytes. */
  readonly size: number;
  /** The alignment in bytes (1 for a packed struct). */
  readonly align: number;
  /**
   * Decodes the `size` bytes at `offset` of `view`.
   * @throws {CodecError} When the view holds fewer than `offset + size` bytes.
   */
  decode(view: DataView, offset?: number): T;
  /**
   * Encodes `value` into `[offset, offset + size)` of `view`, every byte of it (padding zeroed).
   * @throws {CodecError} When `value` has the wrong shape (the error's `path` names the field), or
   *   the view is too small. Bytes before the field at fault may have been written.
   */
  encode(value: T, view: DataView, offset?: number): void;
  /**
   * Decodes the first `size` bytes of `bytes`.
   * @throws {CodecError} When `bytes` is shorter than `size`.
   */
  fromBytes(bytes: Uint8Array): T;
  /**
   * Encodes `value` into a new `Uint8Array(size)`.
   * @throws {CodecError} When `value` has the wrong shape.
   */
  toBytes(value: T): Uint8Array;
}

/**
 * Nesting deeper than this (structs in structs, arrays, unnamed members) has no codec; typedefs
 * and modifiers do not count.
 *
 * @example
 * ```ts
 * import { Btf, BtfBuilder, CODEC_MAX_DEPTH, codecFor, CodecError } from "./mod.ts";
 * const b = new BtfBuilder();
 * let t = b.int("int", 4, { signed: true });
 * for (let i = 0; i <= CODEC_MAX_DEPTH; i++) t = b.struct(`s${i}`, 4, [{ name: "v", type: t, bitOffset: 0 }]);
 * using btf = Btf.parse(b.build());
 * let refused = false;
 * try {
 *   codecFor(btf, t);
 * } catch (e) {
 *   refused = e instanceof CodecError;
 * }
 * if (!refused) throw new Error("a type nested too deep got a codec");
 * ```
 */
export const CODEC_MAX_DEPTH = 64;
/**
 * A type whose decoded value would hold more JavaScript values than this has no codec (a typed
 * array or a string counts as one value, an array of structs as one per member of each).
 *
 * @example
 * ```ts
 * import { Btf, BtfBuilder, CODEC_MAX_VALUES, codecFor } from "./mod.ts";
 * const b = new BtfBuilder();
 * const int = b.int("int", 4, { signed: true });
 * const pt = b.struct("pt", 4, [{ name: "v", type: int, bitOffset: 0 }]);
 * const many = b.array(pt, CODEC_MAX_VALUES, int); // 2^20 objects of 2 values each
 * const few = b.array(int, CODEC_MAX_VALUES, int); // one Int32Array
 * using btf = Btf.parse(b.build());
 * if (codecFor(btf, few).size !== 4 * CODEC_MAX_VALUES) throw new Error("size");
 * let refused = false;
 * try {
 *   codecFor(btf, many);
 * } catch {
 *   refused = true;
 * }
 * if (!refused) throw new Error("too many values got a codec");
 * ```
 */
export const CODEC_MAX_VALUES = 1 << 20;
/** Chains of typedefs and modifiers longer than this are refused (the kernel allows 32). */
const MAX_CHAIN = 256;

/** The typed array classes a codec produces. */
export type TypedArrayName =
  | "Int8Array"
  | "Uint8Array"
  | "Int16Array"
  | "Uint16Array"
  | "Int32Array"
  | "Uint32Array"
  | "BigInt64Array"
  | "BigUint64Array"
  | "Float32Array"
  | "Float64Array";

/**
 * What a codec's values look like, for generators (`gen/ts_types.ts`): the JS type of each value and
 * the keys of each object, exactly as the codec decodes them.
 */
export type CodecShape =
  | { readonly kind: "number" | "bigint" | "boolean" | "string" | "bytes" }
  | {
    readonly kind: "enum";
    /** The ENUM or ENUM64 type id (typedefs and modifiers skipped). */
    readonly typeId: number;
    /** How its values are represented. */
    readonly repr: "number" | "bigint";
  }
  | {
    readonly kind: "typedArray";
    /** The class. */
    readonly ctor: TypedArrayName;
    /** The element count. */
    readonly length: number;
    /** The element's enum type id when the elements are enum values, else 0. */
    readonly enumTypeId: number;
  }
  | { readonly kind: "array"; readonly element: CodecShape; readonly length: number }
  | {
    readonly kind: "object";
    /** The STRUCT, UNION or DATASEC type id (typedefs and modifiers skipped). */
    readonly typeId: number;
    /** True for a union. */
    readonly union: boolean;
    /** The keys, in declaration order (members of unnamed members flattened in place). */
    readonly fields: readonly CodecField[];
  };

/** One key of an object shape. */
export interface CodecField {
  /** The JavaScript key. */
  readonly key: string;
  /** The C member (or variable) name. */
  readonly name: string;
  /** The member's declared BTF type id (before typedefs); for a DATASEC, the variable's type. */
  readonly memberTypeId: number;
  /** Offset from the start of the outermost object, in bits. */
  readonly bitOffset: number;
  /** Bitfield width in bits, 0 for a member that is not a bitfield. */
  readonly bitSize: number;
  /** The value's shape. */
  readonly shape: CodecShape;
  /** How many unnamed struct or union members it was flattened through (0 for a direct member). */
  readonly via: number;
}

type Dec = (dv: DataView, off: number) => unknown;
type Enc = (v: unknown, dv: DataView, off: number) => void;

interface Node {
  readonly size: number;
  readonly align: number;
  readonly shape: CodecShape;
  /** JS values a decode makes (saturates above CODEC_MAX_VALUES). */
  readonly cost: number;
  readonly dec: Dec;
  readonly enc: Enc;
}

/** Thrown inside encoders; turned into a CodecError with the path at the top. */
class Fail {
  /** Path segments from the innermost out. */
  readonly segs: string[] = [];
  constructor(readonly msg: string, readonly typeId: number) {}
}

/** Thrown while building; turned into a CodecError with the path at the top. */
class BuildFail {
  readonly segs: string[] = [];
  constructor(readonly msg: string, readonly typeId: number) {}
}

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const utf8Enc = new TextEncoder();

function describe(v: unknown): string {
  if (v === undefined) return "nothing (the member is missing)";
  if (v === null) return "null";
  if (typeof v === "bigint") return `the bigint ${v}n`;
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "string") return `a string of ${v.length} characters`;
  if (typeof v === "function") return "a function (the member is missing)";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return `a ${typeof v}`;
}

function fail(msg: string, typeId: number): never {
  throw new Fail(msg, typeId);
}

function zero(dv: DataView, off: number, n: number): void {
  if (n > 256) {
    new Uint8Array(dv.buffer, dv.byteOffset + off, n).fill(0);
    return;
  }
  let i = 0;
  for (; i + 8 <= n; i += 8) dv.setFloat64(off + i, 0);
  for (; i + 4 <= n; i += 4) dv.setUint32(off + i, 0);
  for (; i < n; i++) dv.setUint8(off + i, 0);
}

// ---------------------------------------------------------------------------------------------
// Scalars

/**
 * Decoders that are one DataView read at their offset, by the method they call (and whether it
 * takes the little-endian flag): a compiled object decoder writes these reads out in place of a
 * call (see {@linkcode compileObjectDec}).
 */
const GETTERS = new WeakMap<Dec, string>();

/** Registers `dec` as the one DataView read `expr` (`AT` standing for the offset added to `o`). */
function plain(dec: Dec, expr: string): Dec {
  GETTERS.set(dec, expr);
  return dec;
}

function intNode(typeId: number, size: number, signed: boolean): Node {
  const what = `${signed ? "a signed" : "an unsigned"} ${size * 8}-bit integer`;
  switch (size) {
    case 1:
    case 2:
    case 4: {
      const min = signed ? -(2 ** (size * 8 - 1)) : 0;
      const max = signed ? 2 ** (size * 8 - 1) - 1 : 2 ** (size * 8) - 1;
      const range = `${what} (${min} to ${max})`;
      const check = (v: unknown): number => {
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
          fail(`Expected ${range}, got ${describe(v)}`, typeId);
        }
        return v;
      };
      let dec: Dec;
      let enc: Enc;
      if (size === 1) {
        dec = signed
          ? plain((dv, o) => dv.getInt8(o), "getInt8(o + AT)")
          : plain((dv, o) => dv.getUint8(o), "getUint8(o + AT)");
        enc = (v, dv, o) => dv.setUint8(o, check(v) & 0xff);
      } else if (size === 2) {
        dec = signed
          ? plain((dv, o) => dv.getInt16(o, true), "getInt16(o + AT, true)")
          : plain((dv, o) => dv.getUint16(o, true), "getUint16(o + AT, true)");
        enc = (v, dv, o) => dv.setUint16(o, check(v) & 0xffff, true);
      } else {
        dec = signed
          ? plain((dv, o) => dv.getInt32(o, true), "getInt32(o + AT, true)")
          : plain((dv, o) => dv.getUint32(o, true), "getUint32(o + AT, true)");
        enc = (v, dv, o) => dv.setUint32(o, check(v) >>> 0, true);
      }
      return { size, align: size, shape: NUMBER, cost: 1, dec, enc };
    }
    case 8: {
      const min = signed ? -(1n << 63n) : 0n;
      const max = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
      const range = `${what} as a bigint (${min}n to ${max}n)`;
      const enc: Enc = (v, dv, o) => {
        if (typeof v !== "bigint" || v < min || v > max) {
          fail(`Expected ${range}, got ${describe(v)}`, typeId);
        }
        dv.setBigUint64(o, BigInt.asUintN(64, v), true);
      };
      const dec: Dec = signed
        ? plain((dv, o) => dv.getBigInt64(o, true), "getBigInt64(o + AT, true)")
        : plain((dv, o) => dv.getBigUint64(o, true), "getBigUint64(o + AT, true)");
      return { size, align: 8, shape: BIGINT, cost: 1, dec, enc };
    }
    case 16: {
      const min = signed ? -(1n << 127n) : 0n;
      const max = signed ? (1n << 127n) - 1n : (1n << 128n) - 1n;
      const range = `${what} as a bigint (${min}n to ${max}n)`;
      const enc: Enc = (v, dv, o) => {
        if (typeof v !== "bigint" || v < min || v > max) {
          fail(`Expected ${range}, got ${describe(v)}`, typeId);
        }
        const u = BigInt.asUintN(128, v);
        dv.setBigUint64(o, u & 0xffffffffffffffffn, true);
        dv.setBigUint64(o + 8, u >> 64n, true);
      };
      const dec: Dec = (dv, o) => {
        const u = (dv.getBigUint64(o + 8, true) << 64n) | dv.getBigUint64(o, true);
        return signed ? BigInt.asIntN(128, u) : u;
      };
      return { size, align: 16, shape: BIGINT, cost: 1, dec, enc };
    }
    default:
      throw new BuildFail(`An integer of ${size} bytes has no codec (1, 2, 4, 8 or 16)`, typeId);
  }
}

function boolNode(typeId: number, size: number): Node {
  const dec: Dec = size === 1 ? (dv, o) => dv.getUint8(o) !== 0 : (dv, o) => {
    for (let i = 0; i < size; i++) if (dv.getUint8(o + i) !== 0) return true;
    return false;
  };
  const enc: Enc = (v, dv, o) => {
    if (typeof v !== "boolean") fail(`Expected a boolean, got ${describe(v)}`, typeId);
    if (size !== 1) zero(dv, o, size);
    dv.setUint8(o, v ? 1 : 0);
  };
  return { size, align: Math.min(size, 8), shape: BOOLEAN, cost: 1, dec, enc };
}

function floatNode(typeId: number, size: number): Node {
  if (size === 4 || size === 8) {
    const enc: Enc = size === 4
      ? (v, dv, o) => {
        if (typeof v !== "number") fail(`Expected a number, got ${describe(v)}`, typeId);
        dv.setFloat32(o, v, true);
      }
      : (v, dv, o) => {
        if (typeof v !== "number") fail(`Expected a number, got ${describe(v)}`, typeId);
        dv.setFloat64(o, v, true);
      };
    const dec: Dec = size === 4
      ? plain((dv, o) => dv.getFloat32(o, true), "getFloat32(o + AT, true)")
      : plain((dv, o) => dv.getFloat64(o, true), "getFloat64(o + AT, true)");
    return { size, align: size, shape: NUMBER, cost: 1, dec, enc };
  }
  return bytesNode(typeId, size, Math.min(size, 16));
}

/** Opaque bytes: a copy as a Uint8Array. */
function bytesNode(typeId: number, size: number, align: number): Node {
  const dec: Dec = (dv, o) =>
    new Uint8Array(dv.buffer.slice(dv.byteOffset + o, dv.byteOffset + o + size));
  const enc: Enc = (v, dv, o) => {
    if (!(v instanceof Uint8Array) || v.length !== size) {
      fail(`Expected a Uint8Array of ${size} bytes, got ${describe(v)}`, typeId);
    }
    new Uint8Array(dv.buffer, dv.byteOffset + o, size).set(v);
  };
  return { size, align, shape: BYTES, cost: 1, dec, enc };
}

const NUMBER: CodecShape = { kind: "number" };
const BIGINT: CodecShape = { kind: "bigint" };
const BOOLEAN: CodecShape = { kind: "boolean" };
const STRING: CodecShape = { kind: "string" };
const BYTES: CodecShape = { kind: "bytes" };

/** A bitfield at bit `shift` (0..7) of the bytes from the offset it is called with. */
function bitfieldNode(
  typeId: number,
  bits: number,
  shift: number,
  signed: boolean,
  bool: boolean,
): { dec: Dec; enc: Enc; shape: CodecShape } {
  const nbytes = Math.ceil((shift + bits) / 8);
  if (bits <= 32) {
    const scale = 2 ** shift;
    const span = 2 ** bits;
    const half = 2 ** (bits - 1);
    const read = (dv: DataView, o: number): number => {
      let v = 0;
      for (let i = nbytes - 1; i >= 0; i--) v = v * 256 + dv.getUint8(o + i);
      return v;
    };
    const dec: Dec = bool ? (dv, o) => Math.floor(read(dv, o) / scale) % span !== 0 : (dv, o) => {
      const u = Math.floor(read(dv, o) / scale) % span;
      return signed && u >= half ? u - span : u;
    };
    const min = signed ? -half : 0;
    const max = signed ? half - 1 : span - 1;
    const enc: Enc = (v, dv, o) => {
      let u: number;
      if (bool) {
        if (typeof v !== "boolean") fail(`Expected a boolean, got ${describe(v)}`, typeId);
        u = v ? 1 : 0;
      } else {
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
          fail(
            `Expected ${signed ? "a signed" : "an unsigned"} ${bits}-bit bitfield value ` +
              `(${min} to ${max}), got ${describe(v)}`,
            typeId,
          );
        }
        u = v < 0 ? v + span : v;
      }
      const old = read(dv, o);
      let w = old - (Math.floor(old / scale) % span) * scale + u * scale;
      for (let i = 0; i < nbytes; i++) {
        dv.setUint8(o + i, w % 256);
        w = Math.floor(w / 256);
      }
    };
    return { dec, enc, shape: bool ? BOOLEAN : NUMBER };
  }
  const bShift = BigInt(shift);
  const bBits = BigInt(bits);
  const mask = (1n << bBits) - 1n;
  const read = (dv: DataView, o: number): bigint => {
    let v = 0n;
    for (let i = nbytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(dv.getUint8(o + i));
    return v;
  };
  const dec: Dec = (dv, o) => {
    const u = (read(dv, o) >> bShift) & mask;
    return signed ? BigInt.asIntN(bits, u) : u;
  };
  const min = signed ? -(1n << (bBits - 1n)) : 0n;
  const max = signed ? (1n << (bBits - 1n)) - 1n : mask;
  const enc: Enc = (v, dv, o) => {
    if (typeof v !== "bigint" || v < min || v > max) {
      fail(
        `Expected ${signed ? "a signed" : "an unsigned"} ${bits}-bit bitfield value as a bigint ` +
          `(${min}n to ${max}n), got ${describe(v)}`,
        typeId,
      );
    }
    let w = (read(dv, o) & ~(mask << bShift)) | (BigInt.asUintN(bits, v) << bShift);
    for (let i = 0; i < nbytes; i++) {
      dv.setUint8(o + i, Number(w & 0xffn));
      w >>= 8n;
    }
  };
  return { dec, enc, shape: BIGINT };
}

// ---------------------------------------------------------------------------------------------
// Arrays

const TYPED = {
  Int8Array: Int8Array,
  Uint8Array: Uint8Array,
  Int16Array: Int16Array,
  Uint16Array: Uint16Array,
  Int32Array: Int32Array,
  Uint32Array: Uint32Array,
  BigInt64Array: BigInt64Array,
  BigUint64Array: BigUint64Array,
  Float32Array: Float32Array,
  Float64Array: Float64Array,
} as const;

function typedName(size: number, signed: boolean, float: boolean): TypedArrayName | undefined {
  if (float) return size === 4 ? "Float32Array" : size === 8 ? "Float64Array" : undefined;
  switch (size) {
    case 1:
      return signed ? "Int8Array" : "Uint8Array";
    case 2:
      return signed ? "Int16Array" : "Uint16Array";
    case 4:
      return signed ? "Int32Array" : "Uint32Array";
    case 8:
      return signed ? "BigInt64Array" : "BigUint64Array";
  }
  return undefined;
}

function typedArrayNode(
  typeId: number,
  name: TypedArrayName,
  elem: Node,
  n: number,
  enumTypeId: number,
): Node {
  const Ctor = TYPED[name];
  const es = elem.size;
  const size = es * n;
  const eenc = elem.enc;
  // Element by element through a loop of its own per class (one monomorphic store each), and
  // with one memcpy for large arrays.
  const small = typedDecoder(name, n, size);
  const dec: Dec = LE && size > 1024
    ? (dv, o) =>
      new Ctor(dv.buffer.slice(dv.byteOffset + o, dv.byteOffset + o + size) as ArrayBuffer)
    : small;
  const copy = typedCopier(name, n);
  const enc: Enc = (v, dv, o) => {
    if (v instanceof Ctor) {
      if (v.length !== n) fail(`Expected a ${name} of ${n} elements, got ${v.length}`, typeId);
      if (!LE || size <= 1024) {
        copy(v, dv, o);
        return;
      }
      new Uint8Array(dv.buffer, dv.byteOffset + o, size).set(
        new Uint8Array(v.buffer, v.byteOffset, size),
      );
      return;
    }
    if (
      typeof v !== "object" || v === null || !(Array.isArray(v) || ArrayBuffer.isView(v)) ||
      (v as ArrayLike<unknown>).length !== n
    ) {
      fail(`Expected a ${name} of ${n} elements, got ${describe(v)}`, typeId);
    }
    const a = v as ArrayLike<unknown>;
    for (let i = 0; i < n; i++) {
      try {
        eenc(a[i], dv, o + i * es);
      } catch (e) {
        throw at(e, `[${i}]`);
      }
    }
  };
  return {
    size,
    align: elem.align,
    shape: { kind: "typedArray", ctor: name, length: n, enumTypeId },
    cost: 1,
    dec,
    enc,
  };
}

/** Typed arrays of at most this many bytes are views into a shared slab. */
const POOLED_MAX = 256;
/** The size of a slab of the typed-array pool. */
const SLAB = 8192;
let slab = new ArrayBuffer(SLAB);
let slabUsed = 0;

/**
 * The offset in `slab` of `bytes` fresh (zero) bytes, 8-byte aligned; starts a new slab when the
 * current one is full. V8 (Deno) allocates a backing store for every typed array, which costs
 * several hundred nanoseconds; a view over a slab costs tens, on JavaScriptCore (Bun) too.
 */
function takeSlab(bytes: number): number {
  const need = (bytes + 7) & ~7;
  if (slabUsed + need > SLAB) {
    slab = new ArrayBuffer(SLAB);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += need;
  return at;
}

/**
 * A decoder of `n` little-endian elements into a new typed array of class `name`: a view into the
 * pool for up to {@linkcode POOLED_MAX} bytes, else an array of its own. One loop per class, so
 * that each store site sees one class.
 */
function typedDecoder(name: TypedArrayName, n: number, size: number): Dec {
  const pooled = size > 0 && size <= POOLED_MAX;
  switch (name) {
    case "Int8Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Int8Array(slab, at, n) : new Int8Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getInt8(o + i);
        return a;
      };
    case "Uint8Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Uint8Array(slab, at, n) : new Uint8Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getUint8(o + i);
        return a;
      };
    case "Int16Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Int16Array(slab, at, n) : new Int16Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getInt16(o + 2 * i, true);
        return a;
      };
    case "Uint16Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Uint16Array(slab, at, n) : new Uint16Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getUint16(o + 2 * i, true);
        return a;
      };
    case "Int32Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Int32Array(slab, at, n) : new Int32Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getInt32(o + 4 * i, true);
        return a;
      };
    case "Uint32Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Uint32Array(slab, at, n) : new Uint32Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getUint32(o + 4 * i, true);
        return a;
      };
    case "BigInt64Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new BigInt64Array(slab, at, n) : new BigInt64Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getBigInt64(o + 8 * i, true);
        return a;
      };
    case "BigUint64Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new BigUint64Array(slab, at, n) : new BigUint64Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getBigUint64(o + 8 * i, true);
        return a;
      };
    case "Float32Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Float32Array(slab, at, n) : new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getFloat32(o + 4 * i, true);
        return a;
      };
    case "Float64Array":
      return (dv, o) => {
        // takeSlab may start a new slab: call it before reading `slab`.
        const at = pooled ? takeSlab(size) : -1;
        const a = at >= 0 ? new Float64Array(slab, at, n) : new Float64Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getFloat64(o + 8 * i, true);
        return a;
      };
  }
}

/** Copies the `n` elements of a typed array of class `name` into a view, one loop per class. */
function typedCopier(
  name: TypedArrayName,
  n: number,
): (v: unknown, dv: DataView, o: number) => void {
  switch (name) {
    case "Int8Array":
      return (v, dv, o) => {
        const a = v as Int8Array;
        for (let i = 0; i < n; i++) dv.setInt8(o + i, a[i]);
      };
    case "Uint8Array":
      return (v, dv, o) => {
        const a = v as Uint8Array;
        for (let i = 0; i < n; i++) dv.setUint8(o + i, a[i]);
      };
    case "Int16Array":
      return (v, dv, o) => {
        const a = v as Int16Array;
        for (let i = 0; i < n; i++) dv.setInt16(o + 2 * i, a[i], true);
      };
    case "Uint16Array":
      return (v, dv, o) => {
        const a = v as Uint16Array;
        for (let i = 0; i < n; i++) dv.setUint16(o + 2 * i, a[i], true);
      };
    case "Int32Array":
      return (v, dv, o) => {
        const a = v as Int32Array;
        for (let i = 0; i < n; i++) dv.setInt32(o + 4 * i, a[i], true);
      };
    case "Uint32Array":
      return (v, dv, o) => {
        const a = v as Uint32Array;
        for (let i = 0; i < n; i++) dv.setUint32(o + 4 * i, a[i], true);
      };
    case "BigInt64Array":
      return (v, dv, o) => {
        const a = v as BigInt64Array;
        for (let i = 0; i < n; i++) dv.setBigInt64(o + 8 * i, a[i], true);
      };
    case "BigUint64Array":
      return (v, dv, o) => {
        const a = v as BigUint64Array;
        for (let i = 0; i < n; i++) dv.setBigUint64(o + 8 * i, a[i], true);
      };
    case "Float32Array":
      return (v, dv, o) => {
        const a = v as Float32Array;
        for (let i = 0; i < n; i++) dv.setFloat32(o + 4 * i, a[i], true);
      };
    case "Float64Array":
      return (v, dv, o) => {
        const a = v as Float64Array;
        for (let i = 0; i < n; i++) dv.setFloat64(o + 8 * i, a[i], true);
      };
  }
}

function stringNode(typeId: number, n: number): Node {
  const dec: Dec = (dv, o) => {
    let end = 0;
    let ascii = true;
    for (; end < n; end++) {
      const c = dv.getUint8(o + end);
      if (c === 0) break;
      if (c >= 0x80) ascii = false;
    }
    if (end === 0) return "";
    if (ascii && end <= 64) {
      let s = "";
      for (let i = 0; i < end; i++) s += String.fromCharCode(dv.getUint8(o + i));
      return s;
    }
    // A copy in a plain ArrayBuffer: TextDecoder refuses views of a SharedArrayBuffer.
    const bytes = new Uint8Array(end);
    bytes.set(new Uint8Array(dv.buffer, dv.byteOffset + o, end));
    return utf8.decode(bytes);
  };
  const enc: Enc = (v, dv, o) => {
    if (typeof v !== "string") fail(`Expected a string, got ${describe(v)}`, typeId);
    // ASCII byte by byte; anything else through the encoder.
    const len = v.length;
    if (len <= n) {
      let i = 0;
      for (; i < len; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        dv.setUint8(o + i, c);
      }
      if (i === len) {
        for (; i < n; i++) dv.setUint8(o + i, 0);
        return;
      }
    }
    const dst = new Uint8Array(dv.buffer, dv.byteOffset + o, n);
    const r = utf8Enc.encodeInto(v, dst);
    if (r.read < v.length) {
      fail(
        `The string is longer than the array: ${utf8Enc.encode(v).length} UTF-8 bytes, ` +
          `room for ${n}`,
        typeId,
      );
    }
    dst.fill(0, r.written);
  };
  return { size: n, align: 1, shape: STRING, cost: 1, dec, enc };
}

function jsArrayNode(typeId: number, elem: Node, n: number): Node {
  const es = elem.size;
  const edec = elem.dec;
  const eenc = elem.enc;
  const dec: Dec = (dv, o) => {
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = edec(dv, o + i * es);
    return a;
  };
  const enc: Enc = (v, dv, o) => {
    if (!Array.isArray(v) || v.length !== n) {
      fail(`Expected an array of ${n} elements, got ${describe(v)}`, typeId);
    }
    for (let i = 0; i < n; i++) {
      try {
        eenc(v[i], dv, o + i * es);
      } catch (e) {
        throw at(e, `[${i}]`);
      }
    }
  };
  return {
    size: es * n,
    align: elem.align,
    shape: { kind: "array", element: elem.shape, length: n },
    cost: Math.min(CODEC_MAX_VALUES + 1, 1 + n * elem.cost),
    dec,
    enc,
  };
}

/**
 * A name from an object file as error messages show it: as it is when it is printable ASCII with
 * no spaces, else quoted with everything else escaped (no terminal control sequence gets through).
 */
function printable(name: string): string {
  let plain = true;
  for (let i = 0; i < name.length && plain; i++) {
    const c = name.charCodeAt(i);
    plain = c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
  }
  if (plain && name !== "") return name;
  let out = '"';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += "\\" + name[i];
    else if (c >= 0x20 && c < 0x7f) out += name[i];
    else out += `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return out + '"';
}

/** The first segment of a CodecError's path: the type's name, or `value` for an anonymous one. */
function rootName(name: string): string {
  return name === "" ? "value" : printable(name);
}

/** Adds a path segment to an encode failure on its way out. */
function at(e: unknown, seg: string): unknown {
  if (e instanceof Fail) e.segs.push(seg);
  return e;
}

// ---------------------------------------------------------------------------------------------
// Objects

/** How an object writes its members: a tree of leaves and flattened unnamed members. */
type Item =
  | { readonly t: "leaf"; readonly key: string; readonly at: number; readonly enc: Enc }
  | {
    readonly t: "struct" | "union";
    readonly items: readonly Item[];
    readonly keys: readonly string[];
    readonly what: string;
  };

function given(item: Item, v: Record<string, unknown>): boolean {
  if (item.t === "leaf") return v[item.key] !== undefined;
  for (const k of item.keys) if (v[k] !== undefined) return true;
  return false;
}

type Writer = (v: Record<string, unknown>, dv: DataView, o: number) => void;

/** Composes the writer of an item tree once, so that encoding walks closures, not the tree. */
function compileItem(item: Item): Writer {
  if (item.t === "leaf") {
    const { key, at: off, enc } = item;
    return (v, dv, o) => {
      try {
        enc(v[key], dv, o + off);
      } catch (e) {
        throw at(e, `.${key}`);
      }
    };
  }
  const items = item.items;
  const writers = items.map(compileItem);
  const n = writers.length;
  if (item.t === "struct") {
    return (v, dv, o) => {
      for (let i = 0; i < n; i++) writers[i](v, dv, o);
    };
  }
  const what = item.what;
  const keys = item.keys;
  return (v, dv, o) => {
    let any = n === 0;
    for (let i = 0; i < n; i++) {
      if (given(items[i], v)) {
        writers[i](v, dv, o);
        any = true;
      }
    }
    if (!any) {
      const shown = keys.slice(0, 8).join(", ") + (keys.length > 8 ? "..." : "");
      fail(`${what} needs one of its members (${shown}); none is given`, -1);
    }
  };
}

/** Keys in the order given, made unique and safe as plain object keys. */
class KeySet {
  readonly #used = new Set<string>();
  take(cName: string): string {
    const base = codecKey(cName);
    let k = base;
    for (let i = 2; this.#used.has(k); i++) k = `${base}_${i}`;
    this.#used.add(k);
    return k;
  }
}

/**
 * The key a codec uses for a C member named `name` (before collisions are resolved): the name
 * itself when it is an identifier, else the name with every character outside `[A-Za-z0-9_$]`
 * replaced by `_` and a `_` in front of a leading digit or of an empty name; `__proto__` becomes
 * `__proto___`.
 *
 * @param name The C member name.
 * @returns The key.
 * @example
 * ```ts
 * import { codecKey } from "./codec.ts";
 * if (codecKey("pid") !== "pid" || codecKey("a-b") !== "a_b" || codecKey("1x") !== "_1x") {
 *   throw new Error("unexpected key");
 * }
 * ```
 */
export function codecKey(name: string): string {
  let k = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
      c === 95 || c === 36;
    k += ok ? name[i] : "_";
  }
  if (k === "" || (k.charCodeAt(0) >= 48 && k.charCodeAt(0) <= 57)) k = "_" + k;
  if (k === "__proto__") k = "__proto___";
  return k;
}

interface Leaf {
  readonly key: string;
  readonly at: number;
  readonly dec: Dec;
}

// ---------------------------------------------------------------------------------------------
// The builder

class Builder {
  readonly btf: Btf;
  readonly #nodes = new Map<number, Node | BuildFail>();
  readonly #building = new Set<number>();
  #depth = 0;

  constructor(btf: Btf) {
    this.btf = btf;
  }

  node(id: number): Node {
    const have = this.#nodes.get(id);
    if (have !== undefined) {
      if (have instanceof BuildFail) {
        const f = new BuildFail(have.msg, have.typeId);
        f.segs.push(...have.segs);
        throw f;
      }
      return have;
    }
    const k = this.kind(id);
    if (
      k === BtfKind.Typedef || k === BtfKind.Const || k === BtfKind.Volatile ||
      k === BtfKind.Restrict || k === BtfKind.TypeTag || k === BtfKind.Var
    ) {
      // Looked through without counting as nesting; the chain has its own cap.
      const to = this.skip(k === BtfKind.Var ? this.btf.refType(id) : id);
      const n = this.node(to);
      this.#nodes.set(id, n);
      return n;
    }
    if (this.#building.has(id)) {
      throw new BuildFail(`Type ${id} contains itself`, id);
    }
    if (this.#depth >= CODEC_MAX_DEPTH) {
      throw new BuildFail(`Types nest more than ${CODEC_MAX_DEPTH} deep`, id);
    }
    this.#building.add(id);
    this.#depth++;
    let n: Node;
    try {
      n = this.#make(id);
      if (n.cost > CODEC_MAX_VALUES) {
        throw new BuildFail(
          `A value of type ${id} would decode into more than ${CODEC_MAX_VALUES} JavaScript values`,
          id,
        );
      }
    } catch (e) {
      if (e instanceof BuildFail) {
        const f = new BuildFail(e.msg, e.typeId);
        f.segs.push(...e.segs);
        this.#nodes.set(id, f);
      }
      throw e;
    } finally {
      this.#depth--;
      this.#building.delete(id);
    }
    this.#nodes.set(id, n);
    return n;
  }

  type(id: number): BtfType {
    try {
      return this.btf.type(id);
    } catch (e) {
      if (e instanceof BpfError) throw new BuildFail(e.message, id);
      throw e;
    }
  }

  /** Follows typedefs and modifiers (not VAR). */
  skip(id: number): number {
    for (let i = 0; i < MAX_CHAIN; i++) {
      const k = this.kind(id);
      if (
        k !== BtfKind.Typedef && k !== BtfKind.Const && k !== BtfKind.Volatile &&
        k !== BtfKind.Restrict && k !== BtfKind.TypeTag
      ) return id;
      id = this.btf.refType(id);
    }
    throw new BuildFail(`A chain of typedefs and modifiers longer than ${MAX_CHAIN}`, id);
  }

  /** Follows modifiers only (not typedefs). */
  skipMods(id: number): number {
    for (let i = 0; i < MAX_CHAIN; i++) {
      const k = this.kind(id);
      if (
        k !== BtfKind.Const && k !== BtfKind.Volatile && k !== BtfKind.Restrict &&
        k !== BtfKind.TypeTag
      ) return id;
      id = this.btf.refType(id);
    }
    throw new BuildFail(`A chain of modifiers longer than ${MAX_CHAIN}`, id);
  }

  kind(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.btf.typeCount) {
      throw new BuildFail(
        `Type id ${id} out of range; this BTF has ids 0 to ${this.btf.typeCount - 1}`,
        id,
      );
    }
    return this.btf.kind(id);
  }

  #make(id: number): Node {
    const t = this.type(id);
    switch (t.kind) {
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        return this.node(this.skip(t.type));
      case BtfKind.Int: {
        if (t.encoding & BtfIntEncoding.Bool) return boolNode(id, t.size);
        if (t.bits !== t.size * 8 || t.bitOffset !== 0) {
          if (t.bits === 0 || t.bitOffset + t.bits > t.size * 8 || t.size > 16) {
            throw new BuildFail(
              `An INT of ${t.size} bytes cannot hold ${t.bits} bits at ${t.bitOffset}`,
              id,
            );
          }
          // A masked integer on its own: represented by its size, like a whole one.
          const whole = intNode(id, t.size, (t.encoding & BtfIntEncoding.Signed) !== 0);
          const skipBytes = Math.floor(t.bitOffset / 8);
          const bf = bitfieldNode(
            id,
            t.bits,
            t.bitOffset % 8,
            (t.encoding & BtfIntEncoding.Signed) !== 0,
            false,
          );
          const wide = whole.shape === BIGINT;
          const dec: Dec = wide === (bf.shape === BIGINT)
            ? (dv, o) => bf.dec(dv, o + skipBytes)
            : wide
            ? (dv, o) => BigInt(bf.dec(dv, o + skipBytes) as number)
            : (dv, o) => Number(bf.dec(dv, o + skipBytes) as bigint);
          const enc: Enc = (v, dv, o) => {
            zero(dv, o, t.size);
            if (wide && bf.shape !== BIGINT) {
              if (typeof v !== "bigint") fail(`Expected a bigint, got ${describe(v)}`, id);
              bf.enc(Number(v), dv, o + skipBytes);
            } else if (!wide && bf.shape === BIGINT) {
              if (typeof v !== "number" || !Number.isSafeInteger(v)) {
                fail(`Expected an integer, got ${describe(v)}`, id);
              }
              bf.enc(BigInt(v), dv, o + skipBytes);
            } else bf.enc(v, dv, o + skipBytes);
          };
          return { size: t.size, align: whole.align, shape: whole.shape, cost: 1, dec, enc };
        }
        return intNode(id, t.size, (t.encoding & BtfIntEncoding.Signed) !== 0);
      }
      case BtfKind.Ptr:
        return { ...intNode(id, 8, false) };
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        if (t.size !== 1 && t.size !== 2 && t.size !== 4 && t.size !== 8) {
          throw new BuildFail(`An enum of ${t.size} bytes has no codec (1, 2, 4 or 8)`, id);
        }
        const n = intNode(id, t.size, t.signed);
        return {
          ...n,
          shape: { kind: "enum", typeId: id, repr: t.size === 8 ? "bigint" : "number" },
        };
      }
      case BtfKind.Float:
        if (t.size === 0 || t.size > 16) {
          throw new BuildFail(`A float of ${t.size} bytes has no codec`, id);
        }
        return floatNode(id, t.size);
      case BtfKind.Array:
        return this.#array(id, t.type, t.nelems);
      case BtfKind.Struct:
      case BtfKind.Union:
        return this.#object(id, t.kind === BtfKind.Union, t.size, t.members, t.kflag);
      case BtfKind.Datasec: {
        const members: BtfMember[] = [];
        let end = t.size;
        for (const v of t.vars) {
          if (this.kind(v.type) !== BtfKind.Var) continue; // FUNC entries of .ksyms
          const vt = this.type(v.type);
          if (vt.kind !== BtfKind.Var) continue;
          members.push({ name: vt.name, type: vt.type, bitOffset: v.offset * 8, bitSize: 0 });
          end = Math.max(end, v.offset + v.size);
        }
        return this.#object(id, false, end, members, false);
      }
      case BtfKind.Unknown:
        throw new BuildFail(
          id === 0 ? "Void has no codec" : `Type ${id} is of an unknown kind`,
          id,
        );
      case BtfKind.Fwd:
        throw new BuildFail(
          `Type ${id} is a forward declaration (${t.union ? "union" : "struct"} ${
            printable(t.name)
          }) with no size`,
          id,
        );
      case BtfKind.Func:
      case BtfKind.FuncProto:
        throw new BuildFail(
          `Type ${id} is a function${
            t.kind === BtfKind.FuncProto ? " prototype" : ""
          }; only pointers to functions have a codec`,
          id,
        );
      case BtfKind.DeclTag:
        throw new BuildFail(`Type ${id} is a DECL_TAG, not a value type`, id);
    }
  }

  #array(id: number, elemId: number, n: number): Node {
    const declared = this.skipMods(elemId);
    const eid = this.skip(elemId);
    const et = this.type(eid);
    // char s[N]: a 1-byte INT with the CHAR encoding, or the char INT itself (not through a typedef).
    if (
      et.kind === BtfKind.Int && et.size === 1 && !(et.encoding & BtfIntEncoding.Bool) &&
      et.bits === 8 && et.bitOffset === 0 &&
      ((et.encoding & BtfIntEncoding.Char) !== 0 ||
        (declared === eid &&
          (et.name === "char" || et.name === "signed char" || et.name === "unsigned char")))
    ) {
      return stringNode(id, n);
    }
    let elem: Node;
    try {
      elem = this.node(elemId);
    } catch (e) {
      if (e instanceof BuildFail) e.segs.push("[]");
      throw e;
    }
    if (elem.size * n > 0xffffffff) {
      throw new BuildFail(
        `An array of ${n} elements of ${elem.size} bytes is larger than 4 GiB`,
        id,
      );
    }
    const sh = elem.shape;
    let tn: TypedArrayName | undefined;
    let enumId = 0;
    if (et.kind === BtfKind.Int && (sh === NUMBER || sh === BIGINT) && et.bits === et.size * 8) {
      tn = typedName(et.size, (et.encoding & BtfIntEncoding.Signed) !== 0, false);
    } else if (et.kind === BtfKind.Enum || et.kind === BtfKind.Enum64) {
      tn = typedName(et.size, et.signed, false);
      enumId = eid;
    } else if (et.kind === BtfKind.Float) {
      tn = typedName(et.size, true, true);
    } else if (et.kind === BtfKind.Ptr) {
      tn = "BigUint64Array";
    }
    if (tn !== undefined) return typedArrayNode(id, tn, elem, n, enumId);
    if (n * elem.cost > CODEC_MAX_VALUES) {
      throw new BuildFail(
        `An array of ${n} elements would decode into more than ${CODEC_MAX_VALUES} JavaScript values`,
        id,
      );
    }
    return jsArrayNode(id, elem, n);
  }

  #object(
    id: number,
    union: boolean,
    size: number,
    members: readonly BtfMember[],
    kflag: boolean,
  ): Node {
    const keys = new KeySet();
    const leaves: Leaf[] = [];
    const fields: CodecField[] = [];
    let cost = 1;
    let align = 1;
    let packed = false;
    const what = (u: boolean, flat: boolean) =>
      flat ? `The unnamed ${u ? "union" : "struct"}` : u ? "The union" : "The struct";
    const collect = (
      ms: readonly BtfMember[],
      isUnion: boolean,
      baseBit: number,
      limit: number,
      kf: boolean,
      via: number,
    ): Item => {
      const items: Item[] = [];
      const allKeys: string[] = [];
      for (const m of ms) {
        const abs = baseBit + m.bitOffset;
        const mid = this.skip(m.type);
        const mk = this.kind(mid);
        const seg = m.name === "" ? "<unnamed>" : `.${codecKey(m.name)}`;
        try {
          if (m.name === "" && m.bitSize === 0 && (mk === BtfKind.Struct || mk === BtfKind.Union)) {
            if (abs % 8 !== 0) throw new BuildFail("An unnamed member is not byte-aligned", id);
            if (via + 1 >= CODEC_MAX_DEPTH) {
              throw new BuildFail(`Unnamed members nest more than ${CODEC_MAX_DEPTH} deep`, mid);
            }
            const st = this.type(mid);
            if (st.kind !== BtfKind.Struct && st.kind !== BtfKind.Union) continue;
            if (m.bitOffset / 8 + st.size > limit) {
              throw new BuildFail(
                `An unnamed member (${st.size} bytes at byte ${
                  m.bitOffset / 8
                }) does not fit in ${limit} bytes`,
                id,
              );
            }
            align = Math.max(align, this.#alignOf(mid));
            const sub = collect(
              st.members,
              st.kind === BtfKind.Union,
              abs,
              st.size,
              st.kflag,
              via + 1,
            );
            items.push(sub);
            if (sub.t !== "leaf") allKeys.push(...sub.keys);
            continue;
          }
          if (m.name === "") continue; // an unnamed bitfield: padding
          // Bitfields: kind_flag sizes, or (without kind_flag) an INT narrower than its size.
          let bitSize = kf ? m.bitSize : 0;
          let bitOff = abs;
          let bt: BtfType | undefined;
          if (mk === BtfKind.Int || mk === BtfKind.Enum || mk === BtfKind.Enum64) {
            bt = this.type(mid);
            if (!kf && bt.kind === BtfKind.Int && (bt.bits !== bt.size * 8 || bt.bitOffset !== 0)) {
              bitSize = bt.bits;
              bitOff += bt.bitOffset;
            }
          }
          if (bitSize === 0 && bitOff % 8 !== 0) {
            if (bt === undefined) throw new BuildFail("A member is not byte-aligned", id);
            bitSize = (bt as { size: number }).size * 8;
          }
          if (bitSize !== 0) {
            if (bt === undefined) {
              throw new BuildFail("A bitfield of a type that is not an integer or an enum", mid);
            }
            const tsize = (bt as { size: number }).size;
            if (bitSize > tsize * 8 || bitSize > 128) {
              throw new BuildFail(`A bitfield of ${bitSize} bits in a ${tsize}-byte type`, id);
            }
            if (bitOff - baseBit + bitSize > limit * 8) {
              throw new BuildFail(
                `A bitfield at bit ${bitOff - baseBit} does not fit in ${limit} bytes`,
                id,
              );
            }
            const signed = bt.kind === BtfKind.Int
              ? (bt.encoding & BtfIntEncoding.Signed) !== 0
              : (bt as { signed: boolean }).signed;
            const bool = bt.kind === BtfKind.Int && (bt.encoding & BtfIntEncoding.Bool) !== 0;
            const bf = bitfieldNode(mid, bitSize, bitOff % 8, signed, bool);
            // An enum bitfield keeps its enum in the shape when the width gives the enum's own
            // representation (a narrow field of an 8-byte enum is a number, not the enum's bigint).
            let shape = bf.shape;
            if (bt.kind === BtfKind.Enum || bt.kind === BtfKind.Enum64) {
              const repr = bt.size === 8 ? "bigint" : "number";
              if (repr === bf.shape.kind) shape = { kind: "enum", typeId: mid, repr };
            }
            const key = keys.take(m.name);
            const atByte = Math.floor(bitOff / 8);
            leaves.push({ key, at: atByte, dec: bf.dec });
            items.push({ t: "leaf", key, at: atByte, enc: bf.enc });
            allKeys.push(key);
            fields.push({
              key,
              name: m.name,
              memberTypeId: m.type,
              bitOffset: bitOff,
              bitSize,
              shape,
              via,
            });
            cost = Math.min(CODEC_MAX_VALUES + 1, cost + 1);
            continue;
          }
          const n = this.node(m.type);
          if (m.bitOffset / 8 + n.size > limit) {
            throw new BuildFail(
              `The member (${n.size} bytes at byte ${
                m.bitOffset / 8
              }) does not fit in ${limit} bytes`,
              id,
            );
          }
          if ((abs / 8) % n.align !== 0) packed = true;
          align = Math.max(align, n.align);
          const key = keys.take(m.name);
          leaves.push({ key, at: abs / 8, dec: n.dec });
          items.push({ t: "leaf", key, at: abs / 8, enc: n.enc });
          allKeys.push(key);
          fields.push({
            key,
            name: m.name,
            memberTypeId: m.type,
            bitOffset: abs,
            bitSize: 0,
            shape: n.shape,
            via,
          });
          cost = Math.min(CODEC_MAX_VALUES + 1, cost + n.cost);
        } catch (e) {
          if (e instanceof BuildFail) e.segs.push(seg);
          throw e;
        }
      }
      return {
        t: isUnion ? "union" : "struct",
        items,
        keys: allKeys,
        what: what(isUnion, via > 0),
      };
    };
    const root = collect(members, union, 0, size, kflag, 0);
    const write = compileItem(root);
    if (size % align !== 0) packed = true;
    if (packed) align = 1;
    const n = leaves.length;
    const lkeys = leaves.map((l) => l.key);
    const lats = leaves.map((l) => l.at);
    const ldecs = leaves.map((l) => l.dec);
    const dec: Dec = compileObjectDec(lkeys, lats, ldecs) ?? ((dv, o) => {
      const r: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) r[lkeys[i]] = ldecs[i](dv, o + lats[i]);
      return r;
    });
    const enc: Enc = (v, dv, o) => {
      if (typeof v !== "object" || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) {
        fail(`Expected an object, got ${describe(v)}`, id);
      }
      zero(dv, o, size);
      write(v as Record<string, unknown>, dv, o);
    };
    return {
      size,
      align,
      shape: { kind: "object", typeId: id, union, fields },
      cost,
      dec,
      enc,
    };
  }

  #alignOf(id: number): number {
    return this.node(id).align;
  }
}

/** The keys a compiled decoder takes (what `codecKey` makes); any other keeps the generic loop. */
const SAFE_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Objects with more keys than this decode through the generic loop. */
const COMPILED_MAX_KEYS = 256;

/**
 * A decoder for one object shape, compiled from source: an object literal with the keys written
 * out (one hidden class from the start, where the generic loop adds keys one by one) and plain
 * DataView reads written in place of calls. Keys come from the object's BTF: only keys that are
 * identifiers (as `codecKey` makes them) are compiled, each written as a JSON string literal, and
 * a `__proto__` key (which a literal would take as the prototype) keeps the generic loop; offsets
 * are checked integers; leaf decoders are passed as values, never as source. Returns undefined where code cannot be made from strings, or for a shape too
 * large to be worth it.
 */
function compileObjectDec(
  keys: readonly string[],
  ats: readonly number[],
  decs: readonly Dec[],
): Dec | undefined {
  if (keys.length > COMPILED_MAX_KEYS) return undefined;
  if (!keys.every((k) => SAFE_KEY.test(k) && k !== "__proto__")) return undefined;
  const props: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const at = ats[i];
    if (!Number.isSafeInteger(at) || at < 0) return undefined;
    const read = GETTERS.get(decs[i]);
    const value = read !== undefined
      ? `dv.${read.replace("AT", String(at))}`
      : `d[${i}](dv, o + ${at})`;
    props.push(`${JSON.stringify(keys[i])}: ${value}`);
  }
  try {
    const make = new Function(
      "d",
      `"use strict";\nreturn function decode(dv, o) {\n  return {\n    ${
        props.join(",\n    ")
      },\n  };\n};`,
    ) as (d: readonly Dec[]) => Dec;
    return make(decs.slice());
  } catch {
    return undefined; // no code from strings here
  }
}

// ---------------------------------------------------------------------------------------------
// The public face

class BtfCodec<T> implements Codec<T> {
  readonly typeId: number;
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly #dec: Dec;
  readonly #enc: Enc;

  constructor(typeId: number, name: string, node: Node) {
    this.typeId = typeId;
    this.name = name;
    this.size = node.size;
    this.align = node.align;
    this.#dec = node.dec;
    this.#enc = node.enc;
  }

  #range(view: DataView, offset: number, what: string): void {
    if (!(view instanceof DataView)) {
      throw new CodecError(`${what} needs a DataView, got ${describe(view)}`, {
        path: this.#root(),
        typeId: this.typeId,
      });
    }
    if (!Number.isInteger(offset) || offset < 0 || offset + this.size > view.byteLength) {
      throw new CodecError(
        `${what} needs ${this.size} bytes at offset ${offset}; the view has ${view.byteLength}`,
        { path: this.#root(), typeId: this.typeId },
      );
    }
  }

  #root(): string {
    return rootName(this.name);
  }

  decode(view: DataView, offset = 0): T {
    this.#range(view, offset, "Decoding");
    return this.#dec(view, offset) as T;
  }

  encode(value: T, view: DataView, offset = 0): void {
    this.#range(view, offset, "Encoding");
    try {
      this.#enc(value, view, offset);
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      const path = this.#root() + e.segs.reverse().join("");
      throw new CodecError(`Cannot encode ${path}: ${e.msg}`, {
        path,
        typeId: e.typeId >= 0 ? e.typeId : this.typeId,
      });
    }
  }

  fromBytes(bytes: Uint8Array): T {
    if (!(bytes instanceof Uint8Array)) {
      throw new CodecError(`Decoding needs a Uint8Array, got ${describe(bytes)}`, {
        path: this.#root(),
        typeId: this.typeId,
      });
    }
    return this.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
  }

  toBytes(value: T): Uint8Array {
    const out = new Uint8Array(this.size);
    this.encode(value, new DataView(out.buffer), 0);
    return out;
  }
}

interface Cache {
  readonly builder: Builder;
  readonly codecs: Map<number, BtfCodec<unknown>>;
}

const caches = new WeakMap<Btf, Cache>();

function cacheOf(btf: Btf): Cache {
  let c = caches.get(btf);
  if (c === undefined) {
    c = { builder: new Builder(btf), codecs: new Map() };
    caches.set(btf, c);
  }
  return c;
}

function buildNode(btf: Btf, typeId: number): { node: Node; name: string } {
  const b = cacheOf(btf).builder;
  let name = "";
  try {
    b.kind(typeId);
    name = btf.name(typeId);
    return { node: b.node(typeId), name };
  } catch (e) {
    if (!(e instanceof BuildFail)) throw e;
    const root = rootName(name);
    const path = root + e.segs.reverse().join("");
    e.segs.reverse();
    const at = e.segs.length > 0 ? ` (at ${path})` : "";
    throw new CodecError(`Type ${typeId} has no codec${at}: ${e.msg}`, {
      path,
      typeId: e.typeId,
    });
  }
}

/**
 * The codec of BTF type `typeId` (any type with a size: struct, union, enum, int, float, pointer,
 * array, typedef, modifier; a VAR for its variable's type; a DATASEC for an object of its
 * variables). Built once per `Btf` instance and type id, and cached.
 *
 * @param btf The BTF the id belongs to (the codec keeps no reference to it after building).
 * @param typeId The type id.
 * @returns The codec; its `name` is the type's own C name (a typedef's or variable's name too).
 * @throws {CodecError} When the type has no codec: void, a function or its prototype, a forward
 *   declaration, a member that does not fit, nesting or size beyond the limits (module doc). The
 *   error's `path` names the member at fault.
 * @example
 * ```ts
 * import { Btf, BtfBuilder, codecFor } from "./mod.ts";
 * const b = new BtfBuilder();
 * const char = b.int("char", 1, { signed: true });
 * const u64 = b.int("long long unsigned int", 8);
 * const ev = b.struct("event", 24, [
 *   { name: "comm", type: b.array(char, 16, u64), bitOffset: 0 },
 *   { name: "ts", type: u64, bitOffset: 128 },
 * ]);
 * using btf = Btf.parse(b.build());
 * const c = codecFor<{ comm: string; ts: bigint }>(btf, ev);
 * const v = c.fromBytes(c.toBytes({ comm: "bash", ts: 7n }));
 * if (v.comm !== "bash" || v.ts !== 7n || c.size !== 24) throw new Error("round trip failed");
 * ```
 */
export function codecFor<T = unknown>(btf: Btf, typeId: number): Codec<T> {
  const cache = cacheOf(btf);
  let c = cache.codecs.get(typeId);
  if (c === undefined) {
    const { node, name } = buildNode(btf, typeId);
    c = new BtfCodec(typeId, name, node);
    cache.codecs.set(typeId, c);
  }
  return c as Codec<T>;
}

/**
 * The shape of the values of BTF type `typeId`'s codec: what `gen/ts_types.ts` prints as
 * TypeScript. Objects list their keys in declaration order, with the C names and types they come
 * from.
 *
 * @param btf The BTF the id belongs to.
 * @param typeId The type id.
 * @returns The shape (shared: do not change it).
 * @throws {CodecError} As {@linkcode codecFor} does.
 * @example
 * ```ts
 * import { Btf, BtfBuilder, codecShape } from "./mod.ts";
 * const b = new BtfBuilder();
 * const int = b.int("int", 4, { signed: true });
 * const s = b.struct("s", 16, [{ name: "v", type: b.array(int, 4, int), bitOffset: 0 }]);
 * using btf = Btf.parse(b.build());
 * const sh = codecShape(btf, s);
 * if (sh.kind !== "object" || sh.fields[0].shape.kind !== "typedArray") throw new Error("shape");
 * ```
 */
export function codecShape(btf: Btf, typeId: number): CodecShape {
  return buildNode(btf, typeId).node.shape;
}

const NAMED_KINDS: ReadonlySet<number> = new Set([
  BtfKind.Struct,
  BtfKind.Union,
  BtfKind.Enum,
  BtfKind.Enum64,
  BtfKind.Typedef,
  BtfKind.Var,
  BtfKind.Datasec,
]);

/**
 * The codec of the struct, union, enum, typedef, variable or data section named `name`
 * ({@linkcode codecFor} of its id). Names that several of those share are fine when they all come
 * down to one type (`typedef struct foo foo`: the struct is taken).
 *
 * @param btf The BTF to search (its base too, for split BTF).
 * @param name The C name: `"event"` for `struct event`, a typedef, a global variable, `".bss"`.
 * @returns The codec.
 * @throws {CodecError} When nothing of those kinds has that name, when the name is ambiguous
 *   (`struct foo` and `union foo` of different layouts), or when the type has no codec.
 * @example
 * ```ts
 * import { Btf, BtfBuilder, codecByName } from "./mod.ts";
 * const b = new BtfBuilder();
 * const u16 = b.int("unsigned short", 2);
 * b.struct("port", 2, [{ name: "n", type: u16, bitOffset: 0 }]);
 * using btf = Btf.parse(b.build());
 * if (codecByName<{ n: number }>(btf, "port").fromBytes(new Uint8Array([1, 2])).n !== 0x201) {
 *   throw new Error("decode failed");
 * }
 * ```
 */
export function codecByName<T = unknown>(btf: Btf, name: string): Codec<T> {
  const ids = btf.findAllByName(name).filter((id) => NAMED_KINDS.has(btf.kind(id)));
  const shown = JSON.stringify(name);
  if (ids.length === 0) {
    throw new CodecError(
      `No struct, union, enum, typedef, variable or data section is named ${shown}`,
      { path: name },
    );
  }
  const b = cacheOf(btf).builder;
  const target = (id: number): number => {
    try {
      return b.skip(btf.kind(id) === BtfKind.Var ? btf.refType(id) : id);
    } catch {
      return id;
    }
  };
  const distinct = new Set(ids.map(target));
  if (distinct.size > 1) {
    const list = ids.map((id) => `${KIND_WORDS[btf.kind(id)] ?? "type"} ${id}`).join(", ");
    throw new CodecError(
      `The name ${shown} is ambiguous: ${list}; pass a type id to codecFor`,
      { path: name },
    );
  }
  const pick = ids.find((id) => {
    const k = btf.kind(id);
    return k === BtfKind.Struct || k === BtfKind.Union || k === BtfKind.Enum ||
      k === BtfKind.Enum64;
  }) ?? ids[0];
  return codecFor<T>(btf, pick);
}

const KIND_WORDS: Record<number, string> = {
  [BtfKind.Struct]: "struct",
  [BtfKind.Union]: "union",
  [BtfKind.Enum]: "enum",
  [BtfKind.Enum64]: "enum64",
  [BtfKind.Typedef]: "typedef",
  [BtfKind.Var]: "variable",
  [BtfKind.Datasec]: "data section",
};
