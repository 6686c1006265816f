/**
 * `tsbpf object load FILE [--prog NAME]... [--json]`: loads a BPF object into the running kernel
 * the way libbpf does (only the named programs when `--prog` is given, the others with autoload
 * off), prints each loaded program's name, section, kernel id, tag and translated instruction
 * count, then releases everything. With `--json` the output is one document:
 *
 * ```
 * {programs: [{name, section, id, tag, xlatedInsns}], pinned: [{map, path, reused}]}
 * ```
 *
 * Maps the object pins by name (`LIBBPF_PIN_BY_NAME`) are pinned under `--pin-root` (default
 * /sys/fs/bpf) and stay there after the command: each is listed.
 *
 * where `tag` is the kernel's program tag as 16 lowercase hex digits. A failed load exits with 1
 * and the error on stderr; a verifier rejection ends with the log's last lines.
 *
 * @module
 */
import { parseFileArgs, printReport, usageError } from "./_common.ts";

const HELP = `Usage: tsbpf object load FILE [--prog NAME]... [--pin-root DIR] [--json]

Loads FILE into the kernel (like libbpf's bpf_object__load), prints each loaded program's
name, section, id, tag and translated instruction count, and unloads it again. Maps that
the object pins by name (LIBBPF_PIN_BY_NAME) stay pinned under the pin root: each is listed.

  --prog NAME       load only this program (repeatable); the others get autoload off
  --pin-root DIR    where maps pinned by name go (default /sys/fs/bpf; a bpffs directory)
  --json            print {programs: [{name, section, id, tag, xlatedInsns}],
                    pinned: [{map, path, reused}]}
`;

/** A map pinned by name, in the `--json` documents of `object load` and `object run`. */
export interface PinnedMapJson {
  /** The map's name. */
  map: string;
  /** Where it is pinned. */
  path: string;
  /** True when an existing pin was reused, false when this load pinned it. */
  reused: boolean;
}

/** The maps of a loaded object that are pinned by name. */
export function pinnedMaps(
  maps: ReadonlyMap<string, { pinPath: string; reused: boolean }>,
): PinnedMapJson[] {
  return [...maps].filter(([, m]) => m.pinPath !== "").map(([map, m]) => ({
    map,
    path: m.pinPath,
    reused: m.reused,
  }));
}

/** The text lines for pinned maps. */
export function formatPinned(pinned: PinnedMapJson[]): string {
  return pinned.map((p) => `pinned: map ${p.map} at ${p.path} (${p.reused ? "reused" : "new"})\n`)
    .join("");
}

/** One loaded program in the `--json` document. */
export interface LoadedProgramJson {
  /** The function name. */
  name: string;
  /** The ELF section. */
  section: string;
  /** The kernel's program id. */
  id: number;
  /** The kernel's tag, 16 lowercase hex digits. */
  tag: string;
  /** Translated instructions (xlated_prog_len / 8). */
  xlatedInsns: number;
}

/**
 * Runs the verb.
 *
 * @param argv the arguments after `object load`.
 * @returns the exit status: 0 loaded, 1 the load failed, 2 bad usage.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./object_load.ts";
 * const code = await main(["tests/bpf/build/net.bpf.o", "--json"]); // prints each program's id and tag
 * assert.equal(code, 0);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const args = parseFileArgs(argv, {
    json: { type: "boolean" },
    prog: { type: "string", multiple: true },
    "pin-root": { type: "string" },
  }, HELP);
  if (typeof args === "number") return args;
  const { file, values } = args;
  const { BpfObject } = await import("../live/object.ts");
  const obj = BpfObject.open(file, { pinRoot: values["pin-root"] });
  try {
    const wanted = values.prog ?? [];
    if (wanted.length > 0) {
      const known = new Set(obj.programNames);
      const unknown = wanted.filter((n) => !known.has(n));
      if (unknown.length > 0) {
        return usageError(
          `no program named ${unknown.map((n) => `'${n}'`).join(", ")} in ${file}; programs: ${
            obj.programNames.join(", ")
          }`,
        );
      }
      for (const n of obj.programNames) obj.setAutoload(n, wanted.includes(n));
    }
    obj.load();
    const programs: LoadedProgramJson[] = [];
    for (const [name, p] of obj.programs) {
      const info = p.info();
      programs.push({
        name,
        section: p.section,
        id: info.id,
        tag: info.tag,
        xlatedInsns: info.insnCount,
      });
    }
    printReport(
      { programs, pinned: pinnedMaps(obj.maps) },
      values.json,
      (doc) =>
        doc.programs.map((p) =>
          `${p.id}: ${p.name}  section ${p.section}  tag ${p.tag}  xlated ${p.xlatedInsns} insns\n`
        ).join("") + formatPinned(doc.pinned),
    );
    return 0;
  } finally {
    obj.close();
  }
}
