/**
 * User-space probes: `uprobe/`, `uretprobe/` (and their sleepable forms). The target function is
 * found through the binary's .symtab and .dynsym and turned into a file offset; the probe is a
 * perf event of the uprobe PMU, or a tracefs `uprobe_events` probe on kernels without it.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Perf } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { functionFileOffset, resolveBinaryPath } from "./elf_target.ts";
import { type BpfLink, progLabel, type ProgramRef } from "./link.ts";
import { attachPerfEvent, perfEventOpen } from "./perf_event.ts";
import { probePmu } from "./pmu.ts";
import { addTracefsProbe } from "./tracefs.ts";

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
 * ```ts ignore
 * using link = attachUprobe(prog, { binary: "libc.so.6", func: "malloc" });
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
  const kind = opts.kind ?? "uprobe";
  const pmu = opts.legacy ? undefined : probePmu("uprobe");
  const pid = opts.pid ?? -1;
  if (pmu !== undefined) {
    const p = new TextEncoder().encode(path + "\0");
    let config = retprobe ? 1n << BigInt(pmu.retprobeBit) : 0n;
    if (opts.refCtrOffset) config |= BigInt(opts.refCtrOffset) << 32n;
    let fd;
    try {
      fd = perfEventOpen({
        type: pmu.type,
        config,
        config1: getSys().ptrOf(p),
        config2: BigInt(offset),
        samplePeriod: 1,
        wakeupEvents: 1,
        pid,
        keep: [p],
      });
    } catch (e) {
      throw new BpfError(
        `Creating the ${what} for ${progLabel(prog)} failed: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    return attachPerfEvent(prog, fd, { cookie: opts.cookie, kind, target: what });
  }
  const event = `tsbpf_${getSys().getpid()}_${++legacySeq}`;
  const probe = addTracefsProbe(
    "uprobe_events",
    "tsbpf_uprobes",
    event,
    `${path}:0x${offset.toString(16)}${
      opts.refCtrOffset ? `(0x${opts.refCtrOffset.toString(16)})` : ""
    }`,
    retprobe,
  );
  let fd;
  try {
    fd = perfEventOpen({
      type: Perf.PERF_TYPE_TRACEPOINT,
      config: probe.id,
      samplePeriod: 1,
      wakeupEvents: 1,
      pid,
    });
  } catch (e) {
    probe.remove();
    throw e;
  }
  return attachPerfEvent(prog, fd, {
    cookie: opts.cookie,
    kind,
    target: what,
    cleanup: probe.remove,
  });
}
