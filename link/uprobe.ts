/**
 * User-space probes: `uprobe/`, `uretprobe/` (and their sleepable forms). The target function is
 * found through the binary's .symtab and .dynsym and turned into a file offset; the probe is a
 * perf event of the uprobe PMU, or a tracefs `uprobe_events` probe on kernels without it.
 *
 * @module
 */
import { BpfError, NotSupportedError } from "../errors.ts";
import { linkCreate } from "../ffi/bpf.ts";
import { BpfAttachFlags } from "../ffi/constants.ts";
import { readElf } from "../spec/elf.ts";
import { attachTypeValue } from "./cgroup.ts";
import { getSys } from "../ffi/runtime.ts";
import { addrToFileOffset, functionFileOffset, resolveBinaryPath } from "./elf_target.ts";
import { attachTypeName, BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";
import { attachProbe, globToRegExp } from "./_probe.ts";
import { probePmu } from "./pmu.ts";

/** Options of {@linkcode attachUprobe}. */
export interface UprobeOptions {
  /** The binary or library (`/usr/bin/bash`, `libc.so.6`). */
  binary: string;
  /** The function; when absent, `offset` is a file offset. */
  func?: string;
  /** Bytes into the function, or the file offset when `func` is absent. Default 0. */
  offset?: number;
  /** A return probe. Default false. */
  retprobe?: boolean;
  /** Only this process (default -1: every process). */
  pid?: number;
  /** The BPF cookie. */
  cookie?: bigint;
  /** File offset of a USDT semaphore the kernel increments while the probe exists. */
  refCtrOffset?: number;
  /** Use a tracefs `uprobe_events` probe even when the uprobe PMU exists. Default false. */
  legacy?: boolean;
}

let legacySeq = 0;

/**
 * Attaches a uprobe or uretprobe (libbpf's `bpf_program__attach_uprobe_opts`).
 *
 * @param prog a KPROBE program.
 * @param opts where to put the probe.
 * @returns the link.
 * @throws {BpfError} the binary or function cannot be found.
 * @throws {SyscallError} the kernel refused the probe.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachUprobe } from "./uprobe.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/tracing.bpf.o");
 * obj.load();
 * using link = attachUprobe(obj.program("uprobe_add"), { binary: "libc.so.6", func: "malloc" });
 * assert.equal(link.kind, "uprobe");
 * ```
 */
export function attachUprobe(prog: ProgramRef, opts: UprobeOptions): BpfLink {
  const path = resolveBinaryPath(opts.binary);
  const offset = opts.func
    ? functionFileOffset(path, opts.func, opts.offset ?? 0)
    : (opts.offset ?? 0);
  const retprobe = opts.retprobe ?? false;
  const what = `${retprobe ? "uretprobe" : "uprobe"} ${path}:${opts.func ?? ""}${
    opts.func ? (opts.offset ? `+${opts.offset}` : "") : `0x${offset.toString(16)}`
  }`;
  return attachUprobeAt(prog, path, offset, { ...opts, what });
}

/**
 * Attaches a uprobe at a file offset of a binary (no symbol lookup).
 *
 * @param prog a KPROBE program.
 * @param path the binary's path.
 * @param offset the file offset.
 * @param opts return probe, pid, cookie, semaphore, `legacy` (force tracefs).
 * @returns the link.
 * @throws {SyscallError} the kernel refused the probe.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachUprobeAt } from "./uprobe.ts";
 * import { functionFileOffset } from "./elf_target.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/tracing.bpf.o");
 * obj.load();
 * const bin = "tests/bin/build/uprobe_target";
 * using link = attachUprobeAt(obj.program("uprobe_add"), bin, functionFileOffset(bin, "tsbpf_add"));
 * assert.equal(link.kind, "uprobe");
 * ```
 */
export function attachUprobeAt(
  prog: ProgramRef,
  path: string,
  offset: number,
  opts: {
    retprobe?: boolean;
    pid?: number;
    cookie?: bigint;
    refCtrOffset?: number;
    what?: string;
    kind?: string;
    legacy?: boolean;
  } = {},
): BpfLink {
  const retprobe = opts.retprobe ?? false;
  const what = opts.what ?? `${retprobe ? "uretprobe" : "uprobe"} ${path}+0x${offset.toString(16)}`;
  return attachProbe(prog, {
    pmu: opts.legacy ? undefined : probePmu("uprobe"),
    name: path,
    offset,
    retprobe,
    config: opts.refCtrOffset ? BigInt(opts.refCtrOffset) << 32n : 0n,
    pid: opts.pid ?? -1,
    tracefs: {
      file: "uprobe_events",
      group: "tsbpf_uprobes",
      event: `tsbpf_${getSys().getpid()}_${++legacySeq}`,
      definition: `${path}:0x${offset.toString(16)}${
        opts.refCtrOffset ? `(0x${opts.refCtrOffset.toString(16)})` : ""
      }`,
    },
    kind: opts.kind ?? "uprobe",
    what,
    cookie: opts.cookie,
  });
}

/** Options of {@linkcode attachUprobeMulti}. */
export interface UprobeMultiOptions {
  /** Return probes (BPF_F_UPROBE_MULTI_RETURN). Default false. */
  retprobe?: boolean;
  /** Only this process (default 0: every process). */
  pid?: number;
  /** One cookie per matched function, in the order of {@linkcode matchFunctions}. */
  cookies?: bigint[];
  /** The attach type name (`TRACE_UPROBE_MULTI` or `TRACE_UPROBE_SESSION`); default the spec's. */
  attachType?: string;
}

/**
 * The functions of a binary whose names match a glob, with their file offsets, sorted by name.
 *
 * @param path the binary or library (resolved already).
 * @param pattern a glob with `*` and `?`, or a plain name.
 * @returns name and offset per function (one entry per distinct name).
 * @throws {ElfError} the file is not a readable x86-64/aarch64 ELF.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchFunctions } from "./uprobe.ts";
 * const found = matchFunctions("tests/bin/build/uprobe_target", "tsbpf_*");
 * assert.deepEqual(found.map((f) => f.name), ["tsbpf_add", "tsbpf_run"]);
 * ```
 */
export function matchFunctions(path: string, pattern: string): { name: string; offset: number }[] {
  const elf = readElf(path, { native: true });
  const re = globToRegExp(pattern);
  const found = new Map<string, number>();
  for (const table of [elf.symbols, elf.dynsyms ?? []]) {
    for (const s of table) {
      if ((s.type !== 2 && s.type !== 10) || s.shndx === 0 || s.value === 0) continue;
      const name = s.name.split("@")[0];
      if (!re.test(name) || found.has(name)) continue;
      found.set(name, addrToFileOffset(elf, s.value));
    }
  }
  return [...found].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([name, offset]) => ({
    name,
    offset,
  }));
}

/**
 * Attaches a program to every function of a binary that a glob matches, with one
 * BPF_TRACE_UPROBE_MULTI link (libbpf's `bpf_program__attach_uprobe_multi`, Linux 6.6).
 *
 * @param prog a KPROBE program loaded with expected attach type TRACE_UPROBE_MULTI (or
 *   TRACE_UPROBE_SESSION).
 * @param binary the binary or library (`libc.so.6` is searched like uprobes).
 * @param pattern a glob over function names.
 * @param opts return probes, pid, cookies.
 * @returns the link.
 * @throws {BpfError} nothing matches.
 * @throws {NotSupportedError} the kernel has no uprobe_multi links.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachUprobeMulti } from "./uprobe.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/attach_umulti.bpf.o");
 * obj.load();
 * using link = attachUprobeMulti(obj.program("umulti_any"), "tests/bin/build/uprobe_target", "tsbpf_*");
 * assert(link.isBpfLink);
 * ```
 */
export function attachUprobeMulti(
  prog: ProgramRef,
  binary: string,
  pattern: string,
  opts: UprobeMultiOptions = {},
): BpfLink {
  const path = resolveBinaryPath(binary);
  const funcs = matchFunctions(path, pattern);
  if (funcs.length === 0) {
    throw new BpfError(`Attaching ${progLabel(prog)}: no function of ${path} matches '${pattern}'`);
  }
  const at = opts.attachType ?? (attachTypeName(prog) || "TRACE_UPROBE_MULTI");
  const offsets = new BigUint64Array(funcs.map((f) => BigInt(f.offset)));
  const cookies = opts.cookies ? new BigUint64Array(opts.cookies) : undefined;
  try {
    const fd = linkCreate(prog.fd, 0, attachTypeValue(at), {
      uprobeMulti: {
        path,
        offsets: new Uint8Array(offsets.buffer),
        cookies: cookies ? new Uint8Array(cookies.buffer) : undefined,
        cnt: funcs.length,
        flags: opts.retprobe ? BpfAttachFlags.BPF_F_UPROBE_MULTI_RETURN : 0,
        pid: opts.pid ?? 0,
      },
    });
    return new BpfLink({
      kind: "uprobe_multi",
      program: prog.name ?? "",
      target: `${path}:${pattern} (${funcs.length} functions)`,
      fd,
      bpfLink: true,
    });
  } catch (e) {
    if (isErrno(e, "EOPNOTSUPP", "ENOTSUPP")) {
      throw new NotSupportedError(
        "uprobe_multi",
        `Attaching ${
          progLabel(prog)
        } to ${path}:${pattern} failed: this kernel has no multi-uprobe links (Linux 6.6); attach single uprobes instead`,
        { cause: e },
      );
    }
    throw e;
  }
}
