/**
 * The one syscall entry point of tsbpf: the runtime-neutral {@linkcode Sys} interface that the Deno
 * and Bun adapters implement over libc, the memory-mapping handle, the error helper and a fault
 * injecting wrapper for tests.
 *
 * @module
 */
import { SyscallError } from "../errors.ts";
import { BpfCmd, Libc } from "./constants.ts";
import { errnoDescription, errnoName } from "./errno.ts";
import type { Arch } from "./symbols.ts";

/** The name of a `bpf_cmd` value, for error messages (`BPF_MAP_CREATE`). */
export function bpfCmdName(cmd: number): string {
  for (const [k, v] of Object.entries(BpfCmd)) if (v === cmd) return k;
  return `cmd ${cmd}`;
}

/**
 * Builds the {@linkcode SyscallError} for a failed call.
 *
 * @param call the call, such as `bpf(BPF_MAP_CREATE)` or `perf_event_open`.
 * @param errno the errno value.
 * @param hint an optional sentence saying what to do.
 * @returns the error, with `call`, `errno` and `code` set.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syscallError } from "./sys.ts";
 * const e = syscallError("close", 9);
 * assert(e.code === "EBADF" && e.message.startsWith("close failed: EBADF"));
 * ```
 */
export function syscallError(call: string, errno: number, hint?: string): SyscallError {
  const code = errnoName(errno);
  const msg = `${call} failed: ${code} (${errnoDescription(errno)})${hint ? `; ${hint}` : ""}`;
  return new SyscallError(msg, { call, errno, code });
}

/** `struct utsname`, decoded. */
export interface Uname {
  /** `Linux`. */
  sysname: string;
  /** The host name. */
  nodename: string;
  /** The kernel release, such as `6.18.44-fc-v669`. */
  release: string;
  /** The kernel build string. */
  version: string;
  /** The machine, such as `x86_64`. */
  machine: string;
}

/**
 * Every operating-system call tsbpf makes. Implemented once for Deno (`_deno.ts`) and once for Bun
 * (`_bun.ts`); get the process's implementation with `getSys()` from `runtime.ts`.
 *
 * Methods that return a number return the call's non-negative result and throw a
 * {@linkcode SyscallError} (with the call's name, errno and its name) when the call fails.
 *
 * Buffers (`Uint8Array`) passed in are read or written by the kernel during the call only. Addresses
 * placed inside a buffer (the pointers inside `bpf_attr`) come from {@linkcode Sys.ptrOf}; the buffer
 * they point to must stay reachable from JavaScript until the call returns.
 */
export interface Sys {
  /** `deno` or `bun`, or a wrapper's name. */
  readonly runtime: string;
  /** The CPU architecture. */
  readonly arch: Arch;
  /**
   * `bpf(cmd, attr, attr.length)`.
   *
   * @returns the result (an fd for commands that make one, else 0).
   * @throws {SyscallError} with `call` = `bpf(BPF_...)`.
   */
  bpf(cmd: number, attr: Uint8Array): number;
  /**
   * `bpf(cmd, attr, size)` for hot loops: the attr is given by address (from {@linkcode Sys.ptrOf},
   * its buffer kept reachable by the caller), and a failure comes back as `-errno` instead of a
   * thrown error, so that an expected answer (ENOENT at the end of a map) costs no exception.
   *
   * @returns the result (non-negative), or the negated errno.
   */
  bpfRaw(cmd: number, attr: bigint, size: number): number;
  /** `perf_event_open(attr, pid, cpu, group_fd, flags)`; returns the fd. */
  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** `ioctl(fd, request, arg)`; `arg` is an integer or an address. */
  ioctl(fd: number, request: number, arg: number | bigint): number;
  /**
   * `mmap(addr, length, prot, flags, fd, offset)`; returns the address. `addr` defaults to 0n (the
   * kernel picks); with `MAP_FIXED` (0x10) in `flags` it replaces whatever is mapped there.
   */
  mmap(
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
    addr?: bigint,
  ): bigint;
  /** `munmap(addr, length)`. */
  munmap(addr: bigint, length: number): void;
  /** `madvise(addr, length, advice)`; `addr` is page-aligned. */
  madvise(addr: bigint, length: number, advice: number): void;
  /**
   * An ArrayBuffer over `length` bytes of this process's memory at `addr`, without a copy. Valid
   * only while the memory stays mapped: never touch it after `munmap`.
   */
  view(addr: bigint, length: number): ArrayBuffer;
  /** `close(fd)`. */
  close(fd: number): void;
  /** `read(fd, buf, buf.length)`; returns the number of bytes read. */
  read(fd: number, buf: Uint8Array): number;
  /** `write(fd, buf, buf.length)`; returns the number of bytes written. */
  write(fd: number, buf: Uint8Array): number;
  /** `openat(AT_FDCWD, path, flags, mode)`; returns the fd. */
  open(path: string, flags: number, mode?: number): number;
  /** `eventfd2(initval, flags)`; returns the fd (EFD_CLOEXEC and EFD_NONBLOCK are 0x80000, 0x800). */
  eventfd(initval: number, flags: number): number;
  /** `pread64(fd, buf, buf.length, offset)`; returns the number of bytes read. */
  pread(fd: number, buf: Uint8Array, offset: number): number;
  /** `fstat(fd)`: the file's `st_mode` (type and permission bits). */
  fstatMode(fd: number): number;
  /** `fstat(fd)`: the file's `st_size`. */
  fstatSize(fd: number): number;
  /** `readlinkat(AT_FDCWD, path, ...)`: the target of a symbolic link. */
  readlink(path: string): string;
  /** `mkdirat(AT_FDCWD, path, mode)`. */
  mkdir(path: string, mode: number): void;
  /** `unlinkat(AT_FDCWD, path, 0)`: removes a file (not a directory). */
  unlink(path: string): void;
  /** `statfs(path)`: the filesystem type (`f_type`). */
  statfsType(path: string): number;
  /** `epoll_create1(flags)`; returns the fd. */
  epollCreate(flags: number): number;
  /** `epoll_ctl(epfd, op, fd, {events, data})`. */
  epollCtl(epfd: number, op: number, fd: number, events: number, data: bigint): void;
  /**
   * `epoll_wait(epfd, events, max, timeoutMs)`: blocks the thread up to `timeoutMs` (-1: forever).
   * Returns how many events it wrote; decode them with {@linkcode decodeEpollEvents}.
   */
  epollWait(epfd: number, events: Uint8Array, timeoutMs: number): number;
  /**
   * `epoll_wait` without blocking the JavaScript thread: on Deno the call runs on a helper thread
   * (nonblocking FFI); on Bun in a worker thread. Either way it returns when the epoll fd has
   * events (or at the timeout), and timers and I/O go on meanwhile. Resolves with the number of
   * events written (0 on timeout). Leave `events` alone until then. To end a wait early, make one
   * of the fds in the set ready (an eventfd): closing the epoll fd does not end a wait.
   */
  epollWaitAsync(epfd: number, events: Uint8Array, timeoutMs: number): Promise<number>;
  /** `mount(source, target, fstype, flags, data)`. */
  mount(source: string, target: string, fstype: string, flags: number, data?: string): void;
  /** `umount2(target, flags)`. */
  umount(target: string, flags?: number): void;
  /** `setns(fd, nstype)`. */
  setns(fd: number, nstype: number): void;
  /** `socket(domain, type, protocol)`; returns the fd. */
  socket(domain: number, type: number, protocol: number): number;
  /** `bind(fd, addr, addr.length)`. */
  bind(fd: number, addr: Uint8Array): void;
  /** `setsockopt(fd, level, name, value, value.length)`. */
  setsockopt(fd: number, level: number, name: number, value: Uint8Array): void;
  /** `getpid()`. */
  getpid(): number;
  /** `if_nametoindex(name)`; returns 0 when there is no such interface. */
  ifNameToIndex(name: string): number;
  /** `sysconf(name)`. */
  sysconf(name: number): number;
  /** `uname()`. */
  uname(): Uname;
  /**
   * The address of a buffer's first byte, to place inside `bpf_attr` and similar structs.
   * The buffer must stay alive (referenced from JavaScript) until the call that uses the address
   * returns. An empty buffer gives 0n.
   */
  ptrOf(buf: Uint8Array): bigint;
}

/** Size of `struct epoll_event` on an architecture: packed (12 bytes) on x86_64, 16 on aarch64. */
export function epollEventSize(arch: Arch): number {
  return arch === "x86_64" ? 12 : 16;
}

/**
 * Encodes a `struct epoll_event`.
 *
 * @param arch the architecture (the struct is packed on x86_64 only).
 * @param events the event mask (`EPOLLIN`...).
 * @param data the 64-bit user data.
 * @returns the bytes.
 */
export function encodeEpollEvent(arch: Arch, events: number, data: bigint): Uint8Array {
  const b = new Uint8Array(epollEventSize(arch));
  const dv = new DataView(b.buffer);
  dv.setUint32(0, events >>> 0, true);
  dv.setBigUint64(arch === "x86_64" ? 4 : 8, BigInt.asUintN(64, data), true);
  return b;
}

/**
 * Decodes the first `n` events `epoll_wait` wrote.
 *
 * @param arch the architecture.
 * @param buf the buffer given to `epollWait`.
 * @param n its result.
 * @returns one `{events, data}` per ready fd.
 */
export function decodeEpollEvents(
  arch: Arch,
  buf: Uint8Array,
  n: number,
): { events: number; data: bigint }[] {
  const size = epollEventSize(arch);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({
      events: dv.getUint32(i * size, true),
      data: dv.getBigUint64(i * size + (arch === "x86_64" ? 4 : 8), true),
    });
  }
  return out;
}

/**
 * A memory mapping made by {@linkcode Mapping.map}: its address, length and a view. `close()` unmaps
 * it and is safe to call twice; after it, `bytes` must not be used (the view would fault).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapCreate, mapLookup } from "./bpf.ts";
 * import { getSys } from "./runtime.ts";
 * import { Mapping } from "./sys.ts";
 * // An ARRAY map made with BPF_F_MMAPABLE: its values are the mapped bytes.
 * using fd = mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 1, flags: 1024 });
 * using m = Mapping.map(getSys(), fd.value, 4096, { write: true });
 * m.bytes[0] = 42;
 * const value = new Uint8Array(8);
 * assert(mapLookup(fd, new Uint8Array(4), value) && value[0] === 42);
 * ```
 */
export class Mapping {
  /** The address of the first byte. */
  readonly addr: bigint;
  /** The length in bytes. */
  readonly length: number;
  #sys: Sys;
  #bytes: Uint8Array | undefined;

  private constructor(sys: Sys, addr: bigint, length: number) {
    this.#sys = sys;
    this.addr = addr;
    this.length = length;
    this.#bytes = new Uint8Array(sys.view(addr, length));
  }

  /**
   * Maps `length` bytes of an fd, shared (`MAP_SHARED`).
   *
   * @param sys the syscall entry point.
   * @param fd the fd (a BPF_F_MMAPABLE map, a ring buffer, a perf buffer).
   * @param length bytes to map, a multiple of the page size.
   * @param opts `write` (default false) maps it writable; `offset` (default 0) in bytes.
   * @returns the mapping.
   * @throws {SyscallError} `mmap` failed.
   */
  static map(
    sys: Sys,
    fd: number,
    length: number,
    opts: { write?: boolean; offset?: number } = {},
  ): Mapping {
    const prot = opts.write ? Libc.PROT_READ | Libc.PROT_WRITE : Libc.PROT_READ;
    const addr = sys.mmap(length, prot, Libc.MAP_SHARED, fd, opts.offset ?? 0);
    return new Mapping(sys, addr, length);
  }

  /** The mapped bytes. Throws once the mapping is closed. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new RangeError("The mapping is closed");
    return this.#bytes;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#bytes === undefined;
  }

  /** Unmaps it. Safe to call twice. */
  close(): void {
    if (this.#bytes === undefined) return;
    this.#bytes = undefined;
    this.#sys.munmap(this.addr, this.length);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Fault hooks for {@linkcode withFaults}: each one sees a call's arguments and its 1-based count
 * for that method, and returns an errno to fail the call with, or `undefined` to let it through.
 */
export interface FaultHooks {
  /** Decides about `bpf(cmd, attr)`. */
  bpf?: (cmd: number, n: number, attr: Uint8Array) => number | undefined;
  /** Decides about `perf_event_open`. */
  perfEventOpen?: (n: number) => number | undefined;
  /** Decides about `ioctl(fd, request)`. */
  ioctl?: (request: number, n: number) => number | undefined;
  /** Decides about `mmap`. */
  mmap?: (n: number) => number | undefined;
  /**
   * Decides about `close(fd)`. As on Linux, where `close` releases the fd even when it reports an
   * error (EINTR, EIO), the fd is closed and then the error is thrown.
   */
  close?: (fd: number, n: number) => number | undefined;
  /**
   * Decides about `epoll_wait`, blocking or not (`epollWait` and `epollWaitAsync` share the
   * count). A failed wait returns at once, with no event consumed.
   */
  epollWait?: (n: number) => number | undefined;
  /**
   * Decides about every call that reaches the operating system, after the hook of its own kind
   * above (if any) let it through: `call` is the name a failure reports (`bpf(BPF_MAP_CREATE)`,
   * `perf_event_open`, `openat`, `socket`, `epoll_ctl`, `munmap`...), `n` the 1-based count of
   * calls of that name. `close` and `munmap` take effect and then report the error (Linux's
   * `close` releases the fd whatever it returns; a failed `munmap` is simulated after the fact, to
   * check that cleanup goes on after an error). `if_nametoindex` fails by returning 0 and
   * `bpfRaw` by returning the negated errno, as the real calls do. Not covered: `view`, `ptrOf`,
   * `getpid`, `sysconf` and `uname`, which do not fail.
   */
  syscall?: (call: string, n: number) => number | undefined;
}

/**
 * Wraps a {@linkcode Sys} so that tests can make chosen calls fail with a chosen errno, without
 * reaching the kernel. Every other call goes through unchanged.
 *
 * @param sys the real entry point.
 * @param hooks which calls to fail.
 * @returns the wrapped entry point; `runtime` is `faulty(<inner>)`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SyscallError } from "../errors.ts";
 * import { mapCreate } from "./bpf.ts";
 * import { getSys, setSys } from "./runtime.ts";
 * import { withFaults } from "./sys.ts";
 * // The second BPF_MAP_CREATE (command 0) fails with ENOMEM (12).
 * const real = getSys();
 * setSys(withFaults(real, { bpf: (cmd, n) => (cmd === 0 && n === 2 ? 12 : undefined) }));
 * try {
 *   using first = mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 });
 *   assert.throws(
 *     () => mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 1 }),
 *     (e) => e instanceof SyscallError && e.code === "ENOMEM",
 *   );
 *   // Any call by name: the first socket() fails with EPERM (1).
 *   const sys = withFaults(real, { syscall: (call, n) => (call === "socket" && n === 1 ? 1 : undefined) });
 *   assert.throws(() => sys.socket(16, 3, 0), (e) => e instanceof SyscallError && e.code === "EPERM");
 * } finally {
 *   setSys(real);
 * }
 * ```
 */
export function withFaults(sys: Sys, hooks: FaultHooks): Sys {
  const counts = new Map<string, number>();
  const next = (k: string) => {
    const n = (counts.get(k) ?? 0) + 1;
    counts.set(k, n);
    return n;
  };
  /** The errno the generic hook picks for a call, or undefined. */
  const any = (call: string) => hooks.syscall?.(call, next(`any:${call}`));
  /** The errno for a call: its own hook first, then the generic one. */
  const pick = (call: string, own?: () => number | undefined) => own?.() ?? any(call);
  const wrapped: Sys = Object.create(sys);
  Object.defineProperty(wrapped, "runtime", { value: `faulty(${sys.runtime})` });
  wrapped.bpf = (cmd, attr) => {
    const call = `bpf(${bpfCmdName(cmd)})`;
    const errno = pick(call, hooks.bpf && (() => hooks.bpf!(cmd, next(`bpf:${cmd}`), attr)));
    if (errno !== undefined) throw syscallError(call, errno);
    return sys.bpf(cmd, attr);
  };
  wrapped.bpfRaw = (cmd, attr, size) => {
    const errno = pick(
      `bpf(${bpfCmdName(cmd)})`,
      hooks.bpf &&
        (() => hooks.bpf!(cmd, next(`bpf:${cmd}`), new Uint8Array(sys.view(attr, size)))),
    );
    if (errno !== undefined) return -errno;
    return sys.bpfRaw(cmd, attr, size);
  };
  wrapped.perfEventOpen = (attr, pid, cpu, groupFd, flags) => {
    const errno = pick(
      "perf_event_open",
      hooks.perfEventOpen && (() => hooks.perfEventOpen!(next("perf"))),
    );
    if (errno !== undefined) throw syscallError("perf_event_open", errno);
    return sys.perfEventOpen(attr, pid, cpu, groupFd, flags);
  };
  wrapped.ioctl = (fd, request, arg) => {
    const errno = pick("ioctl", hooks.ioctl && (() => hooks.ioctl!(request, next("ioctl"))));
    if (errno !== undefined) throw syscallError("ioctl", errno);
    return sys.ioctl(fd, request, arg);
  };
  wrapped.mmap = (length, prot, flags, fd, offset, addr) => {
    const errno = pick("mmap", hooks.mmap && (() => hooks.mmap!(next("mmap"))));
    if (errno !== undefined) throw syscallError("mmap", errno);
    return sys.mmap(length, prot, flags, fd, offset, addr);
  };
  wrapped.close = (fd) => {
    const errno = pick("close", hooks.close && (() => hooks.close!(fd, next("close"))));
    sys.close(fd);
    if (errno !== undefined) throw syscallError("close", errno);
  };
  wrapped.munmap = (addr, length) => {
    const errno = any("munmap");
    sys.munmap(addr, length);
    if (errno !== undefined) throw syscallError("munmap", errno);
  };
  const epollHook = () => hooks.epollWait?.(next("epoll_wait"));
  wrapped.epollWait = (epfd, events, timeoutMs) => {
    const errno = pick("epoll_wait", epollHook);
    if (errno !== undefined) throw syscallError("epoll_wait", errno);
    return sys.epollWait(epfd, events, timeoutMs);
  };
  wrapped.epollWaitAsync = (epfd, events, timeoutMs) => {
    const errno = pick("epoll_wait", epollHook);
    if (errno !== undefined) return Promise.reject(syscallError("epoll_wait", errno));
    return sys.epollWaitAsync(epfd, events, timeoutMs);
  };
  wrapped.ifNameToIndex = (
    name,
  ) => (any("if_nametoindex") !== undefined ? 0 : sys.ifNameToIndex(name));
  // The rest fail without effect, under their C names.
  const plain: [keyof Sys, string][] = [
    ["madvise", "madvise"],
    ["read", "read"],
    ["write", "write"],
    ["open", "openat"],
    ["eventfd", "eventfd2"],
    ["pread", "pread64"],
    ["fstatMode", "fstat"],
    ["fstatSize", "fstat"],
    ["readlink", "readlinkat"],
    ["mkdir", "mkdirat"],
    ["unlink", "unlinkat"],
    ["statfsType", "statfs"],
    ["epollCreate", "epoll_create1"],
    ["epollCtl", "epoll_ctl"],
    ["mount", "mount"],
    ["umount", "umount2"],
    ["setns", "setns"],
    ["socket", "socket"],
    ["bind", "bind"],
    ["setsockopt", "setsockopt"],
  ];
  for (const [method, call] of plain) {
    const real = sys[method] as (...args: unknown[]) => unknown;
    Object.defineProperty(wrapped, method, {
      value: (...args: unknown[]) => {
        const errno = any(call);
        if (errno !== undefined) throw syscallError(call, errno);
        return real.apply(sys, args);
      },
      writable: true,
    });
  }
  return wrapped;
}

const sink: { value: unknown } = { value: undefined };

/**
 * Keeps values reachable up to this point of a function, so that buffers whose addresses were
 * handed to the kernel cannot be collected before the call that uses them returns.
 *
 * @param values anything.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keepAlive } from "./sys.ts";
 * const buf = new Uint8Array(8);
 * // ... pass buf's address to a system call, then:
 * assert.equal(keepAlive(buf), undefined); // buf stayed reachable until here
 * ```
 */
export function keepAlive(...values: unknown[]): void {
  sink.value = values;
  sink.value = undefined;
}
