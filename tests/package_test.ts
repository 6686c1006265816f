// The npm package: `npm pack` (whose prepack builds bundle/ and dist/) gives a tarball that an empty
// project outside the repository installs offline (`npm install --offline FILE.tgz`) and imports as
// the bare specifier `tsbpf`: on Deno (through package.json and node_modules, `exports` condition
// "deno": bundle/tsbpf.js, typed by mod.ts), on Bun ("bun": bundle/tsbpf.bun.js) and, offline
// parts only, on Node ("node": dist/mod.js, and the `tsbpf` bin).
//
// To add a check: write a script into the consumer project with `writeScript()` and run it with
// `inConsumer()`; the tarball and the installed project are made once per test file.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireKernel, ROOT, run, type RunResult, testObject } from "./_util.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

let work: string | undefined;
let tarball: string | undefined;
let consumer: string | undefined;

after(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function workDir(): string {
  work ??= mkdtempSync(join(tmpdir(), "tsbpf-package-"));
  return work;
}

/** `npm pack` of this checkout (prepack builds bundle/ and dist/); returns the tarball's path. */
function packed(): string {
  if (tarball !== undefined) return tarball;
  const dest = join(workDir(), "pack");
  mkdirSync(dest);
  const r = run("npm", ["pack", "--pack-destination", dest], { timeoutMs: 600_000 });
  assert.equal(r.code, 0, `npm pack failed:\n${r.stdout}${r.stderr}`);
  const tgz = readdirSync(dest).filter((f) => f.endsWith(".tgz"));
  assert.equal(tgz.length, 1, `npm pack wrote ${tgz.join(", ") || "no tarball"}`);
  tarball = join(dest, tgz[0]);
  return tarball;
}

/** An empty project outside the repository with the tarball installed offline. */
function consumerDir(): string {
  if (consumer !== undefined) return consumer;
  const tgz = packed();
  const dir = join(workDir(), "app");
  mkdirSync(dir);
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "app", private: true, type: "module" }),
  );
  const r = run("npm", ["install", "--offline", "--no-audit", "--no-fund", tgz], { cwd: dir });
  assert.equal(r.code, 0, `npm install --offline ${tgz} failed:\n${r.stdout}${r.stderr}`);
  consumer = dir;
  return dir;
}

/** Writes `name` into the consumer project; returns its path. */
function writeScript(name: string, text: string): string {
  const path = join(consumerDir(), name);
  writeFileSync(path, text);
  return path;
}

/** Runs `cmd args` in the consumer project. */
function inConsumer(cmd: string, args: string[]): RunResult {
  return run(cmd, args, { cwd: consumerDir(), timeoutMs: 300_000 });
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

// Opens a test object through the bare specifier: pure, no kernel.
function offlineScript(): string {
  return `import { Btf, open } from "tsbpf";
const spec = open(${JSON.stringify(testObject("maps"))});
const names = spec.maps.map((m) => m.name);
if (!names.includes("ringbuf_map")) throw new Error("no ringbuf_map in " + names.join(","));
if (typeof Btf.parse !== "function") throw new Error("no Btf.parse");
spec.btf?.close();
console.log("opened " + names.length + " maps");
`;
}

// Loads a test object into the kernel through the bare specifier, and closes it.
function kernelScript(): string {
  return `import { BpfObject } from "tsbpf";
const obj = BpfObject.open(${JSON.stringify(testObject("net"))});
try {
  obj.load();
  const tag = obj.program("xdp_pass").info().tag;
  if (!/^[0-9a-f]{16}$/.test(tag)) throw new Error("bad tag " + tag);
  console.log("loaded " + obj.state);
} finally {
  obj.close();
}
`;
}

test("npm pack's tarball holds the one-file builds, the types, the bin and the license, no tests", () => {
  const r = run("tar", ["tzf", packed()]);
  const files = new Set(
    ok(r, "tar tzf").trim().split("\n").map((f) => f.replace(/^package\//, "")),
  );
  for (
    const f of [
      "package.json",
      "LICENSE",
      "README.md",
      "bundle/tsbpf.js",
      "bundle/tsbpf.bun.js",
      "bundle/tsbpf.bun.js.jsc",
      "dist/mod.js",
      "dist/cli.js",
      "mod.ts",
      "core-wasm/_wasm.gen.ts",
    ]
  ) assert.ok(files.has(f), `${f} is not in the tarball`);
  for (const f of files) {
    assert.ok(!/^(tests|bench|examples|scripts|node_modules|core-wasm\/assembly)\//.test(f), f);
    assert.ok(!f.endsWith("_test.ts"), f);
  }
});

test("the bare specifier resolves to each runtime's one-file build (exports conditions)", () => {
  const script = writeScript("resolve.mjs", `console.log(import.meta.resolve("tsbpf"));\n`);
  for (
    const [cmd, args, want] of [
      [DENO, ["run", "-A", script], "bundle/tsbpf.js"],
      [BUN, [script], "bundle/tsbpf.bun.js"],
      ["node", [script], "dist/mod.js"],
    ] as const
  ) {
    const got = ok(inConsumer(cmd, [...args]), cmd).trim();
    assert.ok(got.endsWith(`/node_modules/tsbpf/${want}`), `${cmd} resolved tsbpf to ${got}`);
  }
});

test("an installed tsbpf opens a test object through the bare specifier on Deno", () => {
  const script = writeScript("offline_deno.ts", offlineScript());
  assert.match(ok(inConsumer(DENO, ["run", "-A", script]), "deno run"), /^opened \d+ maps$/m);
});

test("an installed tsbpf gives Deno mod.ts's types (deno check of a consumer)", () => {
  const good = writeScript(
    "typed.ts",
    `import { open, type ObjectSpec } from "tsbpf";\nexport const s: ObjectSpec = open("x.o");\n`,
  );
  ok(inConsumer(DENO, ["check", good]), "deno check");
  const bad = writeScript(
    "mistyped.ts",
    `import { open } from "tsbpf";\nexport const n: number = open("x.o");\n`,
  );
  const r = inConsumer(DENO, ["check", bad]);
  assert.notEqual(r.code, 0, "deno check accepted an ObjectSpec as a number");
  assert.match(r.stdout + r.stderr, /TS2322/);
});

test("an installed tsbpf opens a test object through the bare specifier on Bun", () => {
  const script = writeScript("offline_bun.ts", offlineScript());
  assert.match(ok(inConsumer(BUN, [script]), "bun"), /^opened \d+ maps$/m);
});

test("an installed tsbpf opens a test object on Node (offline parts), and its bin runs", () => {
  const script = writeScript("offline_node.mjs", offlineScript());
  assert.match(ok(inConsumer("node", [script]), "node"), /^opened \d+ maps$/m);
  const bin = join(consumerDir(), "node_modules", ".bin", "tsbpf");
  const out = ok(inConsumer(bin, ["object", "show", testObject("maps"), "--json"]), "tsbpf bin");
  assert.ok(JSON.parse(out).maps.some((m: { name: string }) => m.name === "ringbuf_map"));
});

test("an installed tsbpf loads a test object into the kernel on Deno", (t) => {
  if (!requireKernel(t)) return;
  const script = writeScript("kernel_deno.ts", kernelScript());
  assert.match(ok(inConsumer(DENO, ["run", "-A", script]), "deno run"), /^loaded loaded$/m);
});

test("an installed tsbpf loads a test object into the kernel on Bun", (t) => {
  if (!requireKernel(t)) return;
  const script = writeScript("kernel_bun.ts", kernelScript());
  assert.match(ok(inConsumer(BUN, [script]), "bun"), /^loaded loaded$/m);
});

// The README's "Using tsbpf from another project" snippet, as written.
function readmeSnippet(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const mine = blocks.filter((b) => /from "tsbpf"/.test(b));
  assert.equal(mine.length, 1, 'the README has one snippet importing from "tsbpf"');
  return mine[0];
}

for (
  const [runtime, cmd, args, file] of [
    ["Deno", DENO, ["run", "-A"], "main.ts"],
    ["Bun", BUN, [], "main.ts"],
    ["Node", "node", [], "main.mjs"],
  ] as const
) {
  test(`the README's snippet for another project runs as written on ${runtime}`, () => {
    const script = writeScript(file, readmeSnippet());
    assert.match(ok(inConsumer(cmd, [...args, script]), runtime), /^task_struct is \d+ bytes$/m);
  });
}

test("the one-file builds stand alone: with the package's .ts files gone, Deno and Bun still run", () => {
  // Another project whose node_modules/tsbpf holds only package.json, bundle/ and dist/: the
  // builds carry the WebAssembly core and import nothing from the package's sources.
  const installed = join(consumerDir(), "node_modules", "tsbpf");
  const dir = join(workDir(), "bare");
  const pkg = join(dir, "node_modules", "tsbpf");
  mkdirSync(pkg, { recursive: true });
  for (const f of ["package.json", "bundle", "dist"]) {
    cpSync(join(installed, f), join(pkg, f), { recursive: true });
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bare", type: "module" }));
  const script = join(dir, "offline.mjs");
  writeFileSync(script, offlineScript());
  for (const [cmd, args] of [[DENO, ["run", "-A", script]], [BUN, [script]]] as const) {
    const r = run(cmd, [...args], { cwd: dir });
    assert.match(ok(r, cmd), /^opened \d+ maps$/m);
  }
});

test("bun build --compile --conditions=tsbpf-es makes one executable that runs anywhere", () => {
  // Bun's bundler cannot see the names of the CommonJS bytecode build ("bun" condition), so a
  // program compiled with Bun takes the ES build through the custom condition "tsbpf-es".
  const script = writeScript("compiled.ts", offlineScript());
  const exe = join(workDir(), "compiled");
  ok(
    inConsumer(BUN, ["build", "--compile", "--conditions=tsbpf-es", script, "--outfile", exe]),
    "bun build --compile",
  );
  const elsewhere = join(workDir(), "elsewhere");
  mkdirSync(elsewhere);
  const r = run(exe, [], { cwd: elsewhere });
  assert.match(ok(r, "the compiled program"), /^opened \d+ maps$/m);
  rmSync(exe, { force: true });
});

test("in a project that installed the tarball, the package's bin generates a skeleton that loads and round-trips globals on Deno and Bun", (t) => {
  if (!requireKernel(t)) return;
  // tsbpf gen skeleton with the package's own bin (Node), importing "tsbpf" (the default).
  const bin = join(consumerDir(), "node_modules", ".bin", "tsbpf");
  const text = ok(inConsumer(bin, ["gen", "skeleton", testObject("load_globals")]), "gen skeleton");
  assert.match(text, /^\/\/ Code generated by tsbpf gen skeleton from load_globals\.bpf\.o/);
  assert.match(text, /from "tsbpf";/);
  writeScript("load_globals.skel.ts", text);
  const script = writeScript(
    "skel_main.ts",
    `import { LoadGlobalsSkel } from "./load_globals.skel.ts";
using skel = LoadGlobalsSkel.open();
skel.rodata.ro_value = 0x1234n;
skel.load();
skel.progs.copy_globals.testRun({ ctxIn: new Uint8Array(8) });
if (skel.bss.bss_out_ro !== 0x1234n) throw new Error("read " + skel.bss.bss_out_ro);
console.log("skeleton ok");
`,
  );
  assert.match(ok(inConsumer(DENO, ["run", "-A", script]), "deno run"), /^skeleton ok$/m);
  assert.match(ok(inConsumer(BUN, [script]), "bun"), /^skeleton ok$/m);
});
