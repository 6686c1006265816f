// load({ coreInKernel: true }): the kernel applies the CO-RE relocations (BPF_PROG_LOAD core_relos)
// instead of tsbpf against the kernel's BTF. Where a type has one candidate, the kernel's program
// is the one libbpf loads (same tag); where libbpf narrows a type's candidates across relocations,
// the kernel does not, and the results differ, as documented.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BpfObject } from "../live/object.ts";
import { resetProbes } from "../live/probes.ts";
import { BpfError, NotSupportedError, VerifierError } from "../errors.ts";
import { getSys, setSys, withFaults } from "../ffi/mod.ts";
import { BpfCmd } from "../ffi/constants.ts";
import { open } from "../spec/open.ts";
import { relocateProgram } from "../reloc/relocate.ts";
import {
  compileBpfC,
  newFds,
  openFds,
  oracle,
  requireKernel,
  testObject,
  thrown,
  withTmpDir,
} from "./_util.ts";

// A CO-RE read in the entry program and two in a subprogram placed after it, so the records the
// kernel gets must be moved to where the subprogram lands.
const SUBPROG_CORE_C = `
struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));
static long (*bpf_probe_read_kernel)(void *dst, unsigned int size, const void *src) = (void *)113;
static unsigned long long (*bpf_get_current_task)(void) = (void *)35;
int out[3];

static __attribute__((noinline)) int read_ids(struct task_struct *t)
{
	int pid = 0, tgid = 0;
	bpf_probe_read_kernel(&pid, sizeof(pid), &t->pid);
	bpf_probe_read_kernel(&tgid, sizeof(tgid), &t->tgid);
	return pid ^ tgid;
}

__attribute__((section("tp/syscalls/sys_enter_getppid"), used))
int core_sub(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	int tgid = 0;
	bpf_probe_read_kernel(&tgid, sizeof(tgid), &t->tgid);
	out[0] = tgid;
	out[1] = read_ids(t);
	return 0;
}

char LICENSE[] __attribute__((section("license"), used)) = "GPL";
`;

function tags(file: string, opts: { coreInKernel?: boolean; only?: string } = {}) {
  using obj = BpfObject.open(file);
  if (opts.only !== undefined) {
    for (const n of obj.programNames) obj.setAutoload(n, n === opts.only);
  }
  obj.load({ coreInKernel: opts.coreInKernel });
  return Object.fromEntries([...obj.programs].map(([n, p]) => [n, p.info().tag]));
}

test("coreInKernel loads the programs libbpf loads where each type has one candidate", (t) => {
  if (!requireKernel(t)) return;
  for (
    const [name, only] of [
      ["load_globals", undefined],
      ["core", undefined],
      ["subprogs", undefined],
      ["core_extra", "core_extra_btf"],
    ] as const
  ) {
    const file = testObject(name);
    const before = openFds();
    const kernel = tags(file, { coreInKernel: true, only });
    assert.deepEqual(newFds(before), [], `${name}: fds left open`);
    assert.deepEqual(kernel, tags(file, { only }), name);
    // And libbpf's, program by program.
    const theirs = JSON.parse(oracle(["load", file, ...(only ? [only] : [])]).stdout);
    for (const p of theirs.programs) assert.equal(kernel[p.name], p.tag, `${name}/${p.name}`);
  }
});

test("coreInKernel differs from libbpf where libbpf narrows a type's candidates", (t) => {
  if (!requireKernel(t)) return;
  // core_extra_tp checks two fields of syscall_tp_t___mine. The kernel has two syscall_tp_t; libbpf
  // keeps only the first after the first relocation, which then has no `args`; the kernel looks at
  // both candidates again for the second relocation and finds it.
  const file = testObject("core_extra");
  const user = tags(file, { only: "core_extra_tp" });
  const kernel = tags(file, { only: "core_extra_tp", coreInKernel: true });
  const theirs = JSON.parse(oracle(["load", file, "core_extra_tp"]).stdout).programs[0];
  assert.equal(user.core_extra_tp, theirs.tag);
  assert.notEqual(kernel.core_extra_tp, theirs.tag);
});

test("coreInKernel: a program stopped at a poisoned relocation gets the same log lines", (t) => {
  if (!requireKernel(t)) return;
  const file = testObject("core_poison");
  const lines = (coreInKernel: boolean) => {
    using obj = BpfObject.open(file);
    for (const n of obj.programNames) obj.setAutoload(n, n === "unguarded");
    const e = thrown(() => obj.load({ coreInKernel }));
    assert.ok(e instanceof VerifierError, String(e));
    assert.match(
      e.message,
      /failed to resolve CO-RE relocation <byte_off> \[\d+\] struct task_struct___gone\./,
    );
    return e.log.split("\n").filter((l) =>
      /<invalid CO-RE relocation>|failed to resolve CO-RE relocation/.test(l)
    );
  };
  const user = lines(false);
  assert.equal(user.length, 2);
  assert.deepEqual(lines(true), user);
  // The guarded program loads: its poisoned instruction is dead code for the verifier.
  using obj = BpfObject.open(file);
  for (const n of obj.programNames) obj.setAutoload(n, n !== "unguarded");
  obj.load({ coreInKernel: true });
  assert.deepEqual([...obj.programs.keys()], obj.programNames.filter((n) => n !== "unguarded"));
  assert.ok(obj.programs.has("guarded"));
});

test("coreInKernel with btfCustomPath is refused, and leaves no fd open", (t) => {
  if (!requireKernel(t)) return;
  const before = openFds();
  using obj = BpfObject.open(testObject("core"), { btfCustomPath: "/sys/kernel/btf/vmlinux" });
  const e = thrown(() => obj.load({ coreInKernel: true }));
  assert.ok(e instanceof BpfError, String(e));
  assert.match(e.message, /coreInKernel.*btfCustomPath/);
  obj.close();
  assert.deepEqual(newFds(before), []);
});

test("coreInKernel on a kernel that refuses core_relos is a NotSupportedError; nothing leaks", (t) => {
  if (!requireKernel(t)) return;
  const real = getSys();
  const before = openFds();
  resetProbes();
  // An older kernel answers E2BIG to attribute bytes it does not know (core_relo_cnt at 116).
  setSys(withFaults(real, {
    bpf: (cmd, _n, attr) =>
      cmd === BpfCmd.BPF_PROG_LOAD &&
        new DataView(attr.buffer, attr.byteOffset).getUint32(116, true)
        ? 7
        : undefined,
  }));
  try {
    using obj = BpfObject.open(testObject("core"));
    const e = thrown(() => obj.load({ coreInKernel: true }));
    assert.ok(e instanceof NotSupportedError, String(e));
    assert.equal(e.feature, "BPF_PROG_LOAD core_relos");
    assert.match(e.message, /load without coreInKernel/);
  } finally {
    setSys(real);
    resetProbes();
  }
  assert.deepEqual(newFds(before), []);
});

test("coreInKernel on an object without CO-RE relocations loads as usual", (t) => {
  if (!requireKernel(t)) return;
  const file = testObject("maps");
  assert.deepEqual(tags(file, { coreInKernel: true }), tags(file));
});

test("coreInKernel moves a subprogram's relocations to where the subprogram lands", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-core-kernel-", (dir) => {
    const file = compileBpfC(dir, "core_sub", SUBPROG_CORE_C);
    const spec = open(file);
    try {
      const main = spec.programs.find((p) => p.name === "core_sub")!;
      const sub = spec.subprograms.find((p) => p.name === "read_ids")!;
      assert.ok(main && sub, "the object has the entry program and the subprogram");
      const r = relocateProgram(spec, "core_sub", {
        mapFds: new Map(),
        dataMapFds: new Map([[".bss", 100]]),
        targetBtf: undefined,
        externs: new Map(),
        coreInKernel: true,
      });
      const recs = r.coreRelos!;
      const dv = new DataView(recs.buffer, recs.byteOffset, recs.byteLength);
      const offs = Array.from({ length: recs.length / 16 }, (_, i) => dv.getUint32(i * 16, true));
      const mainLen = main.insns.length;
      assert.equal(offs.filter((o) => o < mainLen).length, 1, `entry program: ${offs}`);
      assert.equal(offs.filter((o) => o >= mainLen).length, 2, `subprogram: ${offs}`);
      // Each record points at the instruction the compiler recorded, wherever it landed.
      const recorded = [...spec.btfExt!.coreRelos.values()].flat();
      for (let i = 0; i < offs.length; i++) {
        const typeId = dv.getUint32(i * 16 + 4, true);
        const accessOff = dv.getUint32(i * 16 + 8, true);
        assert.ok(recorded.some((c) => c.typeId === typeId && c.accessStrOff === accessOff));
        assert.equal(r.insns[offs[i]] & 0x07, 0x07, "an ALU64 instruction (r = offset)");
      }
    } finally {
      spec.btf?.close();
    }
    const kernel = tags(file, { coreInKernel: true });
    assert.deepEqual(kernel, tags(file));
    const theirs = JSON.parse(oracle(["load", file]).stdout).programs[0];
    assert.equal(kernel.core_sub, theirs.tag);
  });
});
