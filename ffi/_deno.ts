/**
 * The Deno adapter: opens libc with `Deno.dlopen` and implements {@linkcode Sys} over it.
 * Loaded only on Deno, by `runtime.ts`.
 *
 * @module
 */
import { makeSys } from "./_common.ts";
import { denoSymbols } from "./symbols.ts";
import type { Sys } from "./sys.ts";

/**
 * Opens libc and returns the Deno implementation of {@linkcode Sys}.
 *
 * @returns the entry point.
 * @throws whatever `Deno.dlopen` throws (`NotCapable` without `--allow-ffi`).
 */
export function denoSys(): Sys {
  // deno-lint-ignore no-explicit-any
  const lib = Deno.dlopen("libc.so.6", denoSymbols() as any);
  // deno-lint-ignore no-explicit-any
  const s = lib.symbols as Record<string, (...a: any[]) => any>;
  const num = (v: number | bigint) => Number(v);
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  const pointer = (addr: bigint) => Deno.UnsafePointer.create(addr);
  return makeSys("deno", arch, {
    syscall: (nr, a1, a2, a3, a4, a5) => num(s.syscall(nr, a1, a2, a3, a4, a5)),
    ioctl: (fd, req, arg) => s.ioctl(fd, BigInt(req), arg),
    mmap: (addr, len, prot, flags, fd, off) =>
      BigInt.asUintN(64, BigInt(s.mmap(addr, BigInt(len), prot, flags, fd, BigInt(off)))),
    munmap: (addr, len) => s.munmap(addr, BigInt(len)),
    close: (fd) => s.close(fd),
    read: (fd, buf, n) => num(s.read(fd, buf, BigInt(n))),
    write: (fd, buf, n) => num(s.write(fd, buf, BigInt(n))),
    openat: (dirfd, path, flags, mode) => s.openat(dirfd, path, flags, mode),
    epoll_create1: (flags) => s.epoll_create1(flags),
    epoll_ctl: (epfd, op, fd, ev) => s.epoll_ctl(epfd, op, fd, ev),
    epoll_wait: (epfd, ev, max, timeout) => s.epoll_wait(epfd, ev, max, timeout),
    epoll_wait_async: (epfd, ev, max, timeout) => s.epoll_wait_nonblocking(epfd, ev, max, timeout),
    mount: (src, dst, fs, flags, data) => s.mount(src, dst, fs, BigInt(flags), data),
    umount2: (target, flags) => s.umount2(target, flags),
    setns: (fd, nstype) => s.setns(fd, nstype),
    socket: (d, t, p) => s.socket(d, t, p),
    bind: (fd, addr, len) => s.bind(fd, addr, len),
    setsockopt: (fd, level, name, val, len) => s.setsockopt(fd, level, name, val, len),
    getpid: () => s.getpid(),
    if_nametoindex: (name) => s.if_nametoindex(name),
    sysconf: (name) => num(s.sysconf(name)),
    uname: (buf) => s.uname(buf),
    errno: () => {
      const loc = pointer(BigInt(s.__errno_location()));
      return loc === null ? 0 : new Deno.UnsafePointerView(loc).getInt32();
    },
    view: (addr, len) => {
      const p = pointer(addr);
      if (p === null) throw new RangeError("Cannot view address 0");
      return Deno.UnsafePointerView.getArrayBuffer(p, len);
    },
    ptrOf: (buf) => {
      // Reading `.buffer` first moves a small (on-heap) typed array's bytes off the V8 heap for
      // good, so the address stays valid while the array lives.
      void buf.buffer;
      return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
    },
  });
}
