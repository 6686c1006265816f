/**
 * Tracefs helpers: where tracefs is mounted, tracepoint ids, and adding or removing dynamic probes
 * through `kprobe_events` / `uprobe_events` (the legacy path for kernels without probe PMUs).
 *
 * @module
 */
import { host } from "../_host.ts";
import { BpfError, NotSupportedError } from "../errors.ts";

let root: string | undefined;

/**
 * The tracefs mount point: `/sys/kernel/tracing`, or `/sys/kernel/debug/tracing` on older setups.
 *
 * @returns the directory.
 * @throws {NotSupportedError} tracefs is not mounted.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tracefsRoot } from "./tracefs.ts";
 * assert.match(tracefsRoot(), /^\/sys\/kernel(\/debug)?\/tracing$/);
 * ```
 */
export function tracefsRoot(): string {
  if (root !== undefined) return root;
  for (const d of ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]) {
    if (host().exists(`${d}/events`)) return (root = d);
  }
  throw new NotSupportedError(
    "tracefs",
    "Tracefs is not mounted (no /sys/kernel/tracing/events); mount it with: mount -t tracefs tracefs /sys/kernel/tracing",
  );
}

/**
 * The id of a tracepoint (`events/<category>/<name>/id`).
 *
 * @param category such as `syscalls`.
 * @param name such as `sys_enter_write`.
 * @returns the id perf_event_open takes as `config`.
 * @throws {BpfError} no such tracepoint.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tracepointId } from "./tracefs.ts";
 * assert(tracepointId("syscalls", "sys_enter_write") > 0);
 * ```
 */
export function tracepointId(category: string, name: string): number {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name)) {
    throw new BpfError(`Bad tracepoint name ${category}/${name}`);
  }
  const path = `${tracefsRoot()}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = host().readText(path);
  } catch (e) {
    if ((e as { code?: string } | undefined)?.code !== "ENOENT") {
      throw new BpfError(
        `Reading the id of tracepoint ${category}/${name} (${path}) failed: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
    throw new BpfError(
      `No tracepoint ${category}/${name} in this kernel (${path} is missing); list them in ${tracefsRoot()}/available_events`,
      { cause: e },
    );
  }
  return Number(text.trim());
}

/**
 * Adds a dynamic probe through tracefs (`kprobe_events` or `uprobe_events`) and returns its
 * tracepoint id and a function that removes it.
 *
 * @param file `kprobe_events` or `uprobe_events`.
 * @param group the event group (`tsbpf_kprobes`).
 * @param event the event name (unique).
 * @param definition what follows `p:group/event ` or `r:group/event ` (`do_sys_open+0`).
 * @param retprobe a return probe.
 * @returns the id and the remover.
 * @throws {NotSupportedError} the tracefs file does not exist.
 * @throws {BpfError} the kernel refused the definition.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import process from "node:process";
 * import { addTracefsProbe } from "./tracefs.ts";
 * import { functionFileOffset } from "./elf_target.ts";
 * const bin = `${process.cwd()}/tests/bin/build/uprobe_target`;
 * const off = functionFileOffset(bin, "tsbpf_add");
 * const p = addTracefsProbe("uprobe_events", "tsbpf_doc", `add_${process.pid}`, `${bin}:0x${off.toString(16)}`, false);
 * try {
 *   assert(p.id > 0);
 * } finally {
 *   p.remove();
 * }
 * ```
 */
export function addTracefsProbe(
  file: "kprobe_events" | "uprobe_events",
  group: string,
  event: string,
  definition: string,
  retprobe: boolean,
): { id: number; remove: () => void } {
  // One tracefs line per probe: whitespace or a control character in any part would let a name
  // from an object add or remove other probes (`f\n-:group/other`).
  for (const part of [group, event, definition]) {
    // deno-lint-ignore no-control-regex
    if (part === "" || /[\s\x00-\x1f\x7f]/.test(part)) {
      throw new BpfError(
        `Refusing the probe ${
          JSON.stringify(part)
        }: a tracefs probe definition must not be empty or contain white space or control characters`,
      );
    }
  }
  const path = `${tracefsRoot()}/${file}`;
  let missing = false;
  try {
    host().fileType(path);
  } catch (e) {
    if ((e as { code?: string } | undefined)?.code !== "ENOENT") {
      throw new BpfError(`Checking ${path} failed: ${(e as Error).message}`, { cause: e });
    }
    missing = true;
  }
  if (missing) {
    throw new NotSupportedError(
      file,
      `This kernel has no ${path}: it was built without ${
        file === "kprobe_events" ? "CONFIG_KPROBE_EVENTS" : "CONFIG_UPROBE_EVENTS"
      }`,
    );
  }
  const remove = () => {
    try {
      host().appendText(path, `-:${group}/${event}\n`);
    } catch (e) {
      if ((e as { code?: string } | undefined)?.code === "ENOENT") return; // gone already
      throw new BpfError(
        `Removing the probe ${group}/${event} from ${path} failed: ${
          (e as Error).message
        }; call close() again`,
        { cause: e },
      );
    }
  };
  const removeQuietly = () => {
    try {
      remove();
    } catch {
      // The first error is the one to report.
    }
  };
  try {
    host().appendText(path, `${retprobe ? "r" : "p"}:${group}/${event} ${definition}\n`);
  } catch (e) {
    removeQuietly(); // the line may have been taken before the error (a failed close)
    throw new BpfError(
      `Adding the probe '${definition}' to ${path} failed: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  try {
    return { id: tracepointId(group, event), remove };
  } catch (e) {
    removeQuietly();
    throw e;
  }
}
