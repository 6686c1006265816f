// Attach tests for uprobes: symbol resolution against binutils, library search, uprobe and
// uretprobe on the test binary and, auto-attached from the section, in libc.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import {
  addrToFileOffset,
  attachAll,
  attachUprobe,
  attachUprobeMulti,
  detachAll,
  findFunctionSymbol,
  functionFileOffset,
  matchFunctions,
  parseUprobeTarget,
  resolveBinaryPath,
} from "../link/mod.ts";
import { BpfLinkType } from "../ffi/constants.ts";
import { readElf } from "../spec/elf.ts";
import {
  arrayU64,
  globalU64,
  linksOfPrograms,
  loadObject,
  setGlobalU32,
  spawnWaiting,
} from "./_attach.ts";
import {
  kernelAtLeast,
  newFds,
  note,
  openFds,
  requireKernel,
  skip,
  skipMissing,
  UPROBE_TARGET,
} from "./_util.ts";

const HIT_UPROBE = 3, HIT_URETPROBE = 4;

function loadSegments(path: string): { offset: number; vaddr: number; memsz: number }[] {
  const r = spawnSync("readelf", ["-lW", path], { encoding: "utf8" });
  return r.stdout.split("\n").filter((l) => /^\s+LOAD\s/.test(l)).map((l) => {
    const f = l.trim().split(/\s+/);
    return { offset: Number(f[1]), vaddr: Number(f[2]), memsz: Number(f[5]) };
  });
}

function nmAddress(path: string, name: string, dynamic: boolean): number {
  const r = spawnSync("nm", dynamic ? ["-D", path] : [path], { encoding: "utf8" });
  const line = r.stdout.split("\n").find((l) => l.endsWith(` ${name}`) || l.includes(` ${name}@@`));
  assert.ok(line, `nm found no ${name} in ${path}`);
  return parseInt(line.split(" ")[0], 16);
}

test("functionFileOffset() agrees with nm and readelf on the test binary and on libc", (t) => {
  if (!existsSync(UPROBE_TARGET)) {
    skipMissing(t, "no test binary; run scripts/setup.sh");
    return;
  }
  const libc = resolveBinaryPath("libc.so.6");
  for (const [path, name, dyn] of [[UPROBE_TARGET, "tsbpf_add", false], [libc, "malloc", true]]) {
    const addr = nmAddress(path as string, name as string, dyn as boolean);
    const seg = loadSegments(path as string).find((s) =>
      addr >= s.vaddr && addr < s.vaddr + s.memsz
    )!;
    assert.equal(functionFileOffset(path as string, name as string), addr - seg.vaddr + seg.offset);
    assert.equal(
      functionFileOffset(path as string, name as string, 4),
      addr - seg.vaddr + seg.offset + 4,
    );
  }
});

test("addrToFileOffset() maps a data address through a segment whose vaddr differs from its offset", (t) => {
  if (!existsSync(UPROBE_TARGET)) {
    skipMissing(t, "no test binary; run scripts/setup.sh");
    return;
  }
  const elf = readElf(UPROBE_TARGET, { native: true });
  const seg = loadSegments(UPROBE_TARGET).find((s) => s.vaddr !== s.offset);
  if (seg === undefined) {
    skip(t, "the linker placed every segment at vaddr == offset");
    return;
  }
  assert.equal(addrToFileOffset(elf, seg.vaddr + 8), seg.offset + 8);
  assert.throws(() => addrToFileOffset(elf, 0x7fff_0000_0000), BpfError);
});

test("findFunctionSymbol() finds versioned .dynsym names and rejects missing functions", () => {
  const libc = resolveBinaryPath("libc.so.6");
  const elf = readElf(libc, { native: true });
  assert.equal(findFunctionSymbol(elf, "malloc").type, 2);
  assert.throws(() => findFunctionSymbol(elf, "tsbpf_no_such_function"), /No function/);
});

test("resolveBinaryPath() searches the library directories for bare library names", () => {
  const p = resolveBinaryPath("libc.so.6");
  assert.match(p, /^\/.*\/libc\.so\.6$/);
  assert.ok(existsSync(p));
  assert.match(resolveBinaryPath("bash"), /\/bash$/);
  assert.throws(() => resolveBinaryPath("libtsbpf_nothing.so.9"), /Cannot find libtsbpf_nothing/);
  assert.throws(() => resolveBinaryPath("/nonexistent/bin"), BpfError);
});

test("parseUprobeTarget() splits binary, function, offset and raw offsets like libbpf", () => {
  assert.deepEqual(parseUprobeTarget("libc.so.6:malloc"), {
    binary: "libc.so.6",
    func: "malloc",
    offset: 0,
  });
  assert.deepEqual(parseUprobeTarget("/usr/bin/bash:main+0x10"), {
    binary: "/usr/bin/bash",
    func: "main",
    offset: 16,
  });
  assert.deepEqual(parseUprobeTarget("/bin/true:0x1234"), {
    binary: "/bin/true",
    func: "",
    offset: 0x1234,
  });
  assert.throws(() => parseUprobeTarget("malloc"), /binary:function/);
});

test("uprobe and uretprobe on tsbpf_add see every call's arguments and return value", async (t) => {
  if (!requireKernel(t)) return;
  const child = await spawnWaiting(UPROBE_TARGET, ["5", "--wait"]);
  try {
    using obj = loadObject("tracing", (o) => setGlobalU32(o, ".rodata", "target_tgid", child.pid));
    const prog = (name: string) => ({ fd: obj.program(name).fd, name });
    using entry = attachUprobe(prog("uprobe_add"), { binary: UPROBE_TARGET, func: "tsbpf_add" });
    using ret = attachUprobe(prog("uretprobe_add"), {
      binary: UPROBE_TARGET,
      func: "tsbpf_add",
      retprobe: true,
    });
    assert.equal(entry.kind, "uprobe");
    assert.match(ret.target, /^uretprobe .*uprobe_target:tsbpf_add$/);
    const r = await child.go();
    assert.equal(r.stdout, "ready\n25\n");
    assert.equal(arrayU64(obj, "hits", HIT_UPROBE), 5n);
    assert.equal(arrayU64(obj, "hits", HIT_URETPROBE), 5n);
    assert.equal(globalU64(obj, ".bss", "last_uprobe_arg"), (4n << 32n) | 5n);
    assert.equal(globalU64(obj, ".bss", "last_uretprobe_ret"), 9n);
  } finally {
    child.kill();
  }
});

test("uprobe/libc.so.6:printf and uretprobe/libc.so.6:read auto-attach through the library search", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_uprobe");
  const links = attachAll(obj);
  const child = await spawnWaiting(UPROBE_TARGET, ["3", "--wait"]);
  try {
    assert.deepEqual([...links.keys()].sort(), ["libc_printf", "libc_read_ret"]);
    setGlobalU32(obj, ".bss", "target_pid", child.pid);
    const r = await child.go();
    assert.equal(r.code, 0);
    assert.equal(globalU64(obj, ".bss", "printf_calls"), 1n);
    assert.equal(globalU64(obj, ".bss", "read_returns"), 1n);
    assert.equal(globalU64(obj, ".bss", "last_read_ret", true), 1n);
  } finally {
    child.kill();
    detachAll(links);
  }
  const ids = ["libc_printf", "libc_read_ret"].map((n) => obj.program(n).info().id);
  assert.deepEqual(linksOfPrograms(ids), []);
});

test("attachUprobe() on a missing function throws a BpfError naming it and leaks no fd", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("tracing");
  const fds = openFds();
  assert.throws(
    () =>
      attachUprobe({ fd: obj.program("uprobe_add").fd, name: "uprobe_add" }, {
        binary: UPROBE_TARGET,
        func: "tsbpf_missing",
      }),
    (e) => e instanceof BpfError && /No function tsbpf_missing in .*uprobe_target/.test(e.message),
  );
  assert.deepEqual(newFds(fds), []);
});

test("the legacy tracefs uprobe_events path counts calls and removes its probe at close()", async (t) => {
  if (!requireKernel(t)) return;
  const events = "/sys/kernel/tracing/uprobe_events";
  if (!existsSync(events)) {
    skipMissing(t, "no tracefs uprobe_events (setup mounts tracefs)");
    return;
  }
  const child = await spawnWaiting(UPROBE_TARGET, ["3", "--wait"]);
  try {
    using obj = loadObject("tracing", (o) => setGlobalU32(o, ".rodata", "target_tgid", child.pid));
    const link = attachUprobe({ fd: obj.program("uprobe_add").fd, name: "uprobe_add" }, {
      binary: UPROBE_TARGET,
      func: "tsbpf_add",
      legacy: true,
    });
    const mine = () =>
      readFileSync(events, "utf8").split("\n").filter((l) => l.includes(`tsbpf_${process.pid}_`));
    try {
      assert.equal(mine().length, 1);
      assert.equal(link.isBpfLink, true);
      await child.go();
      assert.equal(arrayU64(obj, "hits", HIT_UPROBE), 3n);
    } finally {
      link.close();
    }
    assert.deepEqual(mine(), []);
  } finally {
    child.kill();
  }
});

test("uprobe.multi: one link on every tsbpf_* function, and a section target in libc auto-attached", async (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_umulti");
  assert.deepEqual(matchFunctions(UPROBE_TARGET, "tsbpf_*").map((f) => f.name), [
    "tsbpf_add",
    "tsbpf_run",
  ]);
  if (!kernelAtLeast(6, 6)) {
    // uprobe.multi links came with Linux 6.6: an older kernel refuses, with a typed error.
    const prog = { fd: obj.program("umulti_any").fd, name: "umulti_any" };
    assert.throws(() => attachUprobeMulti(prog, UPROBE_TARGET, "tsbpf_*"), BpfError);
    note("uprobe.multi needs Linux 6.6; this kernel refuses it with a BpfError");
    return;
  }
  using link = attachUprobeMulti(
    { fd: obj.program("umulti_any").fd, name: "umulti_any" },
    UPROBE_TARGET,
    "tsbpf_*",
  );
  assert.equal(link.info().type, BpfLinkType.BPF_LINK_TYPE_UPROBE_MULTI);
  const links = attachAll(obj);
  const child = await spawnWaiting(UPROBE_TARGET, ["3", "--wait"]);
  try {
    assert.deepEqual([...links.keys()], ["umulti_printf"]);
    setGlobalU32(obj, ".bss", "target_pid", child.pid);
    await child.go();
    assert.equal(globalU64(obj, ".bss", "multi_hits"), 4n); // tsbpf_run once, tsbpf_add 3 times
    assert.equal(globalU64(obj, ".bss", "auto_hits"), 1n);
  } finally {
    child.kill();
    detachAll(links);
  }
});
