/**
 * `tsbpf object load FILE [--prog NAME]... [--json]`: loads a BPF object into the running kernel
 * the way libbpf does (only the named programs when `--prog` is given, the others with autoload
 * off), prints each loaded program's name, section, kernel id, tag and translated instruction
 * count, then releases everything. With `--json` the output is one document:
 *
 * ```
 * {programs: [{name, section, id, tag, xlatedInsns}]}
 * ```
 *
 * where `tag` is the kernel's program tag as 16 lowercase hex digits. A failed load exits with 1
 * and the error on stderr; a verifier rejection ends with the log's last lines.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";

const HELP = `Usage: tsbpf object load FILE [--prog NAME]... [--json]

Loads FILE into the kernel (like libbpf's bpf_object__load), prints each loaded program's
name, section, id, tag and translated instruction count, and unloads it again.

  --prog NAME   load only this program (repeatable); the others get autoload off
  --json        print {programs: [{name, section, id, tag, xlatedInsns}]}
`;

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
 * ```ts ignore
 * import { main } from "./object_load.ts";
 * const code = await main(["tests/bpf/build/net.bpf.o", "--json"]);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean" },
      prog: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`Error: expected one FILE\n\n${HELP}`);
    return 2;
  }
  const { BpfObject } = await import("../live/object.ts");
  const obj = BpfObject.open(positionals[0]);
  try {
    const wanted = values.prog ?? [];
    if (wanted.length > 0) {
      const known = new Set(obj.programNames);
      const unknown = wanted.filter((n) => !known.has(n));
      if (unknown.length > 0) {
        process.stderr.write(
          `Error: no program named ${unknown.map((n) => `'${n}'`).join(", ")} in ${
            positionals[0]
          }; programs: ${obj.programNames.join(", ")}\n`,
        );
        return 2;
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
    if (values.json) process.stdout.write(JSON.stringify({ programs }, null, 2) + "\n");
    else {
      for (const p of programs) {
        process.stdout.write(
          `${p.id}: ${p.name}  section ${p.section}  tag ${p.tag}  xlated ${p.xlatedInsns} insns\n`,
        );
      }
    }
    return 0;
  } finally {
    obj.close();
  }
}
