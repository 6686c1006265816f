/**
 * Classic tc attachment over rtnetlink (libbpf's `bpf_tc_hook_create` + `bpf_tc_attach`): a
 * `clsact` qdisc on the interface and a direct-action `bpf` filter in its ingress or egress hook.
 * The kernels before tcx (Linux 6.6) attach SCHED_CLS programs only this way. Closing the link
 * deletes the filter, and the qdisc when this process made it and no filter of ours is left on it.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Fd } from "../ffi/bpf.ts";
import { getSys } from "../ffi/runtime.ts";
import { syscallError } from "../ffi/sys.ts";
import { BpfLink, progLabel, type ProgramRef } from "./link.ts";
import { ifindexOf } from "./xdp.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const RTM_NEWQDISC = 36;
const RTM_DELQDISC = 37;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
const TC_H_CLSACT = 0xfffffff1;
const TC_H_INGRESS = 0xfffffff2;
const TC_H_EGRESS = 0xfffffff3;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL)

/** Builds one rtnetlink message: header, tcmsg and attributes. */
class TcMsg {
  #parts: Uint8Array[] = [];
  #len = 0;

  constructor(
    type: number,
    flags: number,
    tc: { ifindex: number; handle: number; parent: number; info: number },
  ) {
    const h = new Uint8Array(36);
    const dv = new DataView(h.buffer);
    dv.setUint16(4, type, true);
    dv.setUint16(6, flags, true);
    dv.setUint32(8, 1, true); // seq
    dv.setInt32(20, tc.ifindex, true);
    dv.setUint32(24, tc.handle >>> 0, true);
    dv.setUint32(28, tc.parent >>> 0, true);
    dv.setUint32(32, tc.info >>> 0, true);
    this.#push(h);
  }

  #push(b: Uint8Array): void {
    const padded = new Uint8Array((b.length + 3) & ~3);
    padded.set(b);
    this.#parts.push(padded);
    this.#len += padded.length;
  }

  static attr(type: number, payload: Uint8Array): Uint8Array {
    const a = new Uint8Array(4 + payload.length);
    const dv = new DataView(a.buffer);
    dv.setUint16(0, 4 + payload.length, true);
    dv.setUint16(2, type, true);
    a.set(payload, 4);
    return a;
  }

  add(type: number, payload: Uint8Array): this {
    this.#push(TcMsg.attr(type, payload));
    return this;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#len);
    let off = 0;
    for (const p of this.#parts) {
      out.set(p, off);
      off += p.length;
    }
    new DataView(out.buffer).setUint32(0, out.length, true);
    return out;
  }
}

function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

function padded(b: Uint8Array): Uint8Array {
  const p = new Uint8Array((b.length + 3) & ~3);
  p.set(b);
  return p;
}

/** Sends one request on a fresh NETLINK_ROUTE socket and returns the kernel's errno (0: done). */
function talk(msg: Uint8Array): number {
  const sys = getSys();
  const sock = new Fd(sys.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "netlink");
  try {
    const addr = new Uint8Array(12);
    new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
    sys.bind(sock.value, addr);
    sys.write(sock.value, msg);
    const buf = new Uint8Array(8192);
    for (;;) {
      const n = sys.read(sock.value, buf);
      const dv = new DataView(buf.buffer, 0, n);
      for (let off = 0; off + 16 <= n;) {
        const len = dv.getUint32(off, true);
        const type = dv.getUint16(off + 4, true);
        if (type === NLMSG_ERROR && off + 20 <= n) return -dv.getInt32(off + 16, true);
        if (len < 16) break;
        off += (len + 3) & ~3;
      }
      if (n <= 0) return 0;
    }
  } finally {
    sock.close();
  }
}

/** Qdiscs this process made, by ifindex, with how many of our filters use them. */
const ourQdiscs = new Map<number, number>();

function qdiscMsg(type: number, flags: number, ifindex: number): Uint8Array {
  return new TcMsg(type, flags, { ifindex, handle: 0xffff0000, parent: TC_H_CLSACT, info: 0 })
    .add(TCA_KIND, cstr("clsact"))
    .bytes();
}

/** Options of {@linkcode attachTcFilter}. */
export interface TcFilterOptions {
  /** The filter's handle (default 1). */
  handle?: number;
  /** The filter's priority (default 1). */
  priority?: number;
}

/**
 * Attaches a SCHED_CLS program as a direct-action `bpf` filter in the `clsact` qdisc of an
 * interface (made when missing), as `tc filter add dev IFACE ingress prio 1 handle 1 bpf da`.
 *
 * @param prog a SCHED_CLS program.
 * @param iface the interface name or index.
 * @param direction `ingress` or `egress`.
 * @param opts handle and priority.
 * @returns the link (not a kernel bpf_link: closing it deletes the filter).
 * @throws {SyscallError} rtnetlink refused (EEXIST: a filter with this handle and priority).
 * @example
 * ```ts ignore
 * using link = attachTcFilter(prog, "eth0", "ingress");
 * ```
 */
export function attachTcFilter(
  prog: ProgramRef,
  iface: string | number,
  direction: "ingress" | "egress",
  opts: TcFilterOptions = {},
): BpfLink {
  const ifindex = ifindexOf(iface);
  const handle = opts.handle ?? 1;
  const prio = opts.priority ?? 1;
  if (!Number.isInteger(prio) || prio < 1 || prio > 0xffff) {
    throw new BpfError(`Bad tc filter priority ${prio}: it must be 1..65535`);
  }
  const made = talk(
    qdiscMsg(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifindex),
  );
  if (made !== 0 && made !== 17 /* EEXIST */) {
    throw syscallError(`rtnetlink(RTM_NEWQDISC clsact on ${iface})`, made);
  }
  const tc = {
    ifindex,
    handle,
    parent: direction === "egress" ? TC_H_EGRESS : TC_H_INGRESS,
    info: ((prio << 16) | ETH_P_ALL_BE) >>> 0,
  };
  const name = (prog.name ?? "tsbpf").slice(0, 255);
  const opt = new Uint8Array([
    ...TcMsg.attr(TCA_BPF_FD, u32(prog.fd)),
    ...padded(TcMsg.attr(TCA_BPF_NAME, cstr(`${name}:[tsbpf]`))),
    ...TcMsg.attr(TCA_BPF_FLAGS, u32(TCA_BPF_FLAG_ACT_DIRECT)),
  ]);
  const err = talk(
    new TcMsg(RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, tc)
      .add(TCA_KIND, cstr("bpf"))
      .add(TCA_OPTIONS, opt)
      .bytes(),
  );
  const dropQdisc = () => {
    ourQdiscs.delete(ifindex);
    talk(qdiscMsg(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, ifindex));
  };
  const releaseQdisc = () => {
    const users = ourQdiscs.get(ifindex);
    if (users === undefined) return;
    if (users > 1) ourQdiscs.set(ifindex, users - 1);
    else dropQdisc();
  };
  if (err !== 0) {
    if (made === 0) dropQdisc();
    const e = syscallError(`rtnetlink(RTM_NEWTFILTER on ${iface} ${direction})`, err);
    throw new BpfError(`Attaching ${progLabel(prog)} as a tc filter failed: ${e.message}`, {
      cause: e,
    });
  }
  if (made === 0) ourQdiscs.set(ifindex, 1);
  else if (ourQdiscs.has(ifindex)) ourQdiscs.set(ifindex, ourQdiscs.get(ifindex)! + 1);
  return new BpfLink({
    kind: "tc",
    program: prog.name ?? "",
    target: `${iface} ${direction} (clsact filter prio ${prio} handle ${handle})`,
    bpfLink: false,
    undo: () => {
      const e = talk(
        new TcMsg(RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK, tc).add(TCA_KIND, cstr("bpf")).bytes(),
      );
      releaseQdisc();
      // ENOENT/ENODEV: the filter or the interface is gone already.
      if (e !== 0 && e !== 2 && e !== 19) {
        throw syscallError(`rtnetlink(RTM_DELTFILTER on ${iface})`, e);
      }
    },
  });
}
