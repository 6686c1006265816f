/**
 * TypeScript types for BTF, matching the values of `btf/codec.ts` exactly: {@linkcode tsTypes}
 * prints a declaration for every named struct, union and enum of a BTF blob (and for the anonymous
 * ones reachable from them or from the roots the caller names, such as a map's value or a data
 * section), with the C declaration of each member in its JSDoc, and maps any type id to a type
 * expression. The skeleton generator builds on it.
 *
 * Naming, all deterministic:
 * - A named struct, union or enum gets its C name in PascalCase (`struct task_struct` is
 *   `TaskStruct`, `enum xdp_action` is `XdpAction`), with `_` after names the text uses or that
 *   shadow JavaScript globals (`Uint8Array_`, `Map_`).
 * - A typedef of an anonymous struct, union or enum names it (`typedef struct { ... } foo_t` is
 *   `FooT`); a typedef of a named one is an alias (`export type FooT = Foo;`); typedefs of
 *   anything else are left out (members use the type they come down to).
 * - An anonymous type inside another is named after its owner and the member's key:
 *   `struct event { struct { ... } args[4]; }` gives `Event_args`. Names do not depend on type ids,
 *   so they stay put when unrelated types change.
 * - Names that collide (after PascalCase, or with a reserved name) get `_2`, `_3`… in the order of
 *   (name, kind, C name, id).
 * - Only names matching `/^[A-Za-z_$][A-Za-z0-9_$]*$/` are ever emitted; C names and declarations
 *   appear in comments only, with `*\/`, control and line-separator characters escaped.
 *
 * Member keys are the codec's keys ({@linkcode codecShape}); a union's interface has every member
 * (what decode gives; to encode one member, give a value with that member only), an enum is a
 * `const` object of its values plus a `number` (or `bigint`, for 8-byte enums) type of the same
 * name, a struct with no members an interface with a `never` index signature. A type that has no
 * codec is declared as `never` with the reason in its comment. Lines are broken where `deno fmt`
 * breaks them at `lineWidth` (80 unless told).
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { codecKey, type CodecShape, codecShape } from "../btf/codec.ts";
import { CodecError } from "../errors.ts";
import { CDumper } from "./c_dump.ts";

/** Options of {@linkcode tsTypes}. */
export interface TsTypesOptions {
  /**
   * Types to name when they are anonymous (a struct, union or enum with no name, or a DATASEC),
   * with the name to derive theirs from: `{ name: "events_value", typeId }` for a map's value gives
   * `EventsValue`. Named types are declared anyway; arrays are looked through. Default none.
   */
  roots?: readonly { name: string; typeId: number }[];
  /** Names the generated text must not declare (the caller's own). Default none. */
  reserved?: Iterable<string>;
  /**
   * The line width `deno fmt` will check the text with: lines that would be longer are broken where
   * `deno fmt` breaks them. Default 80 (deno's default; this repository's deno.json says 100).
   */
  lineWidth?: number;
}

/** What {@linkcode tsTypes} gives. */
export interface TsTypes {
  /** The declarations, each preceded by its JSDoc, separated by blank lines, ending in a newline ("" when none). */
  readonly text: string;
  /** The TS name of every declared type id: structs, unions, enums, aliased typedefs, named roots. */
  readonly names: ReadonlyMap<number, string>;
  /**
   * The TypeScript type of the codec values of any type id: `number`, `Int32Array`, `Event[]`, or
   * an inline object type for an anonymous struct that was not declared.
   * @throws {CodecError} For a type with no codec (void, a function prototype...).
   */
  typeExpr(typeId: number): string;
}

const RESERVED: ReadonlySet<string> = new Set([
  "Array",
  "ArrayBuffer",
  "BigInt",
  "BigInt64Array",
  "BigUint64Array",
  "Boolean",
  "DataView",
  "Date",
  "Error",
  "Float32Array",
  "Float64Array",
  "Function",
  "Infinity",
  "Int16Array",
  "Int32Array",
  "Int8Array",
  "JSON",
  "Map",
  "Math",
  "NaN",
  "Number",
  "Object",
  "Partial",
  "Promise",
  "Readonly",
  "Record",
  "RegExp",
  "Set",
  "String",
  "Symbol",
  "Uint16Array",
  "Uint32Array",
  "Uint8Array",
  "Uint8ClampedArray",
]);

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * The TypeScript name for a C type name: PascalCase over the runs of letters and digits
 * (`task_struct` → `TaskStruct`, `__sk_buff` → `SkBuff`), `T` for a name with none, `_` in front
 * of a leading digit, `_` after a reserved name (`Map` → `Map_`).
 *
 * @param cName The C name.
 * @returns An identifier.
 * @example
 * ```ts
 * import { tsTypeName } from "./ts_types.ts";
 * if (tsTypeName("task_struct") !== "TaskStruct" || tsTypeName("a-b") !== "AB") throw new Error();
 * ```
 */
export function tsTypeName(cName: string): string {
  let s = "";
  for (const part of cName.split(/[^A-Za-z0-9]+/)) {
    if (part !== "") s += part[0].toUpperCase() + part.slice(1);
  }
  if (s === "") s = "T";
  if (s.charCodeAt(0) <= 57) s = "_" + s;
  if (RESERVED.has(s)) s += "_";
  return s;
}

/**
 * Makes text safe inside a `/* ... *\/` comment on one line: `*\/` becomes `*\\/`, control
 * characters (newlines included), DEL, C1 controls and U+2028/U+2029 become `\uXXXX`, tabs two
 * spaces.
 *
 * @param text Any text, such as a C declaration from hostile BTF.
 * @returns The text to put in a comment.
 * @example
 * ```ts
 * import { commentSafe } from "./ts_types.ts";
 * const closer = "*" + "/";
 * if (commentSafe(`a ${closer} b\n`) !== "a *\\/ b\\u000a") throw new Error("not escaped");
 * ```
 */
export function commentSafe(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 9) out += "  ";
    else if (c === 0x2a && text.charCodeAt(i + 1) === 0x2f) out += "*\\";
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, "0")}`;
    } else out += text[i];
  }
  return out;
}

/** Lines as `deno fmt` (dprint) lays them out at a given width, for the few shapes printed here. */
class Lines {
  constructor(readonly width: number) {}

  /** `key: value` plus `end`, at `indent`; broken after the colon when too long. */
  prop(indent: string, key: string, value: string, end: string): string {
    const one = `${indent}${key}: ${value}${end}`;
    return one.length <= this.width ? one : `${indent}${key}:\n${indent}  ${value}${end}`;
  }

  /** `export type name = expr;`, broken as deno fmt breaks it. */
  alias(name: string, expr: string): string {
    const one = `export type ${name} = ${expr};`;
    if (one.length <= this.width) return one;
    return `export type ${name} =\n  ${expr};`;
  }

  /** `export const name = { ... } as const;` from entries (a doc line and a `key`, `value`). */
  constObject(name: string, entries: { doc: string; key: string; value: string }[]): string[] {
    const head = `export const ${name} = {`;
    if (entries.length === 0) {
      const one = `export const ${name} = {} as const;`;
      return [one.length <= this.width ? one : `export const ${name} =\n  {} as const;`];
    }
    const moved = head.length > this.width;
    const ind = moved ? "    " : "  ";
    const out = moved ? [`export const ${name} =`, "  {"] : [head];
    for (const e of entries) {
      out.push(`${ind}${e.doc}`);
      out.push(this.prop(ind, e.key, e.value, ","));
    }
    out.push(moved ? "  } as const;" : "} as const;");
    return out;
  }
}

interface Decl {
  /** The type id declared (struct, union, enum, datasec, or the typedef of an alias). */
  readonly id: number;
  readonly kind: "object" | "enum" | "alias";
  /** For an alias, the id it stands for. */
  readonly target?: number;
  /** The C words for the comment: `struct event`, `typedef struct foo foo_t`... */
  readonly what: string;
}

const KIND_RANK: Record<number, number> = {
  [BtfKind.Struct]: 0,
  [BtfKind.Union]: 1,
  [BtfKind.Enum]: 2,
  [BtfKind.Enum64]: 2,
  [BtfKind.Typedef]: 3,
};

/**
 * TypeScript declarations for the named structs, unions and enums of `btf` (and the anonymous ones
 * reachable from them or from `opts.roots`), matching `codecFor`'s values. Deterministic: the same
 * BTF and options give the same text. The text passes `deno check`, `deno lint` and
 * `deno fmt --check`.
 *
 * @param btf The BTF (for split BTF, the base's types are declared only when reached).
 * @param opts Roots to name and names to avoid.
 * @returns The text, the names, and a type expression for any id.
 * @example
 * ```ts
 * import { Btf, BtfBuilder } from "../btf/mod.ts";
 * import { tsTypes } from "./ts_types.ts";
 * const b = new BtfBuilder();
 * const u32 = b.int("unsigned int", 4);
 * const inner = b.struct("", 4, [{ name: "n", type: u32, bitOffset: 0 }]);
 * const ev = b.struct("event", 8, [
 *   { name: "pid", type: u32, bitOffset: 0 },
 *   { name: "args", type: inner, bitOffset: 32 },
 * ]);
 * using btf = Btf.parse(b.build());
 * const t = tsTypes(btf);
 * if (!t.text.includes("export interface Event {") || t.typeExpr(ev) !== "Event") throw new Error();
 * if (!t.text.includes("  args: Event_args;")) throw new Error(t.text);
 * ```
 */
export function tsTypes(btf: Btf, opts: TsTypesOptions = {}): TsTypes {
  const fmt = new Lines(Math.max(20, Math.min(opts.lineWidth ?? 80, 1000)));
  const taken = new Set<string>([...RESERVED, ...(opts.reserved ?? [])]);
  const names = new Map<number, string>();
  const decls = new Map<number, Decl>();
  const unique = (base: string): string => {
    let n = base;
    for (let i = 2; taken.has(n); i++) n = `${base}_${i}`;
    taken.add(n);
    return n;
  };
  const safeKind = (id: number): number => {
    try {
      return btf.kind(id);
    } catch {
      return -1;
    }
  };
  const skip = (id: number): number => {
    for (let i = 0; i < 256; i++) {
      const k = safeKind(id);
      if (
        k !== BtfKind.Typedef && k !== BtfKind.Const && k !== BtfKind.Volatile &&
        k !== BtfKind.Restrict && k !== BtfKind.TypeTag && k !== BtfKind.Var
      ) return id;
      id = btf.refType(id);
    }
    return -1;
  };
  const cWhat = (id: number): string => {
    const k = safeKind(id);
    const word = k === BtfKind.Struct
      ? "struct"
      : k === BtfKind.Union
      ? "union"
      : k === BtfKind.Datasec
      ? "section"
      : "enum";
    const n = btf.name(id);
    return n === "" ? `${word} { ... }` : `${word} ${n}`;
  };
  const isDecl = (k: number) =>
    k === BtfKind.Struct || k === BtfKind.Union || k === BtfKind.Enum || k === BtfKind.Enum64;

  // Phase A: named types and typedefs, in a fixed order.
  const cands: { base: string; rank: number; cName: string; id: number; decl: Decl }[] = [];
  for (let id = btf.startId; id < btf.typeCount; id++) {
    const k = btf.kind(id);
    const cName = btf.name(id);
    if (cName === "") continue;
    if (isDecl(k)) {
      cands.push({
        base: tsTypeName(cName),
        rank: KIND_RANK[k],
        cName,
        id,
        decl: {
          id,
          kind: k === BtfKind.Struct || k === BtfKind.Union ? "object" : "enum",
          what: cWhat(id),
        },
      });
    } else if (k === BtfKind.Typedef) {
      const to = skip(id);
      const tk = safeKind(to);
      if (to < 0 || !isDecl(tk)) continue;
      const what = `typedef ${cWhat(to)} ${cName}`;
      // An alias named like its target (typedef struct foo foo) says nothing: left out.
      if (btf.name(to) !== "" && tsTypeName(btf.name(to)) === tsTypeName(cName)) continue;
      const decl: Decl = btf.name(to) === ""
        ? { id: to, kind: tk === BtfKind.Struct || tk === BtfKind.Union ? "object" : "enum", what }
        : { id, kind: "alias", target: to, what };
      cands.push({ base: tsTypeName(cName), rank: KIND_RANK[k], cName, id, decl });
    }
  }
  cands.sort((a, b) =>
    a.base < b.base ? -1 : a.base > b.base ? 1 : a.rank - b.rank ||
      (a.cName < b.cName ? -1 : a.cName > b.cName ? 1 : a.id - b.id)
  );
  // Typedefs of anonymous types name them first (one name per type: the first typedef's).
  for (const c of cands) {
    if (c.decl.kind === "alias" || c.decl.id === c.id || names.has(c.decl.id)) continue;
    names.set(c.decl.id, unique(c.base));
    decls.set(c.decl.id, c.decl);
  }
  for (const c of cands) {
    if (c.decl.id !== c.id) continue;
    names.set(c.id, unique(c.base));
    decls.set(c.id, c.decl);
  }

  const shapeOf = (id: number): CodecShape | CodecError => {
    try {
      return codecShape(btf, id);
    } catch (e) {
      if (e instanceof CodecError) return e;
      throw e;
    }
  };
  /** The struct, union or enum a shape comes down to through arrays, or 0. */
  const inner = (s: CodecShape): number => {
    while (s.kind === "array") s = s.element;
    if (s.kind === "object" || s.kind === "enum") return s.typeId;
    if (s.kind === "typedArray") return s.enumTypeId;
    return 0;
  };
  const declare = (id: number, base: string): void => {
    if (id === 0 || names.has(id)) return;
    const k = safeKind(id);
    names.set(id, unique(base));
    decls.set(id, {
      id,
      kind: k === BtfKind.Enum || k === BtfKind.Enum64 ? "enum" : "object",
      what: cWhat(id),
    });
  };

  // Phase B: roots.
  for (const r of opts.roots ?? []) {
    const sh = shapeOf(r.typeId);
    if (sh instanceof CodecError) continue;
    const id = inner(sh);
    if (id !== 0 && !names.has(id)) {
      const named = btf.name(id) !== "" && safeKind(id) !== BtfKind.Datasec;
      declare(id, named ? tsTypeName(btf.name(id)) : tsTypeName(r.name));
    }
  }

  // Phase C: anonymous (and not yet declared) types reached from declared ones, by member path.
  const queue = [...decls.keys()].sort((a, b) => (names.get(a)! < names.get(b)! ? -1 : 1));
  for (let qi = 0; qi < queue.length; qi++) {
    const id = queue[qi];
    const d = decls.get(id)!;
    if (d.kind !== "object") continue;
    const sh = shapeOf(id);
    if (sh instanceof CodecError || sh.kind !== "object") continue;
    for (const f of sh.fields) {
      const t = inner(f.shape);
      if (t === 0 || names.has(t)) continue;
      const cn = btf.name(t);
      declare(t, cn !== "" ? tsTypeName(cn) : `${names.get(id)}_${f.key}`);
      queue.push(t);
    }
  }

  const exprOf = (s: CodecShape): string => {
    switch (s.kind) {
      case "number":
      case "bigint":
      case "boolean":
      case "string":
        return s.kind;
      case "bytes":
        return "Uint8Array";
      case "enum":
        return names.get(s.typeId) ?? s.repr;
      case "typedArray":
        return s.ctor;
      case "array": {
        const e = exprOf(s.element);
        return IDENT.test(e) || e.endsWith("[]") ? `${e}[]` : `Array<${e}>`;
      }
      case "object": {
        const n = names.get(s.typeId);
        if (n !== undefined) return n;
        if (s.fields.length === 0) return "Record<string, never>";
        return `{ ${s.fields.map((f) => `${f.key}: ${exprOf(f.shape)}`).join("; ")} }`;
      }
    }
  };

  using dumper = new CDumper(btf);
  const cDecl = (typeId: number, name: string, bitSize: number): string => {
    let t: string;
    try {
      t = dumper.emitTypeDecl(typeId, name);
    } catch {
      t = name;
    }
    const nl = t.indexOf("\n");
    if (nl >= 0) {
      const open = t.indexOf("{");
      const close = t.lastIndexOf("}");
      if (open >= 0 && close > open) t = `${t.slice(0, open)}{ ... }${t.slice(close + 1)}`;
    }
    return commentSafe(bitSize > 0 ? `${t} : ${bitSize}` : t);
  };

  const out: string[] = [];
  const order = [...decls.keys()].sort((a, b) => (names.get(a)! < names.get(b)! ? -1 : 1));
  for (const id of order) {
    const d = decls.get(id)!;
    const name = names.get(id)!;
    if (d.kind === "alias") {
      out.push(
        `/** \`${commentSafe(d.what)}\`. */\n${fmt.alias(name, names.get(d.target!)!)}\n`,
      );
      continue;
    }
    const sh = shapeOf(id);
    if (sh instanceof CodecError) {
      out.push(
        `/** \`${commentSafe(d.what)}\`: no codec (${commentSafe(sh.message)}). */\n` +
          `${fmt.alias(name, "never")}\n`,
      );
      continue;
    }
    if (d.kind === "enum") {
      const text = enumText(btf, id, name, d.what, sh.kind === "enum" ? sh.repr : "number", fmt);
      if (text !== "") out.push(text);
      continue;
    }
    if (sh.kind !== "object") continue;
    const size = safeSize(btf, id);
    const head = `/** \`${commentSafe(d.what)}\`${size >= 0 ? `, ${size} bytes` : ""}${
      sh.union ? "; decode gives every member, encode writes those given" : ""
    }. */\n`;
    if (sh.fields.length === 0) {
      // An interface with only an index signature: \`Record<string, never>\` as an alias would be
      // broken by deno fmt in more ways than one when the name is long.
      out.push(`${head}export interface ${name} {\n  [key: string]: never;\n}\n`);
      continue;
    }
    const lines = [`${head}export interface ${name} {`];
    for (const f of sh.fields) {
      const via = f.via > 0 ? " (in an unnamed member)" : "";
      lines.push(`  /** \`${cDecl(f.memberTypeId, f.name, f.bitSize)}\`${via} */`);
      lines.push(fmt.prop("  ", f.key, exprOf(f.shape), ";"));
    }
    lines.push("}\n");
    out.push(lines.join("\n"));
  }

  return {
    text: out.join("\n"),
    names,
    typeExpr(typeId: number): string {
      return exprOf(codecShape(btf, typeId));
    },
  };
}

function safeSize(btf: Btf, id: number): number {
  try {
    return btf.kind(id) === BtfKind.Datasec ? -1 : btf.size(id);
  } catch {
    return -1;
  }
}

function enumText(
  btf: Btf,
  id: number,
  name: string,
  what: string,
  repr: "number" | "bigint",
  fmt: Lines,
): string {
  const t = btf.type(id);
  if (t.kind !== BtfKind.Enum && t.kind !== BtfKind.Enum64) return "";
  const lines = [`/** The values of \`${commentSafe(what)}\`. */`];
  const used = new Set<string>();
  const entries = t.values.map((v) => {
    const base = codecKey(v.name);
    let key = base;
    for (let i = 2; used.has(key); i++) key = `${base}_${i}`;
    used.add(key);
    const value = repr === "bigint" ? `${v.value}n` : `${v.value}`;
    return { doc: `/** \`${commentSafe(`${v.name} = ${v.value}`)}\` */`, key, value };
  });
  lines.push(...fmt.constObject(name, entries));
  lines.push(
    `/** \`${commentSafe(what)}\`: any ${repr}, usually one of {@linkcode ${name}}'s values. */`,
  );
  lines.push(`${fmt.alias(name, repr)}\n`);
  return lines.join("\n");
}
