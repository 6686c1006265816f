/**
 * The attachment cgroup and sockmap programs share: a BPF_LINK_CREATE link where the kernel has
 * one for the attach type, else BPF_PROG_ATTACH, whose link runs BPF_PROG_DETACH when closed.
 *
 * @module
 */
import { type Fd, linkCreate, progAttach, progDetach } from "../ffi/bpf.ts";
import { BpfLink, holdProgram, isErrno, type ProgramRef } from "./link.ts";

/** Where and how {@linkcode linkOrProgAttach} attaches. */
export interface ProgAttachTarget {
  /** The target fd (a cgroup, a sockmap). */
  target: number;
  /** The attach type's number. */
  attachType: number;
  /** The link's kind (`cgroup`, `sockmap`). */
  kind: string;
  /** What the link reports as its target. */
  label: string;
  /** Skip BPF_LINK_CREATE and use BPF_PROG_ATTACH. Default false. */
  legacy?: boolean;
  /** Flags of BPF_PROG_ATTACH (BPF_F_ALLOW_MULTI...). Default 0. */
  flags?: number;
  /**
   * For BPF_PROG_ATTACH: makes an fd of the target that the link owns and detaches from, for a
   * target the caller may close first. Default: detach from `target` itself, which must then stay
   * open while the link lives.
   */
  holdTarget?: () => Fd;
}

/**
 * Attaches `prog` with a BPF_LINK_CREATE link, falling back to BPF_PROG_ATTACH when the kernel has
 * no link for the attach type (EINVAL, EOPNOTSUPP) or `t.legacy` is set. The fallback link owns its
 * own fd of the program (the caller may close theirs) and runs BPF_PROG_DETACH when closed.
 *
 * @param prog the program.
 * @param t the target, attach type, labels and fallback options.
 * @returns the link.
 * @throws {SyscallError} the kernel refused.
 */
export function linkOrProgAttach(prog: ProgramRef, t: ProgAttachTarget): BpfLink {
  const { target, attachType } = t;
  const init = { kind: t.kind, program: prog.name ?? "", target: t.label };
  if (!t.legacy) {
    try {
      return new BpfLink({ ...init, fd: linkCreate(prog.fd, target, attachType), bpfLink: true });
    } catch (e) {
      if (!isErrno(e, "EINVAL", "EOPNOTSUPP")) throw e;
    }
  }
  const owned: Fd[] = [];
  try {
    const holdTarget = t.holdTarget?.();
    if (holdTarget !== undefined) owned.push(holdTarget);
    const holdProg = holdProgram(prog);
    owned.push(holdProg);
    progAttach({ target, prog: prog.fd, attachType, flags: t.flags ?? 0 });
    return new BpfLink({
      ...init,
      bpfLink: false,
      owned,
      undo: () =>
        progDetach({ target: holdTarget?.value ?? target, prog: holdProg.value, attachType }),
    });
  } catch (e) {
    for (const fd of owned) fd.close();
    throw e;
  }
}
