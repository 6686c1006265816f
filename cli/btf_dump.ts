/**
 * `tsbpf btf dump file FILE [format raw|c]`: prints a file's BTF as `bpftool btf dump` does.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { Btf } from "../btf/btf.ts";
import { dumpRaw } from "../btf/raw_dump.ts";
import { escapeControl } from "../errors.ts";

const USAGE = `Usage: tsbpf btf dump file FILE [format raw|c] [-B BASE]

  FILE      raw BTF (such as /sys/kernel/btf/vmlinux) or an ELF object with a .BTF section
  format    raw (default) prints every type as bpftool does; c prints a C header
  -B BASE   base BTF for split BTF (files under /sys/kernel/btf/ other than vmlinux get
            /sys/kernel/btf/vmlinux by default)
`;

const SYSFS = "/sys/kernel/btf/";

/**
 * Runs `btf dump` with the arguments after the verb.
 *
 * @param argv Such as `["file", "/sys/kernel/btf/vmlinux", "format", "raw"]`.
 * @returns The exit status: 0, 1 on a failure, 2 on bad usage.
 * @throws {BpfError} When the file cannot be read or holds no valid BTF (the CLI prints it).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./btf_dump.ts";
 * assert((await main(["--help"])) === 0);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      base: { type: "string", short: "B" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [src, file, ...rest] = positionals;
  if (src !== "file" || file === undefined) {
    process.stderr.write(
      src === undefined || src === "file"
        ? `Error: expected 'file FILE'\n\n${USAGE}`
        : `Error: unrecognized BTF source specifier: '${src}'\n\n${USAGE}`,
    );
    return 2;
  }
  let format = "raw";
  if (rest.length > 0) {
    if (rest[0] !== "format" || rest.length !== 2 || (rest[1] !== "raw" && rest[1] !== "c")) {
      process.stderr.write(`Error: unexpected arguments '${rest.join(" ")}'\n\n${USAGE}`);
      return 2;
    }
    format = rest[1];
  }
  let base: Btf | undefined;
  if (values.base !== undefined) {
    base = Btf.load(values.base);
  } else if (file.startsWith(SYSFS) && file !== `${SYSFS}vmlinux`) {
    base = Btf.kernel();
  }
  using btf = Btf.load(file, { base });
  try {
    if (format === "c") {
      let mod: {
        writeBtfAsC(btf: Btf, write: (bytes: Uint8Array) => Promise<void>): Promise<void>;
      };
      try {
        // Imported only for format c, so a raw dump never loads the C generator.
        mod = await import("../gen/c_dump.ts");
      } catch (e) {
        process.stderr.write(
          `Error: format c is not available yet (${(e as Error)?.message ?? e})\n`,
        );
        return 1;
      }
      // UTF-8 bytes written straight from the core's memory: no string, no copy.
      await mod.writeBtfAsC(btf, write);
    } else {
      await write(dumpRaw(btf));
    }
    return 0;
  } finally {
    if (values.base !== undefined) base?.close();
  }
}

// Bytes a terminal may act on: C0 controls but newline and tab, DEL, and C1 controls in UTF-8.
function hasControl(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if ((c < 0x20 && c !== 0x0a && c !== 0x09) || c === 0x7f) return true;
    if (c === 0xc2 && i + 1 < b.length && b[i + 1] >= 0x80 && b[i + 1] <= 0x9f) return true;
  }
  return false;
}

// Names in BTF are the object's: their control characters are escaped (the dump is otherwise
// bpftool's, byte for byte).
function write(text: string | Uint8Array): Promise<void> {
  const out = typeof text === "string"
    ? escapeControl(text, { keepLines: true })
    : hasControl(text)
    ? escapeControl(new TextDecoder().decode(text), { keepLines: true })
    : text;
  return new Promise((resolve, reject) => {
    process.stdout.write(out, (err) => (err ? reject(err) : resolve()));
  });
}
