// The Node 20 build (scripts/build_node.sh, `npm run build:node`): it builds offline with
// `bun build --target=node`, and the offline verbs run under plain node.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, run, runCli, testObject } from "./_util.ts";

let outDir: string | undefined;

/** Builds the bundle once per test file into a temporary directory, returns the directory. */
function built(): string {
  if (outDir !== undefined) return outDir;
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-node-build-"));
  const r = run("bash", [join(ROOT, "scripts", "build_node.sh"), dir]);
  if (r.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    assert.fail(`scripts/build_node.sh failed (${r.code}):\n${r.stdout}${r.stderr}`);
  }
  outDir = dir;
  return dir;
}

after(() => {
  if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
});

function node(args: string[]) {
  return run("node", [join(built(), "cli.js"), ...args]);
}

test("build_node.sh writes cli.js that runs under node and prints the usage", () => {
  assert.ok(existsSync(join(built(), "cli.js")));
  const r = node(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: tsbpf /);
});

test("node cli.js with an unknown object exits 2 with an error", () => {
  const r = node(["nosuchobject"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown object 'nosuchobject'/);
});

test("node cli.js object show --json prints what the TypeScript CLI prints", () => {
  for (const name of ["maps", "globals", "net"]) {
    const obj = testObject(name);
    const viaNode = node(["object", "show", obj, "--json"]);
    assert.equal(viaNode.code, 0, viaNode.stderr);
    const viaTs = runCli(["object", "show", obj, "--json"]);
    assert.equal(viaTs.code, 0, viaTs.stderr);
    assert.deepEqual(JSON.parse(viaNode.stdout), JSON.parse(viaTs.stdout), name);
    assert.ok(JSON.parse(viaNode.stdout).programs.length > 0, name);
  }
});

test("node cli.js btf dump file prints what bpftool prints for a test object", () => {
  const obj = testObject("core");
  const viaNode = node(["btf", "dump", "file", obj]);
  assert.equal(viaNode.code, 0, viaNode.stderr);
  const bpftool = run("bpftool", ["btf", "dump", "file", obj]);
  assert.equal(bpftool.code, 0, bpftool.stderr);
  assert.equal(viaNode.stdout, bpftool.stdout);
});

test("node cli.js btf dump file FILE format c prints what bpftool prints", () => {
  const obj = testObject("globals");
  const viaNode = node(["btf", "dump", "file", obj, "format", "c"]);
  assert.equal(viaNode.code, 0, viaNode.stderr);
  const bpftool = run("bpftool", ["btf", "dump", "file", obj, "format", "c"]);
  assert.equal(bpftool.code, 0, bpftool.stderr);
  assert.equal(viaNode.stdout, bpftool.stdout);
});
