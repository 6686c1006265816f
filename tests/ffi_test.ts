// The ffi layer itself: the symbol table, errno names, runtime selection and its errors, the libc
// calls other than bpf(), perf_event_open with the perf_event_attr layout, and fault injection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  Attr,
  BLOCKING,
  BpfCmd,
  BpfMapType,
  BpfProgType,
  bunSymbols,
  denoSymbols,
  ensureBpffs,
  Errno,
  errnoDescription,
  errnoName,
  errnoNumber,
  getSys,
  isBpffs,
  Libc,
  LIBC_SYMBOLS,
  mapCreate,
  mapInfo,
  objGet,
  objPin,
  Perf,
  PERF_EVENT_ATTR,
  progLoad,
  progTestRun,
  runtimeName,
  setSys,
  syscallError,
  withFaults,
} from "../ffi/mod.ts";
import { decodeEpollEvents } from "../ffi/sys.ts";
import { LIBC_SYMBOLS as TABLE, SYSCALL_NUMBERS } from "../ffi/symbols.ts";
import { readFileSync } from "node:fs";
import { BpfError, SyscallError } from "../errors.ts";
import { newFds, openFds, requireKernel, ROOT, run, withTmpDir } from "./_util.ts";

test("the Deno and Bun symbol tables are derived from the one libc table", () => {
  const d = denoSymbols();
  const b = bunSymbols();
  const names = Object.keys(LIBC_SYMBOLS).sort();
  assert.deepEqual(
    Object.keys(d).sort(),
    [...names, ...BLOCKING.map((n) => `${n}_nonblocking`), "syscall_int"].sort(),
  );
  for (const n of BLOCKING) {
    assert.deepEqual(d[`${n}_nonblocking`], { ...d[n], name: n, nonblocking: true });
  }
  // bpf() on map elements: syscall() again with an int result (no BigInt per call on Deno), bound
  // with the lazily bound group.
  assert.deepEqual(d.syscall_int, {
    name: "syscall",
    parameters: ["i64", "u64", "u64", "u64"],
    result: "i32",
  });
  assert.equal(denoSymbols("open").syscall_int, undefined);
  assert.equal(denoSymbols("more").syscall_int.name, "syscall");
  assert.deepEqual(Object.keys(b).sort(), names);
  // Bun returns 64-bit results as numbers where they fit (a BigInt per bpf() call otherwise).
  assert.equal(b.syscall.returns, "i64_fast");
  assert.equal(b.__errno_location.returns, "u64_fast");
  for (const [name, sym] of Object.entries(LIBC_SYMBOLS)) {
    const dn = d[name as keyof typeof d];
    const bn = b[name as keyof typeof b];
    assert.equal(dn.parameters.length, sym.parameters.length, name);
    assert.equal(bn.args.length, sym.parameters.length, name);
    sym.parameters.forEach((k, i) => {
      assert.equal(dn.parameters[i], k === "buf" ? "buffer" : k, `${name} arg ${i}`);
      assert.equal(bn.args[i], k === "buf" ? "ptr" : k, `${name} arg ${i}`);
    });
  }
});

test("the syscall numbers tsbpf calls by number are the kernel's, on x86_64 and aarch64", () => {
  // The UAPI headers (linux-libc-dev) list them: x86_64 its own table, aarch64 the generic one.
  const numbers = (path: string): Map<string, number> => {
    const m = new Map<string, number>();
    const text = readFileSync(path, "utf8");
    for (const [, name, n] of text.matchAll(/#define __NR(?:3264)?_(\w+)\s+(\d+)\b/g)) {
      if (!m.has(name)) m.set(name, Number(n));
    }
    return m;
  };
  const x86 = numbers("/usr/include/x86_64-linux-gnu/asm/unistd_64.h");
  const generic = numbers("/usr/include/asm-generic/unistd.h");
  for (const [name, n] of Object.entries(SYSCALL_NUMBERS.x86_64)) {
    assert.equal(n, x86.get(name), `x86_64 ${name}`);
  }
  for (const [name, n] of Object.entries(SYSCALL_NUMBERS.aarch64)) {
    assert.equal(n, generic.get(name), `aarch64 ${name}`);
  }
  // What opening and loading an object binds at start-up: syscall() and two libc-only calls; the
  // rest is what syscall() cannot do.
  const group = (g: string) =>
    Object.entries(TABLE).filter(([, s]) => s.group === g).map(([n]) => n).sort();
  assert.deepEqual(group("open"), ["__errno_location", "syscall", "sysconf"]);
  assert.deepEqual(group("more"), ["epoll_wait", "if_nametoindex"]);
});

test("madvise() reaches the kernel: advice on a mapping succeeds, on no mapping fails", () => {
  const sys = getSys();
  const len = 2 * 1024 * 1024;
  const addr = sys.mmap(
    len,
    Libc.PROT_READ | Libc.PROT_WRITE,
    Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS,
    -1,
    0,
  );
  try {
    const bytes = new Uint8Array(sys.view(addr, len));
    bytes.fill(7);
    // MADV_DONTNEED drops private anonymous pages: they read as zeros afterwards.
    sys.madvise(addr, len, 4);
    assert.equal(bytes[0], 0);
    assert.equal(bytes[len - 1], 0);
  } finally {
    sys.munmap(addr, len);
  }
  // MADV_WILLNEED on an unmapped range: ENOMEM, as a SyscallError naming the call.
  assert.throws(
    () => sys.madvise(addr, len, 3),
    (e: unknown) => e instanceof SyscallError && e.call === "madvise" && e.code === "ENOMEM",
  );
});

test("errnoName() names every Linux errno, including kernel-internal ENOTSUPP", () => {
  assert.equal(errnoName(1), "EPERM");
  assert.equal(errnoName(22), "EINVAL");
  assert.equal(errnoName(11), "EAGAIN");
  assert.equal(errnoName(95), "EOPNOTSUPP");
  assert.equal(errnoName(524), "ENOTSUPP");
  assert.equal(errnoName(133), "EHWPOISON");
  assert.equal(errnoName(9999), "E9999");
  for (let e = 1; e <= 133; e++) {
    if (e === 41 || e === 58) continue; // unused numbers in Linux
    assert.doesNotMatch(errnoName(e), /^E\d+$/, `errno ${e} has a name`);
  }
  assert.equal(errnoDescription(2), "No such file or directory");
  assert.equal(errnoNumber("ENOTSUP"), 95);
  assert.equal(errnoNumber("ENOENT"), Errno.ENOENT);
  assert.equal(errnoNumber("ENOPE"), -1);
});

test("syscallError() names the call, the errno and what it means", () => {
  const e = syscallError("bpf(BPF_PROG_LOAD)", 13);
  assert.ok(e instanceof SyscallError);
  assert.equal(e.call, "bpf(BPF_PROG_LOAD)");
  assert.equal(e.errno, 13);
  assert.equal(e.code, "EACCES");
  assert.equal(e.message, "bpf(BPF_PROG_LOAD) failed: EACCES (Permission denied)");
});

test("getSys() picks this runtime's adapter once", () => {
  const sys = getSys();
  assert.equal(sys.runtime, runtimeName());
  assert.ok(sys.runtime === "deno" || sys.runtime === "bun");
  assert.equal(getSys(), sys);
  assert.equal(sys.getpid(), process.pid);
  const u = sys.uname();
  assert.equal(u.sysname, "Linux");
  assert.equal(u.release, release());
  const page = sys.sysconf(Libc._SC_PAGESIZE);
  assert.ok(page >= 4096 && (page & (page - 1)) === 0);
  assert.equal(sys.ifNameToIndex("lo"), 1);
  assert.equal(sys.ifNameToIndex("no-such-if0"), 0);
});

test("ptrOf() gives the address of a buffer's first byte, and 0n for an empty one", () => {
  const sys = getSys();
  const buf = new Uint8Array(64);
  const a = sys.ptrOf(buf);
  assert.ok(a > 0n);
  assert.equal(sys.ptrOf(buf.subarray(16)), a + 16n);
  assert.equal(sys.ptrOf(new Uint8Array(0)), 0n);
});

test("open(), read(), write() and close() work on plain files and report ENOENT", () => {
  const sys = getSys();
  withTmpDir("tsbpf-ffi", (dir) => {
    writeFileSync(join(dir, "f"), "hello tsbpf");
    const fd = sys.open(join(dir, "f"), Libc.O_RDONLY | Libc.O_CLOEXEC);
    const buf = new Uint8Array(32);
    const n = sys.read(fd, buf);
    sys.close(fd);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "hello tsbpf");
    const w = sys.open("/dev/null", Libc.O_WRONLY | Libc.O_CLOEXEC);
    assert.equal(sys.write(w, new Uint8Array(5)), 5);
    sys.close(w);
    assert.throws(
      () => sys.open(join(dir, "missing"), Libc.O_RDONLY),
      (e: unknown) =>
        e instanceof SyscallError && e.code === "ENOENT" && e.call.startsWith("open("),
    );
    assert.throws(
      () => sys.close(fd),
      (e: unknown) => e instanceof SyscallError && e.code === "EBADF" && e.call === "close",
    );
  });
});

test("perfEventOpen() opens a task clock counter that counts once enabled", (t) => {
  if (!requireKernel(t)) return;
  const sys = getSys();
  const attr = new Attr(PERF_EVENT_ATTR)
    .set("type", Perf.PERF_TYPE_SOFTWARE)
    .set("size", PERF_EVENT_ATTR.size)
    .set("config", Perf.PERF_COUNT_SW_TASK_CLOCK)
    .set("flags", Perf.BIT_DISABLED);
  const fd = sys.perfEventOpen(attr.bytes, 0, -1, -1, Perf.PERF_FLAG_FD_CLOEXEC);
  try {
    const count = new Uint8Array(8);
    sys.read(fd, count);
    assert.equal(new DataView(count.buffer).getBigUint64(0, true), 0n, "disabled: no time counted");
    sys.ioctl(fd, Perf.PERF_EVENT_IOC_ENABLE, 0);
    let x = 0;
    for (let i = 0; i < 1e6; i++) x += i;
    assert.ok(x > 0);
    sys.read(fd, count);
    assert.ok(new DataView(count.buffer).getBigUint64(0, true) > 0n, "enabled: time counted");
  } finally {
    sys.close(fd);
  }
  const bad = new Attr(PERF_EVENT_ATTR).set("type", 9999).set("size", PERF_EVENT_ATTR.size);
  assert.throws(
    () => sys.perfEventOpen(bad.bytes, 0, -1, -1, 0),
    (e: unknown) => e instanceof SyscallError && e.call === "perf_event_open",
  );
});

test("epoll reports a ring buffer map as not ready until it has data", (t) => {
  if (!requireKernel(t)) return;
  const sys = getSys();
  using rb = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_RINGBUF,
    keySize: 0,
    valueSize: 0,
    maxEntries: 4096,
  });
  const ep = sys.epollCreate(Libc.EPOLL_CLOEXEC);
  try {
    sys.epollCtl(ep, Libc.EPOLL_CTL_ADD, rb.value, Libc.EPOLLIN, 77n);
    const events = new Uint8Array(16 * 4);
    const n = sys.epollWait(ep, events, 0);
    assert.equal(n, 0);
    assert.deepEqual(decodeEpollEvents(sys.arch, events, n), []);
    assert.throws(
      () => sys.epollCtl(ep, Libc.EPOLL_CTL_ADD, rb.value, Libc.EPOLLIN, 1n),
      (e: unknown) => e instanceof SyscallError && e.code === "EEXIST",
    );
  } finally {
    sys.close(ep);
  }
});

test("withFaults() fails exactly the chosen call with the chosen errno, and leaks nothing", (t) => {
  if (!requireKernel(t)) return;
  const real = getSys();
  const seen: number[] = [];
  const faulty = withFaults(real, {
    bpf: (cmd, n) => {
      if (cmd !== BpfCmd.BPF_MAP_CREATE) return undefined;
      seen.push(n);
      return n === 2 ? Errno.ENOMEM : undefined;
    },
  });
  const before = openFds();
  setSys(faulty);
  try {
    const spec = { type: BpfMapType.BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 };
    const first = mapCreate(spec);
    assert.throws(
      () => mapCreate(spec),
      (e: unknown) =>
        e instanceof SyscallError && e.code === "ENOMEM" && e.call === "bpf(BPF_MAP_CREATE)",
    );
    const third = mapCreate(spec);
    first.close();
    third.close();
  } finally {
    setSys(real);
  }
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(getSys(), real);
  assert.equal(faulty.runtime, `faulty(${real.runtime})`);
  assert.deepEqual(newFds(before), []);
});

test("on Deno without --allow-ffi, getSys() says to run with --allow-ffi", () => {
  withTmpDir("tsbpf-perm", (dir) => {
    const script = join(dir, "probe.ts");
    writeFileSync(
      script,
      `import { getSys } from ${JSON.stringify(join(ROOT, "ffi", "runtime.ts"))};\n` +
        `try { getSys(); console.log("no error"); } catch (e) { console.log(e.name + ": " + e.message); }\n`,
    );
    const r = run(join(ROOT, "node_modules", ".bin", "deno"), [
      "run",
      "--quiet",
      "--no-check",
      `--allow-read=${ROOT},${dir}`,
      script,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^BpfError: Deno denied FFI access.*run with --allow-ffi \(tsbpf needs no other permission\)/m,
    );
    assert.ok(new BpfError("x") instanceof Error);
  });
});

test("on Node, getSys() throws NotSupportedError saying live features need Deno or Bun", () => {
  withTmpDir("tsbpf-node", (dir) => {
    const entry = join(dir, "entry.ts");
    writeFileSync(
      entry,
      `import { getSys } from ${JSON.stringify(join(ROOT, "ffi", "runtime.ts"))};\n` +
        `try { getSys(); console.log("no error"); } catch (e) { console.log(e.name + ": " + e.message); }\n`,
    );
    const b = run(join(ROOT, "node_modules", ".bin", "bun"), [
      "build",
      entry,
      "--target=node",
      "--format=esm",
      "--outfile",
      join(dir, "entry.mjs"),
    ]);
    assert.equal(b.code, 0, b.stderr);
    const r = run("node", [join(dir, "entry.mjs")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NotSupportedError: .*need Deno or Bun/m);
  });
});

test("ensureBpffs() mounts a bpf filesystem where there is none, and pins work there", (t) => {
  if (!requireKernel(t)) return;
  assert.equal(ensureBpffs(), false, "/sys/fs/bpf is mounted already");
  assert.equal(isBpffs("/sys/fs/bpf"), true);
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bpffs-"));
  const sys = getSys();
  try {
    assert.equal(isBpffs(dir), false);
    assert.equal(ensureBpffs(dir), true);
    assert.equal(isBpffs(dir), true);
    assert.equal(ensureBpffs(dir), false);
    using map = mapCreate({
      type: BpfMapType.BPF_MAP_TYPE_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
    });
    objPin(map, join(dir, "m"));
    using again = objGet(join(dir, "m"));
    assert.equal(mapInfo(again).id, mapInfo(map).id, "the pin opens the same map");
    rmSync(join(dir, "m"));
  } finally {
    if (isBpffs(dir)) sys.umount(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(isBpffs(dir), false);
});

test("an Fd dropped without close() is closed by the FinalizationRegistry backstop", (t) => {
  if (!requireKernel(t)) return;
  withTmpDir("tsbpf-gc", (dir) => {
    const script = join(dir, "gc.ts");
    writeFileSync(
      script,
      `import { mapCreate, openFds } from ${JSON.stringify(join(ROOT, "ffi", "mod.ts"))};
import { readdirSync, readlinkSync } from "node:fs";
const maps = () => readdirSync("/proc/self/fd").filter((n) => {
  try { return readlinkSync("/proc/self/fd/" + n).includes("bpf-map"); } catch { return false; }
}).length;
(() => { for (let i = 0; i < 20; i++) mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 }); })();
const before = maps();
const g = globalThis;
let after = before;
for (let i = 0; i < 200 && after > 0; i++) {
  g.Bun ? g.Bun.gc(true) : g.gc();
  await new Promise((r) => setTimeout(r, 10));
  after = maps();
}
console.log(JSON.stringify({ before, after, tracked: openFds().length }));
`,
    );
    const r = runtimeName() === "deno"
      ? run(process.execPath, [
        "run",
        "-A",
        "--quiet",
        "--no-check",
        "--v8-flags=--expose-gc",
        script,
      ])
      : run(process.execPath, [script]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { before: 20, after: 0, tracked: 0 });
  });
});

test("epollWaitAsync() resolves when a program writes to a ring buffer, without blocking", async (t) => {
  if (!requireKernel(t)) return;
  const sys = getSys();
  using rb = mapCreate({
    type: BpfMapType.BPF_MAP_TYPE_RINGBUF,
    keySize: 0,
    valueSize: 0,
    maxEntries: 4096,
  });
  // *(u64 *)(r10 - 8) = 42; bpf_ringbuf_output(rb, r10 - 8, 8, 0); r0 = 0; exit
  const code = new Uint8Array(10 * 8);
  const dv = new DataView(code.buffer);
  const put = (i: number, op: number, dst: number, src: number, off: number, imm: number) => {
    dv.setUint8(i * 8, op);
    dv.setUint8(i * 8 + 1, (src << 4) | dst);
    dv.setInt16(i * 8 + 2, off, true);
    dv.setInt32(i * 8 + 4, imm, true);
  };
  put(0, 0x7a, 10, 0, -8, 42);
  put(1, 0x18, 1, 1, 0, rb.value);
  put(3, 0xbf, 2, 10, 0, 0);
  put(4, 0x07, 2, 0, 0, -8);
  put(5, 0xb7, 3, 0, 0, 8);
  put(6, 0xb7, 4, 0, 0, 0);
  put(7, 0x85, 0, 0, 0, 130);
  put(8, 0xb7, 0, 0, 0, 0);
  put(9, 0x95, 0, 0, 0, 0);
  using prog = progLoad({ type: BpfProgType.BPF_PROG_TYPE_XDP, insns: code, license: "GPL" });
  const ep = sys.epollCreate(Libc.EPOLL_CLOEXEC);
  try {
    sys.epollCtl(ep, Libc.EPOLL_CTL_ADD, rb.value, Libc.EPOLLIN, 5n);
    const events = new Uint8Array(16 * 4);
    assert.equal(await sys.epollWaitAsync(ep, events, 10), 0, "nothing written yet");
    const pending = sys.epollWaitAsync(ep, events, 10_000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await new Promise((r) => setTimeout(r, 20));
    progTestRun(prog, { dataIn: new Uint8Array(64) });
    const n = await pending;
    clearInterval(timer);
    assert.equal(n, 1);
    assert.deepEqual(decodeEpollEvents(sys.arch, events, n), [{ events: Libc.EPOLLIN, data: 5n }]);
    assert.ok(ticks > 0, "the event loop kept running while the wait was pending");
  } finally {
    sys.close(ep);
  }
});
