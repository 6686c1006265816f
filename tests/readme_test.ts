// The README's TypeScript snippets that run in this repository (they import ./mod.ts or a one-file
// build under ./bundle/) run as written, from the repository root, after setup. The snippet that
// imports the npm package ("tsbpf") runs in tests/package_test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { requireKernel, ROOT, run, withTmpDir } from "./_util.ts";

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

function snippets(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
    .filter((b) => /from "\.\/(mod\.ts|bundle\/[^"]+)"/.test(b));
}

test("the README has the library snippet and one per one-file build", () => {
  const all = snippets();
  assert.ok(all.some((s) => s.includes('from "./mod.ts"')));
  assert.ok(all.some((s) => s.includes('from "./bundle/tsbpf.js"')));
  assert.ok(all.some((s) => s.includes('from "./bundle/tsbpf.bun.js"')));
});

for (const [i, snippet] of snippets().entries()) {
  const bun = snippet.includes("tsbpf.bun.js");
  const first = snippet.split("\n", 1)[0];
  test(`README snippet ${i + 1} runs as written on ${bun ? "Bun" : "Deno"}: ${first}`, (t) => {
    if (/\.(load|attach)\(/.test(snippet) && !requireKernel(t)) return;
    withTmpDir("tsbpf-readme", (dir) => {
      // The snippet is written for a file at the repository root: point its imports there, run it
      // with the root as the working directory (its object paths are relative to it).
      const text = snippet.replace(
        /from "\.\/([^"]+)"/g,
        (_, p: string) => `from ${JSON.stringify(pathToFileURL(join(ROOT, p)).href)}`,
      );
      const file = join(dir, "snippet.ts");
      writeFileSync(file, text);
      const r = bun ? run(BUN, [file]) : run(DENO, ["run", "-A", "--no-lock", file]);
      assert.equal(r.code, 0, `snippet failed (${r.code}):\n${text}\n${r.stdout}${r.stderr}`);
    });
  });
}
