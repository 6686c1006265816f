/**
 * `tsbpf gen skeleton FILE [name NAME] [--import-from SPEC]`: prints the TypeScript skeleton of a
 * BPF object, as `bpftool gen skeleton` prints a C one. Offline: no root, no FFI.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { host } from "../_host.ts";
import { BpfError } from "../errors.ts";
import { genSkeleton } from "../gen/skeleton.ts";

const USAGE = `Usage: tsbpf gen skeleton FILE [name NAME] [--import-from SPEC] [--line-width N]

  FILE               a clang-built BPF object with BTF (clang -g -O2 -target bpf)
  name NAME          the skeleton's name (the object name and the class prefix: NAME -> NameSkel);
                     default the file name without .bpf.o / .o
  --import-from SPEC the module the skeleton imports tsbpf from; default "tsbpf"
  --line-width N     the deno fmt line width to wrap for (deno.json's fmt.lineWidth); default 100

Prints one TypeScript module: the object embedded, a class with typed maps, progs, links and
one accessor per global variable (rodata, data, bss, kconfig, data_<x>, rodata_<x>).
`;

/**
 * Runs `gen skeleton` with the arguments after the verb.
 *
 * @param argv Such as `["tests/bpf/build/globals.bpf.o", "name", "globals"]`.
 * @returns The exit status: 0, 1 on a failure, 2 on bad usage.
 * @throws {BpfError} When the file cannot be read or is not a BPF object (the CLI prints it).
 * @example
 * ```ts
 * import { main } from "./gen_skeleton.ts";
 * if ((await main(["--help"])) !== 0) throw new Error("help failed");
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      "import-from": { type: "string" },
      "line-width": { type: "string" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [file, ...rest] = positionals;
  if (file === undefined) {
    process.stderr.write(`Error: expected FILE\n\n${USAGE}`);
    return 2;
  }
  let name: string | undefined;
  if (rest.length > 0) {
    if (rest[0] !== "name" || rest.length !== 2 || rest[1] === "") {
      process.stderr.write(`Error: unexpected arguments '${rest.join(" ")}'\n\n${USAGE}`);
      return 2;
    }
    name = rest[1];
  }
  let bytes: Uint8Array;
  try {
    bytes = host().readFile(file);
  } catch (e) {
    throw new BpfError(`Reading ${JSON.stringify(file)} failed: ${(e as Error)?.message ?? e}`, {
      cause: e,
    });
  }
  let lineWidth: number | undefined;
  if (values["line-width"] !== undefined) {
    lineWidth = Number(values["line-width"]);
    if (!Number.isInteger(lineWidth) || lineWidth < 60 || lineWidth > 1000) {
      process.stderr.write(`Error: --line-width takes a whole number from 60 to 1000\n`);
      return 2;
    }
  }
  const text = genSkeleton(bytes, { file, name, importFrom: values["import-from"], lineWidth });
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
  return 0;
}
