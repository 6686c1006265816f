// The one-file builds (scripts/build_bundle.sh, run by setup): bundle/tsbpf.js (ES, for Deno) and
// bundle/tsbpf.bun.js (CommonJS with bytecode, for Bun). They must be built from the sources in this
// tree, export what mod.ts exports, load objects as mod.ts does, and the ES one must give a
// consumer mod.ts's types (its `@ts-self-types` line names mod.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import * as lib from "../mod.ts";
import { requireKernel, ROOT, run, testObject, withTmpDir } from "./_util.ts";

const BUNDLE = join(ROOT, "bundle", "tsbpf.js");
const BUN_BUNDLE = join(ROOT, "bundle", "tsbpf.bun.js");
const DENO_BIN = join(ROOT, "node_modules", ".bin", "deno");
const BUN_BIN = join(ROOT, "node_modules", ".bin", "bun");
const HINT = "run npm run build:bundle (scripts/build_bundle.sh; setup runs it too)";

// The library's sources as scripts/build_bundle.sh hashes them: every .ts file outside tests/,
// bench/, examples/, scripts/ and the build outputs, sorted by path, then the script itself, as
// `sha256sum` lists them.
function sourcesHash(): string {
  const skip = new Set([
    "node_modules",
    "tests",
    "bench",
    "examples",
    "scripts",
    "bundle",
    "dist",
    ".git",
  ]);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(ROOT, path);
      if (statSync(path).isDirectory()) {
        if (!skip.has(rel) && rel !== join("core-wasm", "assembly")) walk(path);
      } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) files.push(rel);
    }
  };
  walk(ROOT);
  files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  files.push(join("scripts", "build_bundle.sh"));
  const listing = files.map((f) =>
    `${createHash("sha256").update(readFileSync(join(ROOT, f))).digest("hex")}  ${f}\n`
  ).join("");
  return createHash("sha256").update(listing).digest("hex");
}

test("bundle/ is built from the sources in this tree", () => {
  for (const f of [BUNDLE, BUN_BUNDLE, `${BUN_BUNDLE}.jsc`, join(ROOT, "bundle", "SOURCES")]) {
    assert.ok(existsSync(f), `${f} is missing; ${HINT}`);
  }
  const stamp = readFileSync(join(ROOT, "bundle", "SOURCES"), "utf8").trim();
  assert.equal(stamp, sourcesHash(), `bundle/ is stale; ${HINT}`);
  assert.equal(readFileSync(BUNDLE, "utf8").split("\n", 1)[0], '// @ts-self-types="../mod.ts"');
  // Bun uses the bytecode only for the file exactly as bun build wrote it.
  assert.match(readFileSync(BUN_BUNDLE, "utf8").split("\n", 1)[0], /^\/\/ @bun @bytecode @bun-cjs/);
});

// Runs `body` (which has `lib`, the imported module) in a fresh process of `bin` and parses the
// JSON it prints last.
function inFreshProcess(bin: string, url: string, body: string): unknown {
  return withTmpDir("tsbpf-bundle-", (dir) => {
    const script = join(dir, "child.mjs");
    writeFileSync(script, `const lib = await import(${JSON.stringify(url)});\n${body}\n`);
    const args = bin === DENO_BIN ? ["run", "-A", "--quiet", script] : [script];
    const r = run(bin, args);
    assert.equal(r.code, 0, `${bin} with ${url} failed:\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
  });
}

const fileUrl = (path: string) => new URL(`file://${path}`).href;

test("both bundles export what mod.ts exports, each as one module with no imports", () => {
  const want = Object.fromEntries(Object.entries(lib).map(([k, v]) => [k, typeof v]));
  const names =
    "console.log(JSON.stringify(Object.fromEntries(Object.entries(lib).filter(([k]) => k !== 'default' && k !== '__esModule').map(([k, v]) => [k, typeof v]))));";
  assert.deepEqual(inFreshProcess(DENO_BIN, fileUrl(BUNDLE), names), want);
  assert.deepEqual(inFreshProcess(BUN_BIN, fileUrl(BUN_BUNDLE), names), want);
  for (const f of [BUNDLE, BUN_BUNDLE]) {
    const text = readFileSync(f, "utf8");
    assert.doesNotMatch(text, /^\s*import\s[^(]*from\s*["']\.{1,2}\//m, f);
    assert.doesNotMatch(text, /\bimport\(\s*["']\.{1,2}\//, f);
    assert.doesNotMatch(text, /\brequire\(\s*["']\.{1,2}\//, f);
    // A node: import would start Deno's Node compatibility layer (some 18 ms) at import.
    assert.doesNotMatch(text, /^\s*import\s[^(]*from\s*["']node:/m, f);
  }
});

test("each bundle loads an object in a fresh process with the tags mod.ts gets", (t) => {
  if (!requireKernel(t)) return;
  const object = testObject("load_globals");
  const body = `const obj = lib.BpfObject.open(${JSON.stringify(object)});
try {
  obj.load();
  const out = {};
  for (const [name, p] of obj.programs) out[name] = p.info().tag;
  console.log(JSON.stringify(out));
} finally {
  obj.close();
}`;
  const viaSources = inFreshProcess(DENO_BIN, fileUrl(join(ROOT, "mod.ts")), body) as Record<
    string,
    string
  >;
  assert.ok(Object.keys(viaSources).length >= 2, JSON.stringify(viaSources));
  for (const tag of Object.values(viaSources)) assert.match(tag, /^[0-9a-f]{16}$/);
  assert.deepEqual(inFreshProcess(DENO_BIN, fileUrl(BUNDLE), body), viaSources);
  assert.deepEqual(inFreshProcess(BUN_BIN, fileUrl(BUN_BUNDLE), body), viaSources);
});

test("bundle/tsbpf.js types a consumer with mod.ts's types: deno check accepts right uses and refuses wrong ones", () => {
  const deno = DENO_BIN;
  withTmpDir("tsbpf-bundle-types-", (dir) => {
    const good = join(dir, "good.ts");
    const bad = join(dir, "bad.ts");
    const url = JSON.stringify(new URL(`file://${BUNDLE}`).href);
    writeFileSync(
      good,
      `import { BpfObject, type ObjectSpec, open } from ${url};
const spec: ObjectSpec = open("x.bpf.o");
const names: string[] = BpfObject.open("x.bpf.o").programNames;
console.log(spec.name, names);
`,
    );
    writeFileSync(
      bad,
      `import { BpfObject } from ${url};
const n: number = BpfObject.open("x.bpf.o").programNames;
console.log(n);
`,
    );
    const ok = run(deno, ["check", "--quiet", "--no-config", good]);
    assert.equal(ok.code, 0, ok.stderr);
    const no = run(deno, ["check", "--quiet", "--no-config", bad]);
    assert.notEqual(no.code, 0, "a wrong type passed the check");
    assert.match(no.stderr, /TS2322/);
  });
});
