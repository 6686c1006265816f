/**
 * The offline fuzzer: mutated and truncated versions of every test object and of the kernel's BTF,
 * run in-process through open(), relocation of every program (in the core, CO-RE left to the
 * kernel), Btf.parse, BtfExt.parse, `object show`'s report, the BTF-to-C dump, the codecs of every
 * map's key and value, and (one input in 50) `gen skeleton`. Every input
 * must end in success or a typed error (a `BpfError`): no wasm trap, no TypeError or RangeError, no
 * input past a time cap. Deterministic for a seed.
 *
 * tests/fuzz_test.ts runs a fixed seed in the test command; `scripts/fuzz.sh [N] [SEED]` runs a
 * long one and saves each crasher under tests/fuzz/crashers/, which the test replays.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { BtfExt } from "../btf/ext.ts";
import { formatObjectShow, objectShowJson } from "../cli/object_show.ts";
import { BpfError } from "../errors.ts";
import { codecFor } from "../btf/codec.ts";
import { btfToC } from "../gen/c_dump.ts";
import { genSkeleton } from "../gen/skeleton.ts";
import { open } from "../spec/open.ts";
import type { ObjectSpec } from "../spec/types.ts";
import { relocateProgram } from "../reloc/relocate.ts";
import type { ResolvedExtern } from "../reloc/types.ts";
import { elfSection, testObjects } from "./_util.ts";

/** A seeded xorshift32 generator: the same seed gives the same inputs. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = (seed >>> 0) || 0x9e3779b9;
  }
  /** A uniform u32. */
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  /** A uniform integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
}

/** One seed input: its name and bytes, and what the bytes are. */
export interface Seed {
  name: string;
  kind: "object" | "btf";
  bytes: Uint8Array;
}

/**
 * The seeds: every compiled test object, the .BTF section of each (as a raw BTF blob), and a slice
 * of the kernel's BTF (its first 256 KiB of types, header fixed up) when it can be read.
 */
export function seeds(): Seed[] {
  const out: Seed[] = [];
  for (const file of testObjects()) {
    const bytes = new Uint8Array(readFileSync(file));
    const name = file.split("/").pop()!;
    out.push({ name, kind: "object", bytes });
    const btf = elfSection(bytes, ".BTF");
    if (btf) out.push({ name: `${name}:.BTF`, kind: "btf", bytes: btf });
  }
  try {
    const k = new Uint8Array(readFileSync("/sys/kernel/btf/vmlinux"));
    out.push({ name: "vmlinux", kind: "btf", bytes: kernelSlice(k, 256 * 1024) });
  } catch {
    // no kernel BTF: the objects' BTF stands in
  }
  return out;
}

/** The kernel BTF cut to its first `typeBytes` of types and its whole string section. */
function kernelSlice(k: Uint8Array, typeBytes: number): Uint8Array {
  const dv = new DataView(k.buffer, k.byteOffset, k.byteLength);
  const hdrLen = dv.getUint32(4, true);
  const typeOff = dv.getUint32(8, true);
  const typeLen = Math.min(dv.getUint32(12, true), typeBytes);
  const strOff = dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  const out = new Uint8Array(hdrLen + typeLen + strLen);
  out.set(k.subarray(0, hdrLen));
  out.set(k.subarray(hdrLen + typeOff, hdrLen + typeOff + typeLen), hdrLen);
  out.set(k.subarray(hdrLen + strOff, hdrLen + strOff + strLen), hdrLen + typeLen);
  const o = new DataView(out.buffer);
  o.setUint32(8, 0, true);
  o.setUint32(12, typeLen, true);
  o.setUint32(16, typeLen, true);
  return out;
}

// The C dump of a crafted blob is cut at 1 MiB: its padding lines grow with the sizes it claims.
const C_LIMIT = 1 << 20;

const INTERESTING_32 = [
  0,
  1,
  0x7f,
  0x80,
  0xff,
  0x7fff,
  0x8000,
  0xffff,
  0x7fffffff,
  0x80000000,
  0xffffffff,
];

/** A mutated copy of `src`: one to four of bit flips, interesting values, cuts, copies and truncation. */
export function mutate(src: Uint8Array, rng: Rng): Uint8Array {
  let b = src.slice();
  const n = 1 + rng.below(4);
  for (let i = 0; i < n && b.length > 0; i++) {
    const at = rng.below(b.length);
    switch (rng.below(7)) {
      case 0: // flip a bit
        b[at] ^= 1 << rng.below(8);
        break;
      case 1: // an interesting byte
        b[at] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)];
        break;
      case 2: { // an interesting u32, aligned
        const a = at & ~3;
        if (a + 4 <= b.length) {
          new DataView(b.buffer).setUint32(
            a,
            INTERESTING_32[rng.below(INTERESTING_32.length)],
            true,
          );
        }
        break;
      }
      case 3: // a small add to a u32 (sizes, offsets, counts)
        if ((at & ~3) + 4 <= b.length) {
          const dv = new DataView(b.buffer);
          dv.setUint32(at & ~3, (dv.getUint32(at & ~3, true) + rng.below(64) - 32) >>> 0, true);
        }
        break;
      case 4: // truncate
        b = b.slice(0, at);
        break;
      case 5: { // copy a chunk over another place
        const len = 1 + rng.below(64);
        const from = rng.below(b.length);
        b.copyWithin(at, from, Math.min(b.length, from + len));
        break;
      }
      default: // random bytes
        for (let k = at; k < Math.min(b.length, at + 1 + rng.below(16)); k++) b[k] = rng.below(256);
    }
  }
  return b;
}

/** What one input did that it must not: not a typed error, or too slow. */
export interface Finding {
  seed: string;
  index: number;
  what: string;
  input: Uint8Array;
}

/**
 * Runs one input through every offline stage that takes it. Returns undefined when it ended in
 * success or a BpfError, else what escaped.
 */
export function runOne(
  kind: Seed["kind"],
  input: Uint8Array,
  withSkeleton = true,
): string | undefined {
  try {
    if (kind === "object") {
      const spec = open(input);
      try {
        relocateAll(spec);
        formatObjectShow(objectShowJson(spec));
        if (spec.btf !== undefined) {
          btfToC(spec.btf, { maxBytes: C_LIMIT });
          // The codecs of every map key and value, as the map API and the skeleton build them.
          for (const m of spec.maps) {
            for (const id of [m.btfKeyTypeId, m.btfValueTypeId]) if (id > 0) codecFor(spec.btf, id);
          }
          const ext = elfSection(input, ".BTF.ext");
          if (ext !== undefined) BtfExt.parse(ext, spec.btf);
        }
      } finally {
        spec.btf?.close();
      }
      if (withSkeleton) genSkeleton(input, { file: "fuzz.bpf.o", importFrom: "tsbpf" });
    } else {
      using btf = Btf.parse(input);
      btfToC(btf, { maxBytes: C_LIMIT });
    }
    return undefined;
  } catch (e) {
    if (e instanceof BpfError) return undefined;
    return `${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`.slice(0, 300);
  }
}

/**
 * Relocates every program of a mutated object through the core (`reloc_run`), with made-up fds
 * and extern values and CO-RE left to the kernel (no target BTF needed, and its records are
 * assembled too). A RelocationError is a fine end; anything else escapes to the caller.
 */
function relocateAll(spec: ObjectSpec): void {
  const mapFds = new Map(spec.maps.map((m, i) => [m.name, 100 + i]));
  // Every other data section has no fd, so some references are poisoned.
  const dataMapFds = new Map(
    spec.datasecs.filter((_, i) => i % 2 === 0).map((d, i) => [d.name, 200 + i]),
  );
  dataMapFds.set(".kconfig", 300);
  const externs = new Map<string, ResolvedExtern>();
  spec.externs.forEach((e, i) => {
    externs.set(
      e.name,
      e.kind === "kconfig"
        ? { kind: "kconfig", offset: Math.max(e.offset, 0) }
        : e.kind === "kfunc"
        ? { kind: "kfunc", btfId: 1000 + i, fdArrayIdx: i % 3, btfObjFd: 400 + i }
        : { kind: "ksym", btfId: 2000 + i, btfObjFd: 0 },
    );
  });
  for (const p of spec.programs) {
    try {
      relocateProgram(spec, p.name, {
        mapFds,
        dataMapFds,
        targetBtf: undefined,
        externs,
        coreInKernel: true,
      });
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
    }
  }
}

/** Options of {@linkcode fuzz}. */
export interface FuzzOptions {
  /** How many mutated inputs in all. */
  inputs: number;
  /** The seed of the generator. */
  seed: number;
  /** The longest one input may take, in milliseconds. */
  capMs?: number;
  /** Called for each finding (the long run saves it). */
  onFinding?: (f: Finding) => void;
}

/** Runs `inputs` mutated inputs, round robin over the seeds; returns the findings and a count. */
export function fuzz(opts: FuzzOptions): { findings: Finding[]; ran: number; slowestMs: number } {
  const all = seeds();
  const rng = new Rng(opts.seed);
  const cap = opts.capMs ?? 2000;
  const findings: Finding[] = [];
  let slowest = 0;
  for (let i = 0; i < opts.inputs; i++) {
    const s = all[i % all.length];
    const input = mutate(s.bytes, rng);
    const t0 = performance.now();
    // One input in 50 also goes through gen skeleton (by far the slowest stage).
    let what = runOne(s.kind, input, i % 50 === 0);
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    if (what === undefined && ms > cap) what = `took ${Math.round(ms)} ms, over the ${cap} ms cap`;
    if (what !== undefined) {
      const f = { seed: s.name, index: i, what, input };
      findings.push(f);
      opts.onFinding?.(f);
    }
  }
  return { findings, ran: opts.inputs, slowestMs: slowest };
}

/** The crashers kept as regression fixtures: `tests/fuzz/crashers/<kind>-<name>.bin`. */
export function crashers(dir: string): { name: string; kind: Seed["kind"]; bytes: Uint8Array }[] {
  return readdirSync(dir).filter((f) => f.endsWith(".bin")).sort().map((f) => ({
    name: f,
    kind: f.startsWith("btf-") ? "btf" as const : "object" as const,
    bytes: new Uint8Array(readFileSync(join(dir, f))),
  }));
}
