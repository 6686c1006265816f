/**
 * Pure output helpers for the examples' tools (no FFI, no kernel): escaping untrusted bytes for a
 * terminal or JSON, C strings, and bcc's log2 histogram.
 *
 * @module
 */

/**
 * Escapes untrusted bytes (a command name, a path) for a terminal: printable ASCII stays as it is
 * (a backslash becomes `\\`), `\t`, `\n` and `\r` are written so, other control bytes and bytes that
 * are not well-formed UTF-8 become `\xNN`, and well-formed UTF-8 stays unless it decodes to a C1
 * control, a bidirectional or invisible formatting character (those become `\u{NNNN}`).
 *
 * @param bytes the raw bytes (no NUL: cut C strings first with {@linkcode cString}).
 * @returns the escaped text, safe to print.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeBytes } from "./_format.ts";
 * const bytes = new TextEncoder().encode("a\x1b[2Jb\\é\u202e");
 * assert.equal(escapeBytes(bytes), "a\\x1b[2Jb\\\\é\\u{202e}");
 * assert.equal(escapeBytes(new Uint8Array([0x66, 0xff, 0x0a])), "f\\xff\\n");
 * ```
 */
export function escapeBytes(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      if (b === 0x5c) out += "\\\\";
      else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
      else if (b === 0x09) out += "\\t";
      else if (b === 0x0a) out += "\\n";
      else if (b === 0x0d) out += "\\r";
      else out += hexByte(b);
      i++;
      continue;
    }
    const [cp, len] = decodeUtf8(bytes, i);
    if (len === 0) {
      out += hexByte(b);
      i++;
      continue;
    }
    out += unsafeCodePoint(cp) ? `\\u{${cp.toString(16)}}` : String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

function hexByte(b: number): string {
  return `\\x${b.toString(16).padStart(2, "0")}`;
}

/** C1 controls, bidirectional controls, zero-width and other invisible format characters. */
function unsafeCodePoint(cp: number): boolean {
  return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp === 0xfeff ||
    (cp >= 0xfff9 && cp <= 0xfffb);
}

/** One well-formed UTF-8 sequence at `at`: [code point, length], or [0, 0] when there is none. */
function decodeUtf8(b: Uint8Array, at: number): [number, number] {
  const lead = b[at];
  let len: number, cp: number, min: number;
  if (lead >= 0xc2 && lead <= 0xdf) [len, cp, min] = [2, lead & 0x1f, 0x80];
  else if (lead >= 0xe0 && lead <= 0xef) [len, cp, min] = [3, lead & 0x0f, 0x800];
  else if (lead >= 0xf0 && lead <= 0xf4) [len, cp, min] = [4, lead & 0x07, 0x10000];
  else return [0, 0];
  if (at + len > b.length) return [0, 0];
  for (let k = 1; k < len; k++) {
    const c = b[at + k];
    if ((c & 0xc0) !== 0x80) return [0, 0];
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [0, 0];
  return [cp, len];
}

/**
 * A string for JSON output: the bytes decoded as UTF-8 (malformed sequences become U+FFFD), then
 * JSON-quoted with C1 and invisible formatting characters escaped too (`JSON.stringify` leaves
 * them), so that the line is safe to print and still decodes to the same string.
 *
 * @param bytes the raw bytes.
 * @returns a JSON string literal, quotes included.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonString } from "./_format.ts";
 * const s = jsonString(new TextEncoder().encode("a\x1b\u009b\u202e"));
 * assert.equal(s, '"a\\u001b\\u009b\\u202e"');
 * assert.equal(JSON.parse(s), "a\x1b\u009b\u202e");
 * ```
 */
export function jsonString(bytes: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(bytes)).replace(
    /[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The bytes of a C string in a fixed-size field: up to the first NUL, or all of them.
 *
 * @param field the field's bytes.
 * @returns a view of the string's bytes (no copy).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cString } from "./_format.ts";
 * assert.deepEqual(cString(new Uint8Array([0x61, 0x62, 0, 0x63])), new Uint8Array([0x61, 0x62]));
 * ```
 */
export function cString(field: Uint8Array): Uint8Array {
  const z = field.indexOf(0);
  return z < 0 ? field : field.subarray(0, z);
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
