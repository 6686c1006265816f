/**
 * The part of the libc adapters both runtimes share: given the raw libc calls of one runtime, builds
 * the {@linkcode Sys} object (errno handling, strings, syscall numbers).
 *
 * @module
 */
import { Libc } from "./constants.ts";
import { type Arch, SYSCALL_NUMBERS } from "./symbols.ts";
import { bpfCmdName, encodeEpollEvent, type Sys, syscallError, type Uname } from "./sys.ts";

/** The raw calls one runtime provides; integers in, integers out, errno not yet read. */
export interface RawLibc {
  syscall(nr: number, a1: bigint, a2: bigint, a3: bigint, a4: bigint, a5: bigint): number;
  ioctl(fd: number, req: number, arg: bigint): number;
  mmap(addr: bigint, len: number, prot: number, flags: number, fd: number, off: number): bigint;
  munmap(addr: bigint, len: number): number;
  close(fd: number): number;
  read(fd: number, buf: Uint8Array, n: number): number;
  write(fd: number, buf: Uint8Array, n: number): number;
  openat(dirfd: number, path: Uint8Array, flags: number, mode: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, ev: Uint8Array): number;
  epoll_wait(epfd: number, ev: Uint8Array, max: number, timeout: number): number;
  /** epoll_wait off the JavaScript thread (Deno's nonblocking FFI), or undefined (Bun). */
  epoll_wait_async?(epfd: number, ev: Uint8Array, max: number, timeout: number): Promise<number>;
  mount(
    src: Uint8Array,
    dst: Uint8Array,
    fs: Uint8Array,
    flags: number,
    data: Uint8Array | null,
  ): number;
  umount2(target: Uint8Array, flags: number): number;
  setns(fd: number, nstype: number): number;
  socket(d: number, t: number, p: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  setsockopt(fd: number, level: number, name: number, val: Uint8Array, len: number): number;
  getpid(): number;
  if_nametoindex(name: Uint8Array): number;
  sysconf(name: number): number;
  uname(buf: Uint8Array): number;
  /** Reads the calling thread's errno. */
  errno(): number;
  /** See `Sys.view`. */
  view(addr: bigint, len: number): ArrayBuffer;
  /** See `Sys.ptrOf`. */
  ptrOf(buf: Uint8Array): bigint;
}

/** Symbols one `dlopen` returned, by name. */
// deno-lint-ignore no-explicit-any
export type Bound = Record<string, (...a: any[]) => any>;

/**
 * The symbols of libc as one object: the `open` group, bound already, as plain properties, and
 * every name of the `more` group as a getter that binds the whole group on first use and then
 * turns into plain properties (no cost on later calls).
 *
 * @param open the symbols of the `open` group.
 * @param more the names the `more` group binds (for Deno, with its `_nonblocking` twins).
 * @param bindMore binds the `more` group (a second `dlopen` of libc).
 * @returns every symbol.
 */
export function lazySymbols(open: Bound, more: string[], bindMore: () => Bound): Bound {
  const s: Bound = { ...open };
  const bind = () => {
    const b = bindMore();
    for (const name of more) {
      Object.defineProperty(s, name, {
        value: b[name],
        writable: false,
        enumerable: true,
        configurable: false,
      });
    }
  };
  for (const name of more) {
    Object.defineProperty(s, name, {
      get() {
        bind();
        return s[name];
      },
      enumerable: true,
      configurable: true,
    });
  }
  return s;
}

/** The calls of {@linkcode RawLibc} that differ between the runtimes. */
export type RuntimeCalls = "errno" | "view" | "ptrOf" | "epoll_wait_async";

/**
 * The libc calls both runtimes make the same way over their `dlopen` symbols (declared once in
 * `symbols.ts`): sizes and 64-bit arguments go in as bigints, `ssize_t` and `long` results come
 * back as numbers. Every plain system call goes through libc's `syscall()`, already bound for
 * bpf(): on Deno each bound symbol costs about 0.15 ms when first used, which a first load (and a
 * first attach) would pay.
 *
 * @param s the symbols `dlopen` returned.
 * @param arch the architecture (selects the syscall numbers).
 * @param ptrOf the runtime's address of a buffer's bytes.
 * @returns every call of {@linkcode RawLibc} but the {@linkcode RuntimeCalls}.
 */
export function libcCalls(
  // deno-lint-ignore no-explicit-any
  s: Record<string, (...a: any[]) => any>,
  arch: Arch,
  ptrOf: (buf: Uint8Array) => bigint,
): Omit<RawLibc, RuntimeCalls> {
  const num = (v: number | bigint) => Number(v);
  const nr = SYSCALL_NUMBERS[arch];
  const u64 = (v: number) => BigInt.asUintN(64, BigInt(v));
  const addr = (b: Uint8Array) => (b.length === 0 ? 0n : ptrOf(b));
  const sc = (n: number, a1 = 0n, a2 = 0n, a3 = 0n, a4 = 0n, a5 = 0n): number =>
    num(s.syscall(n, a1, a2, a3, a4, a5, 0n));
  return {
    syscall: (n, a1, a2, a3, a4, a5) => num(s.syscall(n, a1, a2, a3, a4, a5, 0n)),
    ioctl: (fd, req, arg) => sc(nr.ioctl, u64(fd), u64(req), arg),
    mmap: (at, len, prot, flags, fd, off) => {
      const r = s.syscall(nr.mmap, at, BigInt(len), u64(prot), u64(flags), u64(fd), u64(off));
      return BigInt.asUintN(64, BigInt(r));
    },
    munmap: (at, len) => sc(nr.munmap, at, BigInt(len)),
    close: (fd) => sc(nr.close, u64(fd)),
    read: (fd, buf, n) => sc(nr.read, u64(fd), addr(buf), BigInt(n)),
    write: (fd, buf, n) => sc(nr.write, u64(fd), addr(buf), BigInt(n)),
    openat: (dirfd, path, flags, mode) =>
      sc(nr.openat, u64(dirfd), addr(path), u64(flags), u64(mode)),
    epoll_create1: (flags) => sc(nr.epoll_create1, u64(flags)),
    epoll_ctl: (epfd, op, fd, ev) => sc(nr.epoll_ctl, u64(epfd), u64(op), u64(fd), addr(ev)),
    epoll_wait: (epfd, ev, max, timeout) => s.epoll_wait(epfd, ev, max, timeout),
    mount: (src, dst, fs, flags, data) =>
      sc(nr.mount, addr(src), addr(dst), addr(fs), u64(flags), data === null ? 0n : addr(data)),
    umount2: (target, flags) => sc(nr.umount2, addr(target), u64(flags)),
    setns: (fd, nstype) => sc(nr.setns, u64(fd), u64(nstype)),
    socket: (d, t, p) => sc(nr.socket, u64(d), u64(t), u64(p)),
    bind: (fd, sa, len) => sc(nr.bind, u64(fd), addr(sa), u64(len)),
    setsockopt: (fd, level, name, val, len) =>
      sc(nr.setsockopt, u64(fd), u64(level), u64(name), addr(val), u64(len)),
    getpid: () => sc(nr.getpid),
    if_nametoindex: (name) => s.if_nametoindex(name),
    sysconf: (name) => num(s.sysconf(name)),
    uname: (buf) => sc(nr.uname, addr(buf)),
  };
}

const enc = new TextEncoder();

/** A NUL-terminated copy of a string. */
export function cstr(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Decodes a NUL-terminated field of `len` bytes at `off`. */
function field(buf: Uint8Array, off: number, len: number): string {
  const b = buf.subarray(off, off + len);
  const z = b.indexOf(0);
  return new TextDecoder().decode(z < 0 ? b : b.subarray(0, z));
}

const MAP_FAILED = (1n << 64n) - 1n;

/**
 * Builds a {@linkcode Sys} over one runtime's raw calls.
 *
 * @param runtime `deno` or `bun`.
 * @param arch the architecture (selects the syscall numbers).
 * @param c the raw calls.
 * @returns the entry point.
 */
export function makeSys(runtime: string, arch: Arch, c: RawLibc): Sys {
  const nr = SYSCALL_NUMBERS[arch];
  const check = (call: string, ret: number): number => {
    if (ret < 0) throw syscallError(call, c.errno());
    return ret;
  };
  const sys: Sys = {
    runtime,
    arch,
    bpf(cmd, attr) {
      const ret = c.syscall(nr.bpf, BigInt(cmd), c.ptrOf(attr), BigInt(attr.length), 0n, 0n);
      if (ret < 0) throw syscallError(`bpf(${bpfCmdName(cmd)})`, c.errno());
      return ret;
    },
    perfEventOpen(attr, pid, cpu, groupFd, flags) {
      const ret = c.syscall(
        nr.perf_event_open,
        c.ptrOf(attr),
        BigInt.asUintN(64, BigInt(pid)),
        BigInt.asUintN(64, BigInt(cpu)),
        BigInt.asUintN(64, BigInt(groupFd)),
        BigInt(flags),
      );
      return check("perf_event_open", ret);
    },
    ioctl(fd, request, arg) {
      return check("ioctl", c.ioctl(fd, request, BigInt.asUintN(64, BigInt(arg))));
    },
    mmap(length, prot, flags, fd, offset, at) {
      const addr = c.mmap(at ?? 0n, length, prot, flags, fd, offset);
      if (addr === MAP_FAILED || addr === -1n) throw syscallError("mmap", c.errno());
      return addr;
    },
    munmap(addr, length) {
      check("munmap", c.munmap(addr, length));
    },
    madvise(addr, length, advice) {
      check("madvise", c.syscall(nr.madvise, addr, BigInt(length), BigInt(advice), 0n, 0n));
    },
    view(addr, length) {
      return c.view(addr, length);
    },
    close(fd) {
      check("close", c.close(fd));
    },
    read(fd, buf) {
      return check("read", c.read(fd, buf, buf.length));
    },
    write(fd, buf) {
      return check("write", c.write(fd, buf, buf.length));
    },
    open(path, flags, mode = 0) {
      return check(`open(${path})`, c.openat(Libc.AT_FDCWD, cstr(path), flags, mode));
    },
    epollCreate(flags) {
      return check("epoll_create1", c.epoll_create1(flags));
    },
    epollCtl(epfd, op, fd, events, data) {
      check("epoll_ctl", c.epoll_ctl(epfd, op, fd, encodeEpollEvent(arch, events, data)));
    },
    epollWait(epfd, events, timeoutMs) {
      const max = Math.floor(events.length / (arch === "x86_64" ? 12 : 16));
      return check("epoll_wait", c.epoll_wait(epfd, events, max, timeoutMs));
    },
    async epollWaitAsync(epfd, events, timeoutMs) {
      const max = Math.floor(events.length / (arch === "x86_64" ? 12 : 16));
      if (c.epoll_wait_async !== undefined) {
        const n = await c.epoll_wait_async(epfd, events, max, timeoutMs);
        // errno belongs to the helper thread: ask again without waiting to learn the error.
        return n >= 0 ? n : check("epoll_wait", c.epoll_wait(epfd, events, max, 0));
      }
      // No way to block off-thread: poll without waiting, sleeping a little longer each round.
      const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
      for (let nap = 1;; nap = Math.min(nap * 2, 32)) {
        const n = check("epoll_wait", c.epoll_wait(epfd, events, max, 0));
        const left = deadline - Date.now();
        if (n > 0 || left <= 0) return n;
        await new Promise((r) => setTimeout(r, Math.min(nap, left)));
      }
    },
    mount(source, target, fstype, flags, data) {
      const d = data === undefined ? null : cstr(data);
      check(`mount(${target})`, c.mount(cstr(source), cstr(target), cstr(fstype), flags, d));
    },
    umount(target, flags = 0) {
      check(`umount(${target})`, c.umount2(cstr(target), flags));
    },
    setns(fd, nstype) {
      check("setns", c.setns(fd, nstype));
    },
    socket(domain, type, protocol) {
      return check("socket", c.socket(domain, type, protocol));
    },
    bind(fd, addr) {
      check("bind", c.bind(fd, addr, addr.length));
    },
    setsockopt(fd, level, name, value) {
      check("setsockopt", c.setsockopt(fd, level, name, value, value.length));
    },
    getpid() {
      return c.getpid();
    },
    ifNameToIndex(name) {
      return c.if_nametoindex(cstr(name));
    },
    sysconf(name) {
      return check("sysconf", c.sysconf(name));
    },
    uname(): Uname {
      const buf = new Uint8Array(65 * 6);
      check("uname", c.uname(buf));
      return {
        sysname: field(buf, 0, 65),
        nodename: field(buf, 65, 65),
        release: field(buf, 130, 65),
        version: field(buf, 195, 65),
        machine: field(buf, 260, 65),
      };
    },
    ptrOf(buf) {
      return buf.length === 0 ? 0n : c.ptrOf(buf);
    },
  };
  return sys;
}
