// Prints "PASSED FAILED SKIPPED" for a junit report written by `deno test --junit-path` or
// `bun test --reporter=junit`; "0 0 0" when the file is missing. Used by scripts/test.sh.
//
//   node scripts/junit_count.mjs REPORT [SKIPLOG RUNTIME]
//
// bun counts skips in the <testsuites> attribute; deno only marks test.skip() cases with <skipped/>
// and reports a test that calls t.skip() while running as passed. The tests record each such skip
// in SKIPLOG (tests/_util.ts skip(): "runtime<TAB>test name<TAB>reason" lines); a logged test of
// RUNTIME that the report shows as passed is counted as skipped instead.
import { readFileSync } from "node:fs";

const read = (file) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
};
const xml = read(process.argv[2]);
const head = /<testsuites\b[^>]*>/.exec(xml)?.[0] ?? "";
const attr = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(head)?.[1] ?? 0);
let skipped = attr("skipped") || (xml.match(/<skipped\b/g) ?? []).length;
const failed = attr("failures") + attr("errors");
let passed = Math.max(0, attr("tests") - failed - skipped);

if (process.argv[3] !== undefined) {
  const unescape = (s) =>
    s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
  // Test cases the report shows as passed: no <skipped>, <failure> or <error> inside.
  const passedNames = new Map();
  for (
    const m of xml.matchAll(/<testcase\b[^>]*?\bname="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)
  ) {
    if (m[2] !== "/>" && /<(skipped|failure|error)\b/.test(m[3])) continue;
    const name = unescape(m[1]);
    passedNames.set(name, (passedNames.get(name) ?? 0) + 1);
  }
  for (const line of read(process.argv[3]).split("\n")) {
    const [runtime, name] = line.split("\t");
    if (runtime !== process.argv[4] || name === undefined) continue;
    const left = passedNames.get(name) ?? 0;
    if (left === 0) continue;
    passedNames.set(name, left - 1);
    passed--;
    skipped++;
  }
}
console.log(`${Math.max(0, passed)} ${failed} ${skipped}`);
