// Prints "PASSED FAILED SKIPPED" for a junit report written by `deno test --junit-path` or
// `bun test --reporter=junit`; "0 0 0" when the file is missing. Used by scripts/test.sh.
// bun counts skips in the <testsuites> attribute; deno only marks test.skip() cases with <skipped/>
// (deno reports a test that calls t.skip() while running as passed).
import { readFileSync } from "node:fs";

let xml = "";
try {
  xml = readFileSync(process.argv[2], "utf8");
} catch {
  xml = "";
}
const head = /<testsuites\b[^>]*>/.exec(xml)?.[0] ?? "";
const attr = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(head)?.[1] ?? 0);
const skipped = attr("skipped") || (xml.match(/<skipped\b/g) ?? []).length;
const failed = attr("failures") + attr("errors");
console.log(`${Math.max(0, attr("tests") - failed - skipped)} ${failed} ${skipped}`);
