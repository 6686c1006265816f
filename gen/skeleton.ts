/**
 * `tsbpf gen skeleton`: one TypeScript module tailored to one BPF object, in the manner of
 * bpftool's skeletons. It embeds the object, and has a class (`FooSkel`) with typed `maps`,
 * `progs`, `links`, one accessor object per data section (`rodata`, `data`, `bss`, `kconfig`,
 * `data_<x>`, `rodata_<x>`) with a getter and setter per exposed variable at its constant offset,
 * `structOps` for struct_ops maps, and a const object per named enum.
 *
 * Pure: runs offline (no FFI), on Node too. Every name taken from the object is sanitized into an
 * identifier (`[A-Za-z0-9_]`, no reserved word, deduplicated in declaration order) or written as
 * an escaped string literal; comments escape `*\/` and every non-ASCII or control character.
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import { BtfIntEncoding, BtfKind, type BtfMember } from "../btf/types.ts";
import { BpfError } from "../errors.ts";
import { open } from "../spec/open.ts";
import type { DataSecSpec, ObjectSpec, VarSpec } from "../spec/types.ts";
import { sha256Hex } from "./_sha256.ts";
import { CDumper } from "./c_dump.ts";
import { type TsTypes, tsTypes } from "./ts_types.ts";

/** The version of the generated module's shape; bumped when generated code changes meaning. */
export const SKELETON_FORMAT = 1;

/** Options of {@linkcode genSkeleton}. */
export interface GenSkeletonOptions {
  /** The object file's name, for the header and the default name. Default `"bpf_object.bpf.o"`. */
  file?: string;
  /** The skeleton's name (`name NAME` of bpftool): the object name and the class prefix. */
  name?: string;
  /** The module specifier the skeleton imports the library from. Default `"tsbpf"`. */
  importFrom?: string;
  /** The `deno fmt` line width the output is wrapped for. Default 100 (this repository's). */
  lineWidth?: number;
}

// The line width of the module being generated (genSkeleton is synchronous: set per call).
let width = 100;

const PROP_RESERVED = new Set(["constructor", "__proto__", "prototype"]);
const MAX_IDENT = 32;

function clean(raw: string): string {
  let s = raw.replace(/[^A-Za-z0-9_]/g, "_").slice(0, MAX_IDENT);
  if (s === "") s = "_";
  if (/^[0-9]/.test(s)) s = "_" + s;
  return s;
}

/** A property name (reserved words are fine as properties; the few special names are not). */
function propIdent(raw: string): string {
  const s = clean(raw);
  return PROP_RESERVED.has(s) ? s + "_" : s;
}

function pascal(raw: string): string {
  const parts = clean(raw).split("_").filter((p) => p !== "");
  const s = parts.map((p) => p[0].toUpperCase() + p.slice(1)).join("");
  return s === "" || /^[0-9]/.test(s) ? "Bpf" + s : s;
}

/** Names taken in one scope; a taken name gets `_2`, `_3`... */
class Namer {
  readonly #used = new Set<string>();
  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.#used.add(r);
  }
  take(base: string): string {
    let n = base;
    for (let i = 2; this.#used.has(n); i++) n = `${base}_${i}`;
    this.#used.add(n);
    return n;
  }
}

/**
 * A string literal for any text, quoted as deno fmt quotes it (double quotes unless the text has
 * more double quotes than single ones), with every control and non-ASCII character escaped.
 */
function lit(s: string): string {
  const dq = s.split('"').length - 1;
  const sq = s.split("'").length - 1;
  const q = dq > sq ? "'" : '"';
  let out = q;
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += "\\" + q;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c >= 0x7f) {
      for (let i = 0; i < ch.length; i++) {
        out += "\\u" + ch.charCodeAt(i).toString(16).padStart(4, "0");
      }
    } else out += ch;
  }
  return out + q;
}

/** Text safe inside a block comment, on one line. */
function safeComment(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => {
    const cp = c.codePointAt(0)!;
    return `\\u{${cp.toString(16)}}`;
  }).replace(/\*\//g, "*\\/");
}

function doc(lines: string[], indent: string): string {
  const safe = lines.map(safeComment);
  if (safe.length === 1 && indent.length + safe[0].length + 7 <= width) {
    return `${indent}/** ${safe[0]} */\n`;
  }
  return `${indent}/**\n${
    safe.map((l) => `${indent} * ${l}`.trimEnd()).join("\n")
  }\n${indent} */\n`;
}

/** An expression: text, or a call that is wrapped one argument a line when it is too long. */
type Expr = string | { fn: string; args: string[]; tail?: string };

/** A statement `${head}${expr};`, wrapped as deno fmt wraps a call that does not fit. */
function stmt(head: string, e: Expr): string {
  if (typeof e === "string") return `${head}${e};`;
  const one = `${head}${e.fn}(${e.args.join(", ")})${e.tail ?? ""};`;
  if (one.length <= width) return one;
  const ind = head.length - head.trimStart().length;
  const pad = " ".repeat(ind);
  return `${head}${e.fn}(\n${e.args.map((a) => `${pad}  ${a},\n`).join("")}${pad})${e.tail ?? ""};`;
}

/** How one C type is read and written. */
type Kind =
  | { k: "scalar"; ts: "number" | "bigint" | "boolean"; e: ScalarName; size: number }
  | { k: "cstr"; size: number }
  | { k: "array"; elem: Kind; n: number; size: number }
  | { k: "view"; cls: string; size: number }
  | { k: "bytes"; size: number };

type ScalarName =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "u64"
  | "i64"
  | "f32"
  | "f64"
  | "bool"
  | "i128"
  | "u128";

const DV: Partial<Record<ScalarName, [string, boolean]>> = {
  u8: ["Uint8", false],
  i8: ["Int8", false],
  u16: ["Uint16", true],
  i16: ["Int16", true],
  u32: ["Uint32", true],
  i32: ["Int32", true],
  u64: ["BigUint64", true],
  i64: ["BigInt64", true],
  f32: ["Float32", true],
  f64: ["Float64", true],
};

function intScalar(size: number, signed: boolean): Kind | undefined {
  const s = signed ? "i" : "u";
  switch (size) {
    case 1:
      return { k: "scalar", ts: "number", e: `${s}8`, size };
    case 2:
      return { k: "scalar", ts: "number", e: `${s}16`, size };
    case 4:
      return { k: "scalar", ts: "number", e: `${s}32`, size };
    case 8:
      return { k: "scalar", ts: "bigint", e: `${s}64`, size };
    case 16:
      return { k: "scalar", ts: "bigint", e: `${s}128`, size };
  }
  return undefined;
}

interface Prop {
  name: string; // the property name
  cDecl: string; // the C declaration, for the doc comment
  kind: Kind;
  off: number; // byte offset from the owner's start
  bit?: { bit: number; bits: number; signed: boolean; big: boolean };
  fnProg?: string | null; // struct_ops function pointer: the program's name
  grow?: boolean; // the last array of a resizable section
  size: number;
}

class Gen {
  readonly btf: Btf;
  readonly dumper: CDumper;
  readonly spec: ObjectSpec;
  readonly top: Namer;
  readonly imports = new Set<string>();
  readonly views = new Map<number, string>(); // struct type id -> class name
  readonly out: string[] = []; // view classes, in order of first use
  readonly prefix: string;

  constructor(spec: ObjectSpec, btf: Btf, prefix: string, reserved: string[]) {
    this.spec = spec;
    this.btf = btf;
    this.dumper = new CDumper(btf);
    this.prefix = prefix;
    this.top = new Namer(reserved);
  }

  use(name: string): string {
    this.imports.add(name);
    return name;
  }

  decl(typeId: number, name: string): string {
    try {
      return this.dumper.emitTypeDecl(typeId, name) + ";";
    } catch {
      return `? ${name};`;
    }
  }

  kind(typeId: number): Kind {
    const btf = this.btf;
    const id = btf.skipModsAndTypedefs(typeId);
    const t = btf.type(id);
    switch (t.kind) {
      case BtfKind.Int: {
        if ((t.encoding & BtfIntEncoding.Bool) !== 0 && t.size === 1) {
          return { k: "scalar", ts: "boolean", e: "bool", size: 1 };
        }
        return intScalar(t.size, (t.encoding & BtfIntEncoding.Signed) !== 0) ??
          { k: "bytes", size: t.size };
      }
      case BtfKind.Ptr:
        return { k: "scalar", ts: "bigint", e: "u64", size: 8 };
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return intScalar(t.size, t.signed) ?? { k: "bytes", size: t.size };
      case BtfKind.Float:
        if (t.size === 4) return { k: "scalar", ts: "number", e: "f32", size: 4 };
        if (t.size === 8) return { k: "scalar", ts: "number", e: "f64", size: 8 };
        return { k: "bytes", size: t.size };
      case BtfKind.Array: {
        const et = btf.skipModsAndTypedefs(t.type);
        const e = btf.type(et);
        const esz = btf.resolveSize(t.type);
        if (e.kind === BtfKind.Int && e.size === 1 && e.name === "char") {
          return { k: "cstr", size: t.nelems };
        }
        return { k: "array", elem: this.kind(t.type), n: t.nelems, size: esz * t.nelems };
      }
      case BtfKind.Struct:
      case BtfKind.Union:
        return { k: "view", cls: this.view(id), size: t.size };
    }
    let size = 0;
    try {
      size = btf.resolveSize(id);
    } catch {
      size = 0;
    }
    return { k: "bytes", size };
  }

  /** The accessor class of a struct or union (emitted once). */
  view(id: number): string {
    const have = this.views.get(id);
    if (have !== undefined) return have;
    const t = this.btf.type(id);
    const cls = this.top.take(t.name === "" ? `Anon${id}View` : `${pascal(t.name)}View`);
    this.views.set(id, cls);
    const names = new Namer(["toJSON"]);
    const props = this.members(id, 0, names);
    props.push(...withBytes(props, names));
    const what = t.kind === BtfKind.Union ? "union" : "struct";
    const title = t.name === "" ? `An anonymous ${what}` : `\`${what} ${t.name}\``;
    this.out.push(
      this.cls(
        cls,
        [`${title} in skeleton memory (${
          t.kind === BtfKind.Union ? "every member at its offset" : "members at their C offsets"
        }).`],
        props,
        true,
      ),
    );
    return cls;
  }

  /** A struct's or union's members, anonymous members flattened as C does. */
  members(id: number, base: number, names: Namer, fnProgs?: Map<string, string>): Prop[] {
    const btf = this.btf;
    const t = btf.type(id);
    if (t.kind !== BtfKind.Struct && t.kind !== BtfKind.Union) return [];
    const props: Prop[] = [];
    for (const m of t.members) {
      const off = base + Math.floor(m.bitOffset / 8);
      const mt = btf.skipModsAndTypedefs(m.type);
      const mk = btf.kind(mt);
      if (m.name === "" && (mk === BtfKind.Struct || mk === BtfKind.Union)) {
        if (m.bitOffset % 8 !== 0) continue;
        props.push(...this.members(mt, off, names, fnProgs));
        continue;
      }
      const p = this.member(m, base, names, fnProgs);
      if (p !== undefined) props.push(p);
    }
    return props;
  }

  member(
    m: BtfMember,
    base: number,
    names: Namer,
    fnProgs?: Map<string, string>,
  ): Prop | undefined {
    const btf = this.btf;
    const mt = btf.skipModsAndTypedefs(m.type);
    const t = btf.type(mt);
    let bitSize = m.bitSize;
    let bitOffset = m.bitOffset;
    if (t.kind === BtfKind.Int && bitSize === 0 && (t.bitOffset !== 0 || t.bits !== t.size * 8)) {
      bitSize = t.bits;
      bitOffset += t.bitOffset;
    }
    const cDecl = this.decl(m.type, m.name === "" ? "" : m.name) +
      (m.bitSize !== 0 ? ` /* : ${m.bitSize} */` : "");
    const name = names.take(propIdent(m.name === "" ? `_anon_${m.bitOffset}` : m.name));
    if (fnProgs !== undefined && t.kind === BtfKind.Ptr) {
      const target = btf.skipModsAndTypedefs(t.type);
      if (btf.kind(target) === BtfKind.FuncProto) {
        return {
          name,
          cDecl,
          kind: { k: "bytes", size: 8 },
          off: base + bitOffset / 8,
          fnProg: fnProgs.get(m.name) ?? null,
          size: 8,
        };
      }
    }
    if (bitSize !== 0) {
      const kind = this.kind(mt);
      const signed = kind.k === "scalar" && kind.e.startsWith("i");
      const byte = Math.floor(bitOffset / 8);
      return {
        name,
        cDecl,
        kind,
        off: base + byte,
        bit: { bit: bitOffset % 8, bits: bitSize, signed, big: bitSize > 32 },
        size: kind.size,
      };
    }
    if (bitOffset % 8 !== 0) return undefined;
    const kind = this.kind(m.type);
    return { name, cDecl, kind, off: base + bitOffset / 8, size: kind.size };
  }

  tsType(k: Kind): string {
    switch (k.k) {
      case "scalar":
        return k.ts;
      case "cstr":
        return "string";
      case "view":
        return k.cls;
      case "bytes":
        return `${this.use("ArrayView")}<number>`;
      case "array":
        if (k.elem.k === "view" || k.elem.k === "array" || k.elem.k === "bytes") {
          return `${this.use("ReadonlyArrayView")}<${this.tsType(k.elem)}>`;
        }
        return `${this.use("ArrayView")}<${this.tsType(k.elem)}>`;
    }
  }

  elem(k: Kind): string {
    switch (k.k) {
      case "scalar":
        return `${this.use("E")}.${k.e}`;
      case "cstr":
        return `${this.use("cstrElem")}(${k.size})`;
      case "view":
        return `${this.use("viewElem")}(${k.size}, (m, o, p) => new ${k.cls}(m, o, p))`;
      case "bytes":
        return `${this.use("arrayElem")}(${this.use("E")}.u8, ${k.size})`;
      case "array":
        return `${this.use("arrayElem")}(${this.elem(k.elem)}, ${k.n})`;
    }
  }

  /** One property's getter (and setter). `o` is the offset expression, `p` the path expression. */
  prop(p: Prop, o: (n: number) => string, path: string): string {
    const at = o(p.off);
    const lines: string[] = [];
    const k = p.kind;
    const get = (type: string, body: Expr) =>
      lines.push(`  get ${p.name}(): ${type} {`, stmt("    return ", body), `  }`);
    const set = (type: string, body: Expr) =>
      lines.push(`  set ${p.name}(v: ${type}) {`, stmt("    ", body), `    this.#s.c();`, `  }`);
    if (p.fnProg !== undefined) {
      get("string | null", p.fnProg === null ? "null" : lit(p.fnProg));
    } else if (p.bit !== undefined) {
      const b = p.bit;
      const ts = b.big ? "bigint" : k.k === "scalar" && k.ts === "boolean" ? "boolean" : "number";
      const fn = b.big ? this.use("getBitsBig") : this.use("getBits");
      const args = ["this.#s.r()", at, `${b.bit}`, `${b.bits}`, `${b.signed}`];
      get(ts, { fn, args, tail: ts === "boolean" ? " !== 0" : "" });
      set(ts, {
        fn: this.use("setBits"),
        args: [
          `this.#s.w(${path})`,
          at,
          `${b.bit}`,
          `${b.bits}`,
          ts === "boolean" ? "v ? 1 : 0" : "v",
        ],
      });
    } else if (k.k === "scalar") {
      const dv = DV[k.e];
      if (dv !== undefined) {
        const le = dv[1] ? ", true" : "";
        get(k.ts, `this.#s.r().get${dv[0]}(${at}${le})`);
        set(k.ts, `this.#s.w(${path}).set${dv[0]}(${at}, v${le})`);
      } else if (k.e === "bool") {
        get(k.ts, `this.#s.r().getUint8(${at}) !== 0`);
        set(k.ts, `this.#s.w(${path}).setUint8(${at}, v ? 1 : 0)`);
      } else {
        get(k.ts, { fn: this.use("getInt128"), args: ["this.#s.r()", at, `${k.e === "i128"}`] });
        set(k.ts, { fn: this.use("setInt128"), args: [`this.#s.w(${path})`, at, "v"] });
      }
    } else if (k.k === "cstr") {
      get("string", { fn: this.use("getCstr"), args: ["this.#s.r()", at, `${k.size}`] });
      set("string", {
        fn: this.use("setCstr"),
        args: [`this.#s.w(${path})`, at, `${k.size}`, "v", path],
      });
    } else if (k.k === "view") {
      get(k.cls, { fn: `new ${k.cls}`, args: ["this.#s", at, path] });
    } else if (k.k === "bytes") {
      get(this.tsType(k), {
        fn: this.use("arrayView"),
        args: ["this.#s", at, `${this.use("E")}.u8`, `${k.size}`, path],
      });
    } else {
      const n = p.grow ? -1 : k.n;
      get(this.tsType(k), {
        fn: this.use("arrayView"),
        args: ["this.#s", at, this.elem(k.elem), `${n}`, path],
      });
    }
    const note = p.bit !== undefined
      ? `bits ${p.bit.bit}..${p.bit.bit + p.bit.bits - 1} of byte ${p.off}`
      : p.grow
      ? `offset ${p.off}, to the end of the section (grows with it)`
      : `offset ${p.off}, ${p.size} byte${p.size === 1 ? "" : "s"}`;
    return doc([`\`${p.cDecl}\` (${note})`], "  ") + lines.join("\n") + "\n";
  }

  /** A class of accessors: a view (memory, offset, path) or a section (memory). */
  cls(name: string, title: string[], props: Prop[], isView: boolean): string {
    const mem = this.use("SkelMemory");
    const head = isView
      ? [
        `export class ${name} {`,
        `  readonly #s: ${mem};`,
        `  readonly #o: number;`,
        `  readonly #p: string;`,
        ``,
        `  /**`,
        `   * @param s the memory.`,
        `   * @param o the offset of this value in it.`,
        `   * @param p the variable's path, for messages.`,
        `   */`,
        `  constructor(s: ${mem}, o: number, p: string) {`,
        `    this.#s = s;`,
        `    this.#o = o;`,
        `    this.#p = p;`,
        `  }`,
      ]
      : [
        `export class ${name} {`,
        `  readonly #s: ${mem};`,
        ``,
        `  /** @param s the section's memory. */`,
        `  constructor(s: ${mem}) {`,
        `    this.#s = s;`,
        `  }`,
      ];
    const o = isView
      ? (n: number) => (n === 0 ? "this.#o" : `this.#o + ${n}`)
      : (n: number) => `${n}`;
    const body = props.map((p) => this.prop(p, o, isView ? "this.#p" : lit(p.name)));
    return doc(title, "") + head.join("\n") + "\n" + body.map((b) => "\n" + b).join("") + "}\n";
  }
}

/** For each char array, a `<name>_bytes` accessor of its bytes (named after every real member). */
function withBytes(props: Prop[], names: Namer): Prop[] {
  return props.filter((p) => p.kind.k === "cstr" && p.fnProg === undefined && p.bit === undefined)
    .map((p) => ({
      ...p,
      name: names.take(`${p.name}_bytes`),
      kind: {
        k: "array",
        elem: { k: "scalar", ts: "number", e: "u8", size: 1 },
        n: p.size,
        size: p.size,
      },
    }));
}

function isMmapable(d: DataSecSpec): boolean {
  return (d.mapFlags & 0x400) !== 0;
}

/**
 * bpftool's name for a data section's accessor: `.data.foo` → `data_foo`, `.rodata.str1.1` →
 * `rodata_str1_1`; undefined for sections that are not global data.
 *
 * @example
 * ```ts
 * import { datasecIdent } from "./skeleton.ts";
 * if (datasecIdent(".data.foo") !== "data_foo" || datasecIdent(".maps") !== undefined) {
 *   throw new Error("bad ident");
 * }
 * ```
 */
export function datasecIdent(section: string): string | undefined {
  for (const p of [".data", ".rodata", ".bss", ".kconfig"]) {
    if (section.startsWith(p)) return propIdent(section.slice(1));
  }
  return undefined;
}

function baseName(file: string): string {
  const b = file.split("/").pop() ?? file;
  return b.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 128) || "object";
}

function defaultName(file: string): string {
  const b = file.split("/").pop() ?? file;
  return b.replace(/\.bpf\.o$/, "").replace(/\.o$/, "") || "bpf_object";
}

function exposedVars(d: DataSecSpec): VarSpec[] {
  return d.vars.filter((v) => v.linkage !== "static");
}

/**
 * Generates the skeleton module of a BPF object.
 *
 * @param bytes the object file.
 * @param options file name (for the header and the default name), skeleton name, import specifier.
 * @returns the module's text (deterministic: same input, same bytes).
 * @throws {ElfError} {BtfError} the object is malformed.
 * @throws {BpfError} the object has no BTF (skeletons type everything from it).
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { genSkeleton } from "./skeleton.ts";
 * const text = genSkeleton(readFileSync("tests/bpf/build/globals.bpf.o"), {
 *   file: "globals.bpf.o",
 * });
 * if (!text.includes("export class GlobalsSkel")) throw new Error("no class");
 * ```
 */
export function genSkeleton(bytes: Uint8Array, options: GenSkeletonOptions = {}): string {
  const file = options.file ?? "bpf_object.bpf.o";
  width = Math.max(60, Math.min(options.lineWidth ?? 100, 1000));
  const objName = options.name ?? defaultName(file);
  const spec = open(bytes, { name: objName });
  try {
    if (spec.btf === undefined) {
      throw new BpfError(
        `Object ${lit(baseName(file))} has no BTF; skeletons need it (build with clang -g)`,
      );
    }
    return generate(bytes, spec, spec.btf, file, objName, options.importFrom ?? "tsbpf");
  } finally {
    spec.btf?.close();
  }
}

const RUNTIME = [
  "ArrayView",
  "ReadonlyArrayView",
  "E",
  "cstrElem",
  "viewElem",
  "arrayElem",
  "arrayView",
  "getBits",
  "getBitsBig",
  "setBits",
  "getCstr",
  "setCstr",
  "getInt128",
  "setInt128",
  "fromBase64",
  "SkelMemory",
  "Skeleton",
  "SkeletonDescriptor",
  "SkeletonOpenOptions",
  "ObjectLoadOptions",
  "BpfObject",
  "BpfMap",
  "BpfProgram",
  "BpfLink",
  "Codec",
  "TypedMap",
];
const TYPE_ONLY = new Set([
  "Codec",
  "TypedMap",
  "ArrayView",
  "ReadonlyArrayView",
  "SkelMemory",
  "SkeletonDescriptor",
  "SkeletonOpenOptions",
  "ObjectLoadOptions",
  "BpfObject",
  "BpfMap",
  "BpfProgram",
  "BpfLink",
]);

function generate(
  bytes: Uint8Array,
  spec: ObjectSpec,
  btf: Btf,
  file: string,
  objName: string,
  importFrom: string,
): string {
  const P = pascal(objName).slice(0, 24);
  const fixed = {
    skel: `${P}Skel`,
    maps: `${P}Maps`,
    progs: `${P}Progs`,
    links: `${P}Links`,
    structOps: `${P}StructOps`,
    codecs: `${P}Codecs`,
    mapCodecs: `${P}MapCodecs`,
    typedMaps: `${P}TypedMaps`,
  };
  const reserved = [
    ...RUNTIME,
    ...Object.values(fixed),
    "SKELETON",
    "ELF_BASE64",
    "elfBytes",
    "SKELETON_FORMAT",
  ];
  // The object's types as TypeScript (declarations matching the codecs), named around ours.
  let types: TsTypes | undefined;
  try {
    types = tsTypes(btf, { reserved, lineWidth: width });
  } catch {
    types = undefined; // BTF the codecs cannot describe: the accessors still work
  }
  const declared = types === undefined ? [] : [
    ...types.names.values(),
    ...[...types.text.matchAll(/^export (?:interface|type|const|class) ([A-Za-z0-9_$]+)/gm)].map(
      (m) => m[1],
    ),
  ];
  const g = new Gen(spec, btf, P, [...reserved, ...declared]);
  g.use("Skeleton");
  g.use("SkeletonDescriptor");
  g.use("SkeletonOpenOptions");
  g.use("ObjectLoadOptions");
  g.use("BpfObject");
  g.use("fromBase64");

  // Data sections bpftool gives a struct: mmapable internal maps (at least one global variable).
  const secNames = new Namer(["obj", "maps", "progs", "links", "structOps"]);
  const sections: { ident: string; d: DataSecSpec; cls: string; props: Prop[] }[] = [];
  for (const d of spec.datasecs) {
    if (d.name === ".ksyms" || d.size === 0 || !isMmapable(d)) continue;
    const base = datasecIdent(d.name);
    if (base === undefined) continue;
    const ident = secNames.take(base);
    const cls = g.top.take(`${P}${pascal(ident)}`);
    const names = new Namer(["toJSON"]);
    const resizable = /^\.(data|rodata)\./.test(d.name);
    const vars = exposedVars(d);
    const props: Prop[] = [];
    vars.forEach((v, i) => {
      const kind = g.kind(v.btfTypeId);
      const p: Prop = {
        name: names.take(propIdent(v.name)),
        cDecl: g.decl(v.btfVarId !== 0 ? btf.refType(v.btfVarId) : v.btfTypeId, v.name),
        kind,
        off: v.offset,
        size: v.size,
      };
      if (resizable && i === vars.length - 1 && kind.k === "array") p.grow = true;
      props.push(p);
    });
    props.push(...withBytes(props, names));
    sections.push({ ident, d, cls, props });
  }

  // struct_ops maps.
  const soNames = new Namer(["toJSON"]);
  const structOps: { ident: string; map: string; cls: string; props: Prop[] }[] = [];
  for (const m of spec.maps) {
    if (m.structOps === undefined) continue;
    const ident = soNames.take(propIdent(m.name));
    const cls = g.top.take(`${pascal(m.name)}StructOps`);
    const fn = new Map(m.structOps.progs.map((p) => [p.member, p.program]));
    const props = g.members(m.structOps.btfTypeId, 0, new Namer(["toJSON"]), fn);
    structOps.push({ ident, map: m.name, cls, props });
  }

  // Maps, programs, links.
  const mapNames = new Namer(["toJSON"]);
  const maps: { ident: string; name: string; what: string }[] = [];
  for (const d of spec.datasecs) {
    if (d.name === ".ksyms" || d.size === 0) continue;
    const base = datasecIdent(d.name);
    if (base === undefined) continue;
    maps.push({ ident: mapNames.take(base), name: d.name, what: `ARRAY map of section ${d.name}` });
  }
  for (const m of spec.maps) {
    maps.push({
      ident: mapNames.take(propIdent(m.name)),
      name: m.name,
      what: `${m.type} map ${m.name}`,
    });
  }
  const progNames = new Namer(["toJSON"]);
  const progs = spec.programs.map((p) => ({
    ident: progNames.take(propIdent(p.name)),
    name: p.name,
    section: p.section,
  }));
  const linkNames = new Namer(["toJSON"]);
  const links = [
    ...progs.map((p) => ({ ident: linkNames.take(p.ident), what: `program ${p.name}` })),
    ...structOps.map((s) => ({ ident: linkNames.take(s.ident), what: `struct_ops map ${s.map}` })),
  ];
  // attach() keys links by accessor name: the link of a struct_ops map whose name a program
  // already took is stored under its deduplicated name.
  const soLinkIdent = new Map(structOps.map((s, i) => [s.ident, links[progs.length + i].ident]));

  // Codecs: one per declared type (by C name, or by id for anonymous ones), and the key and value
  // codecs of the BTF-defined maps with typed keys or values.
  const typeExpr = (id: number): string | undefined => {
    try {
      return types?.typeExpr(id);
    } catch {
      return undefined;
    }
  };
  const codecs = types === undefined ? [] : [...types.names.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, ts]) => ({ id, ts, cName: btf.name(id), what: safeDecl(g, id) }))
    .filter((c) => typeExpr(c.id) !== undefined);
  const mapCodecs: { ident: string; name: string; key?: string; value?: string; what: string }[] =
    [];
  for (const m of spec.maps) {
    const key = m.btfKeyTypeId !== 0 ? typeExpr(m.btfKeyTypeId) : undefined;
    const value = m.btfValueTypeId !== 0 ? typeExpr(m.btfValueTypeId) : undefined;
    if (key === undefined && value === undefined) continue;
    const ident = maps.find((x) => x.name === m.name)!.ident;
    mapCodecs.push({ ident, name: m.name, key, value, what: `${m.type} map ${m.name}` });
  }
  if (codecs.length > 0 || mapCodecs.length > 0) g.use("Codec");
  // Maps read element by element with a key and a value: typed views (not rings, perf arrays or
  // struct_ops maps, which have no lookup).
  const NO_LOOKUP = new Set(["RINGBUF", "USER_RINGBUF", "PERF_EVENT_ARRAY", "STRUCT_OPS"]);
  const typedMaps = mapCodecs.filter((m) =>
    m.key !== undefined && m.value !== undefined &&
    !NO_LOOKUP.has(spec.maps.find((x) => x.name === m.name)!.type)
  );
  if (typedMaps.length > 0) g.use("TypedMap");

  const out: string[] = [];
  out.push(
    `// Code generated by tsbpf gen skeleton from ${safeComment(baseName(file))} (sha256 ${
      sha256Hex(bytes)
    }); DO NOT EDIT.\n`,
  );
  out.push(`// tsbpf skeleton format ${SKELETON_FORMAT}\n`);
  const body: string[] = [];
  body.push(
    doc([
      `The object file this skeleton was generated from (${safeComment(baseName(file))}), base64.`,
    ], "") +
      `const ELF_BASE64 =\n  "${base64(bytes)}";\n`,
  );
  body.push(
    doc([`A copy of the embedded object file.`], "") +
      `export function elfBytes(): Uint8Array {\n  return fromBase64(ELF_BASE64);\n}\n`,
  );
  body.push(
    `/** The version of the generator's output format this module has. */\n` +
      `export const SKELETON_FORMAT = ${SKELETON_FORMAT};\n`,
  );
  if (types !== undefined && types.text !== "") body.push(types.text);

  // Descriptor.
  const rec = (entries: [string, string][]) =>
    entries.length === 0
      ? "{}"
      : `{\n${entries.map(([k, v]) => `    ${k}: ${lit(v)},`).join("\n")}\n  }`;
  const secEntries = sections.map((s) => {
    const vars = exposedVars(s.d).map((v) => `        [${lit(v.name)}, ${v.offset}, ${v.size}],`);
    return `    ${s.ident}: {\n      section: ${lit(s.d.name)},\n      vars: ${
      vars.length === 0 ? "[]" : `[\n${vars.join("\n")}\n      ]`
    },\n    },`;
  });
  body.push(
    `const SKELETON: SkeletonDescriptor = {\n` +
      `  name: ${lit(spec.name)},\n` +
      `  maps: ${rec(maps.map((m) => [m.ident, m.name]))},\n` +
      `  progs: ${rec(progs.map((p) => [p.ident, p.name]))},\n` +
      `  structOps: ${rec(structOps.map((s) => [soLinkIdent.get(s.ident)!, s.map]))},\n` +
      `  sections: ${secEntries.length === 0 ? "{}" : `{\n${secEntries.join("\n")}\n  }`},\n` +
      `  codecs: ${
        codecs.length === 0
          ? "{}"
          : `{\n${codecs.map((c) => `    ${c.ts}: [${lit(c.cName)}, ${c.id}],`).join("\n")}\n  }`
      },\n` +
      `  mapCodecs: ${rec(mapCodecs.map((m) => [m.ident, m.name]))},\n` +
      `};\n`,
  );

  // Interfaces.
  const iface = (name: string, title: string, rows: string[]) =>
    doc([title], "") +
    (rows.length === 0
      ? `// deno-lint-ignore no-empty-interface\nexport interface ${name} {}\n`
      : `export interface ${name} {\n${rows.join("")}}\n`);
  if (maps.length > 0) g.use("BpfMap");
  if (progs.length > 0) g.use("BpfProgram");
  if (links.length > 0) g.use("BpfLink");
  body.push(
    iface(
      fixed.maps,
      `The maps of ${spec.name} (live after load).`,
      maps.map((m) => doc([m.what], "  ") + `  readonly ${m.ident}: BpfMap;\n`),
    ),
  );
  body.push(
    iface(
      fixed.progs,
      `The programs of ${spec.name} (live after load).`,
      progs.map((p) =>
        doc([`Program ${p.name}, section ${p.section}`], "  ") +
        `  readonly ${p.ident}: BpfProgram;\n`
      ),
    ),
  );
  body.push(
    iface(
      fixed.links,
      `The links of ${spec.name}: filled by attach(), or by hand.`,
      links.map((l) => doc([`The link of ${l.what}`], "  ") + `  ${l.ident}?: BpfLink;\n`),
    ),
  );
  if (structOps.length > 0) {
    body.push(
      iface(
        fixed.structOps,
        `The struct_ops maps of ${spec.name}: writable until load.`,
        structOps.map((s) =>
          doc([`struct_ops map ${s.map}`], "  ") + `  readonly ${s.ident}: ${s.cls};\n`
        ),
      ),
    );
  }

  if (codecs.length > 0) {
    body.push(
      iface(
        fixed.codecs,
        `Codecs of the types of ${spec.name} (each built on first use, from the object's BTF).`,
        codecs.map((c) => doc([`\`${c.what}\``], "  ") + `  readonly ${c.ts}: Codec<${c.ts}>;\n`),
      ),
    );
  }
  if (typedMaps.length > 0) {
    body.push(
      iface(
        fixed.typedMaps,
        `The maps of ${spec.name} with typed keys and values (the map API over the codecs).`,
        typedMaps.map((m) =>
          doc([m.what], "  ") + `  readonly ${m.ident}: TypedMap<${m.key}, ${m.value}>;\n`
        ),
      ),
    );
  }
  if (mapCodecs.length > 0) {
    body.push(
      iface(
        fixed.mapCodecs,
        `Key and value codecs of the maps of ${spec.name} (built on first use).`,
        mapCodecs.map((m) =>
          doc([m.what], "  ") + `  readonly ${m.ident}: {\n` +
          (m.key !== undefined ? `    readonly key: Codec<${m.key}>;\n` : "") +
          (m.value !== undefined ? `    readonly value: Codec<${m.value}>;\n` : "") +
          `  };\n`
        ),
      ),
    );
  }

  // Section and struct_ops classes (the views they use are collected in g.out as they are met).
  const secClasses = sections.map((s) =>
    g.cls(
      s.cls,
      [`Section ${s.d.name} of ${spec.name}: one accessor per global variable, straight on its memory.`],
      s.props,
      false,
    )
  );
  const soClasses = structOps.map((s) =>
    g.cls(
      s.cls,
      [`The value of struct_ops map ${s.map}: data members typed, function pointers naming their program.`],
      s.props,
      true,
    )
  );

  // The skeleton class.
  const fields = sections.map((s) =>
    doc([`Section ${s.d.name}: its exposed variables.`], "  ") +
    `  readonly ${s.ident}: ${s.cls};\n`
  );
  const inits = sections.map((s) =>
    stmt(`    this.${s.ident} = `, {
      fn: `new ${s.cls}`,
      args: [`this.section(${lit(s.ident)})`],
    }) +
    "\n"
  );
  if (codecs.length > 0) {
    fields.push(
      doc([`Codecs of the object's types (\`skel.codecs.Event.decode(view)\`).`], "  ") +
        `  readonly codecs: ${fixed.codecs};\n`,
    );
    inits.push(`    this.codecs = this.codecsOf<${fixed.codecs}>();\n`);
  }
  if (mapCodecs.length > 0) {
    fields.push(
      doc([`Key and value codecs of the maps.`], "  ") +
        `  readonly mapCodecs: ${fixed.mapCodecs};\n`,
    );
    inits.push(`    this.mapCodecs = this.mapCodecsOf<${fixed.mapCodecs}>();\n`);
  }
  if (typedMaps.length > 0) {
    fields.push(
      doc([
        `The maps with typed keys and values (\`skel.typedMaps.counts.lookup(pid)\`); each throws before load.`,
      ], "  ") +
        `  readonly typedMaps: ${fixed.typedMaps};\n`,
    );
    inits.push(`    this.typedMaps = this.typedMapsOf<${fixed.typedMaps}>();\n`);
  }
  if (structOps.length > 0) {
    fields.push(
      doc([`struct_ops maps: their values, writable until load.`], "  ") +
        `  readonly structOps: ${fixed.structOps};\n`,
    );
    inits.push(
      `    this.structOps = {\n${
        structOps.map((s) => {
          const mem = `this.structOpsMemory(${lit(soLinkIdent.get(s.ident)!)})`;
          const path = lit(`structOps.${s.ident}`);
          return wrapIf(
            `      ${s.ident}: new ${s.cls}(${mem}, 0, ${path}),\n`,
            `      ${s.ident}: new ${s.cls}(\n        ${mem},\n        0,\n        ${path},\n      ),\n`,
          );
        }).join("")
      }    };\n`,
    );
  }
  const S = fixed.skel;
  body.push(
    doc([
      `The skeleton of ${spec.name}: open(), then set read-only data, load(), attach(), destroy().`,
      ``,
      `@example`,
      "```ts ignore",
      `using skel = ${S}.openAndLoad();`,
      `skel.attach();`,
      "```",
    ], "") +
      wrapIf(
        `export class ${S} extends Skeleton<${fixed.maps}, ${fixed.progs}, ${fixed.links}> {\n`,
        `export class ${S}\n  extends Skeleton<${fixed.maps}, ${fixed.progs}, ${fixed.links}> {\n`,
      ) +
      fields.join("") + (fields.length > 0 ? "\n" : "") +
      `  private constructor(obj: BpfObject) {\n    super(obj, SKELETON);\n${
        inits.join("")
      }  }\n\n` +
      doc([
        `Opens the object (offline: no kernel objects yet), from the embedded bytes or`,
        `\`options.path\` (checked against this skeleton's layout).`,
      ], "  ") +
      `  static open(options: SkeletonOpenOptions = {}): ${S} {\n` +
      stmt("    return ", {
        fn: `new ${S}`,
        args: ["Skeleton.openObject(elfBytes, SKELETON, options)"],
      }) + `\n  }\n\n` +
      doc([`Opens and loads; destroys what it made when the load fails.`], "  ") +
      wrapIf(
        `  static openAndLoad(options: SkeletonOpenOptions & ObjectLoadOptions = {}): ${S} {\n`,
        `  static openAndLoad(\n    options: SkeletonOpenOptions & ObjectLoadOptions = {},\n  ): ${S} {\n`,
      ) +
      `    const skel = ${S}.open(options);\n` +
      `    try {\n      skel.load(options);\n    } catch (e) {\n      skel.destroy();\n      throw e;\n    }\n` +
      `    return skel;\n  }\n}\n`,
  );
  body.push(...secClasses, ...soClasses, ...g.out);

  const key = (n: string) => n.toLowerCase();
  const names = RUNTIME.filter((n) => g.imports.has(n)).sort((a, b) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a < b ? -1 : a > b ? 1 : 0
  );
  const specs = names.map((n) => (TYPE_ONLY.has(n) ? `type ${n}` : n));
  const imp = `import { ${specs.join(", ")} } from ${lit(importFrom)};\n`;
  const impText = imp.length <= 101
    ? imp
    : `import {\n${specs.map((s) => `  ${s},\n`).join("")}} from ${lit(importFrom)};\n`;
  out.push(impText);
  return out.join("") + "\n" + body.join("\n");
}

function safeDecl(g: Gen, id: number): string {
  try {
    return g.dumper.emitTypeDecl(id, "");
  } catch {
    return "?";
  }
}

/** `one` when its first line fits the width, else `wrapped` (as deno fmt would wrap it). */
function wrapIf(one: string, wrapped: string): string {
  return one.split("\n")[0].length <= width ? one : wrapped;
}

function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
