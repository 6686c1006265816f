/**
 * The host's file access, chosen once per process: system calls through libc once `ffi/` is
 * imported (on Deno when the FFI permission is granted; always on Bun), else Deno's own `Deno.*`
 * calls on Deno and `node:fs` on Bun and Node, reached through `process.getBuiltinModule` rather
 * than a static import. This is the one place that knows which runtime it runs on
 * ({@linkcode runtimeName}).
 *
 * Why not `node:fs` everywhere: on Deno, the first `node:` module in the import graph starts the
 * Node compatibility layer, which costs a fresh process about 15-20 ms before the library does
 * anything. With no static `node:` import in the library, only the rare calls that Deno has no own
 * API for (`statfs`, gunzip) start it, and only when they run.
 *
 * Errors are the runtime's own: they carry `code` (`ENOENT`, `EEXIST`, ...) on every runtime.
 *
 * @module
 */
import type * as NodeFs from "node:fs";
import type * as NodeZlib from "node:zlib";

/** The runtime this process runs on: `deno`, `bun` or `other` (Node). */
export function runtimeName(): "deno" | "bun" | "other" {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Bun === "object" && g.Bun !== null) return "bun";
  if (typeof g.Deno === "object" && g.Deno !== null) return "deno";
  return "other";
}

/** A file opened for reading. */
export interface HostFile {
  /** The size the kernel reports (0 for most procfs and sysfs files). */
  readonly size: number;
  /** Reads up to `into.length` bytes; returns how many (0 at the end). */
  read(into: Uint8Array): number;
  /**
   * Reads `into.length` bytes from byte `position` (fewer only at the end of the file); returns
   * how many. Where a later `read()` continues is unspecified.
   */
  readAt(into: Uint8Array, position: number): number;
  /** Closes the file. */
  close(): void;
}

/** What a path is: a regular file, a directory, or something reading could block on or never end. */
export type FileType =
  | "file"
  | "directory"
  | "fifo"
  | "character device"
  | "block device"
  | "socket";

/** The file operations the library uses. */
export interface Host {
  /** Opens a file for reading. */
  open(path: string): HostFile;
  /** The whole file. */
  readFile(path: string): Uint8Array;
  /** The whole file as UTF-8 text. */
  readText(path: string): string;
  /** Whether the path exists (following symlinks); false on any error, as `fs.existsSync`. */
  exists(path: string): boolean;
  /** Whether the path can be opened for reading. */
  readable(path: string): boolean;
  /** The size stat reports. */
  size(path: string): number;
  /** What stat (following symlinks) says the path is. */
  fileType(path: string): FileType;
  /** Appends text to a file (one write, as tracefs control files need). */
  appendText(path: string, text: string): void;
  /** Removes a file. */
  unlink(path: string): void;
  /** Creates one directory. */
  mkdir(path: string, mode: number): void;
  /** The target of a symbolic link. */
  readlink(path: string): string;
  /** The filesystem type (`f_type` of statfs) of the filesystem holding the path. */
  fsType(path: string): number;
  /** An environment variable, or undefined. */
  env(name: string): string | undefined;
  /** Decompresses gzip data. */
  gunzip(bytes: Uint8Array): Uint8Array;
}

const dec = new TextDecoder();

/** Calls `read` until `into` is full or it returns 0; returns the bytes read. */
function readFully(read: (into: Uint8Array) => number, into: Uint8Array): number {
  let n = 0;
  while (n < into.length) {
    const got = read(into.subarray(n));
    if (got === 0) break;
    n += got;
  }
  return n;
}

function builtin<T>(name: string): T {
  const proc = (globalThis as {
    process?: { getBuiltinModule?: (id: string) => unknown; version?: string };
  }).process;
  const get = proc?.getBuiltinModule;
  if (typeof get !== "function") {
    throw new Error(
      `This runtime has no process.getBuiltinModule to load ${name}; use Node 20.16 or newer, Deno or Bun`,
    );
  }
  return get.call(proc, name) as T;
}

let nodeFs: typeof NodeFs | undefined;
const fsOf = (): typeof NodeFs => (nodeFs ??= builtin<typeof NodeFs>("node:fs"));
const gunzipNode = (b: Uint8Array): Uint8Array =>
  builtin<typeof NodeZlib>("node:zlib").gunzipSync(b);

function denoHost(): Host {
  return {
    open(path) {
      const f = Deno.openSync(path, { read: true });
      let size: number;
      try {
        size = f.statSync().size;
      } catch (e) {
        f.close();
        throw e;
      }
      const read = (into: Uint8Array) => f.readSync(into) ?? 0;
      return {
        size,
        read,
        readAt(into, position) {
          f.seekSync(position, Deno.SeekMode.Start);
          return readFully(read, into);
        },
        close: () => f.close(),
      };
    },
    readFile: (path) => Deno.readFileSync(path),
    readText: (path) => Deno.readTextFileSync(path),
    exists(path) {
      try {
        Deno.statSync(path);
        return true;
      } catch {
        return false;
      }
    },
    readable(path) {
      try {
        Deno.openSync(path, { read: true }).close();
        return true;
      } catch {
        return false;
      }
    },
    size: (path) => Deno.statSync(path).size,
    fileType(path) {
      const st = Deno.statSync(path);
      if (st.isFile) return "file";
      if (st.isDirectory) return "directory";
      if (st.isFifo) return "fifo";
      if (st.isCharDevice) return "character device";
      if (st.isBlockDevice) return "block device";
      return "socket";
    },
    appendText: (path, text) => Deno.writeTextFileSync(path, text, { append: true }),
    unlink: (path) => Deno.removeSync(path),
    mkdir: (path, mode) => Deno.mkdirSync(path, { mode }),
    readlink: (path) => Deno.readLinkSync(path),
    fsType: (path) => Number(fsOf().statfsSync(path).type),
    env(name) {
      try {
        return Deno.env.get(name);
      } catch {
        return undefined; // no --allow-env: as if unset
      }
    },
    gunzip: gunzipNode,
  };
}

function nodeHost(): Host {
  const fs = fsOf();
  return {
    open(path) {
      const fd = fs.openSync(path, "r");
      let size: number;
      try {
        size = fs.fstatSync(fd).size;
      } catch (e) {
        fs.closeSync(fd);
        throw e;
      }
      let at = 0;
      return {
        size,
        read: (into) => fs.readSync(fd, into, 0, into.length, null),
        readAt(into, position) {
          at = position;
          return readFully((b) => {
            const n = fs.readSync(fd, b, 0, b.length, at);
            at += n;
            return n;
          }, into);
        },
        close: () => fs.closeSync(fd),
      };
    },
    readFile: (path) => fs.readFileSync(path),
    readText: (path) => fs.readFileSync(path, "utf8"),
    exists: (path) => fs.existsSync(path),
    readable(path) {
      try {
        fs.accessSync(path, fs.constants.R_OK);
        return true;
      } catch {
        return false;
      }
    },
    size: (path) => fs.statSync(path).size,
    fileType(path) {
      const st = fs.statSync(path);
      if (st.isFile()) return "file";
      if (st.isDirectory()) return "directory";
      if (st.isFIFO()) return "fifo";
      if (st.isCharacterDevice()) return "character device";
      if (st.isBlockDevice()) return "block device";
      return "socket";
    },
    appendText: (path, text) => fs.appendFileSync(path, text),
    unlink: (path) => fs.unlinkSync(path),
    mkdir: (path, mode) => fs.mkdirSync(path, { mode }),
    readlink: (path) => fs.readlinkSync(path),
    fsType: (path) => Number(fs.statfsSync(path).type),
    env: (name) => (globalThis as { process?: { env: Record<string, string> } }).process?.env[name],
    gunzip: gunzipNode,
  };
}

let current: Host | undefined;
let sysHost: ((gunzip: (b: Uint8Array) => Uint8Array) => Host) | undefined;

/**
 * Offers a host over libc system calls (`ffi/` calls this when it is imported). On Deno, where
 * every path tsbpf reads (/sys, /proc, the user's files) needs a permission of its own, the first
 * {@linkcode host} call then picks it when the FFI permission is granted, so that `--allow-ffi`
 * is all tsbpf needs. On Bun it is picked too: loading `node:fs` costs a fresh Bun process several
 * milliseconds on its first object (environment variables still come from `process.env` there).
 * Without FFI (offline verbs), and on Node, `host()` stays the runtime's own file API.
 *
 * @param make makes the host; gets the runtime's gunzip (libc has none).
 * @example
 * ```ts
 * import { host, provideSysHost } from "./_host.ts";
 * import { libcHost } from "./ffi/_libc_host.ts";
 * import { getSys } from "./ffi/runtime.ts";
 * provideSysHost((gunzip) => libcHost(getSys(), gunzip)); // what importing ffi/runtime.ts does
 * if (!host().exists("/proc/self")) throw new Error("no /proc/self");
 * ```
 */
export function provideSysHost(make: (gunzip: (b: Uint8Array) => Uint8Array) => Host): void {
  sysHost = make;
  // A Deno host picked before ffi/ was imported (the CLI imports live code lazily) holds no state:
  // pick again on the next call.
  if (runtimeName() === "deno") current = undefined;
}

function ffiGranted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

function pickHost(): Host {
  const rt = runtimeName();
  if (rt === "bun" && sysHost !== undefined) {
    try {
      const env = (globalThis as { process?: { env: Record<string, string> } }).process?.env;
      return { ...sysHost(gunzipNode), env: (name) => env?.[name] };
    } catch {
      // libc could not be opened: node:fs names the problem on the first call.
    }
  }
  if (rt !== "deno") return nodeHost();
  if (sysHost !== undefined && ffiGranted()) {
    try {
      return sysHost(gunzipNode);
    } catch {
      // libc could not be opened: the runtime's own API names the problem on the first call.
    }
  }
  return denoHost();
}

/**
 * The process's file access, made on first use: on Deno with the FFI permission and `ffi/`
 * imported (Deno with the FFI permission, Bun), system calls through libc (see
 * {@linkcode provideSysHost}); else Deno's own API on Deno, `node:fs` on Bun and Node.
 *
 * @returns the host.
 * @throws {Error} on a runtime with neither Deno's API nor `process.getBuiltinModule`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { host } from "./_host.ts";
 * assert(host().exists("/proc/self"));
 * ```
 */
export function host(): Host {
  return (current ??= pickHost());
}

/**
 * Decodes UTF-8 bytes (a helper for callers of {@linkcode Host.readFile}).
 *
 * @param bytes the bytes.
 * @returns the text.
 */
export function utf8(bytes: Uint8Array): string {
  return dec.decode(bytes);
}
