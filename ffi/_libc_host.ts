/**
 * The host file layer ({@linkcode Host}) over libc system calls: what Deno uses once the FFI
 * permission is granted, so that tsbpf needs no other permission (Deno guards /sys, /proc and
 * every user file behind `--allow-read`, and /sys even behind `--allow-all`). Errors are
 * {@linkcode SyscallError}s, which carry `code` (`ENOENT`, `EEXIST`, ...) as the runtimes' own do.
 *
 * @module
 */
import type { Host, HostFile } from "../_host.ts";
import type { Sys } from "./sys.ts";

const O_RDONLY_CLOEXEC = 0o2000000;
const O_WRONLY_APPEND_CLOEXEC = 0o1 | 0o2000 | 0o2000000;
const O_CREAT = 0o100;
const CHUNK = 65536;
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A {@linkcode Host} whose every call is a system call through `sys`.
 *
 * @param sys the process's entry point.
 * @param gunzip the runtime's gunzip (libc has none).
 * @returns the host.
 * @example
 * ```ts
 * import { getSys } from "./runtime.ts";
 * import { libcHost } from "./_libc_host.ts";
 * const h = libcHost(getSys(), () => new Uint8Array());
 * if (!h.readText("/proc/self/status").includes("Pid:")) throw new Error("no status");
 * ```
 */
export function libcHost(sys: Sys, gunzip: (b: Uint8Array) => Uint8Array): Host {
  // A file opened for reading has nothing to flush: Linux releases the fd whatever close reports,
  // so an error there must not fail a read that succeeded.
  const closeRead = (fd: number) => {
    try {
      sys.close(fd);
    } catch {
      // released anyway
    }
  };
  const open = (path: string): HostFile => {
    const fd = sys.open(path, O_RDONLY_CLOEXEC);
    let size: number;
    try {
      size = sys.fstatSize(fd);
    } catch (e) {
      closeRead(fd);
      throw e;
    }
    return {
      size,
      read: (into) => sys.read(fd, into),
      readAt(into, position) {
        let n = 0;
        while (n < into.length) {
          const got = sys.pread(fd, into.subarray(n), position + n);
          if (got === 0) break;
          n += got;
        }
        return n;
      },
      close: () => closeRead(fd),
    };
  };
  const readFile = (path: string): Uint8Array => {
    const f = open(path);
    try {
      // procfs and sysfs report 0 (or a page) for most files: read until read() returns 0.
      let buf = new Uint8Array(f.size > 0 ? f.size + 1 : CHUNK);
      let len = 0;
      for (;;) {
        if (len === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
        }
        const n = f.read(buf.subarray(len));
        if (n === 0) break;
        len += n;
      }
      return buf.subarray(0, len);
    } finally {
      f.close();
    }
  };
  let environ: Map<string, string> | undefined;
  return {
    open,
    readFile,
    readText: (path) => dec.decode(readFile(path)),
    exists(path) {
      try {
        closeRead(sys.open(path, O_RDONLY_CLOEXEC | 0o10000000 /* O_PATH */));
        return true;
      } catch {
        return false;
      }
    },
    readable(path) {
      try {
        closeRead(sys.open(path, O_RDONLY_CLOEXEC));
        return true;
      } catch {
        return false;
      }
    },
    fileType(path) {
      // O_PATH: a FIFO is not opened for reading, so this never blocks.
      const fd = sys.open(path, O_RDONLY_CLOEXEC | 0o10000000 /* O_PATH */);
      try {
        const fmt = sys.fstatMode(fd) & 0o170000;
        return fmt === 0o100000
          ? "file"
          : fmt === 0o040000
          ? "directory"
          : fmt === 0o010000
          ? "fifo"
          : fmt === 0o020000
          ? "character device"
          : fmt === 0o060000
          ? "block device"
          : "socket";
      } finally {
        closeRead(fd);
      }
    },
    size(path) {
      const f = open(path);
      try {
        return f.size;
      } finally {
        f.close();
      }
    },
    appendText(path, text) {
      // As the runtimes' appendFile: a missing file is made (0666 less the umask).
      const fd = sys.open(path, O_WRONLY_APPEND_CLOEXEC | O_CREAT, 0o666);
      try {
        const bytes = enc.encode(text);
        const n = sys.write(fd, bytes);
        if (n !== bytes.length) throw new Error(`Short write to ${path}: ${n} of ${bytes.length}`);
      } finally {
        sys.close(fd);
      }
    },
    unlink: (path) => sys.unlink(path),
    mkdir: (path, mode) => sys.mkdir(path, mode),
    readlink: (path) => sys.readlink(path),
    fsType: (path) => sys.statfsType(path),
    env(name) {
      // The process's environment as it started, from /proc/self/environ: no --allow-env needed.
      if (environ === undefined) {
        environ = new Map();
        try {
          for (const kv of dec.decode(readFile("/proc/self/environ")).split("\0")) {
            const eq = kv.indexOf("=");
            if (eq > 0 && !environ.has(kv.slice(0, eq))) {
              environ.set(kv.slice(0, eq), kv.slice(eq + 1));
            }
          }
        } catch {
          // No procfs: behave as an empty environment.
        }
      }
      return environ.get(name);
    },
    gunzip,
  };
}
