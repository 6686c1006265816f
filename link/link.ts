/**
 * {@linkcode BpfLink}: one attachment of a program, whatever mechanism made it. A kernel `bpf_link`
 * (BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN) is an fd; the older mechanisms (a perf event with
 * PERF_EVENT_IOC_SET_BPF, BPF_PROG_ATTACH on a cgroup or a sockmap, SO_ATTACH_BPF on a socket) are
 * wrapped so that `close()` undoes them the right way.
 *
 * @module
 */
import { host } from "../_host.ts";
import { BpfError, escapeControl, NotSupportedError, SyscallError } from "../errors.ts";
import {
  type Fd,
  getFdById,
  linkDetach,
  type LinkInfo,
  linkInfo,
  linkUpdate,
  objGet,
  objPin,
  progInfo,
} from "../ffi/bpf.ts";
import { BpfLinkType } from "../ffi/constants.ts";
import { ATTACH_TYPE_NAMES, PROG_TYPE_NAMES } from "../spec/section_defs.ts";
import type { ProgramSpec } from "../spec/types.ts";

/**
 * What the attach functions need of a program: its fd and, for messages and auto-attach, its name,
 * section and spec. A `BpfProgram` of `live/` fits; so does `{ fd, name }` for a program loaded by
 * hand.
 */
export interface ProgramRef {
  /** The loaded program's fd. */
  readonly fd: number;
  /** The program's name, for messages. */
  readonly name?: string;
  /** The program's ELF section. */
  readonly section?: string;
  /** The pure description (section definition, attach target, types). */
  readonly spec?: ProgramSpec;
  /** The loaded program type (`BPF_PROG_TYPE_*`), used when there is no spec (a `BpfProgram`). */
  readonly type?: number;
  /** The loaded expected attach type (`BPF_*`), used when there is no spec (a `BpfProgram`). */
  readonly expectedAttachType?: number;
}

/**
 * A program's expected attach type name (`TCX_EGRESS`): from its spec, else from the number it
 * was loaded with, else "".
 *
 * @param p the program.
 * @returns the name without `BPF_`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachTypeName } from "./link.ts";
 * assert(attachTypeName({ fd: 3, expectedAttachType: 46 }) === "TCX_INGRESS");
 * ```
 */
export function attachTypeName(p: ProgramRef): string {
  if (p.spec !== undefined) return p.spec.expectedAttachType;
  if (typeof p.expectedAttachType === "number") {
    return ATTACH_TYPE_NAMES[p.expectedAttachType] ?? "";
  }
  return "";
}

/**
 * A program's type name (`FLOW_DISSECTOR`): from its spec, else from the number it was loaded
 * with, else "".
 *
 * @param p the program.
 * @returns the name without `BPF_PROG_TYPE_`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progTypeName } from "./link.ts";
 * assert(progTypeName({ fd: 3, type: 6 }) === "XDP");
 * ```
 */
export function progTypeName(p: ProgramRef): string {
  if (p.spec !== undefined) return p.spec.type;
  if (typeof p.type === "number") return PROG_TYPE_NAMES[p.type] ?? "";
  return "";
}

/**
 * The program a link was made for: name and section, for messages and reports.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progLabel } from "./link.ts";
 * assert(progLabel({ fd: 3, name: "p", section: "xdp" }) === "'p' (section xdp)");
 * ```
 */
export function progLabel(p: ProgramRef): string {
  const name = escapeControl(p.name ?? p.spec?.name ?? `fd ${p.fd}`);
  const sec = p.section ?? p.spec?.section;
  return sec ? `'${name}' (section ${escapeControl(sec)})` : `'${name}'`;
}

/** How a {@linkcode BpfLink} is built; used by the attach functions of `link/`. */
export interface BpfLinkInit {
  /** The attach kind: `tracepoint`, `xdp`, `cgroup`... */
  kind: string;
  /** The program's name ("" when unknown). */
  program: string;
  /** What it is attached to, for messages (`syscalls/sys_enter_write`, `ifindex 1`). */
  target: string;
  /** The link's fd: a bpf_link, or a perf event for legacy perf links; undefined for none. */
  fd?: Fd;
  /** True when `fd` is a kernel bpf_link (pin, update, info and BPF_LINK_DETACH work on it). */
  bpfLink: boolean;
  /** Undoes a legacy attachment (PROG_DETACH, SO_DETACH_BPF, ioctl DISABLE...); runs once. */
  undo?: () => void;
  /** Other fds the link owns and closes (a perf event under a perf link, a cgroup fd...). */
  owned?: Fd[];
  /** Sub-links (one per CPU, one per USDT call site): closed and detached with this one. */
  children?: BpfLink[];
}

const LINK_TYPE_KIND: Record<number, string> = {
  [BpfLinkType.BPF_LINK_TYPE_RAW_TRACEPOINT]: "raw_tracepoint",
  [BpfLinkType.BPF_LINK_TYPE_TRACING]: "tracing",
  [BpfLinkType.BPF_LINK_TYPE_CGROUP]: "cgroup",
  [BpfLinkType.BPF_LINK_TYPE_ITER]: "iter",
  [BpfLinkType.BPF_LINK_TYPE_NETNS]: "netns",
  [BpfLinkType.BPF_LINK_TYPE_XDP]: "xdp",
  [BpfLinkType.BPF_LINK_TYPE_PERF_EVENT]: "perf_event",
  [BpfLinkType.BPF_LINK_TYPE_KPROBE_MULTI]: "kprobe_multi",
  [BpfLinkType.BPF_LINK_TYPE_STRUCT_OPS]: "struct_ops",
  [BpfLinkType.BPF_LINK_TYPE_NETFILTER]: "netfilter",
  [BpfLinkType.BPF_LINK_TYPE_TCX]: "tcx",
  [BpfLinkType.BPF_LINK_TYPE_UPROBE_MULTI]: "uprobe_multi",
  [BpfLinkType.BPF_LINK_TYPE_NETKIT]: "netkit",
  [BpfLinkType.BPF_LINK_TYPE_SOCKMAP]: "sockmap",
};

/**
 * One attachment of a program. `close()` releases it: a kernel bpf_link is detached when its last
 * fd closes (unless it is pinned), and a legacy attachment is undone. `detach()` detaches even a
 * pinned link. Both are safe to call twice; `[Symbol.dispose]` closes.
 *
 * Whoever attaches owns the link and must close it (or `BpfObject.detach()` does, for the links
 * `attach()` made).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import process from "node:process";
 * import { BpfLink } from "./link.ts";
 * import { attachTracepoint } from "./tracepoint.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * using link = attachTracepoint(obj.program("touch_maps"), "syscalls", "sys_enter_write");
 * const path = `/sys/fs/bpf/tsbpf-test-doc-link-${process.pid}`;
 * link.pin(path);
 * try {
 *   using again = BpfLink.open(path); // the same link, from bpffs
 *   assert.equal(again.info().id, link.info().id);
 * } finally {
 *   link.unpin();
 * }
 * ```
 */
export class BpfLink {
  /** The attach kind: `tracepoint`, `raw_tracepoint`, `tracing`, `xdp`, `tcx`, `cgroup`... */
  readonly kind: string;
  /** The program's name ("" for a link opened from a pin). */
  readonly program: string;
  /** What the program is attached to, for messages. */
  readonly target: string;
  /** True when the link is a kernel bpf_link. */
  readonly isBpfLink: boolean;
  #fd: Fd | undefined;
  #undo: (() => void) | undefined;
  #owned: Fd[];
  #children: BpfLink[];
  #closed = false;
  #pinnedPath: string | undefined;

  /**
   * Wraps what an attach function made. The link owns `fd`, `owned` and `children` from now on.
   *
   * @param init the pieces; see {@linkcode BpfLinkInit}.
   */
  constructor(init: BpfLinkInit) {
    this.kind = init.kind;
    this.program = init.program;
    this.target = init.target;
    this.isBpfLink = init.bpfLink;
    this.#fd = init.fd;
    this.#undo = init.undo;
    this.#owned = init.owned ?? [];
    this.#children = init.children ?? [];
  }

  /**
   * Opens a link pinned in a bpf filesystem. Closing the returned object leaves the pin (and so
   * the attachment) in place; `detach()` ends it, `unpin()` removes the pin.
   *
   * @param path the pinned path.
   * @returns the link.
   * @throws {SyscallError} nothing is pinned there (ENOENT) or it is not a link.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import process from "node:process";
   * import { BpfLink } from "./link.ts";
   * import { attachTracepoint } from "./tracepoint.ts";
   * import { BpfObject } from "../live/object.ts";
   * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
   * obj.load();
   * using made = attachTracepoint(obj.program("touch_maps"), "syscalls", "sys_enter_write");
   * const path = `/sys/fs/bpf/tsbpf-test-doc-open-${process.pid}`;
   * made.pin(path);
   * try {
   *   using link = BpfLink.open(path);
   *   assert.equal(link.info().progId, obj.program("touch_maps").info().id);
   * } finally {
   *   made.unpin();
   * }
   * ```
   */
  static open(path: string): BpfLink {
    const fd = objGet(path);
    let info: LinkInfo;
    try {
      // A map or program fd answers BPF_OBJ_GET_INFO_BY_FD too: check what the fd is first.
      const what = host().readlink(`/proc/self/fd/${fd.value}`);
      if (what !== "anon_inode:bpf-link") {
        throw new BpfError(`${path} is not a pinned BPF link (it is ${what})`);
      }
      info = linkInfo(fd);
    } catch (e) {
      fd.close();
      if (e instanceof BpfError && !(e instanceof SyscallError)) throw e;
      throw new BpfError(`${path} is not a pinned BPF link`, { cause: e });
    }
    const link = new BpfLink({
      kind: LINK_TYPE_KIND[info.type] ?? `link type ${info.type}`,
      program: "",
      target: path,
      fd,
      bpfLink: true,
    });
    link.#pinnedPath = path;
    return link;
  }

  /** The link's fd (a bpf_link, or the perf event of a legacy perf link). */
  get fd(): number {
    if (this.#closed) throw new BpfError(`The ${this.kind} link is closed`);
    if (this.#fd === undefined) {
      throw new BpfError(`The ${this.kind} link has no fd (it is a ${this.#describeMechanism()})`);
    }
    return this.#fd.value;
  }

  /** Whether `close()` or `detach()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The path this link was pinned at by `pin()` or opened from, or undefined. */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  /** The sub-links (per CPU, per USDT call site), if any. */
  get children(): readonly BpfLink[] {
    return this.#children;
  }

  #describeMechanism(): string {
    return this.#children.length > 0
      ? `group of ${this.#children.length} links`
      : "legacy attachment";
  }

  #requireBpfLink(what: string): Fd {
    if (this.#closed) throw new BpfError(`The ${this.kind} link is closed`);
    if (!this.isBpfLink || this.#fd === undefined) {
      throw new NotSupportedError(
        "bpf_link",
        `Cannot ${what} a ${this.kind} link that is not a kernel bpf_link (it is a ${this.#describeMechanism()}); only links made by BPF_LINK_CREATE or BPF_RAW_TRACEPOINT_OPEN support it`,
      );
    }
    return this.#fd;
  }

  /**
   * Pins the link in a bpf filesystem, so that it outlives this process.
   *
   * @param path a path under a bpffs mount (`/sys/fs/bpf/...`).
   * @throws {NotSupportedError} the link is not a kernel bpf_link.
   * @throws {SyscallError} the kernel refused (EEXIST, ENOENT for a missing directory).
   */
  pin(path: string): void {
    const fd = this.#requireBpfLink("pin");
    objPin(fd, path);
    this.#pinnedPath = path;
  }

  /**
   * Removes the pin made by `pin()` (or the one `open()` read). The link stays attached while this
   * object holds it open.
   *
   * @throws {BpfError} the link is not pinned.
   */
  unpin(): void {
    const p = this.#pinnedPath;
    if (p === undefined) throw new BpfError(`The ${this.kind} link is not pinned`);
    try {
      host().unlink(p);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") {
        throw new BpfError(`Removing the pin ${p} failed: ${(e as Error).message}`, { cause: e });
      }
    }
    this.#pinnedPath = undefined;
  }

  /**
   * Swaps the attached program (BPF_LINK_UPDATE), atomically.
   *
   * @param prog the new program (same type and attach type).
   * @param opts `oldProg`: replace only if this program is still the attached one.
   * @throws {NotSupportedError} the link is not a kernel bpf_link.
   * @throws {SyscallError} the kernel refused (EINVAL for a program of another type, EPERM when
   *   `oldProg` is not the attached one, EOPNOTSUPP for link types that cannot be updated).
   */
  update(prog: ProgramRef, opts: { oldProg?: ProgramRef } = {}): void {
    const fd = this.#requireBpfLink("update");
    linkUpdate(fd, prog.fd, {
      oldProg: opts.oldProg?.fd,
      flags: opts.oldProg !== undefined ? 4 /* BPF_F_REPLACE */ : 0,
    });
  }

  /**
   * The kernel's view of the link (BPF_OBJ_GET_INFO_BY_FD): type, id, program id and the per-type
   * part.
   *
   * @returns the info.
   * @throws {NotSupportedError} the link is not a kernel bpf_link.
   */
  info(): LinkInfo {
    return linkInfo(this.#requireBpfLink("query"));
  }

  /**
   * Detaches the program now, even when the link is pinned (BPF_LINK_DETACH; for link types that
   * cannot be detached, the pin this object knows of is removed and the fd closed), then closes.
   * Safe to call twice.
   *
   * @throws {SyscallError} the kernel refused BPF_LINK_DETACH for another reason than lacking it.
   */
  detach(): void {
    if (this.#closed) return;
    if (this.isBpfLink && this.#fd !== undefined) {
      try {
        linkDetach(this.#fd);
      } catch (e) {
        const code = (e as SyscallError).code;
        if (code !== "EOPNOTSUPP" && code !== "EINVAL" && code !== "ENOTSUPP") {
          this.close();
          throw e;
        }
        if (this.#pinnedPath !== undefined) {
          try {
            this.unpin();
          } catch {
            // The pin may be gone already; closing below is what matters.
          }
        }
      }
    }
    for (const c of this.#children) c.detach();
    this.close();
  }

  /**
   * Releases the link: undoes a legacy attachment and closes its fds. A pinned bpf_link stays
   * attached through its pin. Safe to call twice; the first error is thrown after everything was
   * released.
   *
   * @throws {SyscallError} {BpfError} undoing a legacy attachment failed (a netlink or tracefs
   *   call): then nothing is released and the link stays open, so that `close()` can be called
   *   again to finish the job (the program would otherwise stay attached with no way to reach it).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let first: unknown;
    const undo = this.#undo;
    this.#undo = undefined;
    if (undo) {
      try {
        undo();
      } catch (e) {
        this.#closed = false;
        this.#undo = undo;
        throw e;
      }
    }
    for (const c of this.#children) {
      try {
        c.close();
      } catch (e) {
        first ??= e;
      }
    }
    for (const f of [...(this.#fd ? [this.#fd] : []), ...this.#owned]) {
      try {
        f.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Shows the kind, program and target. */
  toString(): string {
    return `BpfLink(${this.kind} ${this.program || "?"} -> ${this.target})`;
  }
}

/**
 * Closes every link, last made first, and throws the first error after all were closed.
 *
 * @param links the links.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeAll } from "./link.ts";
 * import { attachTracepoint } from "./tracepoint.ts";
 * import { BpfObject } from "../live/object.ts";
 * using a = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * using b = BpfObject.open("tests/bpf/build/globals.bpf.o");
 * a.load();
 * b.load();
 * const linkA = attachTracepoint(a.program("touch_maps"), "syscalls", "sys_enter_write");
 * const linkB = attachTracepoint(b.program("use_globals"), "syscalls", "sys_enter_write");
 * closeAll([linkA, linkB]);
 * assert(linkA.closed && linkB.closed);
 * ```
 */
export function closeAll(links: Iterable<BpfLink>): void {
  let first: unknown;
  for (const l of [...links].reverse()) {
    try {
      l.close();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Whether an error is a {@linkcode SyscallError} with one of the errno names.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrno } from "./link.ts";
 * assert(!isErrno(new Error("x"), "EPERM"));
 * ```
 */
export function isErrno(e: unknown, ...codes: string[]): e is SyscallError {
  return e instanceof SyscallError && codes.includes(e.code);
}

/**
 * A new fd of the same program (BPF_PROG_GET_FD_BY_ID), for legacy attachments whose undo needs
 * the program after the caller may have closed its own fd.
 *
 * @param prog the program.
 * @returns an fd the caller owns.
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdProgram } from "./link.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/net.bpf.o");
 * obj.load();
 * using fd = holdProgram(obj.program("xdp_pass"));
 * assert(fd.value !== obj.program("xdp_pass").fd);
 * ```
 */
export function holdProgram(prog: ProgramRef): Fd {
  return getFdById("prog", progInfo(prog.fd).id);
}
