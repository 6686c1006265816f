// Attach tests for USDT probes: notes against readelf, argument specs as libbpf's usdt.bpf.h
// reads them, and a BPF_USDT() program on the test binary's tsbpf:add probe.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import {
  attachUsdt,
  encodeUsdtSpec,
  parseUsdtArg,
  parseUsdtTarget,
  UsdtArgType,
  usdtNotes,
} from "../link/mod.ts";
import type { BpfObject } from "../live/object.ts";
import { readElf } from "../spec/elf.ts";
import { globalU64, linksOfPrograms, loadObject, spawnWaiting } from "./_attach.ts";
import { newFds, openFds, requireKernel, skipMissing, UPROBE_TARGET } from "./_util.ts";

/** The `usdt_add` program of the usdt object. */
function usdtAdd(obj: BpfObject): { fd: number; name: string } {
  return { fd: obj.program("usdt_add").fd, name: "usdt_add" };
}

/** What `usdt_add` recorded: how often it ran and its last two arguments. */
function usdtCounts(obj: BpfObject): { hits: bigint; a: bigint; b: bigint } {
  return {
    hits: globalU64(obj, ".bss", "usdt_hits"),
    a: globalU64(obj, ".bss", "usdt_last_a", true),
    b: globalU64(obj, ".bss", "usdt_last_b", true),
  };
}

test("usdtNotes() reads the same probes, addresses and arguments as readelf -n", (t) => {
  if (!existsSync(UPROBE_TARGET)) {
    skipMissing(t, "no test binary; run scripts/setup.sh");
    return;
  }
  const notes = usdtNotes(readElf(UPROBE_TARGET, { native: true }));
  const r = spawnSync("readelf", ["-n", UPROBE_TARGET], { encoding: "utf8" });
  const expected = [...r.stdout.matchAll(
    /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), Semaphore: (0x[0-9a-f]+)\s+Arguments: ([^\n]*)/g,
  )].map((m) => ({
    provider: m[1],
    name: m[2],
    addr: Number(m[3]),
    sema: Number(m[5]),
    args: m[6],
  }));
  assert.ok(expected.length >= 1);
  assert.deepEqual(
    notes.map((n) => ({
      provider: n.provider,
      name: n.name,
      addr: n.addr,
      sema: n.semaAddr,
      args: n.args,
    })),
    expected,
  );
});

test("parseUsdtArg() turns x86-64 and aarch64 argument forms into usdt.bpf.h specs", () => {
  assert.deepEqual(parseUsdtArg("-4@%eax", "x86_64"), {
    signed: true,
    bitshift: 32,
    argType: UsdtArgType.REG,
    valOff: 0n,
    regOff: 80,
  });
  assert.deepEqual(parseUsdtArg("8@-8(%rbp)", "x86_64"), {
    signed: false,
    bitshift: 0,
    argType: UsdtArgType.REG_DEREF,
    valOff: -8n,
    regOff: 32,
  });
  assert.deepEqual(parseUsdtArg("2@$-5", "x86_64"), {
    signed: false,
    bitshift: 48,
    argType: UsdtArgType.CONST,
    valOff: -5n,
    regOff: 0,
  });
  assert.equal(parseUsdtArg("8@(%rdi)", "x86_64").regOff, 112);
  assert.equal(parseUsdtArg("-1@%r9b", "x86_64").bitshift, 56);
  assert.deepEqual(parseUsdtArg("4@[sp, 12]", "aarch64"), {
    signed: false,
    bitshift: 32,
    argType: UsdtArgType.REG_DEREF,
    valOff: 12n,
    regOff: 248,
  });
  assert.equal(parseUsdtArg("-8@x1", "aarch64").regOff, 8);
  assert.throws(() => parseUsdtArg("8@%xmm0", "x86_64"), /Unsupported register 'xmm0'/);
  assert.throws(() => parseUsdtArg("3@%eax", "x86_64"), BpfError);
  assert.throws(
    () => parseUsdtArg("8@-8(%rbp,%rax,8)", "x86_64"),
    /Unsupported USDT argument form/,
  );
});

test("encodeUsdtSpec() lays out struct __bpf_usdt_spec: 12 args of 16 bytes, cookie, count", () => {
  const b = encodeUsdtSpec(
    "-8@%rax 4@$7 aarch64-ignored".split(" ").slice(0, 2).join(" "),
    "x86_64",
    99n,
  );
  const dv = new DataView(b.buffer);
  assert.equal(b.length, 208);
  assert.equal(dv.getUint32(8, true), UsdtArgType.REG);
  assert.equal(dv.getInt16(12, true), 80);
  assert.equal(dv.getUint8(14), 1);
  assert.equal(dv.getInt8(15), 0);
  assert.equal(dv.getBigUint64(16, true), 7n);
  assert.equal(dv.getUint32(24, true), UsdtArgType.CONST);
  assert.equal(dv.getInt8(31), 32);
  assert.equal(dv.getBigUint64(192, true), 99n);
  assert.equal(dv.getInt16(200, true), 2);
  assert.throws(() => encodeUsdtSpec(Array(13).fill("8@%rax").join(" "), "x86_64"), /at most 12/);
});

test("parseUsdtTarget() splits binary:provider:name", () => {
  assert.deepEqual(parseUsdtTarget("/usr/lib/libfoo.so:prov:probe"), {
    binary: "/usr/lib/libfoo.so",
    provider: "prov",
    name: "probe",
  });
  assert.throws(() => parseUsdtTarget("prov:probe"), /binary:provider:name/);
});

test("a BPF_USDT() program on tsbpf:add reads both arguments at every call", async (t) => {
  if (!requireKernel(t)) return;
  const child = await spawnWaiting(UPROBE_TARGET, ["4", "--wait"]);
  try {
    using obj = loadObject("usdt");
    const p = obj.program("usdt_add");
    using link = attachUsdt({ fd: p.fd, name: "usdt_add" }, {
      binary: UPROBE_TARGET,
      provider: "tsbpf",
      name: "add",
      pid: child.pid,
    });
    assert.equal(link.kind, "usdt");
    assert.equal(link.children.length, 1);
    const r = await child.go();
    assert.equal(r.code, 0);
    assert.deepEqual(usdtCounts(obj), { hits: 4n, a: 3n, b: 4n });
    link.close();
    assert.deepEqual(linksOfPrograms([p.info().id]), []);
  } finally {
    child.kill();
  }
});

test("attachUsdt() on a probe the binary lacks throws and leaks no fd", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("usdt");
  const fds = openFds();
  assert.throws(
    () =>
      attachUsdt(usdtAdd(obj), {
        binary: UPROBE_TARGET,
        provider: "tsbpf",
        name: "nope",
      }),
    /has no USDT probe tsbpf:nope/,
  );
  assert.deepEqual(newFds(fds), []);
});

const SEMA_C = `#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <unistd.h>
#include <sys/sdt.h>
__extension__ unsigned short tsbpf_sema_semaphore __attribute__((unused)) __attribute__((section(".probes")));
int main(void)
{
	char c;
	printf("ready\\n");
	fflush(stdout);
	if (read(0, &c, 1) < 0)
		return 1;
	printf("%d\\n", tsbpf_sema_semaphore);
	if (tsbpf_sema_semaphore)
		STAP_PROBE2(tsbpf, sema, 42, 7);
	return 0;
}
`;

test("a USDT probe guarded by a semaphore is enabled while attached (the kernel bumps the semaphore)", async (t) => {
  if (!requireKernel(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-usdt-"));
  try {
    writeFileSync(join(dir, "sema.c"), SEMA_C);
    const bin = join(dir, "sema");
    const cc = spawnSync("gcc", ["-O1", "-o", bin, join(dir, "sema.c")], { encoding: "utf8" });
    if (cc.status !== 0) {
      skipMissing(t, `cannot build the semaphore target: ${cc.stderr}`);
      return;
    }
    const note = usdtNotes(readElf(bin, { native: true })).find((n) => n.name === "sema")!;
    assert.ok(note.semaAddr !== 0 && note.semaOffset !== 0);
    // Not attached: the semaphore stays 0 and the probe is skipped.
    const idle = await spawnWaiting(bin, []);
    assert.equal((await idle.go()).stdout, "ready\n0\n");
    const child = await spawnWaiting(bin, []);
    try {
      using obj = loadObject("usdt");
      using _link = attachUsdt(usdtAdd(obj), {
        binary: bin,
        provider: "tsbpf",
        name: "sema",
        pid: child.pid,
      });
      const r = await child.go();
      assert.equal(r.stdout, "ready\n1\n");
      assert.deepEqual(usdtCounts(obj), { hits: 1n, a: 42n, b: 7n });
    } finally {
      child.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const LIB_C = `#include <sys/sdt.h>
__attribute__((noinline)) long tsbpf_lib_fire(long a, long b)
{
	DTRACE_PROBE2(tsbpf, lib, a, b);
	return a + b;
}
`;

const MAIN_C = `#include <stdio.h>
#include <unistd.h>
long tsbpf_lib_fire(long a, long b);
int main(void)
{
	char c;
	printf("ready\\n");
	fflush(stdout);
	if (read(0, &c, 1) < 0)
		return 1;
	printf("%ld\\n", tsbpf_lib_fire(10, 20) + tsbpf_lib_fire(11, 21));
	return 0;
}
`;

test("a USDT probe in a shared library fires in the process that loaded it", async (t) => {
  if (!requireKernel(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-usdt-lib-"));
  try {
    writeFileSync(join(dir, "lib.c"), LIB_C);
    writeFileSync(join(dir, "main.c"), MAIN_C);
    const lib = join(dir, "libtsbpfusdt.so");
    const bin = join(dir, "main");
    const cc1 = spawnSync("gcc", ["-O1", "-shared", "-fPIC", "-o", lib, join(dir, "lib.c")], {
      encoding: "utf8",
    });
    const cc2 = spawnSync(
      "gcc",
      ["-O1", "-o", bin, join(dir, "main.c"), `-L${dir}`, "-ltsbpfusdt", `-Wl,-rpath,${dir}`],
      { encoding: "utf8" },
    );
    if (cc1.status !== 0 || cc2.status !== 0) {
      skipMissing(t, `cannot build the shared-library target: ${cc1.stderr}${cc2.stderr}`);
      return;
    }
    const child = await spawnWaiting(bin, []);
    try {
      using obj = loadObject("usdt");
      using link = attachUsdt(usdtAdd(obj), {
        binary: lib,
        provider: "tsbpf",
        name: "lib",
        pid: child.pid,
      });
      assert.match(link.target, /libtsbpfusdt\.so:tsbpf:lib/);
      const r = await child.go();
      assert.equal(r.stdout, "ready\n62\n");
      assert.deepEqual(usdtCounts(obj), { hits: 2n, a: 11n, b: 21n });
    } finally {
      child.kill();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
