/**
 * The shapes of BTF as tsbpf exposes it: kinds, and decoded type records. The reader itself is
 * {@linkcode Btf} in `btf.ts`; the kernel's definitions are in include/uapi/linux/btf.h.
 *
 * @module
 */

/** BTF kinds, with the kernel's numbers. */
export const BtfKind = {
  Unknown: 0,
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
/** A BTF kind number. */
export type BtfKind = (typeof BtfKind)[keyof typeof BtfKind];

/** The names bpftool prints for each kind, indexed by kind number. */
export const BTF_KIND_NAMES: readonly string[] = [
  "UNKNOWN",
  "INT",
  "PTR",
  "ARRAY",
  "STRUCT",
  "UNION",
  "ENUM",
  "FWD",
  "TYPEDEF",
  "VOLATILE",
  "CONST",
  "RESTRICT",
  "FUNC",
  "FUNC_PROTO",
  "VAR",
  "DATASEC",
  "FLOAT",
  "DECL_TAG",
  "TYPE_TAG",
  "ENUM64",
];

/** INT encoding bits. */
export const BtfIntEncoding = { Signed: 1, Char: 2, Bool: 4 } as const;

/** VAR and FUNC linkage. */
export const BtfLinkage = { Static: 0, Global: 1, Extern: 2 } as const;

/** A member of a STRUCT or UNION. */
export interface BtfMember {
  /** The member's name, "" when anonymous. */
  name: string;
  /** The member's type id. */
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield size in bits, 0 when the member is not a bitfield. */
  bitSize: number;
}

/** A value of an ENUM or ENUM64. */
export interface BtfEnumValue {
  /** The enumerator's name. */
  name: string;
  /** The value; signed or unsigned as the type's kflag says. */
  value: bigint;
}

/** A parameter of a FUNC_PROTO. */
export interface BtfParam {
  /** The parameter's name, "" when unnamed. */
  name: string;
  /** Its type id; 0 with an empty name marks a variadic `...`. */
  type: number;
}

/** A variable of a DATASEC. */
export interface BtfVarSecinfo {
  /** The VAR (or FUNC, for .ksyms) type id. */
  type: number;
  /** Offset in the section, in bytes. */
  offset: number;
  /** Size in bytes. */
  size: number;
}

/** Fields common to every decoded type. */
export interface BtfTypeBase {
  /** The type id. */
  id: number;
  /** The name, "" when anonymous. */
  name: string;
}

/** A decoded BTF type; `kind` tells which fields are present. */
export type BtfType =
  | BtfTypeBase & { kind: typeof BtfKind.Unknown }
  | BtfTypeBase & {
    kind: typeof BtfKind.Int;
    size: number;
    encoding: number;
    bitOffset: number;
    bits: number;
  }
  | BtfTypeBase & {
    kind:
      | typeof BtfKind.Ptr
      | typeof BtfKind.Typedef
      | typeof BtfKind.Volatile
      | typeof BtfKind.Const
      | typeof BtfKind.Restrict
      | typeof BtfKind.TypeTag;
    type: number;
  }
  | BtfTypeBase & { kind: typeof BtfKind.Array; type: number; indexType: number; nelems: number }
  | BtfTypeBase & {
    kind: typeof BtfKind.Struct | typeof BtfKind.Union;
    size: number;
    /** True when members carry bitfield sizes (the kind_flag). */
    kflag: boolean;
    members: BtfMember[];
  }
  | BtfTypeBase & {
    kind: typeof BtfKind.Enum | typeof BtfKind.Enum64;
    size: number;
    /** True when the values are signed (the kind_flag). */
    signed: boolean;
    values: BtfEnumValue[];
  }
  | BtfTypeBase & { kind: typeof BtfKind.Fwd; /** True for a union. */ union: boolean }
  | BtfTypeBase & { kind: typeof BtfKind.Func; type: number; linkage: number }
  | BtfTypeBase & { kind: typeof BtfKind.FuncProto; returnType: number; params: BtfParam[] }
  | BtfTypeBase & { kind: typeof BtfKind.Var; type: number; linkage: number }
  | BtfTypeBase & { kind: typeof BtfKind.Datasec; size: number; vars: BtfVarSecinfo[] }
  | BtfTypeBase & { kind: typeof BtfKind.Float; size: number }
  | BtfTypeBase & {
    kind: typeof BtfKind.DeclTag;
    type: number;
    /** -1 for the type itself, else the member or parameter index. */
    componentIdx: number;
  };
