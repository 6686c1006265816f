// The JSDoc @example blocks run as doc tests (`deno test --doc -A`, in scripts/test.sh; kernel ones
// need root, as the kernel tests do) and must fail when the library is wrong: each asserts with
// node:assert/strict or throws, never console.assert (which only logs). This test breaks Btf.vlen()
// in a scratch copy of the library and checks that the doc test of btf/btf.ts then fails on that
// example's assertion.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT, run, runtimeName, withTmpDir } from "./_util.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");

// The library's .ts files as scripts/test.sh lists them for the doc tests, plus deno.json.
function libraryFiles(): string[] {
  const r = run("git", ["ls-files", "*.ts", "deno.json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").filter((f) =>
    !/^(tests|bench|examples|scripts)\//.test(f) && !f.startsWith("core-wasm/assembly/")
  );
}

function docTest(dir: string): { code: number; out: string } {
  const r = run(DENO, ["test", "--doc", "-A", "--no-lock", "btf/btf.ts"], {
    cwd: dir,
    timeoutMs: 300_000,
  });
  return { code: r.code, out: r.stdout + r.stderr };
}

test("every @example runs (none is ts ignore) and asserts (node:assert/strict or throw)", () => {
  let examples = 0;
  for (const f of libraryFiles().filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, f), "utf8");
    // An example that cannot run anywhere the tests run would be marked ```ts ignore with the
    // reason beside it; today every one runs.
    assert.doesNotMatch(text, /^\s*\*\s*```ts ignore/m, `${f} has an example that does not run`);
    for (const m of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
      examples++;
      const where = `${f}:${text.slice(0, m.index).split("\n").length}`;
      assert.ok(!m[1].includes("console.assert"), `${where}: console.assert only logs`);
      assert.match(m[1], /\bassert\b|\bthrow\b/, `${where}: the example asserts nothing`);
    }
  }
  assert.ok(examples >= 180, `only ${examples} examples found`);
});

test("every function, class and constant mod.ts exports has an @example", () => {
  const r = run(DENO, ["doc", "--json", "mod.ts"], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  type Decl = { kind?: string; def?: { kind?: string }; jsDoc?: { tags?: { kind: string }[] } };
  const doc = JSON.parse(r.stdout) as {
    nodes: Record<string, { symbols?: { name: string; declarations?: Decl[] }[] }>;
  };
  const mod = Object.entries(doc.nodes).find(([url]) => url.endsWith("/mod.ts"))![1];
  const missing: string[] = [];
  let checked = 0;
  for (const sym of mod.symbols ?? []) {
    for (const d of sym.declarations ?? []) {
      const kind = d.def?.kind ?? d.kind ?? "";
      if (!["function", "class", "variable"].includes(kind)) continue;
      checked++;
      if (!(d.jsDoc?.tags ?? []).some((t) => t.kind === "example")) missing.push(sym.name);
    }
  }
  assert.ok(checked > 50, `only ${checked} exported values found`);
  assert.deepEqual(missing, [], `exported without an @example: ${missing.join(", ")}`);
});

// It runs `deno test --doc` (doc tests are Deno's; bun has none), so once: in the Deno run.
const docTestRuns = runtimeName() === "deno";

test("the doc test of btf/btf.ts fails when Btf.vlen() is off by one", {
  skip: docTestRuns ? false : "runs in the Deno run only (it spawns deno test --doc)",
}, () => {
  withTmpDir("tsbpf-doc", (dir) => {
    for (const f of libraryFiles()) {
      mkdirSync(join(dir, dirname(f)), { recursive: true });
      copyFileSync(join(ROOT, f), join(dir, f));
    }
    copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules")); // @types/node
    // (The intact library passes the same doc test in scripts/test.sh's doc test step.)

    const btf = join(dir, "btf", "btf.ts");
    const src = readFileSync(btf, "utf8");
    const body = "return this.#core.dv().getUint32(this.#rec(id) + 4, true) & 0xffff;";
    assert.ok(src.includes(body), "Btf.vlen() changed; update this test's mutation");
    writeFileSync(
      btf,
      src.replace(
        body,
        body.replace("& 0xffff;", "& 0xffff) + 1;").replace("return this", "return (this"),
      ),
    );
    const bad = docTest(dir);
    assert.notEqual(bad.code, 0, `the doc test passed with a broken vlen():\n${bad.out}`);
    assert.match(bad.out, /AssertionError[\s\S]*k\.vlen\(/);
  });
});
