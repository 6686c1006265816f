/**
 * `tsbpf object show FILE [--json]`: what a BPF object holds, as `open()` reads it: programs
 * (name, section, program type, expected attach type, instruction count), maps (name, type, key
 * and value sizes, max entries, flags) and data sections with their variables.
 *
 * Names of program, attach and map types are libbpf's lowercase strings, the ones bpftool prints
 * (`libbpf_bpf_prog_type_str` and friends): `"tracepoint"`, `"cgroup_skb"`, `"cgroup_inet_ingress"`,
 * `"ringbuf"`. A program whose section names no expected attach type has `expectedAttachType: ""`
 * (libbpf would print `"cgroup_inet_ingress"`, the name of value 0, for it).
 *
 * The `--json` document is stable:
 *
 * ```
 * {programs: [{name, section, type, expectedAttachType, insns}],
 *  maps: [{name, type, keySize, valueSize, maxEntries, flags}],
 *  datasecs: [{name, mapName, size, flags, vars: [{name, offset, size, type}]}]}
 * ```
 *
 * where a variable's `type` is its C type as written (`"int"`, `"struct foo"`, `"u64[4]"`,
 * `"const volatile int"`).
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { open } from "../spec/open.ts";
import { attachTypeStr, mapTypeStr, progTypeStr } from "../spec/section_defs.ts";
import type { ObjectSpec } from "../spec/types.ts";
import { parseFileArgs, printReport } from "./_common.ts";

/** The `--json` document of `tsbpf object show`. */
export interface ObjectShowJson {
  /** Entry programs, in ELF order. */
  programs: {
    name: string;
    section: string;
    type: string;
    expectedAttachType: string;
    insns: number;
  }[];
  /** BTF-defined maps, in `.maps` order. */
  maps: {
    name: string;
    type: string;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: number;
  }[];
  /** Data sections, in ELF order, then `.kconfig`. */
  datasecs: {
    name: string;
    mapName: string;
    size: number;
    flags: number;
    vars: { name: string; offset: number; size: number; type: string }[];
  }[];
}

/**
 * The C name of a BTF type, as a declaration would spell it without a variable name:
 * `"int"`, `"struct foo"`, `"u64[4]"`, `"char *"`, `"const volatile int"`.
 *
 * @param btf The BTF the id belongs to.
 * @param id A type id (0 is `void`).
 * @returns A readable C type name.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cTypeName } from "./object_show.ts";
 * import { open } from "../spec/open.ts";
 * import { BtfKind } from "../btf/types.ts";
 * const spec = open("tests/bpf/build/maps.bpf.o");
 * const btf = spec.btf!;
 * assert.equal(cTypeName(btf, btf.findByName("int", BtfKind.Int)), "int");
 * assert.equal(cTypeName(btf, 0), "void");
 * btf.close();
 * ```
 */
export function cTypeName(btf: Btf, id: number, depth = 0): string {
  if (id === 0) return "void";
  if (depth > 32) return "...";
  const t = btf.type(id);
  const anon = (kw: string) => t.name ? `${kw} ${t.name}` : `${kw} {...}`;
  switch (t.kind) {
    case BtfKind.Int:
    case BtfKind.Float:
    case BtfKind.Typedef:
      return t.name;
    case BtfKind.Struct:
      return anon("struct");
    case BtfKind.Union:
      return anon("union");
    case BtfKind.Enum:
    case BtfKind.Enum64:
      return anon("enum");
    case BtfKind.Fwd:
      return `${t.union ? "union" : "struct"} ${t.name}`;
    case BtfKind.Ptr: {
      const inner = cTypeName(btf, t.type, depth + 1);
      return inner.endsWith("*") ? `${inner}*` : `${inner} *`;
    }
    case BtfKind.Array: {
      const inner = cTypeName(btf, t.type, depth + 1);
      return `${inner}[${t.nelems}]`;
    }
    case BtfKind.Const:
      return `const ${cTypeName(btf, t.type, depth + 1)}`;
    case BtfKind.Volatile:
      return `volatile ${cTypeName(btf, t.type, depth + 1)}`;
    case BtfKind.Restrict:
      return `${cTypeName(btf, t.type, depth + 1)} restrict`;
    case BtfKind.TypeTag:
      return cTypeName(btf, t.type, depth + 1);
    case BtfKind.FuncProto:
      return `${cTypeName(btf, t.returnType, depth + 1)} (*)(...)`;
    case BtfKind.Func:
    case BtfKind.Var:
      return cTypeName(btf, t.type, depth + 1);
    default:
      return t.name || `[${id}]`;
  }
}

/**
 * Builds the `--json` document of `tsbpf object show` from an object spec.
 *
 * @param spec An opened object.
 * @returns The document (see the module doc).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { objectShowJson } from "./object_show.ts";
 * import { open } from "../spec/open.ts";
 * const spec = open("tests/bpf/build/net.bpf.o");
 * const doc = objectShowJson(spec);
 * assert.equal(doc.programs.find((p) => p.name === "xdp_pass")?.type, "xdp");
 * spec.btf?.close();
 * ```
 */
export function objectShowJson(spec: ObjectSpec): ObjectShowJson {
  const btf = spec.btf;
  return {
    programs: spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: progTypeStr(p.type),
      expectedAttachType: p.expectedAttachType === "" ? "" : attachTypeStr(p.expectedAttachType),
      insns: p.insns.length / 8,
    })),
    maps: spec.maps.map((m) => ({
      name: m.name,
      type: mapTypeStr(m.type),
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
    })),
    datasecs: spec.datasecs.map((d) => ({
      name: d.name,
      mapName: d.mapName,
      size: d.size,
      flags: d.mapFlags,
      vars: d.vars.map((v) => ({
        name: v.name,
        offset: v.offset,
        size: v.size,
        type: btf ? cTypeName(btf, v.btfTypeId) : "",
      })),
    })),
  };
}

function table(rows: string[][], indent: string): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) =>
    indent + r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i] + 2)).join("").trimEnd()
  ).join("\n") + "\n";
}

/**
 * Formats the human-readable report of `tsbpf object show`.
 *
 * @param doc The document from {@linkcode objectShowJson}.
 * @returns Text with a section per kind of thing.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatObjectShow } from "./object_show.ts";
 * const text = formatObjectShow({ programs: [], maps: [], datasecs: [] });
 * assert(text.includes("programs: none"));
 * ```
 */
export function formatObjectShow(doc: ObjectShowJson): string {
  let s = "";
  if (doc.programs.length === 0) s += "programs: none\n";
  else {
    s += "programs:\n";
    s += table([
      ["NAME", "SECTION", "TYPE", "ATTACH TYPE", "INSNS"],
      ...doc.programs.map((p) => [
        p.name,
        p.section,
        p.type,
        p.expectedAttachType || "-",
        String(p.insns),
      ]),
    ], "  ");
  }
  if (doc.maps.length === 0) s += "maps: none\n";
  else {
    s += "maps:\n";
    s += table([
      ["NAME", "TYPE", "KEY", "VALUE", "MAX_ENTRIES", "FLAGS"],
      ...doc.maps.map((m) => [
        m.name,
        m.type,
        `${m.keySize}B`,
        `${m.valueSize}B`,
        String(m.maxEntries),
        `0x${m.flags.toString(16)}`,
      ]),
    ], "  ");
  }
  if (doc.datasecs.length === 0) s += "data sections: none\n";
  else {
    s += "data sections:\n";
    for (const d of doc.datasecs) {
      s += `  ${d.name}  map ${d.mapName}  size ${d.size}B  flags 0x${d.flags.toString(16)}\n`;
      if (d.vars.length > 0) {
        s += table(
          d.vars.map((v) => [`+${v.offset}`, v.type, v.name, `${v.size}B`]),
          "    ",
        );
      }
    }
  }
  return s;
}

const HELP = `Usage: tsbpf object show FILE [--json]

Shows the programs, maps and data sections of a BPF object file, as libbpf would open it.

  --json   print one JSON document instead of text
`;

/**
 * Runs `tsbpf object show`.
 *
 * @param argv The arguments after `object show`.
 * @returns The exit status: 0, or 2 for a usage error.
 * @throws {BpfError} When the file cannot be read as a BPF object (cli.ts prints it).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./object_show.ts";
 * assert.equal(await main(["tests/bpf/build/maps.bpf.o", "--json"]), 0);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  await Promise.resolve();
  const args = parseFileArgs(argv, { json: { type: "boolean" } }, HELP);
  if (typeof args === "number") return args;
  const spec = open(args.file);
  try {
    printReport(objectShowJson(spec), args.values.json, formatObjectShow);
  } finally {
    spec.btf?.close();
  }
  return 0;
}
