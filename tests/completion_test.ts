// The bash completion (`tsbpf completion bash`): sourced into a real bash, it completes objects,
// verbs, options, object files and, for `object load --prog`, the file's program names.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run, runCli, runtimeCommand, testObject, withTmpDir } from "./_util.ts";

/** COMPREPLY for the words typed so far (the last one is being completed). */
function complete(dir: string, script: string, words: string[]): string[] {
  const line = words.map((w) => `'${w}'`).join(" ");
  const r = run("bash", [
    "-c",
    `source '${script}'; COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _tsbpf; ` +
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l !== "").sort();
}

test("the bash completion completes verbs, options, object files and program names", () => {
  withTmpDir("tsbpf-completion", (dir) => {
    const r = runCli(["completion", "bash"]);
    assert.equal(r.code, 0, r.stderr);
    const script = join(dir, "tsbpf.bash");
    writeFileSync(script, r.stdout);
    // The completion runs the command being completed to list programs: a wrapper for this runtime.
    const [cmd, args] = runtimeCommand(join(import.meta.dirname!, "..", "cli.ts"));
    const tsbpf = join(dir, "tsbpf");
    writeFileSync(tsbpf, `#!/bin/sh\nexec '${cmd}' ${args.map((a) => `'${a}'`).join(" ")} "$@"\n`);
    chmodSync(tsbpf, 0o755);
    mkdirSync(join(dir, "objs"));
    writeFileSync(join(dir, "objs", "a.bpf.o"), "");
    writeFileSync(join(dir, "objs", "notes.txt"), "");
    assert.deepEqual(complete(dir, script, [tsbpf, "ob"]), ["object"]);
    assert.deepEqual(complete(dir, script, [tsbpf, "object", ""]), ["load", "run", "show"]);
    assert.deepEqual(complete(dir, script, [tsbpf, "object", "load", "x.o", "--p"]), [
      "--pin-root",
      "--prog",
    ]);
    assert.deepEqual(complete(dir, script, [tsbpf, "object", "show", "objs/"]), [
      "objs/a.bpf.o",
    ]);
    assert.deepEqual(complete(dir, script, [tsbpf, "btf", "dump", "file", "x", "format", ""]), [
      "c",
      "raw",
    ]);
    assert.deepEqual(
      complete(dir, script, [tsbpf, "object", "load", testObject("net"), "--prog", "xdp"]),
      ["xdp_devmap_prog", "xdp_pass"],
    );
  });
});

test("completion bash --install DIR writes the script where bash-completion looks", () => {
  withTmpDir("tsbpf-completion-install", (dir) => {
    const target = join(dir, "share", "completions");
    const r = runCli(["completion", "bash", "--install", target]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(target, "tsbpf")));
    assert.equal(
      readFileSync(join(target, "tsbpf"), "utf8"),
      runCli(["completion", "bash"]).stdout,
    );
    assert.match(
      r.stdout,
      /Installed the bash completion of tsbpf as .*\/share\/completions\/tsbpf/,
    );
  });
});
