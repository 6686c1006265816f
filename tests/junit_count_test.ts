// scripts/junit_count.mjs, which turns each runtime's junit report into the counts of test.sh's
// summary line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, run } from "./_util.ts";

function count(xml: string | undefined, skipLog?: string, runtime = "deno"): string {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-junit-"));
  try {
    const file = join(dir, "report.xml");
    if (xml !== undefined) writeFileSync(file, xml);
    const args = [join(ROOT, "scripts", "junit_count.mjs"), file];
    if (skipLog !== undefined) {
      writeFileSync(join(dir, "skips.log"), skipLog);
      args.push(join(dir, "skips.log"), runtime);
    }
    const r = run("node", args);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("junit_count counts a deno report's failures and its <skipped/> cases", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="4" failures="1" errors="0" time="0.007">
  <testsuite name="./a_test.ts" tests="4" disabled="1" errors="0" failures="1">
    <testcase name="s1" classname="./a_test.ts" time="0.000" line="2" col="6"><skipped/></testcase>
    <testcase name="s2" classname="./a_test.ts" time="0.001" line="3" col="1"></testcase>
    <testcase name="s3" classname="./a_test.ts" time="0.000" line="4" col="1"></testcase>
    <testcase name="s4" classname="./a_test.ts" time="0.000" line="5" col="1"><failure message="x"/></testcase>
  </testsuite>
</testsuites>`;
  assert.equal(count(xml), "2 1 1");
});

test("junit_count uses a bun report's skipped attribute", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="5" assertions="0" failures="2" skipped="1" time="0.02">
  <testsuite name="a_test.ts" file="a_test.ts" tests="5" failures="2" skipped="1">
    <testcase name="one" classname="" time="0.001" file="a_test.ts" line="3"><skipped /></testcase>
  </testsuite>
</testsuites>`;
  assert.equal(count(xml), "2 2 1");
});

test("junit_count adds errors to failures", () => {
  const xml =
    `<testsuites name="deno test" tests="3" failures="1" errors="1" time="0.1"></testsuites>`;
  assert.equal(count(xml), "1 2 0");
});

test("junit_count prints 0 0 0 when the report is missing", () => {
  assert.equal(count(undefined), "0 0 0");
});

test("junit_count counts the tests a deno run logged as skipped at run time as skips, not passes", () => {
  const xml = `<testsuites name="deno test" tests="4" failures="1" errors="0">
  <testsuite name="./a_test.ts" tests="4" failures="1">
    <testcase name="needs &quot;x&quot;" classname="./a_test.ts" time="0.001"></testcase>
    <testcase name="plain" classname="./a_test.ts" time="0.001"></testcase>
    <testcase name="declared" classname="./a_test.ts" time="0.000"><skipped/></testcase>
    <testcase name="broken" classname="./a_test.ts" time="0.000"><failure message="x"/></testcase>
  </testsuite>
</testsuites>`;
  const log =
    'deno\tneeds "x"\tno kprobes\nbun\tplain\tother runtime\ndeno\tbroken\tfailed later\n';
  assert.equal(count(xml, log), "1 1 2");
  assert.equal(count(xml, log, "bun"), "1 1 2"); // its own line: plain
  assert.equal(count(xml, log, "node"), "2 1 1"); // no line of its own
});
