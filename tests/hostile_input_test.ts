// Crafted objects and targets: names from an object never reach a terminal, a tracefs file or the
// file system unchecked. (Pin names: tests/load_pin_test.ts; special files: tests/elf_test.ts.)
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BpfError, escapeControl } from "../errors.ts";
import { addTracefsProbe, attachKprobe } from "../link/mod.ts";
import { compileBpfC, runCli, withTmpDir } from "./_util.ts";

/** Replaces every occurrence of `from` in `bytes` by `to` (same length); returns how many. */
function rename(bytes: Uint8Array, from: string, to: string): number {
  const f = new TextEncoder().encode(from);
  const t = new TextEncoder().encode(to);
  assert.equal(f.length, t.length);
  let n = 0;
  for (let i = bytes.indexOf(f[0]); i >= 0; i = bytes.indexOf(f[0], i + 1)) {
    if (f.every((b, k) => bytes[i + k] === b)) {
      bytes.set(t, i);
      n++;
    }
  }
  return n;
}

// 24 bytes: sets the window title, clears the screen and starts a forged table row.
const EVIL = "\x1b]0;pwned\x07\x1b[2J\nmap_x";
const PLAIN = "a".repeat(new TextEncoder().encode(EVIL).length);

function hostileObject(dir: string): string {
  const obj = compileBpfC(
    dir,
    "hostile",
    `#include "common.h"
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} ${PLAIN} SEC(".maps");
SEC("tp/syscalls/sys_enter_getpid")
int touch(void *ctx) {
  __u32 k = 0;
  __u64 *v = bpf_map_lookup_elem(&${PLAIN}, &k);
  if (v) *v = 1;
  return 0;
}
`,
  );
  const bytes = readFileSync(obj);
  assert.ok(rename(bytes, PLAIN, EVIL) >= 2);
  const file = join(dir, "evil.bpf.o");
  writeFileSync(file, bytes);
  return file;
}

test("escapeControl() escapes C0, DEL and C1 controls, and keeps lines only when asked", () => {
  assert.equal(escapeControl(EVIL), "\\x1b]0;pwned\\x07\\x1b[2J\\x0amap_x");
  assert.equal(escapeControl("a\tb\nc\u009b", { keepLines: true }), "a\tb\nc\\x9b");
  assert.equal(escapeControl("plain näme"), "plain näme");
});

test("object show and btf dump print a map name's terminal escapes and newlines escaped", () => {
  withTmpDir("tsbpf-hostile", (dir) => {
    const file = hostileObject(dir);
    for (const args of [["object", "show", file], ["btf", "dump", "file", file]]) {
      const r = runCli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes("\x1b") && !r.stdout.includes("\x07"), args.join(" "));
      assert.ok(r.stdout.includes("\\x1b]0;pwned\\x07\\x1b[2J"), `${args.join(" ")}:\n${r.stdout}`);
      assert.ok(!/^map_x/m.test(r.stdout), "a forged line starts with map_x");
    }
    const json = runCli(["object", "show", file, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(JSON.parse(json.stdout).maps.some((m: { name: string }) => m.name === EVIL));
  });
});

test("a kprobe function or tracefs definition with white space or control characters is refused before any tracefs write", () => {
  const prog = { fd: -1, name: "p", section: "kprobe/x" };
  for (const func of ["f\n-:group/other\np:evil/x vfs_read", "f x", "f\x1b"]) {
    assert.throws(
      () => attachKprobe(prog, func),
      (e) =>
        e instanceof BpfError && /is not a kernel function name/.test(e.message) &&
        !e.message.includes("\n"),
    );
  }
  assert.throws(
    () => addTracefsProbe("kprobe_events", "tsbpf_kprobes", "ev", "f+0\n-:g/o", false),
    (e) => e instanceof BpfError && /must not be empty or contain white space/.test(e.message),
  );
  assert.throws(
    () => addTracefsProbe("uprobe_events", "g", "e", "/tmp/a b:0x10", false),
    (e) => e instanceof BpfError && /white space/.test(e.message),
  );
});
