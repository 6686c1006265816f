import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { BtfBuilder, member } from "../btf/builder.ts";
import { codecFor } from "../btf/codec.ts";
import { commentSafe, tsTypeName, tsTypes } from "../gen/ts_types.ts";
import { open } from "../spec/open.ts";
import { compileBpfC, elfSection, ROOT, testObjects, withTmpDir } from "./_util.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Runs deno check, lint and fmt --check on every .ts file of `dir` (deno's defaults: no config). */
function denoTools(dir: string, files: string[]): void {
  for (
    const args of [
      ["check", "--no-config", ...files],
      ["lint", "--no-config", ...files],
      ["fmt", "--no-config", "--check", ...files],
    ]
  ) {
    const r = spawnSync(DENO, args, {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    assert.equal(r.status, 0, `deno ${args[0]} failed:\n${r.stdout}\n${r.stderr}`.slice(0, 4000));
  }
}

/** A decoded value as TypeScript source, so that deno check compares it with the declared type. */
function literal(v: unknown, indent = ""): string {
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : Object.is(v, -0) ? "-0" : String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return JSON.stringify(v);
  if (ArrayBuffer.isView(v)) {
    const items = Array.from(v as unknown as ArrayLike<number | bigint>, (x) => literal(x));
    return `new ${v.constructor.name}([${items.join(", ")}])`;
  }
  const next = indent + "  ";
  if (Array.isArray(v)) {
    return `[\n${v.map((x) => `${next}${literal(x, next)},\n`).join("")}${indent}]`;
  }
  if (typeof v === "object" && v !== null) {
    const body = Object.entries(v).map(([k, x]) => `${next}${k}: ${literal(x, next)},\n`).join("");
    return `{\n${body}${indent}}`;
  }
  throw new Error(`Unexpected value ${String(v)}`);
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s >>> 24) & 0x7f; // ASCII, so that char arrays hold text
  };
}

test(
  "tsTypes output for every test object passes deno check, lint and fmt, and decoded values have its types",
  {
    timeout: 120_000,
  },
  () => {
    withTmpDir("tsbpf-tstypes", (dir) => {
      const files: string[] = [];
      const rnd = seeded(1);
      let declared = 0;
      let checked = 0;
      for (const file of testObjects()) {
        const spec = open(file);
        const btf = spec.btf;
        if (btf === undefined) continue;
        try {
          const roots: { name: string; typeId: number }[] = [];
          for (const m of spec.maps) {
            if (m.btfKeyTypeId !== 0) roots.push({ name: `${m.name}_key`, typeId: m.btfKeyTypeId });
            if (m.btfValueTypeId !== 0) {
              roots.push({ name: `${m.name}_value`, typeId: m.btfValueTypeId });
            }
          }
          for (const d of spec.datasecs) {
            if (d.btfId !== 0) roots.push({ name: d.name, typeId: d.btfId });
          }
          const t = tsTypes(btf, { roots });
          // Deterministic: the same input gives the same bytes.
          assert.equal(tsTypes(btf, { roots }).text, t.text);
          const base = file.split("/").pop()!.replace(".bpf.o", "");
          writeFileSync(join(dir, `${base}.ts`), t.text);
          files.push(`${base}.ts`);
          for (const n of t.names.values()) assert.match(n, IDENT);
          declared += t.names.size;
          // Each declared struct, union and map type, with a value decoded from random bytes.
          const lines = [`import type * as T from "./${base}.ts";`, ""];
          let i = 0;
          const add = (typeId: number, expr: string) => {
            const c = codecFor(btf, typeId);
            if (c.size > 1 << 16) return;
            const v = c.fromBytes(new Uint8Array(c.size).map(rnd));
            lines.push(`export const v${i++}: ${expr} = ${literal(v)};`, "");
            checked++;
          };
          const qualify = (e: string) =>
            e.replace(
              /\b([A-Z][A-Za-z0-9_$]*)\b/g,
              (n) => [...t.names.values()].includes(n) ? `T.${n}` : n,
            );
          for (const [id, name] of t.names) {
            const k = btf.kind(id);
            if (k === 4 || k === 5) add(id, `T.${name}`);
          }
          for (const r of roots) add(r.typeId, qualify(t.typeExpr(r.typeId)));
          writeFileSync(join(dir, `${base}_values.ts`), lines.join("\n"));
          files.push(`${base}_values.ts`);
        } finally {
          btf.close();
        }
      }
      assert.ok(declared > 200, `only ${declared} declarations`);
      assert.ok(checked > 200, `only ${checked} values checked`);
      // The generated files pass every tool; the values files (test scaffolding) type-check.
      denoTools(dir, files.filter((f) => !f.endsWith("_values.ts")));
      const check = spawnSync(DENO, ["check", "--no-config", ...files], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      });
      assert.equal(check.status, 0, `deno check failed:\n${check.stderr}`.slice(0, 4000));
    });
  },
);

test("anonymous types are named after their owner and member, stable when unrelated types change", () => {
  const make = (extra: boolean) => {
    const b = new BtfBuilder();
    const u32 = b.int("unsigned int", 4);
    if (extra) {
      b.struct("", 4, [member("unrelated", u32, 0)]);
      b.struct("aaa", 4, [member("z", u32, 0)]);
    }
    const args = b.struct("", 8, [member("a", u32, 0), member("b", u32, 32)]);
    const kind = b.enum("", 4, [["K_ONE", 1], ["K_TWO", 2]]);
    const ev = b.struct("event", 40, [
      member("args", b.array(args, 4, u32), 0),
      member("kind", kind, 256),
    ]);
    const anon = b.struct("", 4, [member("x", u32, 0)]);
    b.typedef("named_t", anon);
    const root = b.struct("", 4, [member("y", u32, 0)]);
    return { bytes: b.build(), ev, root };
  };
  const names = (extra: boolean) => {
    const m = make(extra);
    using btf = Btf.parse(m.bytes);
    const t = tsTypes(btf, { roots: [{ name: "counts_value", typeId: m.root }] });
    assert.equal(t.typeExpr(m.ev), "Event");
    assert.match(
      t.text,
      /export interface Event \{\n {2}\/\*\* `struct \{ \.\.\. \} args\[4\]` \*\/\n {2}args: Event_args\[\];/,
    );
    assert.match(t.text, /kind: Event_kind;/);
    assert.match(
      t.text,
      /export const Event_kind = \{\n {2}\/\*\* `K_ONE = 1` \*\/\n {2}K_ONE: 1,/,
    );
    assert.match(t.text, /export interface NamedT \{/);
    assert.match(t.text, /export interface CountsValue \{/);
    return t.text.split("\n").filter((l) => l.startsWith("export")).filter((l) => !/Aaa/.test(l));
  };
  assert.deepEqual(names(true), names(false));
});

test("typeExpr follows the codec: typed arrays, strings, nested arrays, inline anonymous types", () => {
  const b = new BtfBuilder();
  const i16 = b.int("short", 2, { signed: true });
  const char = b.int("char", 1, { signed: true });
  const f64 = b.float("double", 8);
  const bool = b.int("_Bool", 1, { bool: true });
  const anon = b.struct("", 4, [member("v", b.int("int", 4, { signed: true }), 0)]);
  const e64 = b.enum64("big", 8, [["B", 1n << 40n]]);
  const ids = {
    i16: b.array(i16, 3, i16),
    grid: b.array(b.array(i16, 3, i16), 2, i16),
    str: b.array(char, 8, i16),
    strs: b.array(b.array(char, 8, i16), 2, i16),
    f64: b.array(f64, 2, i16),
    bools: b.array(bool, 2, i16),
    anon,
    anons: b.array(anon, 2, i16),
    ptr: b.ptr(anon),
    e64,
  };
  using btf = Btf.parse(b.build());
  const t = tsTypes(btf);
  assert.deepEqual(Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, t.typeExpr(id)])), {
    i16: "Int16Array",
    grid: "Int16Array[]",
    str: "string",
    strs: "string[]",
    f64: "Float64Array",
    bools: "boolean[]",
    anon: "{ v: number }",
    anons: "Array<{ v: number }>",
    ptr: "bigint",
    e64: "Big",
  });
  assert.match(
    t.text,
    /export const Big = \{\n {2}\/\*\* `B = 1099511627776` \*\/\n {2}B: 1099511627776n,\n\} as const;/,
  );
  assert.match(t.text, /export type Big = bigint;/);
});

const HOSTILE_NAMES = [
  "a*/b",
  "x\ny",
  "q\"uote'",
  "back`tick",
  "do${lar}",
  "ünï\u2028cödé",
  "class",
  "default",
  "Uint8Array",
  "Record",
  "__proto__",
  "constructor",
  "3d",
  "",
  "*/ export const pwned = 1; /*",
  "} export const pwned2 = 1; interface Z {",
];

test("hostile names never reach the code: sanitized, unique, escaped in comments", {
  timeout: 60_000,
}, () => {
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const members = HOSTILE_NAMES.map((n, i) => member(n, u32, 32 * i));
  for (const n of HOSTILE_NAMES) {
    if (n !== "") b.struct(n, 4 * HOSTILE_NAMES.length, members);
    b.enum(n === "" ? "e" : n, 4, HOSTILE_NAMES.map((v, i) => [v, i]));
    b.typedef(`${n}_t`, b.struct("", 4, [member(n, u32, 0)]));
  }
  b.struct("collide", 4, [member("a", u32, 0)]);
  b.union("collide", 4, [member("b", u32, 0)]);
  b.struct("Collide", 4, [member("c", u32, 0)]);
  using btf = Btf.parse(b.build());
  const t = tsTypes(btf, { reserved: ["Skeleton"] });
  const names = [...t.names.values()];
  for (const n of names) assert.match(n, IDENT);
  assert.equal(new Set(names).size, names.length);
  assert.ok(
    names.includes("Collide") && names.includes("Collide_2") && names.includes("Collide_3"),
  );
  assert.ok(names.includes("Uint8Array_") && names.includes("Record_"));
  const code = t.text.replace(/\/\*\*[^\n]*\*\//g, "");
  assert.doesNotMatch(code, /\/\*|\*\/|`|\$\{|"|'|\\/);
  assert.doesNotMatch(code, /const pwned/);
  for (const line of t.text.split("\n")) {
    if (!line.includes("/**")) continue;
    // A comment line opens and closes once.
    assert.equal(line.split("*/").length, 2, line);
  }
  withTmpDir("tsbpf-tstypes-hostile", (dir) => {
    writeFileSync(join(dir, "hostile.ts"), t.text);
    writeFileSync(
      join(dir, "run.ts"),
      `import * as m from "./hostile.ts";\nconsole.log(JSON.stringify(Object.keys(m).sort()));\n`,
    );
    denoTools(dir, ["hostile.ts"]);
    const r = spawnSync(DENO, ["run", "--no-config", "run.ts"], { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const exported: string[] = JSON.parse(r.stdout);
    assert.ok(!exported.some((n) => n.includes("pwned")));
    const enums = names.filter((n) => new RegExp(`export const ${n} =`).test(t.text)).sort();
    assert.deepEqual(exported, enums);
  });
});

test("tsTypeName and commentSafe", () => {
  assert.equal(tsTypeName("task_struct"), "TaskStruct");
  assert.equal(tsTypeName("__sk_buff"), "SkBuff");
  assert.equal(tsTypeName("Map"), "Map_");
  assert.equal(tsTypeName("9p"), "_9p");
  assert.equal(tsTypeName("**"), "T");
  assert.equal(commentSafe("a\tb*/\u2028\u0000"), "a  b*\\/\\u2028\\u0000");
});

const GOLDEN = join(ROOT, "tests", "golden", "codec_layout.ts");
const GOLDEN_HEAD =
  "// Code generated by tests/ts_types_test.ts from tests/oracle/codec_layout.h; DO NOT EDIT.\n" +
  "// Regenerate with UPDATE_GOLDEN=1 (clang-19 -g -target bpf gives the BTF).\n\n";

test("tsTypes of tests/oracle/codec_layout.h is the golden file tests/golden/codec_layout.ts", () => {
  const text = withTmpDir("tsbpf-golden", (dir) => {
    const header = readFileSync(join(ROOT, "tests", "oracle", "codec_layout.h"), "utf8");
    const obj = compileBpfC(dir, "layout", `${header}\nstruct all g_all;\nunion num g_num;\n`);
    using btf = Btf.parse(elfSection(readFileSync(obj), ".BTF")!);
    return GOLDEN_HEAD + tsTypes(btf).text;
  });
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(GOLDEN, text);
  assert.equal(text, readFileSync(GOLDEN, "utf8"));
});

test("long names are broken where deno fmt breaks them, at line widths 80 and 100", {
  timeout: 60_000,
}, () => {
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  for (let n = 14; n <= 104; n += 1) {
    const name = `n${"x".repeat(n - 1)}`;
    const s = b.struct(`s_${name}`, 4, [member(`m_${name}`, u32, 0)]);
    b.struct(`o_${name}`, 4, [member(`k_${name.slice(0, n / 2)}`, s, 0)]);
    b.struct(`e_${name}`, 0);
    b.enum(`v_${name}`, 4, [[`V_${name}`, 1], ["SHORT", 2]]);
    b.enum(`w_${name}`, 4, []);
    b.typedef(`t_${name}`, s);
  }
  using btf = Btf.parse(b.build());
  withTmpDir("tsbpf-tstypes-width", (dir) => {
    for (const width of [80, 100]) {
      writeFileSync(join(dir, `w${width}.ts`), tsTypes(btf, { lineWidth: width }).text);
      const r = spawnSync(DENO, [
        "fmt",
        "--no-config",
        "--line-width",
        String(width),
        "--check",
        `w${width}.ts`,
      ], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      });
      assert.equal(r.status, 0, `width ${width}:\n${r.stdout}${r.stderr}`.slice(0, 3000));
    }
  });
});
