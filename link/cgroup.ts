/**
 * Cgroup programs: every cgroup attach type (`cgroup_skb/ingress`, `cgroup/connect4`,
 * `sockops`, `cgroup/dev`, `cgroup/sysctl`...) on a cgroup v2 directory, with a BPF_LINK_CREATE
 * link, or BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI on kernels without cgroup links (then closing
 * the link runs BPF_PROG_DETACH).
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Fd } from "../ffi/bpf.ts";
import { BpfAttachFlags, BpfAttachType, Libc } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { attachTypeName, type BpfLink, progLabel, type ProgramRef } from "./link.ts";
import { linkOrProgAttach, openTarget } from "./_prog_attach.ts";

/** Options of {@linkcode attachCgroup}. */
export interface CgroupOptions {
  /** The attach type name (`CGROUP_INET_INGRESS`); default the program's expected attach type. */
  attachType?: string;
  /** Use BPF_PROG_ATTACH even when links work (default false). */
  legacy?: boolean;
  /** Flags for BPF_PROG_ATTACH (default BPF_F_ALLOW_MULTI). */
  legacyFlags?: number;
}

/**
 * The number of an attach type name (`CGROUP_INET_INGRESS` or `BPF_CGROUP_INET_INGRESS`).
 *
 * @param name the name.
 * @returns its value.
 * @throws {BpfError} unknown name.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTypeValue } from "./cgroup.ts";
 * assert(attachTypeValue("CGROUP_INET_INGRESS") === 0);
 * ```
 */
export function attachTypeValue(name: string): number {
  const key = name.startsWith("BPF_") ? name : `BPF_${name}`;
  const v = (BpfAttachType as Record<string, number>)[key];
  if (v === undefined) throw new BpfError(`Unknown attach type ${name}`);
  return v;
}

/**
 * Attaches a cgroup program to a cgroup (libbpf's `bpf_program__attach_cgroup`).
 *
 * @param prog a cgroup program (CGROUP_SKB, CGROUP_SOCK, CGROUP_SOCK_ADDR, SOCK_OPS,
 *   CGROUP_DEVICE, CGROUP_SYSCTL, CGROUP_SOCKOPT).
 * @param cgroup a cgroup v2 directory (`/sys/fs/cgroup/my.slice`) or an open fd of one (the
 *   caller keeps ownership of a number it passes).
 * @param opts attach type and legacy mode.
 * @returns the link.
 * @throws {BpfError} the program has no attach type, or the path cannot be opened.
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, readFileSync, rmdirSync } from "node:fs";
 * import { attachCgroup } from "./cgroup.ts";
 * import { BpfObject } from "../live/object.ts";
 * // A new cgroup under the cgroup2 hierarchy, removed at the end.
 * const root = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" "))
 *   .find((f) => f[2] === "cgroup2")![1];
 * const cgroup = mkdtempSync(`${root}/tsbpf-doc-`);
 * try {
 *   using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 *   obj.load();
 *   using link = attachCgroup(obj.program("cgroup_egress"), cgroup);
 *   assert.equal(link.kind, "cgroup");
 * } finally {
 *   rmdirSync(cgroup);
 * }
 * ```
 */
export function attachCgroup(
  prog: ProgramRef,
  cgroup: string | number,
  opts: CgroupOptions = {},
): BpfLink {
  const atName = opts.attachType ?? attachTypeName(prog);
  if (atName === "") {
    throw new BpfError(
      `Cgroup program ${
        progLabel(prog)
      } has no attach type; pass opts.attachType (such as CGROUP_INET_INGRESS)`,
    );
  }
  const at = attachTypeValue(atName);
  const cg = openTarget(cgroup, "cgroup");
  try {
    return linkOrProgAttach(prog, {
      target: cg.fd,
      attachType: at,
      kind: "cgroup",
      label: `${cg.label} ${atName.toLowerCase()}`,
      legacy: opts.legacy,
      flags: opts.legacyFlags ?? BpfAttachFlags.BPF_F_ALLOW_MULTI,
      // PROG_DETACH needs the cgroup: the link holds its own fd of it.
      holdTarget: () => new Fd(dupFd(cg.fd), "cgroup"),
    });
  } finally {
    cg.own?.close();
  }
}

function dupFd(fd: number): number {
  return getSys().open(`/proc/self/fd/${fd}`, Libc.O_RDONLY | Libc.O_CLOEXEC);
}
