/**
 * The part of the libc adapters both runtimes share: given the raw libc calls of one runtime, builds
 * the {@linkcode Sys} object (errno handling, strings, syscall numbers).
 *
 * @module
 */
import { Libc } from "./constants.ts";
import { type Arch, SYSCALL_NUMBERS } from "./symbols.ts";
import {
  bpfCmdName,
  encodeEpollEvent,
  keepAlive,
  type Sys,
  syscallError,
  type Uname,
} from "./sys.ts";

/**
 * The raw calls one runtime provides; integers in, integers out, errno not yet read. Every plain
 * system call goes through `syscall()` by number (see {@linkcode makeSys}); the others are what
 * only libc does, or what a runtime does its own way.
 */
export interface RawLibc {
  syscall(
    nr: number | bigint,
    a1: bigint | number,
    a2: bigint | number,
    a3: bigint | number,
    a4: bigint | number,
    a5: bigint | number,
    a6: bigint | number,
  ): number;
  /**
   * `syscall(nr, a1, a2, a3)` for a call whose result fits an int, where a runtime has a cheaper
   * binding for it than `syscall` (Deno: no BigInt per result).
   */
  syscall_int?(nr: bigint, a1: bigint, a2: bigint, a3: bigint): number;
  epoll_wait(epfd: number, ev: Uint8Array, max: number, timeout: number): number;
  /** epoll_wait off the JavaScript thread (Deno's nonblocking FFI, a worker thread on Bun). */
  epoll_wait_async?(epfd: number, ev: Uint8Array, max: number, timeout: number): Promise<number>;
  if_nametoindex(name: Uint8Array): number;
  sysconf(name: number): number;
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
 * `symbols.ts`): 64-bit arguments go in as bigints, `long` results come back as numbers.
 *
 * @param s the symbols `dlopen` returned.
 * @returns every call of {@linkcode RawLibc} but the {@linkcode RuntimeCalls}.
 */
// deno-lint-ignore no-explicit-any
export function libcCalls(s: Record<string, (...a: any[]) => any>): Omit<RawLibc, RuntimeCalls> {
  return {
    syscall: (n, a1, a2, a3, a4, a5, a6) => Number(s.syscall(n, a1, a2, a3, a4, a5, a6)),
    epoll_wait: (epfd, ev, max, timeout) => s.epoll_wait(epfd, ev, max, timeout),
    if_nametoindex: (name) => s.if_nametoindex(name),
    sysconf: (name) => Number(s.sysconf(name)),
  };
}

/** Bigints of the small numbers `bpfRaw` passes (commands and attr sizes), made once. */
const SMALL: readonly bigint[] = Array.from({ length: 257 }, (_, i) => BigInt(i));

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
  const bpfNrBig = BigInt(nr.bpf);
  const u64 = (v: number | bigint) => BigInt.asUintN(64, BigInt(v));
  const addr = (b: Uint8Array | null) => (b === null || b.length === 0 ? 0n : c.ptrOf(b));
  // Every plain system call goes through libc's syscall(), bound for bpf() anyway: on Deno each
  // bound symbol costs about 0.15 ms when first used, which a first load (and attach) would pay.
  const sc = (n: number, a1 = 0n, a2 = 0n, a3 = 0n, a4 = 0n, a5 = 0n, a6 = 0n): number =>
    c.syscall(n, a1, a2, a3, a4, a5, a6);
  // The same with buffers passed by address, kept reachable until the call has returned.
  const scb = (keep: unknown[], n: number, ...a: bigint[]): number => {
    try {
      return sc(n, ...a);
    } finally {
      keepAlive(keep);
    }
  };
  // bpf() on map elements: the runtime's int-result binding where it has one, chosen once.
  const bpfCall = c.syscall_int !== undefined
    ? (n: bigint, a1: bigint, a2: bigint, a3: bigint) => c.syscall_int!(n, a1, a2, a3)
    : (n: bigint, a1: bigint, a2: bigint, a3: bigint) => c.syscall(n, a1, a2, a3, 0n, 0n, 0n);
  const check = (call: string, ret: number): number => {
    if (ret < 0) throw syscallError(call, c.errno());
    return ret;
  };
  const sys: Sys = {
    runtime,
    arch,
    bpf(cmd, attr) {
      const ret = scb([attr], nr.bpf, BigInt(cmd), c.ptrOf(attr), BigInt(attr.length));
      if (ret < 0) throw syscallError(`bpf(${bpfCmdName(cmd)})`, c.errno());
      return ret;
    },
    bpfRaw(cmd, attr, size) {
      // Arguments go as bigints made once (Deno's fast FFI path takes bigints for 64-bit
      // parameters; a number there is slower, and making a bigint per call costs an allocation).
      const ret = bpfCall(bpfNrBig, SMALL[cmd] ?? BigInt(cmd), attr, SMALL[size] ?? BigInt(size));
      return ret < 0 ? -c.errno() : ret;
    },
    perfEventOpen(attr, pid, cpu, groupFd, flags) {
      const ret = scb(
        [attr],
        nr.perf_event_open,
        c.ptrOf(attr),
        u64(pid),
        u64(cpu),
        u64(groupFd),
        u64(flags),
      );
      return check("perf_event_open", ret);
    },
    ioctl(fd, request, arg) {
      return check("ioctl", sc(nr.ioctl, u64(fd), u64(request), u64(arg)));
    },
    mmap(length, prot, flags, fd, offset, at) {
      const ret = sc(nr.mmap, at ?? 0n, u64(length), u64(prot), u64(flags), u64(fd), u64(offset));
      if (ret === -1) throw syscallError("mmap", c.errno());
      return u64(ret);
    },
    munmap(at, length) {
      check("munmap", sc(nr.munmap, at, u64(length)));
    },
    madvise(at, length, advice) {
      check("madvise", sc(nr.madvise, at, u64(length), u64(advice)));
    },
    view(at, length) {
      return c.view(at, length);
    },
    close(fd) {
      check("close", sc(nr.close, u64(fd)));
    },
    read(fd, buf) {
      return check("read", scb([buf], nr.read, u64(fd), addr(buf), u64(buf.length)));
    },
    write(fd, buf) {
      return check("write", scb([buf], nr.write, u64(fd), addr(buf), u64(buf.length)));
    },
    pread(fd, buf, offset) {
      return check(
        "pread",
        scb([buf], nr.pread64, u64(fd), addr(buf), u64(buf.length), u64(offset)),
      );
    },
    fstatMode(fd) {
      // st_mode: byte 24 of struct stat on x86_64 (after st_nlink), byte 16 on arm64.
      const st = new Uint8Array(144);
      check("fstat", scb([st], nr.fstat, u64(fd), addr(st)));
      return new DataView(st.buffer).getUint32(arch === "x86_64" ? 24 : 16, true);
    },
    fstatSize(fd) {
      // st_size is at byte 48 of struct stat on x86_64 and on arm64 (144 and 128 bytes long).
      const st = new Uint8Array(144);
      check("fstat", scb([st], nr.fstat, u64(fd), addr(st)));
      return Number(new DataView(st.buffer).getBigInt64(48, true));
    },
    readlink(path) {
      const p = cstr(path);
      const out = new Uint8Array(4096);
      const n = check(
        `readlink(${path})`,
        scb([p, out], nr.readlinkat, u64(Libc.AT_FDCWD), addr(p), addr(out), u64(out.length)),
      );
      return new TextDecoder().decode(out.subarray(0, n));
    },
    mkdir(path, mode) {
      const p = cstr(path);
      check(`mkdir(${path})`, scb([p], nr.mkdirat, u64(Libc.AT_FDCWD), addr(p), u64(mode)));
    },
    unlink(path) {
      const p = cstr(path);
      check(`unlink(${path})`, scb([p], nr.unlinkat, u64(Libc.AT_FDCWD), addr(p), 0n));
    },
    statfsType(path) {
      // struct statfs starts with f_type (a long); the whole struct is 120 bytes on 64-bit.
      const p = cstr(path);
      const st = new Uint8Array(128);
      check(`statfs(${path})`, scb([p, st], nr.statfs, addr(p), addr(st)));
      return Number(new DataView(st.buffer).getBigInt64(0, true));
    },
    open(path, flags, mode = 0) {
      const p = cstr(path);
      return check(
        `open(${path})`,
        scb([p], nr.openat, u64(Libc.AT_FDCWD), addr(p), u64(flags), u64(mode)),
      );
    },
    eventfd(initval, flags) {
      return check("eventfd2", sc(nr.eventfd2, u64(initval), u64(flags)));
    },
    epollCreate(flags) {
      return check("epoll_create1", sc(nr.epoll_create1, u64(flags)));
    },
    epollCtl(epfd, op, fd, events, data) {
      const ev = encodeEpollEvent(arch, events, data);
      check("epoll_ctl", scb([ev], nr.epoll_ctl, u64(epfd), u64(op), u64(fd), addr(ev)));
    },
    epollWait(epfd, events, timeoutMs) {
      const max = Math.floor(events.length / (arch === "x86_64" ? 12 : 16));
      return check("epoll_wait", c.epoll_wait(epfd, events, max, timeoutMs));
    },
    async epollWaitAsync(epfd, events, timeoutMs) {
      const max = Math.floor(events.length / (arch === "x86_64" ? 12 : 16));
      if (c.epoll_wait_async !== undefined) {
        const n = await c.epoll_wait_async(epfd, events, max, timeoutMs);
        if (n >= 0) return n;
        // errno belongs to the helper thread: ask again without waiting to learn the error. When
        // that call succeeds, the wait's error was transient (a signal): report it as EINTR, so
        // that the caller waits again for the time left instead of taking it for a timeout.
        const again = check("epoll_wait", c.epoll_wait(epfd, events, max, 0));
        if (again > 0) return again;
        throw syscallError("epoll_wait", 4);
      }
      // No way to block off-thread (another runtime): poll, sleeping a little longer each round.
      const deadline = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
      for (let nap = 1;; nap = Math.min(nap * 2, 32)) {
        const n = check("epoll_wait", c.epoll_wait(epfd, events, max, 0));
        const left = deadline - Date.now();
        if (n > 0 || left <= 0) return n;
        await new Promise((r) => setTimeout(r, Math.min(nap, left)));
      }
    },
    mount(source, target, fstype, flags, data) {
      const [src, dst, fs] = [cstr(source), cstr(target), cstr(fstype)];
      const d = data === undefined ? null : cstr(data);
      check(
        `mount(${target})`,
        scb([src, dst, fs, d], nr.mount, addr(src), addr(dst), addr(fs), u64(flags), addr(d)),
      );
    },
    umount(target, flags = 0) {
      const t = cstr(target);
      check(`umount(${target})`, scb([t], nr.umount2, addr(t), u64(flags)));
    },
    setns(fd, nstype) {
      check("setns", sc(nr.setns, u64(fd), u64(nstype)));
    },
    socket(domain, type, protocol) {
      return check("socket", sc(nr.socket, u64(domain), u64(type), u64(protocol)));
    },
    bind(fd, sa) {
      check("bind", scb([sa], nr.bind, u64(fd), addr(sa), u64(sa.length)));
    },
    setsockopt(fd, level, name, value) {
      const args = [u64(fd), u64(level), u64(name), addr(value), u64(value.length)] as const;
      check("setsockopt", scb([value], nr.setsockopt, ...args));
    },
    getpid() {
      return sc(nr.getpid);
    },
    ifNameToIndex(name) {
      return c.if_nametoindex(cstr(name));
    },
    sysconf(name) {
      return check("sysconf", c.sysconf(name));
    },
    uname(): Uname {
      const buf = new Uint8Array(65 * 6);
      check("uname", scb([buf], nr.uname, addr(buf)));
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
