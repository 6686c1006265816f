/**
 * The `tsbpf` command line, with bpftool's verbs:
 *
 * ```
 * tsbpf object show FILE [--json]
 * tsbpf object load FILE [--prog NAME]... [--json]
 * tsbpf object run FILE [--seconds N] [--json]
 * tsbpf btf dump file FILE [format raw|c]
 * tsbpf gen skeleton FILE [name NAME] [--import-from SPEC]
 * tsbpf completion bash [--install [DIR]]
 * ```
 *
 * Run it as `deno run -A cli.ts ...`, `bun cli.ts ...`, or `node dist/cli.js ...` (offline verbs).
 * Each verb lives in `cli/<object>_<verb>.ts` and is imported only when used, so the offline verbs
 * never load the FFI layer.
 *
 * @module
 */
import process from "node:process";
import { BpfError, escapeControl } from "./errors.ts";

/** A verb's entry point: takes the arguments after the verb, returns the exit status. */
export type VerbMain = (argv: string[]) => Promise<number>;

const VERBS: Record<string, Record<string, () => Promise<{ main: VerbMain }>>> = {
  object: {
    show: () => import("./cli/object_show.ts"),
    load: () => import("./cli/object_load.ts"),
    run: () => import("./cli/object_run.ts"),
  },
  btf: {
    dump: () => import("./cli/btf_dump.ts"),
  },
  gen: {
    skeleton: () => import("./cli/gen_skeleton.ts"),
  },
  completion: {
    bash: () => import("./cli/completion_bash.ts"),
  },
};

const USAGE = `Usage: tsbpf OBJECT VERB [ARGS]

  tsbpf object show FILE [--json]              programs, maps, data sections of a BPF object
  tsbpf object load FILE [--prog NAME]... [--json]
                                               load into the kernel, print ids and tags
  tsbpf object run FILE [--seconds N] [--json] load, auto-attach, report run counts
  tsbpf btf dump file FILE [format raw|c]      dump BTF as bpftool does
  tsbpf gen skeleton FILE [name NAME] [--import-from SPEC]
                                               print a typed TypeScript skeleton of an object
  tsbpf completion bash [--install [DIR]]      the bash completion (source <(tsbpf completion bash))

Run a verb with --help for its options.
`;

/** Whether this is Deno with the FFI permission granted (a query: it never prompts). */
function denoGrantsFfi(): boolean {
  const deno = (globalThis as {
    Deno?: { permissions?: { querySync?: (d: { name: string }) => { state: string } } };
  }).Deno;
  try {
    return deno?.permissions?.querySync?.({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

/** A write to a pipe whose reader went away (`tsbpf ... | head`): not an error of ours. */
function isBrokenPipe(e: unknown): boolean {
  return (e as { code?: unknown })?.code === "EPIPE";
}

/** Runs the command line with `argv` (without the runtime and script), returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [object, verb, ...rest] = argv;
  if (object === undefined || object === "help" || object === "--help" || object === "-h") {
    process.stdout.write(USAGE);
    return object === undefined ? 2 : 0;
  }
  const table = VERBS[object];
  if (table === undefined) {
    process.stderr.write(`Error: unknown object '${object}'\n\n${USAGE}`);
    return 2;
  }
  const load = verb === undefined ? undefined : table[verb];
  if (load === undefined) {
    process.stderr.write(
      `Error: unknown verb '${verb ?? ""}' for '${object}'; expected one of: ${
        Object.keys(table).join(", ")
      }\n`,
    );
    return 2;
  }
  try {
    // On Deno with FFI granted, every verb reads files through libc (ffi/ offers that file layer
    // when imported): then --allow-ffi alone also serves `btf dump file /sys/kernel/btf/vmlinux`.
    // Without FFI (and on Bun and Node) the offline verbs never load ffi/.
    if (denoGrantsFfi()) await import("./ffi/runtime.ts");
    const mod = await load();
    return await mod.main(rest);
  } catch (e) {
    if (isBrokenPipe(e)) return 0;
    if (e instanceof BpfError) {
      process.stderr.write(`Error: ${escapeControl(e.message, { keepLines: true })}\n`);
      return 1;
    }
    // node:util parseArgs reports misuse as a TypeError with an ERR_PARSE_ARGS_* code.
    if (String((e as { code?: unknown })?.code ?? "").startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}

if (
  import.meta.main ??
    (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split("/").pop()!))
) {
  process.stdout.on("error", (e) => {
    if (isBrokenPipe(e)) process.exit(0);
    throw e;
  });
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
