/**
 * What the `tsbpf` verbs share: parsing `VERB FILE [options]` with `--help`, usage errors, and
 * printing a report as JSON or text. Offline: imports nothing but Node's standard modules.
 *
 * @module
 */
import process from "node:process";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { escapeControl } from "../errors.ts";

/** The `-h`/`--help` option every verb has. */
const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/** The option values `parseArgs` gives for `options` plus `--help`. */
export type ParsedValues<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T & typeof HELP_OPTION; allowPositionals: true }>
>["values"];

/**
 * Parses a verb's arguments: exactly one FILE and `options`, plus `-h`/`--help`, which prints
 * `help` to stdout.
 *
 * @param argv The arguments after the verb.
 * @param options The verb's options, in `parseArgs` form.
 * @param help The verb's usage text.
 * @returns The file and the option values, or the exit status to return at once: 0 after
 *   `--help`, 2 (with `help` on stderr) when there is not exactly one FILE.
 * @throws {TypeError} From `parseArgs`, for an unknown option (cli.ts turns it into status 2).
 */
export function parseFileArgs<T extends ParseArgsOptionsConfig>(
  argv: string[],
  options: T,
  help: string,
): { file: string; values: ParsedValues<T> } | number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...options, ...HELP_OPTION } as T & typeof HELP_OPTION,
    allowPositionals: true,
  });
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help);
    return 0;
  }
  if (positionals.length !== 1) return usageError("expected one FILE", help);
  return { file: positionals[0], values };
}

/**
 * Prints `Error: message` (and, when given, the usage text after a blank line) to stderr.
 *
 * @param message What is wrong with the command line.
 * @param help The verb's usage text, if it helps.
 * @returns 2, the exit status of a usage error.
 */
export function usageError(message: string, help?: string): number {
  process.stderr.write(`Error: ${message}\n${help === undefined ? "" : `\n${help}`}`);
  return 2;
}

/**
 * Writes a verb's report to stdout: as indented JSON with a newline when `json` is set, else as
 * `format` makes it.
 *
 * @param doc The report.
 * @param json Whether `--json` was given.
 * @param format Formats the report as text.
 */
export function printReport<T>(
  doc: T,
  json: boolean | undefined,
  format: (doc: T) => string,
): void {
  process.stdout.write(json ? JSON.stringify(doc, null, 2) + "\n" : format(escapeStrings(doc)));
}

/**
 * The report with every string in it escaped with {@linkcode escapeControl}: names from an object
 * can carry terminal escapes and newlines, and a text table prints them as they are. (JSON escapes
 * them itself.)
 */
export function escapeStrings<T>(doc: T): T {
  if (typeof doc === "string") return escapeControl(doc) as T;
  if (Array.isArray(doc)) return doc.map(escapeStrings) as T;
  if (doc !== null && typeof doc === "object") {
    return Object.fromEntries(
      Object.entries(doc as Record<string, unknown>).map(([k, v]) => [k, escapeStrings(v)]),
    ) as T;
  }
  return doc;
}
