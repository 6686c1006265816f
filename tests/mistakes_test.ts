// The mistakes users make most, each with the message that says what to do, on the runtime that
// runs the tests (Deno and Bun both run this file).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BpfError, ElfError, VerifierError } from "../errors.ts";
import { BpfObject } from "../live/object.ts";
import { compileBpfC, requireKernel, runCli, testObject, withTmpDir } from "./_util.ts";

test("attach(), map() and program() before load() say to call load() first; after close(), to open again", () => {
  const obj = BpfObject.open(testObject("tracing"));
  for (const call of [() => obj.attach(), () => obj.map("hits"), () => obj.program("tp_write")]) {
    assert.throws(
      call,
      (e) => e instanceof BpfError && /needs it loaded: call load\(\) first$/.test(e.message),
    );
  }
  obj.close();
  assert.throws(
    () => obj.attach(),
    (e) => e instanceof BpfError && /it was closed: open it again$/.test(e.message),
  );
});

test("a file that is not a BPF object says where it is wrong before what to pass", () => {
  withTmpDir("tsbpf-mistakes", (dir) => {
    const exec = join(dir, "exec.o");
    const b = new Uint8Array(128);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    b[16] = 2; // ET_EXEC
    writeFileSync(exec, b);
    assert.throws(
      () => BpfObject.open(exec),
      (e) =>
        e instanceof ElfError &&
        /\(e_type is not ET_REL\) at offset 16 \(0x10\); pass the \.o clang wrote$/.test(e.message),
    );
  });
});

test("btf dump file on a missing path says the same words on every runtime", () => {
  const r = runCli(["btf", "dump", "file", "/nonexistent/tsbpf.btf"]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'Error: Cannot read "/nonexistent/tsbpf.btf": ENOENT; check the path and its permissions\n',
  );
});

test("a GPL-only helper in an object with no license section is refused with a hint to add one", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-nolicense", (dir) => {
    const file = compileBpfC(
      dir,
      "nolicense",
      `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("tp/syscalls/sys_enter_getpid")
int gpl_only(void *ctx) { return bpf_get_current_pid_tgid() == 0 ? bpf_ktime_get_ns() : (long)bpf_get_current_task(); }
`,
    );
    using obj = BpfObject.open(file);
    assert.throws(
      () => obj.load(),
      (e) =>
        e instanceof VerifierError && e.program === "gpl_only" &&
        /the object's license \(none: no "license" section\) is not GPL-compatible; add char LICENSE\[\] SEC\("license"\) = "GPL";/
          .test(e.message),
    );
  });
});
