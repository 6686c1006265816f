/**
 * Perf events: opening them (`perf_event_open`), attaching a program to one (a BPF_PERF_EVENT
 * bpf_link, or PERF_EVENT_IOC_SET_BPF on older kernels), and sampling software or hardware events
 * on every online CPU.
 *
 * @module
 */
import { host } from "../_host.ts";
import { BpfError, NotSupportedError } from "../errors.ts";
import { Attr, PERF_EVENT_ATTR } from "../ffi/bpf_attr.ts";
import { Fd, linkCreate } from "../ffi/bpf.ts";
import { BpfAttachType, Perf } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";

/** The fields of `perf_event_attr` that tsbpf sets. Every field not given is 0. */
export interface PerfEventOptions {
  /** `PERF_TYPE_*`, or a PMU's dynamic type (`/sys/bus/event_source/devices/<pmu>/type`). */
  type: number;
  /** The event (`PERF_COUNT_SW_CPU_CLOCK`, a tracepoint id...). */
  config: bigint | number;
  /** config1 (kprobe/uprobe: the address of the function or path string). */
  config1?: bigint;
  /** config2 (kprobe/uprobe: the offset). */
  config2?: bigint;
  /** Sample every N events. */
  samplePeriod?: bigint | number;
  /** Sample N times a second (sets the `freq` bit); wins over `samplePeriod`. */
  sampleFreq?: number;
  /** Extra bits of the flags word (`Perf.BIT_*`). */
  flagBits?: bigint;
  /** wakeup_events. */
  wakeupEvents?: number;
  /** sample_type (`Perf.PERF_SAMPLE_RAW`...). Default 0. */
  sampleType?: bigint;
  /** The process (-1: every process; default -1). */
  pid?: number;
  /** The CPU (-1: every CPU, only with a pid; default 0 when pid is -1, else -1). */
  cpu?: number;
  /** Buffers that addresses inside config1/config2 point at; kept alive during the call. */
  keep?: Uint8Array[];
}

/**
 * `perf_event_open` with a `perf_event_attr` built from `o`, with `PERF_FLAG_FD_CLOEXEC`.
 *
 * @param o the event.
 * @returns the event's fd; the caller owns it.
 * @throws {SyscallError} `perf_event_open` failed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { perfEventOpen } from "./perf_event.ts";
 * import { Perf } from "../ffi/constants.ts";
 * using fd = perfEventOpen({
 *   type: Perf.PERF_TYPE_SOFTWARE,
 *   config: Perf.PERF_COUNT_SW_CPU_CLOCK,
 *   sampleFreq: 99,
 *   cpu: 0,
 * });
 * assert(fd.value > 0);
 * ```
 */
export function perfEventOpen(o: PerfEventOptions): Fd {
  const a = new Attr(PERF_EVENT_ATTR)
    .set("type", o.type)
    .set("size", PERF_EVENT_ATTR.size)
    .set("config", BigInt(o.config))
    .set("config1", o.config1 ?? 0n)
    .set("config2", o.config2 ?? 0n)
    .set("wakeup_events", o.wakeupEvents ?? 0)
    .set("sample_type", o.sampleType ?? 0n);
  let bits = o.flagBits ?? 0n;
  if (o.sampleFreq !== undefined) {
    a.set("sample_freq", o.sampleFreq);
    bits |= Perf.BIT_FREQ;
  } else {
    a.set("sample_period", BigInt(o.samplePeriod ?? 0));
  }
  a.set("flags", bits);
  const pid = o.pid ?? -1;
  const cpu = o.cpu ?? (pid === -1 ? 0 : -1);
  const fd = getSys().perfEventOpen(a.bytes, pid, cpu, -1, Perf.PERF_FLAG_FD_CLOEXEC);
  void o.keep;
  return new Fd(fd, "perf_event");
}

/** Options of {@linkcode attachPerfEvent}. */
export interface AttachPerfEventOptions {
  /** The BPF cookie (`bpf_get_attach_cookie()`); needs a BPF_PERF_EVENT link. Default 0. */
  cookie?: bigint;
  /** The attach kind the link reports (default `perf_event`). */
  kind?: string;
  /** What the link reports as its target. */
  target?: string;
  /** Force the legacy PERF_EVENT_IOC_SET_BPF path (tests). */
  legacy?: boolean;
  /** Runs when the link is closed, after the perf event is closed (removes a tracefs probe). */
  cleanup?: () => void;
}

/**
 * Attaches a program to an open perf event: BPF_LINK_CREATE with BPF_PERF_EVENT, or, on kernels
 * without perf links, PERF_EVENT_IOC_SET_BPF and PERF_EVENT_IOC_ENABLE. The link takes ownership of
 * `perfFd` (closing the link closes it, which detaches the program).
 *
 * @param prog a program of a type perf events take (kprobe, tracepoint, perf_event).
 * @param perfFd the perf event; owned by the link from now on, even when this throws.
 * @param opts cookie and labels.
 * @returns the link.
 * @throws {SyscallError} both mechanisms failed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachPerfEvent, perfEventOpen } from "./perf_event.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/tracing.bpf.o");
 * obj.load();
 * // software cpu-clock on CPU 0; the link owns the perf event fd
 * using link = attachPerfEvent(obj.program("perf_sample"), perfEventOpen({ type: 1, config: 0, sampleFreq: 99 }));
 * assert.equal(link.kind, "perf_event");
 * ```
 */
export function attachPerfEvent(
  prog: ProgramRef,
  perfFd: Fd,
  opts: AttachPerfEventOptions = {},
): BpfLink {
  const kind = opts.kind ?? "perf_event";
  const target = opts.target ?? `perf event fd ${perfFd.value}`;
  const cleanupAll = () => {
    // On an error path: everything goes, and the error that brought us here is the one reported.
    for (const step of [() => perfFd.close(), () => opts.cleanup?.()]) {
      try {
        step();
      } catch {
        // released as far as it goes
      }
    }
  };
  try {
    if (!opts.legacy) {
      try {
        const lfd = linkCreate(prog.fd, perfFd.value, BpfAttachType.BPF_PERF_EVENT, {
          perfEventCookie: opts.cookie ?? 0n,
        });
        return new BpfLink({
          kind,
          program: prog.name ?? "",
          target,
          fd: lfd,
          bpfLink: true,
          owned: [perfFd],
          undo: opts.cleanup === undefined ? undefined : () => {
            // The tracefs probe can only go once the perf event is closed.
            lfd.close();
            perfFd.close();
            opts.cleanup!();
          },
        });
      } catch (e) {
        if (!isErrno(e, "EINVAL", "EOPNOTSUPP", "ENOTSUPP", "E2BIG")) throw e;
        // Kernels before 5.15 have no perf links; fall back below.
      }
    }
    if (opts.cookie !== undefined && opts.cookie !== 0n) {
      throw new NotSupportedError(
        "BPF perf link",
        `Attaching ${
          progLabel(prog)
        } with a BPF cookie needs BPF_LINK_CREATE with BPF_PERF_EVENT (Linux 5.15), which this kernel refused; attach without a cookie`,
      );
    }
    const sys = getSys();
    try {
      sys.ioctl(perfFd.value, Perf.PERF_EVENT_IOC_SET_BPF, prog.fd);
    } catch (e) {
      throw new BpfError(
        `Attaching ${progLabel(prog)} to ${target} with PERF_EVENT_IOC_SET_BPF failed: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
    sys.ioctl(perfFd.value, Perf.PERF_EVENT_IOC_ENABLE, 0);
    return new BpfLink({
      kind,
      program: prog.name ?? "",
      target,
      fd: perfFd,
      bpfLink: false,
      undo: () => {
        try {
          // Not when a close() retried after a failure closed the perf event already.
          if (!perfFd.closed) sys.ioctl(perfFd.value, Perf.PERF_EVENT_IOC_DISABLE, 0);
        } finally {
          perfFd.close();
          opts.cleanup?.();
        }
      },
    });
  } catch (e) {
    cleanupAll();
    throw e;
  }
}

/**
 * The online CPUs, from `/sys/devices/system/cpu/online` (`0-3,5`).
 *
 * @returns the CPU numbers, ascending.
 * @throws {BpfError} the file cannot be read.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onlineCpus } from "./perf_event.ts";
 * assert(onlineCpus().length >= 1);
 * ```
 */
export function onlineCpus(): number[] {
  let text: string;
  try {
    text = host().readText("/sys/devices/system/cpu/online").trim();
  } catch (e) {
    // As libbpf: guessing (CPU 0 only) would silently lose the other CPUs' events.
    throw new BpfError(
      `Reading the online CPUs (/sys/devices/system/cpu/online) failed: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const out: number[] = [];
  for (const part of text.split(",")) {
    if (part === "") continue;
    const [a, b] = part.split("-").map((x) => Number(x));
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** The common software and hardware events by name, for {@linkcode attachPerfEventAllCpus}. */
export const PERF_EVENTS = {
  "cpu-clock": { type: Perf.PERF_TYPE_SOFTWARE, config: 0 },
  "task-clock": { type: Perf.PERF_TYPE_SOFTWARE, config: 1 },
  "page-faults": { type: Perf.PERF_TYPE_SOFTWARE, config: 2 },
  "context-switches": { type: Perf.PERF_TYPE_SOFTWARE, config: 3 },
  "cpu-migrations": { type: Perf.PERF_TYPE_SOFTWARE, config: 4 },
  "cpu-cycles": { type: Perf.PERF_TYPE_HARDWARE, config: 0 },
  "instructions": { type: Perf.PERF_TYPE_HARDWARE, config: 1 },
  "cache-references": { type: Perf.PERF_TYPE_HARDWARE, config: 2 },
  "cache-misses": { type: Perf.PERF_TYPE_HARDWARE, config: 3 },
  "branch-instructions": { type: Perf.PERF_TYPE_HARDWARE, config: 4 },
  "branch-misses": { type: Perf.PERF_TYPE_HARDWARE, config: 5 },
} as const;

/** Options of {@linkcode attachPerfEventAllCpus}. */
export interface AllCpusOptions {
  /** Samples per second per CPU (default 99 when `samplePeriod` is not given). */
  sampleFreq?: number;
  /** Sample every N events instead. */
  samplePeriod?: bigint | number;
  /** The BPF cookie. */
  cookie?: bigint;
}

/**
 * Opens one sampling event per online CPU and attaches a `perf_event` program to each: the
 * returned link holds one child link per CPU, and closing it closes them all.
 *
 * @param prog a `perf_event` program.
 * @param event a name of {@linkcode PERF_EVENTS} (`cpu-clock`...) or `{type, config}`.
 * @param opts frequency or period, cookie.
 * @returns the link.
 * @throws {NotSupportedError} the event does not exist here (hardware events in a VM).
 * @throws {SyscallError} opening or attaching failed; nothing stays open.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachPerfEventAllCpus, onlineCpus } from "./perf_event.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/tracing.bpf.o");
 * obj.load();
 * using link = attachPerfEventAllCpus(obj.program("perf_sample"), "cpu-clock", { sampleFreq: 99 });
 * assert.equal(link.children.length, onlineCpus().length);
 * ```
 */
export function attachPerfEventAllCpus(
  prog: ProgramRef,
  event: keyof typeof PERF_EVENTS | { type: number; config: number | bigint },
  opts: AllCpusOptions = {},
): BpfLink {
  const ev = typeof event === "string" ? PERF_EVENTS[event] : event;
  if (ev === undefined) throw new BpfError(`Unknown perf event ${String(event)}`);
  const name = typeof event === "string" ? event : `type ${ev.type} config ${ev.config}`;
  const children: BpfLink[] = [];
  try {
    for (const cpu of onlineCpus()) {
      let fd: Fd;
      try {
        fd = perfEventOpen({
          type: ev.type,
          config: ev.config,
          sampleFreq: opts.samplePeriod === undefined ? (opts.sampleFreq ?? 99) : undefined,
          samplePeriod: opts.samplePeriod,
          pid: -1,
          cpu,
        });
      } catch (e) {
        if (isErrno(e, "ENOENT", "EOPNOTSUPP", "ENODEV")) {
          throw new NotSupportedError(
            `perf event ${name}`,
            `The perf event ${name} does not exist on CPU ${cpu} of this machine (${
              (e as Error).message
            }); use a software event such as cpu-clock`,
            { cause: e },
          );
        }
        throw e;
      }
      children.push(
        attachPerfEvent(prog, fd, { cookie: opts.cookie, target: `${name} on CPU ${cpu}` }),
      );
    }
  } catch (e) {
    for (const c of children) c.close();
    throw e;
  }
  return new BpfLink({
    kind: "perf_event",
    program: prog.name ?? "",
    target: `${name} on ${children.length} CPUs`,
    bpfLink: false,
    children,
  });
}
