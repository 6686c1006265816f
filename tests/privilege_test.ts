// Without privileges, the skeleton path says what is missing: as an unprivileged user (setpriv
// drops root), loading a generated skeleton fails with EPERM and "run as root (or with CAP_BPF and
// CAP_PERFMON)"; on Deno without --allow-ffi it says to grant FFI.
import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { genSkeleton } from "../gen/skeleton.ts";
import {
  ROOT,
  run,
  runtimeCommand,
  runtimeName,
  skip,
  skipMissing,
  testObject,
  withTmpDir,
} from "./_util.ts";

function skeletonApp(dir: string): string {
  const skel = genSkeleton(readFileSync(testObject("load_globals")), {
    file: "load_globals.bpf.o",
    importFrom: join(ROOT, "mod.ts"),
  });
  writeFileSync(join(dir, "load_globals.skel.ts"), skel);
  const main = join(dir, "main.ts");
  writeFileSync(
    main,
    `import { LoadGlobalsSkel } from "./load_globals.skel.ts";
try {
  using skel = LoadGlobalsSkel.openAndLoad();
  console.log("loaded");
} catch (e) {
  console.error((e as Error).name + ": " + (e as Error).message);
  process.exitCode = 1;
}
`,
  );
  chmodSync(dir, 0o755);
  return main;
}

test("a skeleton loaded by an unprivileged user fails with an error that says to run as root", (t) => {
  if (process.getuid?.() !== 0) return skipMissing(t, "root, to drop privileges with setpriv");
  if (run("setpriv", ["--version"]).code !== 0) return skipMissing(t, "setpriv (util-linux)");
  withTmpDir("tsbpf-priv", (dir) => {
    const main = skeletonApp(dir);
    const [cmd, args] = runtimeCommand(main);
    const r = run("setpriv", [
      "--reuid",
      "65534",
      "--regid",
      "65534",
      "--clear-groups",
      "--inh-caps=-all",
      cmd,
      ...args,
    ], { env: { HOME: dir, DENO_DIR: join(dir, ".deno") } });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /EPERM.*run as root \(or with CAP_BPF and CAP_PERFMON\)/);
  });
});

test("on Deno, a skeleton run without --allow-ffi says to grant FFI", (t) => {
  if (runtimeName() !== "deno") return skip(t, "Bun has no permission model: nothing to deny");
  withTmpDir("tsbpf-noffi", (dir) => {
    const main = skeletonApp(dir);
    // Not process.execPath: a Deno child started through it inherits the test's permissions.
    const deno = join(ROOT, "node_modules", ".bin", "deno");
    const r = run(deno, ["run", "--quiet", "--no-prompt", "--allow-read", "--allow-env", main]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /--allow-ffi/);
  });
});
