// Helpers of the skeleton tests: golden normalization, and generating a skeleton into a temporary
// directory and importing it (with the repository's mod.ts as its library).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { genSkeleton } from "../gen/skeleton.ts";
import { ROOT } from "./_util.ts";

/** Where the golden skeletons live. */
export const GOLDEN_DIR: string = join(ROOT, "tests", "golden");

/**
 * A skeleton's text with the parts that depend on the object's exact bytes (its sha256 and the
 * embedded base64, which carry the build directory through DWARF) replaced by fixed text.
 */
export function normalizeSkeleton(text: string): string {
  return text
    .replace(/\(sha256 [0-9a-f]{64}\)/, "(sha256 <object sha256>)")
    .replace(/^const ELF_BASE64 =\n {2}"[A-Za-z0-9+/=]*";$/m, 'const ELF_BASE64 = "";');
}

/** The golden text of a test object's skeleton, as generated for `tests/golden/`. */
export function goldenText(file: string): string {
  return normalizeSkeleton(
    genSkeleton(readFileSync(file), { file: basename(file), importFrom: "../../mod.ts" }),
  );
}

/** A generated skeleton module written to a temporary directory, importable. */
export interface TmpSkeleton {
  /** The module's path. */
  path: string;
  /** The directory (removed by `remove()`). */
  dir: string;
  /** Removes the directory. */
  remove(): void;
}

/** Generates the skeleton of `file` into a fresh temporary directory, importing the repo's mod.ts. */
export function writeTmpSkeleton(
  file: string | Uint8Array,
  opts: { name?: string; file?: string; lineWidth?: number } = {},
): TmpSkeleton {
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-skel-"));
  const bytes = typeof file === "string" ? readFileSync(file) : file;
  const text = genSkeleton(bytes, {
    file: opts.file ?? (typeof file === "string" ? basename(file) : "object.bpf.o"),
    name: opts.name,
    lineWidth: opts.lineWidth,
    importFrom: pathToFileURL(join(ROOT, "mod.ts")).href,
  });
  const path = join(dir, "skel.ts");
  writeFileSync(path, text);
  return { path, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Imports a module by path. */
export async function importPath<T>(path: string): Promise<T> {
  return await import(pathToFileURL(path).href) as T;
}
