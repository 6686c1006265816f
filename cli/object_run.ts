/**
 * `tsbpf object run FILE [--seconds N] [--json]`: loads a BPF object, turns on run statistics
 * (BPF_ENABLE_STATS), auto-attaches every program whose section allows it (continuing past
 * failures), waits N seconds (default 1), then reports per program whether it attached (or why
 * not) and how many times it ran (`bpf_prog_info.run_cnt`). Everything is detached and closed
 * before it returns.
 *
 * The `--json` document:
 *
 * ```
 * {programs: [{name, section, autoAttach, attached, error, runCount}]}
 * ```
 *
 * `error` is null when the program attached or has no auto-attach section (`autoAttach: false`,
 * such as `xdp` or `SEC("uprobe")` without a target).
 *
 * @module
 */
import process from "node:process";
import { BpfError, NotSupportedError, VerifierError } from "../errors.ts";
import { enableStats, type Fd, progInfo } from "../ffi/bpf.ts";
import { BpfStatsType } from "../ffi/constants.ts";
import { BpfObject } from "../live/object.ts";
import { attachEach, type AttachResult } from "../link/auto.ts";
import { explainLoadError } from "../link/tracing.ts";
import { parseFileArgs, printReport, usageError } from "./_common.ts";
import { formatPinned, type PinnedMapJson, pinnedMaps } from "./object_load.ts";

const HELP = `Usage: tsbpf object run FILE [--seconds N] [--pin-root DIR] [--json]

Loads FILE, auto-attaches every program whose section names its target (tp/, raw_tp/,
tp_btf/, fentry/, kprobe/, uprobe/BINARY:FUNC, usdt/BINARY:PROV:NAME, iter/...), waits N
seconds (default 1) and prints, per program, whether it attached and how often it ran.

Exit status: 0 when at least one program attached; 1 when the object did not load, or
loaded but no program attached (each program's report says why); 2 for bad usage.

Options:
  --seconds N      how long to keep the programs attached (default 1)
  --pin-root DIR   where maps pinned by name go (default /sys/fs/bpf); they stay pinned,
                   and each is listed
  --json           print {programs: [{name, section, autoAttach, attached, error, runCount}],
                   pinned: [{map, path, reused}]}
`;

/** One program in the `--json` document of `tsbpf object run`. */
export interface ObjectRunProgram {
  /** The program's name. */
  name: string;
  /** Its ELF section. */
  section: string;
  /** Whether its section is auto-attachable. */
  autoAttach: boolean;
  /** Whether it was attached. */
  attached: boolean;
  /** Why it was not attached, or null. */
  error: string | null;
  /** `run_cnt` after the wait (0 when statistics could not be turned on). */
  runCount: number;
}

/** The `--json` document of `tsbpf object run`. */
export interface ObjectRunJson {
  /** The loaded programs, in ELF order. */
  programs: ObjectRunProgram[];
  /** The maps pinned by name, which stay pinned after the command. */
  pinned?: PinnedMapJson[];
}

/**
 * Formats the report as text, one line per program.
 *
 * @param doc the report.
 * @returns the text.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatObjectRun } from "./object_run.ts";
 * const t = formatObjectRun({
 *   programs: [{ name: "p", section: "tp/a/b", autoAttach: true, attached: true, error: null, runCount: 3 }],
 * });
 * assert(t.includes("attached, 3 runs"));
 * ```
 */
export function formatObjectRun(doc: ObjectRunJson): string {
  const w = Math.max(7, ...doc.programs.map((p) => `${p.name} (${p.section})`.length));
  let s = "";
  for (const p of doc.programs) {
    const head = `${p.name} (${p.section})`.padEnd(w);
    const state = p.attached
      ? `attached, ${p.runCount} runs`
      : p.error !== null
      ? `not attached: ${p.error}`
      : `not auto-attachable, ${p.runCount} runs`;
    s += `${head}  ${state}\n`;
  }
  return s + formatPinned(doc.pinned ?? []);
}

/**
 * The verb's entry point.
 *
 * @param argv the arguments after `object run`.
 * @returns the exit status: 0 when at least one program attached, 1 when the object did not load
 *   or no program attached, 2 for bad usage.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./object_run.ts";
 * const status = await main(["tests/bpf/build/tracing.bpf.o", "--seconds", "1"]);
 * assert.equal(status, 0);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const args = parseFileArgs(argv, {
    json: { type: "boolean" },
    seconds: { type: "string" },
    "pin-root": { type: "string" },
  }, HELP);
  if (typeof args === "number") return args;
  const { file, values } = args;
  const seconds = values.seconds === undefined ? 1 : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 0) {
    return usageError(`--seconds wants a number of seconds, not '${values.seconds}'`);
  }
  // A program the kernel refuses is reported and left out; the others still load and run.
  const loadErrors = new Map<string, { section: string; error: string }>();
  const open = () => BpfObject.open(file, { pinRoot: values["pin-root"] });
  let obj = open();
  for (;;) {
    try {
      obj.load();
      break;
    } catch (e) {
      obj.close();
      const byProgram = e instanceof VerifierError || e instanceof NotSupportedError;
      if (!byProgram || loadErrors.has(e.program) || e.program === "") throw e;
      const spec = obj.spec.programs.find((p) => p.name === e.program);
      loadErrors.set(e.program, {
        section: e.section,
        error: e instanceof VerifierError
          ? explainLoadError(e, spec?.expectedAttachType ?? "")
          : e.message,
      });
      obj = open();
      for (const name of loadErrors.keys()) obj.setAutoload(name, false);
    }
  }
  let stats: Fd | undefined;
  let results: AttachResult[] = [];
  try {
    try {
      stats = enableStats(BpfStatsType.BPF_STATS_RUN_TIME);
    } catch (e) {
      process.stderr.write(
        `Warning: BPF_ENABLE_STATS failed (${(e as Error).message}); run counts stay 0\n`,
      );
    }
    results = attachEach(obj);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const doc: ObjectRunJson = {
      programs: [],
      pinned: pinnedMaps(obj.maps),
    };
    const attached = new Map(results.map((r) => [r.name, r]));
    for (const spec of obj.spec.programs) {
      const failed = loadErrors.get(spec.name);
      if (failed !== undefined) {
        doc.programs.push({
          name: spec.name,
          section: spec.section,
          autoAttach: spec.def?.attach !== undefined && spec.def.attach !== "",
          attached: false,
          error: failed.error,
          runCount: 0,
        });
        continue;
      }
      const r = attached.get(spec.name);
      if (r === undefined) continue;
      doc.programs.push((() => {
        let runCount = 0;
        try {
          runCount = Number(progInfo(obj.program(r.name).fd).runCnt);
        } catch {
          // A program that cannot be queried ran as far as we know 0 times.
        }
        return {
          name: r.name,
          section: r.section,
          autoAttach: r.autoAttach,
          attached: r.link !== undefined,
          error: r.error ? r.error.message : null,
          runCount,
        };
      })());
    }
    printReport(doc, values.json, formatObjectRun);
    if (!doc.programs.some((p) => p.attached)) {
      process.stderr.write(
        `Error: no program of ${JSON.stringify(file)} attached (see above why)\n`,
      );
      return 1;
    }
    return 0;
  } catch (e) {
    if (e instanceof BpfError) throw e;
    throw new BpfError(`Running ${file} failed: ${(e as Error).message}`, { cause: e });
  } finally {
    for (const r of results.reverse()) {
      try {
        r.link?.close();
      } catch {
        // Keep closing the others.
      }
    }
    stats?.close();
    obj.close();
  }
}
