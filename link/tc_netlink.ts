/**
 * Classic tc attachment over rtnetlink (libbpf's `bpf_tc_hook_create` + `bpf_tc_attach`): a
 * `clsact` qdisc on the interface and a direct-action `bpf` filter in its ingress or egress hook.
 * The kernels before tcx (Linux 6.6) attach SCHED_CLS programs only this way. Closing the link
 * deletes the filter, and the qdisc when this process made it and no filter of ours is left on it.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { syscallError } from "../ffi/sys.ts";
import { nlAttr, NLM_F, nlMessage, nlNest, nlStr, nlTalk, nlU32 } from "./_netlink.ts";
import { BpfLink, progLabel, type ProgramRef } from "./link.ts";
import { ifindexOf } from "./xdp.ts";

const RTM_NEWQDISC = 36;
const RTM_DELQDISC = 37;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
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

/** `struct tcmsg`. */
function tcmsg(tc: { ifindex: number; handle: number; parent: number; info: number }): Uint8Array {
  const b = new Uint8Array(20);
  const dv = new DataView(b.buffer);
  dv.setInt32(4, tc.ifindex, true);
  dv.setUint32(8, tc.handle >>> 0, true);
  dv.setUint32(12, tc.parent >>> 0, true);
  dv.setUint32(16, tc.info >>> 0, true);
  return b;
}

const talk = nlTalk;

/** Qdiscs this process made, by ifindex, with how many of our filters use them. */
const ourQdiscs = new Map<number, number>();

function qdiscMsg(type: number, flags: number, ifindex: number): Uint8Array {
  return nlMessage(
    type,
    flags,
    tcmsg({ ifindex, handle: 0xffff0000, parent: TC_H_CLSACT, info: 0 }),
    nlAttr(TCA_KIND, nlStr("clsact")),
  );
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
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTcFilter } from "./tc_netlink.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * // a direct-action cls_bpf filter on lo's clsact ingress; close() deletes the filter
 * using link = attachTcFilter(obj.program("tc_ingress"), "lo", "ingress");
 * assert.equal(link.isBpfLink, false);
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
  const step = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new BpfError(
        `${what} for ${progLabel(prog)} on ${iface} failed: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  };
  const made = step("Adding the clsact qdisc", () =>
    talk(
      qdiscMsg(RTM_NEWQDISC, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, ifindex),
    ));
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
  const opt = nlNest(
    nlAttr(TCA_BPF_FD, nlU32(prog.fd)),
    nlAttr(TCA_BPF_NAME, nlStr(`${name}:[tsbpf]`)),
    nlAttr(TCA_BPF_FLAGS, nlU32(TCA_BPF_FLAG_ACT_DIRECT)),
  );
  let err: number;
  try {
    err = step("Adding the tc filter", () =>
      talk(
        nlMessage(
          RTM_NEWTFILTER,
          NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
          tcmsg(tc),
          nlAttr(TCA_KIND, nlStr("bpf")),
          nlAttr(TCA_OPTIONS, opt),
        ),
      ));
  } catch (e) {
    if (made === 0) {
      try {
        talk(qdiscMsg(RTM_DELQDISC, NLM_F.REQUEST | NLM_F.ACK, ifindex));
      } catch {
        // The filter's error is the one to report.
      }
    }
    throw e;
  }
  const dropQdisc = () => {
    talk(qdiscMsg(RTM_DELQDISC, NLM_F.REQUEST | NLM_F.ACK, ifindex));
    ourQdiscs.delete(ifindex); // after the request: when it throws, a retried close() tries again
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
  let filterGone = false;
  return new BpfLink({
    kind: "tc",
    program: prog.name ?? "",
    target: `${iface} ${direction} (clsact filter prio ${prio} handle ${handle})`,
    bpfLink: false,
    undo: () => {
      // Each part once: a close() retried after a failure goes on where the last one stopped.
      if (!filterGone) {
        const e = step("Removing the tc filter (call close() again)", () =>
          talk(
            nlMessage(
              RTM_DELTFILTER,
              NLM_F.REQUEST | NLM_F.ACK,
              tcmsg(tc),
              nlAttr(TCA_KIND, nlStr("bpf")),
            ),
          ));
        // ENOENT/ENODEV: the filter or the interface is gone already.
        if (e !== 0 && e !== 2 && e !== 19) {
          throw syscallError(`rtnetlink(RTM_DELTFILTER on ${iface})`, e);
        }
        filterGone = true;
      }
      step("Removing the clsact qdisc (call close() again)", releaseQdisc);
    },
  });
}
