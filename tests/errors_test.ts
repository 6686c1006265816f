// The error classes: names, causes, and the verifier error's message.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BpfError,
  BtfError,
  ElfError,
  NotSupportedError,
  RelocationError,
  SyscallError,
  VerifierError,
  verifierLogTail,
} from "../errors.ts";

test("every error class sets its own name and is a BpfError", () => {
  const all: [BpfError, string][] = [
    [new BpfError("x"), "BpfError"],
    [new ElfError("x", { offset: 3 }), "ElfError"],
    [new BtfError("x", { typeId: 4 }), "BtfError"],
    [new RelocationError("x", { program: "p", section: "s", insn: 2 }), "RelocationError"],
    [
      new SyscallError("x", { call: "bpf(BPF_PROG_LOAD)", errno: 1, code: "EPERM" }),
      "SyscallError",
    ],
    [new NotSupportedError("kprobe PMU", "x"), "NotSupportedError"],
    [
      new VerifierError({ program: "p", section: "xdp", errno: 13, code: "EACCES", log: "" }),
      "VerifierError",
    ],
  ];
  for (const [e, name] of all) {
    assert.equal(e.name, name);
    assert.ok(e instanceof BpfError && e instanceof Error);
    assert.ok(String(e).startsWith(`${name}: `));
  }
});

test("a BpfError keeps its cause", () => {
  const cause = new Error("inner");
  assert.equal(new BtfError("outer", { cause }).cause, cause);
  assert.equal(new BpfError("no cause").cause, undefined);
});

test("VerifierError names the program, section and errno and ends with the log's last lines", () => {
  const log = [
    "func#0 @0",
    "0: R1=ctx() R10=fp0",
    "0: (b7) r0 = 0",
    "1: (61) r2 = *(u32 *)(r3 +0)",
    "R3 !read_ok",
    "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0",
    "",
  ].join("\n");
  const e = new VerifierError({ program: "count", section: "xdp", errno: 13, code: "EACCES", log });
  assert.match(e.message, /^Loading program 'count' \(section xdp\) failed: EACCES/);
  assert.ok(e.message.endsWith("R3 !read_ok"), e.message);
  assert.equal(e.code, "EACCES");
  assert.equal(e.errno, 13);
  assert.equal(e.log, log);
  assert.equal(e instanceof SyscallError, true);
});

test("verifierLogTail drops the closing statistics and keeps at most N lines", () => {
  const log = "a\nb\n\nc\nprocessed 3 insns\nverification time 12 usec\nstack depth 0\n";
  assert.deepEqual(verifierLogTail(log, 2), ["b", "c"]);
  assert.deepEqual(verifierLogTail("", 5), []);
});
