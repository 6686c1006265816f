/**
 * The drain loops of the event streams, compiled once per ring (see {@linkcode freshCopy}). Private
 * to `live/`.
 *
 * @module
 */
import type { RingCallback } from "./ringbuf.ts";

/**
 * The drain loop of one ring, as a factory that refers to nothing outside itself (constants are
 * written out): {@linkcode makeDrain} compiles a fresh copy of its source for each ring. Positions
 * are numbers (exact up to 2^53 bytes consumed); inside a batch every quantity is an int32 and
 * written as one (`| 0` on loads and sums, `>>> 2` for the header index): without these hints V8
 * keeps the loop in doubles and drains at under half the rate (measured in
 * bench/measures/ringbuf.ts). The headers are read through an Int32Array (on aarch64 with
 * `Atomics.load`, see the module doc). A record header: bit 31 BUSY, bit 30 DISCARD, then the
 * length; records are 8-byte aligned after an 8-byte header. A batch is at most 2^30 bytes so that
 * its sums stay int32.
 */
function drainFactory(
  cb: RingCallback,
  data: DataView,
  headers: Int32Array,
  atomic: boolean,
  consPos: BigUint64Array,
  prodPos: BigUint64Array,
  size: number,
): () => number {
  const mask = (size - 1) | 0;
  return () => {
    let cons = Number(consPos[0]);
    let n = 0;
    for (;;) {
      const prod = Number(prodPos[0]);
      const left = prod - cons;
      if (left <= 0) break;
      const avail = (left > 0x40000000 ? 0x40000000 : left) | 0;
      let off = (cons % size) | 0;
      let done = 0;
      let busy = false;
      while (done < avail) {
        const hdr = atomic ? Atomics.load(headers, off >>> 2) | 0 : headers[off >>> 2] | 0;
        if (hdr < 0) {
          busy = true; // BUSY: the producer has not committed it yet
          break;
        }
        const len = hdr & 0x3fffffff;
        const total = ((len + 15) & ~7) | 0;
        done = (done + total) | 0;
        if ((hdr & 0x40000000) === 0) {
          n = (n + 1) | 0;
          const rc = cb(data, (off + 8) | 0, len);
          if (typeof rc === "number" && rc < 0) {
            consPos[0] = BigInt(cons + done);
            return rc;
          }
        }
        off = ((off + total) & mask) | 0;
      }
      if (done === 0) break;
      cons += done;
      consPos[0] = BigInt(cons); // one publication per batch
      if (busy) break;
    }
    return n;
  };
}

let compiled = 0;

/**
 * A fresh compile of `factory`'s source, so that the functions it makes have call sites of their
 * own. V8 keeps one feedback vector for all closures of one function literal (and for every
 * `new Function` of one source text), so a drain loop shared by several callbacks goes polymorphic
 * and stops inlining them (seen with `--trace-turbo-inlining`: only the first ring's callback is
 * inlined; JavaScriptCore shares its call caches the same way). Each copy is made distinct by a
 * counter in a comment. `factory` must refer to nothing outside itself but globals. Where code
 * cannot be made from strings (a runtime run with `--disallow-code-generation-from-strings`, a
 * build that strips function sources), or after `useSharedDrain(true)`, it returns `factory`
 * itself: the same records, slower with several callbacks.
 */
export function freshCopy<F extends (...args: never[]) => unknown>(factory: F): F {
  if (sharedDrainOnly) return factory;
  try {
    const copy = new Function(
      `"use strict"; // tsbpf drain loop ${compiled++}\nreturn (${factory.toString()});`,
    )();
    if (typeof copy === "function") return copy as F;
  } catch {
    // No code from strings here: the factory itself.
  }
  return factory;
}

/** Builds the drain loop of one ring buffer ring, with a call site of its own for its callback. */
export function makeDrain(...args: Parameters<typeof drainFactory>): () => number {
  return freshCopy(drainFactory)(...args);
}

let sharedDrainOnly = false;

/** For tests: whether new rings use the shared drain loop instead of a compiled one per ring. */
export function useSharedDrain(on: boolean): void {
  sharedDrainOnly = on;
}
