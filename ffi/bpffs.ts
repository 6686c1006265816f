/**
 * The BPF filesystem: finding out whether a directory is a bpffs mount, and mounting one where
 * pins are to go (`/sys/fs/bpf` by default), as `mount -t bpf bpf /sys/fs/bpf` would.
 *
 * @module
 */
import { host } from "../_host.ts";
import { getSys } from "./runtime.ts";

/** The default bpffs mount point. */
export const BPFFS_DEFAULT = "/sys/fs/bpf";

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Whether `path` is the mount point of a bpf filesystem, by `/proc/self/mounts`.
 *
 * @param path an absolute directory path, without a trailing slash.
 * @returns true when a bpffs is mounted exactly there.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBpffs } from "./bpffs.ts";
 * assert(!isBpffs("/proc"));
 * // /sys/fs/bpf is bpffs once something mounted it (ensureBpffs() does).
 * ```
 */
export function isBpffs(path: string = BPFFS_DEFAULT): boolean {
  const mounts = host().readText("/proc/self/mounts");
  let found = false;
  for (const line of mounts.split("\n")) {
    const [, target, fstype] = line.split(" ");
    if (target !== undefined && unescapeMount(target) === path) found = fstype === "bpf";
  }
  return found; // the last mount on a path hides the earlier ones
}

/**
 * Makes sure a bpf filesystem is mounted at `path`, mounting one if not.
 *
 * @param path an existing directory (default `/sys/fs/bpf`).
 * @returns true when this call mounted it, false when it was mounted already.
 * @throws {SyscallError} `mount` failed (EPERM without CAP_SYS_ADMIN, ENOENT for a missing
 *   directory).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ensureBpffs, isBpffs } from "./bpffs.ts";
 * ensureBpffs(); // a no-op when it is mounted already
 * assert(isBpffs("/sys/fs/bpf"));
 * ```
 */
export function ensureBpffs(path: string = BPFFS_DEFAULT): boolean {
  if (isBpffs(path)) return false;
  getSys().mount("bpf", path, "bpf", 0);
  return true;
}
