/**
 * XDP: a BPF_XDP link on a network interface (libbpf's `bpf_program__attach_xdp`).
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { linkCreate } from "../ffi/bpf.ts";
import { BpfAttachType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";

/** XDP attach modes (`XDP_FLAGS_*`). */
export const XdpFlags = {
  /** Fail if a program is attached already. */
  UPDATE_IF_NOEXIST: 1,
  /** Generic (skb) mode, works on any device. */
  SKB_MODE: 2,
  /** Native driver mode. */
  DRV_MODE: 4,
  /** Offloaded to the NIC. */
  HW_MODE: 8,
  /** Replace only the expected program. */
  REPLACE: 16,
} as const;

/**
 * An interface's index from its name or number.
 *
 * @param iface a name (`lo`) or an index.
 * @returns the index.
 * @throws {BpfError} no such interface.
 */
export function ifindexOf(iface: string | number): number {
  if (typeof iface === "number") return iface;
  const i = getSys().ifNameToIndex(iface);
  if (i === 0) {
    throw new BpfError(`No network interface named ${iface} (in this network namespace)`);
  }
  return i;
}

/**
 * Attaches an XDP program to an interface with a bpf_link: the program goes when the link closes.
 *
 * @param prog an XDP program.
 * @param iface the interface name or index.
 * @param opts `flags` (`XdpFlags.SKB_MODE`...; default 0: the driver's best mode).
 * @returns the link.
 * @throws {BpfError} no such interface, or another program is attached already (EBUSY/EEXIST).
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts ignore
 * using link = attachXdp(prog, "lo");
 * ```
 */
export function attachXdp(
  prog: ProgramRef,
  iface: string | number,
  opts: { flags?: number } = {},
): BpfLink {
  const ifindex = ifindexOf(iface);
  try {
    const fd = linkCreate(prog.fd, ifindex, BpfAttachType.BPF_XDP, { flags: opts.flags ?? 0 });
    return new BpfLink({
      kind: "xdp",
      program: prog.name ?? "",
      target: `${iface} (ifindex ${ifindex})`,
      fd,
      bpfLink: true,
    });
  } catch (e) {
    if (isErrno(e, "EBUSY", "EEXIST")) {
      throw new BpfError(
        `Attaching XDP program ${
          progLabel(prog)
        } to ${iface} failed: another XDP program is attached there already; detach it first (ip link set dev ${iface} xdp off)`,
        { cause: e },
      );
    }
    throw e;
  }
}
