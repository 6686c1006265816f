/**
 * Traffic control: tcx links (BPF_TCX_INGRESS / BPF_TCX_EGRESS, Linux 6.6), libbpf's
 * `bpf_program__attach_tcx`. On kernels without tcx, the program goes into a clsact qdisc as a
 * direct-action bpf filter over rtnetlink instead (`tc_netlink.ts`).
 *
 * @module
 */
import { NotSupportedError } from "../errors.ts";
import { linkCreate } from "../ffi/bpf.ts";
import { BpfAttachFlags, BpfAttachType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { attachTypeName, BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";
import { attachTcFilter } from "./tc_netlink.ts";
import { ifindexOf } from "./xdp.ts";

/** Options of {@linkcode attachTcx}. */
export interface TcxOptions {
  /** Place before (`before`) or after (`after`) another program or link in the chain. */
  position?: { before?: ProgramRef; after?: ProgramRef };
  /** Fail unless the chain is still at this revision. */
  expectedRevision?: bigint;
}

/**
 * Attaches a SCHED_CLS program to an interface's ingress or egress with a tcx link.
 *
 * @param prog a SCHED_CLS program.
 * @param iface the interface name or index.
 * @param direction `ingress` or `egress`; default the program's section (`tcx/ingress`), else
 *   `ingress`.
 * @param opts placement in the chain.
 * @returns the link.
 * @throws {NotSupportedError} the kernel has no tcx (before Linux 6.6).
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTcx } from "./tc.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/attach_net.bpf.o");
 * obj.load();
 * using link = attachTcx(obj.program("tcx_count"), "lo", "ingress");
 * assert(link.isBpfLink);
 * ```
 */
export function attachTcx(
  prog: ProgramRef,
  iface: string | number,
  direction?: "ingress" | "egress",
  opts: TcxOptions = {},
): BpfLink {
  const dir = direction ??
    (attachTypeName(prog) === "TCX_EGRESS" ? "egress" : "ingress");
  const ifindex = ifindexOf(iface);
  let flags = 0;
  let rel: number | undefined;
  if (opts.position?.before) {
    flags |= BpfAttachFlags.BPF_F_BEFORE;
    rel = opts.position.before.fd;
  } else if (opts.position?.after) {
    flags |= BpfAttachFlags.BPF_F_AFTER;
    rel = opts.position.after.fd;
  }
  try {
    const fd = linkCreate(
      prog.fd,
      ifindex,
      dir === "egress" ? BpfAttachType.BPF_TCX_EGRESS : BpfAttachType.BPF_TCX_INGRESS,
      {
        flags,
        relative: rel !== undefined || opts.expectedRevision !== undefined
          ? { fd: rel, expectedRevision: opts.expectedRevision }
          : undefined,
      },
    );
    return new BpfLink({
      kind: "tcx",
      program: prog.name ?? "",
      target: `${iface} ${dir}`,
      fd,
      bpfLink: true,
    });
  } catch (e) {
    if (isErrno(e, "EINVAL", "EOPNOTSUPP") && !tcxKnown()) {
      // No tcx before Linux 6.6: fall back to a clsact qdisc and a direct-action bpf filter.
      if (opts.position !== undefined || opts.expectedRevision !== undefined) {
        throw new NotSupportedError(
          "tcx",
          `Attaching ${
            progLabel(prog)
          } to ${iface} ${dir}: this kernel has no tcx links (Linux 6.6), and the tc filter fallback cannot honour a position or revision`,
          { cause: e },
        );
      }
      return attachTcFilter(prog, iface, dir);
    }
    throw e;
  }
}

function tcxKnown(): boolean {
  // tcx links came with Linux 6.6.
  const m = /^(\d+)\.(\d+)/.exec(getSys().uname().release);
  if (!m) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > 6 || (maj === 6 && min >= 6);
}
