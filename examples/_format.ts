/**
 * Pure output helpers for the examples' tools (no FFI, no kernel): escaping untrusted text for a
 * terminal or JSON, and bcc's log2 histogram.
 *
 * @module
 */

/**
 * Escapes untrusted text (a command name, a path, decoded from a BPF record) for a terminal:
 * printable characters stay as they are (a backslash becomes `\\`), `\t`, `\n` and `\r` are written
 * so, other C0 controls and DEL become `\xNN`, and C1 controls, bidirectional and invisible
 * formatting characters and lone surrogates become `\u{NNNN}`. Bytes that were not UTF-8 arrive as
 * U+FFFD (the codecs' rule) and print as such.
 *
 * @param text the untrusted text.
 * @returns the escaped text, safe to print.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeText } from "./_format.ts";
 * assert.equal(escapeText("a\x1b[2Jb\\é\u202e\n"), "a\\x1b[2Jb\\\\é\\u{202e}\\n");
 * ```
 */
export function escapeText(text: string): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x5c) out += "\\\\";
    else if (cp === 0x09) out += "\\t";
    else if (cp === 0x0a) out += "\\n";
    else if (cp === 0x0d) out += "\\r";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (unsafeCodePoint(cp)) out += `\\u{${cp.toString(16)}}`;
    else out += ch;
  }
  return out;
}

/** C1 controls, bidirectional controls, zero-width and other invisible format characters. */
function unsafeCodePoint(cp: number): boolean {
  return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp === 0xfeff ||
    (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xd800 && cp <= 0xdfff);
}

/**
 * Untrusted text as a JSON string literal: `JSON.stringify`, plus escapes for the C1 and invisible
 * formatting characters it leaves as they are, so that the line is safe to print and still parses
 * to the same string.
 *
 * @param text the untrusted text.
 * @returns a JSON string literal, quotes included.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonString } from "./_format.ts";
 * const s = jsonString("a\x1b\u009b\u202e");
 * assert.equal(s, '"a\\u001b\\u009b\\u202e"');
 * assert.equal(JSON.parse(s), "a\x1b\u009b\u202e");
 * ```
 */
export function jsonString(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Prints a log2 histogram the way bcc's Python tools do (`print_log2_hist`): a header, then one
 * line per bucket from the first up to the last non-empty one, each with its range, count and a bar
 * of up to 40 stars scaled to the largest count (20 stars, and wider columns, when buckets past 32
 * are used). Nothing when every count is 0.
 *
 * Bucket `s` of `slots` counts the values `v` with `floor(log2(v)) == s` (bucket 0 also counts 0),
 * so its range is `2^s .. 2^(s+1)-1`, and the first line reads `0 -> 1`.
 *
 * @param slots the counts per bucket.
 * @param unit the value's unit for the header (`usecs`).
 * @returns the lines, without line ends.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { log2HistLines } from "./_format.ts";
 * const lines = log2HistLines([1, 0, 4], "usecs");
 * assert.equal(lines[0], "     usecs               : count     distribution");
 * assert.equal(lines[1], "         0 -> 1          : 1        |**********                              |");
 * assert.equal(lines[2], "         2 -> 3          : 0        |                                        |");
 * assert.equal(lines[3], "         4 -> 7          : 4        |****************************************|");
 * assert.deepEqual(log2HistLines([0, 0], "usecs"), []);
 * ```
 */
export function log2HistLines(slots: ArrayLike<number | bigint>, unit: string): string[] {
  const counts = Array.from(slots, (v) => BigInt(v));
  let last = -1;
  let max = 0n;
  counts.forEach((v, i) => {
    if (v > 0n) last = i;
    if (v > max) max = v;
  });
  if (last < 0) return [];
  // bcc numbers buckets from 1 (bucket i: 2^(i-1) .. 2^i - 1); ours from 0
  const wide = last + 1 > 32;
  const [pad, unitWidth, numWidth, stars] = wide ? [15, 29, 20, 20] : [5, 19, 10, 40];
  const lines = [`${" ".repeat(pad)}${unit.padEnd(unitWidth)} : count     distribution`];
  for (let s = 0; s <= last; s++) {
    const i = BigInt(s + 1);
    let low = (1n << i) >> 1n;
    const high = (1n << i) - 1n;
    if (low === high) low -= 1n;
    const v = counts[s];
    const n = Number((BigInt(stars) * v) / max);
    lines.push(
      `${String(low).padStart(numWidth)} -> ${String(high).padEnd(numWidth)} : ${
        String(v).padEnd(8)
      } |${"*".repeat(n).padEnd(stars)}|`,
    );
  }
  return lines;
}
