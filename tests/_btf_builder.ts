/**
 * Test-only builder of raw BTF blobs (header, type section, string section), little-endian, so
 * tests can make exactly the types they need and parse them with `Btf.parse`.
 *
 * Every method that adds a type returns its id; ids start at 1 in the order types are added.
 * Members and parameters may name ids that are added later, and `setMembers` fills a struct in
 * afterwards, so cycles can be built.
 *
 * @module
 */

const KIND = {
  Int: 1,
  Ptr: 2,
  Array: 3,
  Struct: 4,
  Union: 5,
  Enum: 6,
  Fwd: 7,
  Typedef: 8,
  Volatile: 9,
  Const: 10,
  Restrict: 11,
  Func: 12,
  FuncProto: 13,
  Var: 14,
  Datasec: 15,
  Float: 16,
  DeclTag: 17,
  TypeTag: 18,
  Enum64: 19,
} as const;

/** A struct or union member for {@linkcode BtfBuilder.struct}. */
export interface MemberSpec {
  /** The name, "" for an anonymous member. */
  name: string;
  /** The member's type id. */
  type: number;
  /** Offset in bits. */
  bitOffset: number;
  /** Bitfield size in bits (sets the kind_flag of the struct when non-zero). */
  bitSize?: number;
}

interface Rec {
  kind: number;
  name: number;
  vlen: number;
  kflag: boolean;
  sizeOrType: number;
  extra: number[];
  members?: MemberSpec[];
}

/** Builds a raw BTF blob. */
export class BtfBuilder {
  #types: Rec[] = [];
  #strs: number[];
  #strIndex = new Map<string, number>([["", 0]]);
  readonly #startId: number;
  readonly #strBase: number;

  /**
   * Starts an empty blob. For split BTF pass the base's type count (`startId`) and the length of
   * its string section (`strBase`): ids and string offsets then continue the base's.
   */
  constructor(opts: { startId?: number; strBase?: number } = {}) {
    this.#startId = opts.startId ?? 1;
    this.#strBase = opts.strBase ?? 0;
    this.#strs = this.#strBase === 0 ? [0] : [];
  }

  /** The length of the string section so far. */
  get strLen(): number {
    return this.#strs.length;
  }

  /** Adds a string to the string section (deduplicated) and returns its offset. */
  str(s: string): number {
    let off = this.#strIndex.get(s);
    if (off === undefined) {
      off = this.#strBase + this.#strs.length;
      this.#strs.push(...new TextEncoder().encode(s), 0);
      this.#strIndex.set(s, off);
    }
    return off;
  }

  #add(r: Omit<Rec, "name"> & { name: string }): number {
    this.#types.push({ ...r, name: this.str(r.name) });
    return this.#startId + this.#types.length - 1;
  }

  /** An INT; `signed`, `char`, `bool` set the encoding, `bits` defaults to 8 * size. */
  int(
    name: string,
    size: number,
    opts: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number } = {},
  ): number {
    const enc = (opts.signed ? 1 : 0) | (opts.char ? 2 : 0) | (opts.bool ? 4 : 0);
    const bits = opts.bits ?? size * 8;
    return this.#add({
      kind: KIND.Int,
      name,
      vlen: 0,
      kflag: false,
      sizeOrType: size,
      extra: [(enc << 24) | bits],
    });
  }

  #ref(kind: number, name: string, type: number): number {
    return this.#add({ kind, name, vlen: 0, kflag: false, sizeOrType: type, extra: [] });
  }

  /** A pointer to `type`. */
  ptr(type: number): number {
    return this.#ref(KIND.Ptr, "", type);
  }

  /** `const type`. */
  const(type: number): number {
    return this.#ref(KIND.Const, "", type);
  }

  /** `volatile type`. */
  volatile(type: number): number {
    return this.#ref(KIND.Volatile, "", type);
  }

  /** `restrict type`. */
  restrict(type: number): number {
    return this.#ref(KIND.Restrict, "", type);
  }

  /** `typedef type name`. */
  typedef(name: string, type: number): number {
    return this.#ref(KIND.Typedef, name, type);
  }

  /** A type tag over `type`. */
  typeTag(name: string, type: number): number {
    return this.#ref(KIND.TypeTag, name, type);
  }

  /** An array of `nelems` elements; the index type defaults to the element type. */
  array(elem: number, nelems: number, indexType = elem): number {
    return this.#add({
      kind: KIND.Array,
      name: "",
      vlen: 0,
      kflag: false,
      sizeOrType: 0,
      extra: [elem, indexType, nelems],
    });
  }

  /** A struct of `size` bytes. */
  struct(name: string, size: number, members: MemberSpec[] = []): number {
    return this.#add({
      kind: KIND.Struct,
      name,
      vlen: 0,
      kflag: false,
      sizeOrType: size,
      extra: [],
      members,
    });
  }

  /** A union of `size` bytes. */
  union(name: string, size: number, members: MemberSpec[] = []): number {
    return this.#add({
      kind: KIND.Union,
      name,
      vlen: 0,
      kflag: false,
      sizeOrType: size,
      extra: [],
      members,
    });
  }

  /** Replaces the members of a struct or union added earlier. */
  setMembers(id: number, members: MemberSpec[]): void {
    this.#types[id - this.#startId].members = members;
  }

  /** A 32-bit-valued ENUM. */
  enum(
    name: string,
    size: number,
    values: [string, number][],
    opts: { signed?: boolean } = {},
  ): number {
    const extra: number[] = [];
    for (const [n, v] of values) extra.push(this.str(n), v >>> 0);
    return this.#add({
      kind: KIND.Enum,
      name,
      vlen: values.length,
      kflag: !!opts.signed,
      sizeOrType: size,
      extra,
    });
  }

  /** An ENUM64. */
  enum64(
    name: string,
    size: number,
    values: [string, bigint][],
    opts: { signed?: boolean } = {},
  ): number {
    const extra: number[] = [];
    for (const [n, v] of values) {
      const u = BigInt.asUintN(64, v);
      extra.push(this.str(n), Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this.#add({
      kind: KIND.Enum64,
      name,
      vlen: values.length,
      kflag: !!opts.signed,
      sizeOrType: size,
      extra,
    });
  }

  /** A forward declaration of a struct (or a union). */
  fwd(name: string, union = false): number {
    return this.#add({ kind: KIND.Fwd, name, vlen: 0, kflag: union, sizeOrType: 0, extra: [] });
  }

  /** A function prototype; a last parameter `["", 0]` is a `...`. */
  funcProto(ret: number, params: [string, number][]): number {
    const extra: number[] = [];
    for (const [n, t] of params) extra.push(this.str(n), t);
    return this.#add({
      kind: KIND.FuncProto,
      name: "",
      vlen: params.length,
      kflag: false,
      sizeOrType: ret,
      extra,
    });
  }

  /** A FUNC over a prototype. */
  func(name: string, proto: number, linkage = 1): number {
    return this.#add({
      kind: KIND.Func,
      name,
      vlen: linkage,
      kflag: false,
      sizeOrType: proto,
      extra: [],
    });
  }

  /** A VAR. */
  var(name: string, type: number, linkage = 1): number {
    return this.#add({
      kind: KIND.Var,
      name,
      vlen: 0,
      kflag: false,
      sizeOrType: type,
      extra: [linkage],
    });
  }

  /** A DATASEC with its variables as `[varId, offset, size]`. */
  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.#add({
      kind: KIND.Datasec,
      name,
      vlen: vars.length,
      kflag: false,
      sizeOrType: size,
      extra: vars.flat(),
    });
  }

  /** A FLOAT. */
  float(name: string, size: number): number {
    return this.#add({
      kind: KIND.Float,
      name,
      vlen: 0,
      kflag: false,
      sizeOrType: size,
      extra: [],
    });
  }

  /** A DECL_TAG on `type` (component -1 for the type itself). */
  declTag(name: string, type: number, componentIdx = -1): number {
    return this.#add({
      kind: KIND.DeclTag,
      name,
      vlen: 0,
      kflag: false,
      sizeOrType: type,
      extra: [componentIdx >>> 0],
    });
  }

  /** The blob: a 24-byte header, the types, the strings. */
  build(): Uint8Array {
    const words: number[] = [];
    for (const r of this.#types) {
      let vlen = r.vlen, kflag = r.kflag, extra = r.extra;
      if (r.members) {
        kflag = r.members.some((m) => (m.bitSize ?? 0) !== 0);
        vlen = r.members.length;
        extra = [];
        for (const m of r.members) {
          const off = kflag ? ((m.bitSize ?? 0) << 24) | m.bitOffset : m.bitOffset;
          extra.push(this.str(m.name), m.type, off >>> 0);
        }
      }
      words.push(
        r.name,
        ((kflag ? 1 : 0) << 31 | (r.kind << 24) | vlen) >>> 0,
        r.sizeOrType >>> 0,
        ...extra,
      );
    }
    const typeLen = words.length * 4;
    const strLen = this.#strs.length;
    const out = new Uint8Array(24 + typeLen + strLen);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, true);
    dv.setUint8(2, 1);
    dv.setUint32(4, 24, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, typeLen, true);
    dv.setUint32(16, typeLen, true);
    dv.setUint32(20, strLen, true);
    for (let i = 0; i < words.length; i++) dv.setUint32(24 + 4 * i, words[i] >>> 0, true);
    out.set(this.#strs, 24 + typeLen);
    return out;
  }
}
