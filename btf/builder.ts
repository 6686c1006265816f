/**
 * A writer of raw BTF blobs (header, type section, string section, little-endian), the inverse of
 * `Btf.parse`: tests make exactly the types they need with it, and feature probes make
 * the small blobs they hand to the kernel. Pure: no file, no syscall.
 *
 * @module
 */

import { BtfKind } from "./types.ts";

/** A struct or union member for {@linkcode BtfBuilder.struct} and {@linkcode BtfBuilder.union}. */
export interface MemberSpec {
  /** The name, "" for an anonymous member. */
  name: string;
  /** The member's type id. */
  type: number;
  /** Offset in bits from the start of the struct. */
  bitOffset: number;
  /** Bitfield size in bits; a non-zero one sets the struct's kind_flag. Default 0. */
  bitSize?: number;
}

/** A type record the builder encodes in `build()`. */
interface TypeRec {
  kind: number;
  name: number;
  vlen: number;
  kflag: boolean;
  sizeOrType: number;
  extra: number[];
  members?: MemberSpec[];
}

/** One added type: a record to encode, or words taken as they are. */
type Rec = TypeRec | { words: number[] };

/** The size of the BTF header this builder writes (version 1, no extensions). */
const HEADER_LEN = 24;

/**
 * Builds a raw BTF blob type by type. Every method that adds a type returns its id; ids start at
 * `startId` (1 by default) in the order types are added. Members and parameters may name ids that
 * are added later, and {@linkcode BtfBuilder.setMembers} fills a struct in afterwards, so cycles
 * can be built. {@linkcode BtfBuilder.raw} adds words as they are, for broken or unusual records.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Btf, BtfBuilder, BtfKind } from "./mod.ts";
 * const b = new BtfBuilder();
 * const int = b.int("int", 4, { signed: true });
 * const pair = b.struct("pair", 8, [
 *   { name: "a", type: int, bitOffset: 0 },
 *   { name: "b", type: int, bitOffset: 32 },
 * ]);
 * using btf = Btf.parse(b.build());
 * assert(btf.kind(pair) === BtfKind.Struct && btf.resolveSize(pair) === 8);
 * ```
 */
export class BtfBuilder {
  #types: Rec[] = [];
  #strs: number[];
  #strIndex = new Map<string, number>([["", 0]]);
  readonly #startId: number;
  readonly #strBase: number;

  /**
   * Starts an empty blob.
   *
   * @param opts For split BTF pass the base's type count as `startId` (default 1) and the length
   *   of its string section as `strBase` (default 0): ids and string offsets then continue the
   *   base's, and the string section does not start with its own empty string.
   */
  constructor(opts: { startId?: number; strBase?: number } = {}) {
    this.#startId = opts.startId ?? 1;
    this.#strBase = opts.strBase ?? 0;
    this.#strs = this.#strBase === 0 ? [0] : [];
  }

  /**
   * The `info` word of a type record: kind, vlen and kind_flag.
   *
   * @param kind The kind number ({@linkcode BtfKind}).
   * @param vlen The vlen field (member count, linkage...).
   * @param kflag The kind_flag bit. Default false.
   * @returns The u32 word.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BtfBuilder } from "./builder.ts";
   * assert(BtfBuilder.info(4, 2, true) === 0x84000002);
   * ```
   */
  static info(kind: number, vlen: number, kflag = false): number {
    return ((kflag ? 0x80000000 : 0) | (kind << 24) | (vlen & 0xffff)) >>> 0;
  }

  /** The length in bytes of the string section so far. */
  get strLen(): number {
    return this.#strs.length;
  }

  /**
   * Adds a string to the string section (once: the same string gives the same offset).
   *
   * @param s The string.
   * @returns Its offset, counted from the base's strings for split BTF.
   */
  str(s: string): number {
    let off = this.#strIndex.get(s);
    if (off === undefined) {
      off = this.#strBase + this.#strs.length;
      this.#strs.push(...new TextEncoder().encode(s), 0);
      this.#strIndex.set(s, off);
    }
    return off;
  }

  /**
   * Adds a type record as raw u32 words (name offset, info, size or type, then the kind's data),
   * unchecked, so tests can make malformed records.
   *
   * @param words The record's words.
   * @returns Its id.
   */
  raw(words: number[]): number {
    return this.#push({ words });
  }

  #push(r: Rec): number {
    this.#types.push(r);
    return this.#startId + this.#types.length - 1;
  }

  // Strings are added in record order: the type's name first, then its members' names.
  #add(kind: number, name: string, sizeOrType: number, more: Partial<TypeRec> = {}): number {
    const nameOff = this.str(name);
    for (const m of more.members ?? []) this.str(m.name);
    return this.#push({
      kind,
      name: nameOff,
      vlen: 0,
      kflag: false,
      sizeOrType,
      extra: [],
      ...more,
    });
  }

  /**
   * Adds an INT.
   *
   * @param name The name.
   * @param size The size in bytes.
   * @param opts `signed`, `char` and `bool` set the encoding bits; `bits` defaults to 8 * size.
   * @returns Its id.
   */
  int(
    name: string,
    size: number,
    opts: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number } = {},
  ): number {
    const enc = (opts.signed ? 1 : 0) | (opts.char ? 2 : 0) | (opts.bool ? 4 : 0);
    return this.#add(BtfKind.Int, name, size, { extra: [(enc << 24) | (opts.bits ?? size * 8)] });
  }

  /** Adds a pointer to `type` and returns its id. */
  ptr(type: number): number {
    return this.#add(BtfKind.Ptr, "", type);
  }

  /** Adds `const type` and returns its id. */
  const(type: number): number {
    return this.#add(BtfKind.Const, "", type);
  }

  /** Adds `volatile type` and returns its id. */
  volatile(type: number): number {
    return this.#add(BtfKind.Volatile, "", type);
  }

  /** Adds `restrict type` and returns its id. */
  restrict(type: number): number {
    return this.#add(BtfKind.Restrict, "", type);
  }

  /** Adds `typedef type name` and returns its id. */
  typedef(name: string, type: number): number {
    return this.#add(BtfKind.Typedef, name, type);
  }

  /** Adds a TYPE_TAG `name` over `type` and returns its id. */
  typeTag(name: string, type: number): number {
    return this.#add(BtfKind.TypeTag, name, type);
  }

  /**
   * Adds an ARRAY.
   *
   * @param elem The element type id.
   * @param nelems The element count.
   * @param indexType The index type id. Default: the element type.
   * @returns Its id.
   */
  array(elem: number, nelems: number, indexType = elem): number {
    return this.#add(BtfKind.Array, "", 0, { extra: [elem, indexType, nelems] });
  }

  /**
   * Adds a STRUCT; kind_flag is set when a member is a bitfield.
   *
   * @param name The name, "" for an anonymous struct.
   * @param size The size in bytes.
   * @param members The members. Default none (fill in later with `setMembers`).
   * @returns Its id.
   */
  struct(name: string, size: number, members: MemberSpec[] = []): number {
    return this.#add(BtfKind.Struct, name, size, { members });
  }

  /** Adds a UNION, like {@linkcode BtfBuilder.struct}, and returns its id. */
  union(name: string, size: number, members: MemberSpec[] = []): number {
    return this.#add(BtfKind.Union, name, size, { members });
  }

  /**
   * Replaces the members of a struct or union added earlier (to build cycles).
   *
   * @param id The struct's id.
   * @param members Its members.
   * @throws {RangeError} When `id` is not a struct or union of this builder.
   */
  setMembers(id: number, members: MemberSpec[]): void {
    const r = this.#types[id - this.#startId];
    if (r === undefined || !("members" in r)) {
      throw new RangeError(`Type ${id} is not a struct or union of this builder`);
    }
    for (const m of members) this.str(m.name);
    r.members = members;
  }

  /**
   * Adds an ENUM with 32-bit values.
   *
   * @param name The name, "" for an anonymous enum.
   * @param size The size in bytes (1, 2, 4 or 8).
   * @param values The enumerators; values are stored as u32.
   * @param opts `signed` sets kind_flag (signed values).
   * @returns Its id.
   */
  enum(
    name: string,
    size: number,
    values: [string, number][],
    opts: { signed?: boolean } = {},
  ): number {
    this.str(name);
    const extra = values.flatMap(([n, v]) => [this.str(n), v >>> 0]);
    return this.#add(BtfKind.Enum, name, size, {
      vlen: values.length,
      kflag: !!opts.signed,
      extra,
    });
  }

  /** Adds an ENUM64 (values stored as two u32 halves), like {@linkcode BtfBuilder.enum}. */
  enum64(
    name: string,
    size: number,
    values: [string, bigint][],
    opts: { signed?: boolean } = {},
  ): number {
    this.str(name);
    const extra = values.flatMap(([n, v]) => {
      const u = BigInt.asUintN(64, v);
      return [this.str(n), Number(u & 0xffffffffn), Number(u >> 32n)];
    });
    return this.#add(BtfKind.Enum64, name, size, {
      vlen: values.length,
      kflag: !!opts.signed,
      extra,
    });
  }

  /** Adds a forward declaration of a struct (or, with `union`, a union) and returns its id. */
  fwd(name: string, union = false): number {
    return this.#add(BtfKind.Fwd, name, 0, { kflag: union });
  }

  /**
   * Adds a FUNC_PROTO.
   *
   * @param ret The return type id (0 for void).
   * @param params The parameters as `[name, type]`; a last `["", 0]` is a `...`.
   * @returns Its id.
   */
  funcProto(ret: number, params: [string, number][]): number {
    const extra = params.flatMap(([n, t]) => [this.str(n), t]);
    return this.#add(BtfKind.FuncProto, "", ret, { vlen: params.length, extra });
  }

  /** Adds a FUNC over a prototype with a linkage (0 static, 1 global, 2 extern; default 1). */
  func(name: string, proto: number, linkage = 1): number {
    return this.#add(BtfKind.Func, name, proto, { vlen: linkage });
  }

  /** Adds a VAR of `type` with a linkage (0 static, 1 global, 2 extern; default 1). */
  var(name: string, type: number, linkage = 1): number {
    return this.#add(BtfKind.Var, name, type, { extra: [linkage] });
  }

  /**
   * Adds a DATASEC.
   *
   * @param name The section name.
   * @param size The section size in bytes.
   * @param vars The variables as `[varId, offset, size]`.
   * @returns Its id.
   */
  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.#add(BtfKind.Datasec, name, size, { vlen: vars.length, extra: vars.flat() });
  }

  /** Adds a FLOAT of `size` bytes and returns its id. */
  float(name: string, size: number): number {
    return this.#add(BtfKind.Float, name, size);
  }

  /** Adds a DECL_TAG on `type` (component -1, the default, tags the type itself). */
  declTag(name: string, type: number, componentIdx = -1): number {
    return this.#add(BtfKind.DeclTag, name, type, { extra: [componentIdx >>> 0] });
  }

  /**
   * Encodes the blob.
   *
   * @returns A 24-byte header, the type section, the string section.
   */
  build(): Uint8Array {
    const words: number[] = [];
    for (const r of this.#types) {
      if ("words" in r) {
        words.push(...r.words);
        continue;
      }
      let { vlen, kflag, extra } = r;
      if (r.members) {
        kflag = r.members.some((m) => (m.bitSize ?? 0) !== 0);
        vlen = r.members.length;
        extra = r.members.flatMap((m) => [
          this.str(m.name),
          m.type,
          kflag ? ((m.bitSize ?? 0) << 24) | m.bitOffset : m.bitOffset,
        ]);
      }
      words.push(r.name, BtfBuilder.info(r.kind, vlen, kflag), r.sizeOrType, ...extra);
    }
    const typeLen = words.length * 4;
    const strLen = this.#strs.length;
    const out = new Uint8Array(HEADER_LEN + typeLen + strLen);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, true); // magic
    dv.setUint8(2, 1); // version
    dv.setUint32(4, HEADER_LEN, true);
    dv.setUint32(8, 0, true); // type_off
    dv.setUint32(12, typeLen, true);
    dv.setUint32(16, typeLen, true); // str_off
    dv.setUint32(20, strLen, true);
    words.forEach((w, i) => dv.setUint32(HEADER_LEN + 4 * i, w >>> 0, true));
    out.set(this.#strs, HEADER_LEN + typeLen);
    return out;
  }
}

/**
 * A {@linkcode MemberSpec} in one call, for short member lists.
 *
 * @param name The member's name, "" for an anonymous one.
 * @param type Its type id.
 * @param bitOffset Its offset in bits.
 * @param bitSize Its bitfield size in bits, 0 (the default) for a plain member.
 * @returns The member.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BtfBuilder, member } from "./builder.ts";
 * const b = new BtfBuilder();
 * const int = b.int("int", 4, { signed: true });
 * const flags = b.struct("flags", 4, [member("a", int, 0, 3), member("b", int, 3, 5)]);
 * assert(flags === 2);
 * ```
 */
export function member(name: string, type: number, bitOffset: number, bitSize = 0): MemberSpec {
  return bitSize === 0 ? { name, type, bitOffset } : { name, type, bitOffset, bitSize };
}
