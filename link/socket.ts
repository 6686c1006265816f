/**
 * Socket-level attachments: socket filters on a socket (SO_ATTACH_BPF), sk_msg and sk_skb
 * programs on a sockmap or sockhash, sk_lookup and flow_dissector programs on a network namespace.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { linkCreate } from "../ffi/bpf.ts";
import { BpfAttachType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { attachTypeValue } from "./cgroup.ts";
import {
  attachTypeName,
  BpfLink,
  isErrno,
  progLabel,
  type ProgramRef,
  progTypeName,
} from "./link.ts";
import { linkOrProgAttach, openTarget } from "./_prog_attach.ts";

const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27;

function int32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

/**
 * Attaches a socket filter to a socket (`setsockopt(SO_ATTACH_BPF)`); closing the link runs
 * `SO_DETACH_BPF`. The caller keeps owning the socket, which must stay open while the link lives.
 *
 * @param prog a SOCKET_FILTER program.
 * @param socketFd the socket.
 * @returns the link.
 * @throws {SyscallError} setsockopt failed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachSocketFilter } from "./socket.ts";
 * import { getSys } from "../ffi/runtime.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * const sys = getSys();
 * const sock = sys.socket(2, 2, 0); // AF_INET, SOCK_DGRAM
 * try {
 *   using link = attachSocketFilter(obj.program("socket_filter"), sock);
 *   assert.equal(link.isBpfLink, false); // SO_ATTACH_BPF; close() detaches it
 * } finally {
 *   sys.close(sock);
 * }
 * ```
 */
export function attachSocketFilter(prog: ProgramRef, socketFd: number): BpfLink {
  const sys = getSys();
  sys.setsockopt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, int32(prog.fd));
  return new BpfLink({
    kind: "socket_filter",
    program: prog.name ?? "",
    target: `socket fd ${socketFd}`,
    bpfLink: false,
    undo: () => {
      try {
        sys.setsockopt(socketFd, SOL_SOCKET, SO_DETACH_BPF, int32(0));
      } catch (e) {
        // A socket closed already has no filter left to remove.
        if (!isErrno(e, "EBADF", "ENOENT", "ENOTSOCK")) throw e;
      }
    },
  });
}

/**
 * Attaches an sk_msg or sk_skb program to a sockmap or sockhash: a sockmap link where the kernel
 * has them (Linux 6.10), else BPF_PROG_ATTACH (closing the link runs BPF_PROG_DETACH).
 *
 * @param prog an SK_MSG or SK_SKB program.
 * @param mapFd the SOCKMAP or SOCKHASH map's fd (must stay open while the link lives).
 * @param attachType default the program's (`SK_MSG_VERDICT`, `SK_SKB_STREAM_VERDICT`...).
 * @returns the link.
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachSockmap } from "./socket.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * using link = attachSockmap(obj.program("sk_verdict"), obj.map("sock_map").fd);
 * assert(!link.closed);
 * ```
 */
export function attachSockmap(prog: ProgramRef, mapFd: number, attachType?: string): BpfLink {
  const atName = attachType ?? attachTypeName(prog);
  if (atName === "") {
    throw new BpfError(
      `Program ${progLabel(prog)} has no sockmap attach type; pass one (SK_SKB_STREAM_VERDICT...)`,
    );
  }
  const at = attachTypeValue(atName);
  return linkOrProgAttach(prog, {
    target: mapFd,
    attachType: at,
    kind: "sockmap",
    label: `sockmap fd ${mapFd} ${atName.toLowerCase()}`,
  });
}

/**
 * Attaches an sk_lookup or flow_dissector program to a network namespace with a netns link
 * (libbpf's `bpf_program__attach_netns`).
 *
 * @param prog an SK_LOOKUP or FLOW_DISSECTOR program.
 * @param netns a namespace path (default `/proc/self/ns/net`) or an open fd of one (the caller
 *   keeps ownership of a number it passes).
 * @returns the link.
 * @throws {BpfError} the namespace path cannot be opened.
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachNetns } from "./socket.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/attach_netns.bpf.o");
 * obj.load();
 * // sk_lookup in this process's network namespace (the default); lookup_count passes every lookup.
 * using link = attachNetns(obj.program("lookup_count"));
 * assert(link.isBpfLink);
 * ```
 */
export function attachNetns(
  prog: ProgramRef,
  netns: string | number = "/proc/self/ns/net",
): BpfLink {
  const at = progTypeName(prog) === "FLOW_DISSECTOR"
    ? BpfAttachType.BPF_FLOW_DISSECTOR
    : BpfAttachType.BPF_SK_LOOKUP;
  const ns = openTarget(netns, "netns");
  try {
    const fd = linkCreate(prog.fd, ns.fd, at);
    return new BpfLink({
      kind: "netns",
      program: prog.name ?? "",
      target: `${ns.label} ${at === BpfAttachType.BPF_SK_LOOKUP ? "sk_lookup" : "flow_dissector"}`,
      fd,
      bpfLink: true,
    });
  } finally {
    ns.own?.close();
  }
}
