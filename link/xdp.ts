/**
 * XDP: a BPF_XDP link on a network interface (libbpf's `bpf_program__attach_xdp`), or the
 * netlink attachment of older kernels (libbpf's `bpf_xdp_attach`).
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { linkCreate } from "../ffi/bpf.ts";
import { BpfAttachType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { syscallError } from "../ffi/sys.ts";
import { nlAttr, NLM_F, nlMessage, nlNest, nlS32, nlTalk, nlU32 } from "./_netlink.ts";
import { BpfLink, holdProgram, isErrno, progLabel, type ProgramRef } from "./link.ts";

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

const MODES = XdpFlags.SKB_MODE | XdpFlags.DRV_MODE | XdpFlags.HW_MODE;

/**
 * An interface's index from its name or number.
 *
 * @param iface a name (`lo`) or an index.
 * @returns the index.
 * @throws {BpfError} no such interface.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ifindexOf } from "./xdp.ts";
 * assert(ifindexOf("lo") > 0); // 1 in most network namespaces
 * assert.equal(ifindexOf(7), 7);
 * ```
 */
export function ifindexOf(iface: string | number): number {
  if (typeof iface === "number") return iface;
  const i = getSys().ifNameToIndex(iface);
  if (i === 0) {
    throw new BpfError(
      `No network interface named ${iface} in this network namespace (if_nametoindex found none)`,
    );
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
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachXdp } from "./xdp.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * using link = attachXdp(obj.program("xdp_pass"), "lo");
 * assert.equal(link.kind, "xdp");
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

const RTM_SETLINK = 19;
const IFLA_XDP = 43;
const NLA_F_NESTED = 0x8000;
const IFLA_XDP_FD = 1;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_EXPECTED_FD = 8;

function setXdp(ifindex: number, fd: number, flags: number, expectedFd?: number): number {
  const ifi = new Uint8Array(16);
  new DataView(ifi.buffer).setInt32(4, ifindex, true);
  const inner = [nlAttr(IFLA_XDP_FD, nlS32(fd))];
  if (flags !== 0) inner.push(nlAttr(IFLA_XDP_FLAGS, nlU32(flags)));
  if (expectedFd !== undefined) inner.push(nlAttr(IFLA_XDP_EXPECTED_FD, nlS32(expectedFd)));
  return nlTalk(
    nlMessage(
      RTM_SETLINK,
      NLM_F.REQUEST | NLM_F.ACK,
      ifi,
      nlAttr(IFLA_XDP | NLA_F_NESTED, nlNest(...inner)),
    ),
  );
}

/**
 * Attaches an XDP program to an interface over rtnetlink (libbpf's `bpf_xdp_attach`, the way
 * before XDP links, Linux 5.9). The attachment belongs to the interface, not to an fd: closing
 * the returned link removes the program, and only if it is still the one attached.
 *
 * @param prog an XDP program.
 * @param iface the interface name or index.
 * @param opts `flags` (`XdpFlags.*`; default `UPDATE_IF_NOEXIST`, which refuses to replace another
 *   program; pass 0 to replace it).
 * @returns the link (not a kernel bpf_link).
 * @throws {BpfError} no such interface, or the kernel refused (EBUSY: an XDP link holds the
 *   interface; EEXIST: another program is attached).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachXdpNetlink, XdpFlags } from "./xdp.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * // The pre-link way (netlink), generic mode; close() takes the program off the interface.
 * using link = attachXdpNetlink(obj.program("xdp_pass"), "lo", { flags: XdpFlags.SKB_MODE });
 * assert.equal(link.isBpfLink, false);
 * ```
 */
export function attachXdpNetlink(
  prog: ProgramRef,
  iface: string | number,
  opts: { flags?: number } = {},
): BpfLink {
  const ifindex = ifindexOf(iface);
  const flags = opts.flags ?? XdpFlags.UPDATE_IF_NOEXIST;
  const held = holdProgram(prog);
  let err: number;
  try {
    err = setXdp(ifindex, held.value, flags);
  } catch (e) {
    // The request may have been applied before the answer was lost: take our program off again
    // (REPLACE with our fd as the expected one removes nothing else).
    try {
      setXdp(ifindex, -1, (flags & MODES) | XdpFlags.REPLACE, held.value);
    } catch {
      // The attach's error is the one to report.
    }
    held.close();
    throw new BpfError(
      `Attaching XDP program ${progLabel(prog)} to ${iface} over rtnetlink failed: ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
  if (err !== 0) {
    held.close();
    const e = syscallError(`rtnetlink(RTM_SETLINK IFLA_XDP on ${iface})`, err);
    throw new BpfError(
      `Attaching XDP program ${progLabel(prog)} to ${iface} failed: ${e.message}${
        err === 16 || err === 17 ? "; another XDP program or link is attached there" : ""
      }`,
      { cause: e },
    );
  }
  const mode = flags & MODES;
  return new BpfLink({
    kind: "xdp",
    program: prog.name ?? "",
    target: `${iface} (ifindex ${ifindex}, netlink)`,
    bpfLink: false,
    owned: [held],
    undo: () => {
      let e: number;
      try {
        e = setXdp(ifindex, -1, mode | XdpFlags.REPLACE, held.value);
      } catch (err) {
        throw new BpfError(
          `Detaching XDP program ${progLabel(prog)} from ${iface} over rtnetlink failed: ${
            (err as Error).message
          }; call close() again`,
          { cause: err },
        );
      }
      // ENODEV: the interface is gone, and the program with it. EEXIST: the program there is not
      // ours (a close() retried after a lost answer, or someone replaced it): ours is gone.
      if (e !== 0 && e !== 19 && e !== 17) {
        throw syscallError(`rtnetlink(RTM_SETLINK IFLA_XDP detach on ${iface})`, e);
      }
    },
  });
}
