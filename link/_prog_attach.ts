/**
 * What the cgroup, sockmap and netns attachments share: a BPF_LINK_CREATE link where the kernel
 * has one for the attach type, else BPF_PROG_ATTACH, whose link runs BPF_PROG_DETACH when closed;
 * and a target given as a path or as an fd.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Fd, linkCreate, progAttach, progDetach } from "../ffi/bpf.ts";
import { Libc } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { BpfLink, holdProgram, isErrno, type ProgramRef } from "./link.ts";

/** A target directory or namespace file, opened by {@linkcode openTarget}. */
export interface OpenTarget {
  /** The fd to attach to. */
  fd: number;
  /** Our own fd when the target was given as a path; the caller closes it. */
  own: Fd | undefined;
  /** The path, or `<what> fd N`, for labels. */
  label: string;
}

/**
 * Opens a target given as a path (read-only, close-on-exec), or takes an fd as it is (the caller
 * keeps owning a number it passes).
 *
 * @param target a path (`/sys/fs/cgroup/x`, `/proc/self/ns/net`) or an open fd.
 * @param what what the target is (`cgroup`, `netns`), for labels and errors.
 * @returns the fd, our own Fd to close when we opened it, and a label.
 * @throws {BpfError} the path cannot be opened.
 */
export function openTarget(target: string | number, what: string): OpenTarget {
  if (typeof target === "number") {
    return { fd: target, own: undefined, label: `${what} fd ${target}` };
  }
  let own: Fd;
  try {
    own = new Fd(getSys().open(target, Libc.O_RDONLY | Libc.O_CLOEXEC), what);
  } catch (e) {
    throw new BpfError(`Opening the ${what} ${target} failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return { fd: own.value, own, label: target };
}

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
