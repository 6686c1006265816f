/**
 * Auto-attach by section, with libbpf's semantics per kind: {@linkcode attachProgram} attaches one
 * program the way its section says (`tp/syscalls/sys_enter_write`, `uprobe/libc.so.6:malloc`...),
 * {@linkcode attachAll} every auto-attachable program of an object (undoing them all when one
 * fails), {@linkcode attachEach} every one it can (reporting failures), {@linkcode detachAll}
 * closes links.
 *
 * @module
 */
import { BpfError, NotSupportedError, SyscallError } from "../errors.ts";
import type { ObjectSpec, ProgramSpec } from "../spec/types.ts";
import { parseUprobeTarget } from "./elf_target.ts";
import { attachIter } from "./iter.ts";
import { attachKprobe, attachKprobeMulti, attachKsyscall } from "./kprobe.ts";
import { type BpfLink, closeAll, progLabel, type ProgramRef } from "./link.ts";
import { attachRawTracepoint } from "./raw_tracepoint.ts";
import { attachTracepoint, splitTracepoint } from "./tracepoint.ts";
import { attachTracing } from "./tracing.ts";
import { attachUprobe, attachUprobeMulti } from "./uprobe.ts";
import { attachUsdt, parseUsdtTarget } from "./usdt.ts";

/**
 * Whether a program's section makes it auto-attachable (libbpf's SEC_DEF with an attach function
 * and a target in the section name where the kind needs one).
 *
 * @param spec the program's spec.
 * @returns true when {@linkcode attachProgram} would try to attach it.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canAutoAttach } from "./auto.ts";
 * import { open } from "../spec/open.ts";
 * const spec = open("tests/bpf/build/tracing.bpf.o");
 * const p = (name: string) => spec.programs.find((x) => x.name === name)!;
 * assert(canAutoAttach(p("tp_write"))); // tp/syscalls/sys_enter_write names its target
 * assert(!canAutoAttach(p("uprobe_add"))); // a bare "uprobe" section does not
 * spec.btf?.close();
 * ```
 */
export function canAutoAttach(spec: ProgramSpec): boolean {
  const d = spec.def;
  if (d === undefined || d.attach === "") return false;
  switch (d.attach) {
    case "tracepoint":
    case "raw_tracepoint":
    case "kprobe":
    case "ksyscall":
    case "kprobe_multi":
    case "kprobe_session":
    case "uprobe":
    case "usdt":
    case "uprobe_multi":
      return spec.attachTo !== "";
    default:
      return true;
  }
}

/**
 * Attaches one program the way its section says (libbpf's `bpf_program__attach`).
 *
 * @param prog the loaded program with its spec.
 * @returns the link, or undefined when the section names no target (`SEC("uprobe")`,
 *   `SEC("tp")`) or is not auto-attachable (`xdp`, `tc`, `cgroup_skb/...`: use the explicit
 *   attach functions).
 * @throws {NotSupportedError} the kernel lacks the feature (kprobes, trampolines) or tsbpf does
 *   not auto-attach this kind yet.
 * @throws {BpfError} {SyscallError} the attach failed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachProgram } from "./auto.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * const spec = obj.spec.programs.find((p) => p.name === "touch_maps")!;
 * using link = attachProgram({ fd: obj.program("touch_maps").fd, name: spec.name, section: spec.section, spec });
 * assert.equal(link?.kind, "tracepoint");
 * ```
 */
export function attachProgram(prog: ProgramRef & { spec: ProgramSpec }): BpfLink | undefined {
  const spec = prog.spec;
  const d = spec.def;
  if (d === undefined || !canAutoAttach(spec)) return undefined;
  const target = spec.attachTo;
  const ret = d.flags.includes("retprobe");
  switch (d.attach) {
    case "tracepoint": {
      const [cat, name] = splitTracepoint(target);
      return attachTracepoint(prog, cat, name);
    }
    case "raw_tracepoint":
      return attachRawTracepoint(prog, target);
    case "trace":
    case "lsm":
      return attachTracing(prog, { attachType: spec.expectedAttachType });
    case "kprobe": {
      const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(target);
      if (!m) throw new BpfError(`Bad kprobe target '${target}' in section ${spec.section}`);
      return attachKprobe(prog, m[1], { retprobe: ret, offset: m[2] ? Number(m[2]) : 0 });
    }
    case "ksyscall":
      return attachKsyscall(prog, target, { retprobe: ret });
    case "kprobe_multi":
    case "kprobe_session":
      return attachKprobeMulti(prog, target, { retprobe: ret });
    case "uprobe": {
      const t = parseUprobeTarget(target);
      return attachUprobe(prog, {
        binary: t.binary,
        func: t.func || undefined,
        offset: t.offset,
        retprobe: ret,
      });
    }
    case "usdt":
      return attachUsdt(prog, parseUsdtTarget(target));
    case "uprobe_multi": {
      const i = target.lastIndexOf(":");
      if (i <= 0) {
        throw new BpfError(
          `Uprobe.multi section target '${target}' is not 'binary:pattern' (SEC("uprobe.multi/libc.so.6:mem*"))`,
        );
      }
      return attachUprobeMulti(prog, target.slice(0, i), target.slice(i + 1), { retprobe: ret });
    }
    case "iter":
      return attachIter(prog);
    default:
      throw new NotSupportedError(
        `${d.attach} auto-attach`,
        `tsbpf cannot auto-attach ${d.attach} programs yet (${
          progLabel(prog)
        }); attach it with the explicit functions of link/`,
      );
  }
}

/** The part of a `BpfObject` that auto-attach uses. */
export interface AttachableObject {
  /** The pure spec (for each program's section definition and target). */
  readonly spec: ObjectSpec;
  /** The loaded programs by name (programs with autoload off are absent). */
  readonly programs: ReadonlyMap<string, { readonly fd: number; readonly name: string }>;
}

/** One program's outcome in {@linkcode attachEach}. */
export interface AttachResult {
  /** The program's name. */
  name: string;
  /** Its section. */
  section: string;
  /** The link, when it attached. */
  link?: BpfLink;
  /** Why it did not attach (undefined when it did or when it has no auto-attach section). */
  error?: Error;
  /** Whether the section is auto-attachable at all. */
  autoAttach: boolean;
}

function refOf(
  obj: AttachableObject,
  p: { fd: number; name: string },
): ProgramRef & { spec: ProgramSpec } | undefined {
  const spec = obj.spec.programs.find((s) => s.name === p.name);
  if (spec === undefined) return undefined;
  return { fd: p.fd, name: p.name, section: spec.section, spec };
}

function named(prog: ProgramRef, e: unknown): Error {
  const label = progLabel(prog);
  const msg = (e as Error)?.message ?? String(e);
  if (msg.includes(label)) return e as Error;
  const text = `Attaching program ${label} failed: ${msg}`;
  if (e instanceof NotSupportedError) return new NotSupportedError(e.feature, text, { cause: e });
  if (e instanceof SyscallError) {
    return new SyscallError(text, { call: e.call, errno: e.errno, code: e.code, cause: e });
  }
  return new BpfError(text, { cause: e });
}

/**
 * Tries to attach every loaded, auto-attachable program of an object and reports each outcome,
 * continuing past failures (what `tsbpf object run` uses).
 *
 * @param obj a loaded object.
 * @returns one result per loaded program, in spec order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachEach, detachAll } from "./auto.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * const results = attachEach(obj);
 * for (const r of results) console.log(r.name, r.link !== undefined, r.error?.message);
 * assert(results.some((r) => r.name === "touch_maps" && r.link !== undefined));
 * detachAll(results.flatMap((r) => (r.link ? [r.link] : [])));
 * ```
 */
export function attachEach(obj: AttachableObject): AttachResult[] {
  const out: AttachResult[] = [];
  for (const spec of obj.spec.programs) {
    const p = obj.programs.get(spec.name);
    if (p === undefined) continue;
    const ref = refOf(obj, p)!;
    const r: AttachResult = {
      name: spec.name,
      section: spec.section,
      autoAttach: canAutoAttach(spec),
    };
    if (r.autoAttach) {
      try {
        r.link = attachProgram(ref);
      } catch (e) {
        r.error = named(ref, e);
      }
    }
    out.push(r);
  }
  return out;
}

/**
 * Attaches every loaded program of an object that has an auto-attach section (libbpf's
 * `bpf_object__attach_skeleton`). When one fails, the links already made are closed and the
 * error names the program and its section.
 *
 * @param obj a loaded object.
 * @returns the links by program name (programs with nothing to auto-attach are absent).
 * @throws {BpfError} {NotSupportedError} {SyscallError} the first failure, naming the program.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachAll, detachAll } from "./auto.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * const links = attachAll(obj);
 * try {
 *   assert.deepEqual([...links.keys()], ["touch_maps"]);
 * } finally {
 *   detachAll(links);
 * }
 * ```
 */
export function attachAll(obj: AttachableObject): Map<string, BpfLink> {
  const links = new Map<string, BpfLink>();
  for (const spec of obj.spec.programs) {
    const p = obj.programs.get(spec.name);
    if (p === undefined || !canAutoAttach(spec)) continue;
    const ref = refOf(obj, p)!;
    try {
      const l = attachProgram(ref);
      if (l !== undefined) links.set(spec.name, l);
    } catch (e) {
      try {
        closeAll(links.values());
      } catch {
        // The attach error is the one to report.
      }
      throw named(ref, e);
    }
  }
  return links;
}

/**
 * Closes links (libbpf's `bpf_link__destroy` on each), last made first. Pinned bpf_links stay
 * attached through their pins.
 *
 * @param links the links, as returned by {@linkcode attachAll} or in any iterable.
 * @throws the first error, after every link was closed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachAll, detachAll } from "./auto.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * const links = attachAll(obj);
 * detachAll(links);
 * assert([...links.values()].every((l) => l.closed));
 * ```
 */
export function detachAll(links: Iterable<BpfLink> | ReadonlyMap<string, BpfLink>): void {
  closeAll(links instanceof Map ? links.values() : links as Iterable<BpfLink>);
}
