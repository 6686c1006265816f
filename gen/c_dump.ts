/**
 * BTF to C: turns a BTF blob into a compilable C header, in the same order and with the same text
 * as `bpftool btf dump file FILE format c` (bpftool 7.1 over libbpf 1.1), and prints single C
 * declarations for a type id and a name, as the skeleton generator needs them.
 *
 * The reference is the Debian bpftool 7.1 binary, which carries the libbpf of its kernel tree
 * (6.1 stable) rather than libbpf 1.1.2: a prototype with no parameters prints as `(void)`, and
 * enums of 1 or 8 bytes get no `mode(byte)` / `mode(word)` attribute. Everything else follows
 * libbpf 1.1's btf_dump: ordering with strong and weak links, forward declarations where pointers
 * close a cycle, anonymous types inlined, `___N` suffixes for colliding names, padding and
 * `packed` derived from the layout, type tags as `btf_type_tag` attributes, decl tags dropped.
 *
 * The engine runs in the core (`core-wasm/assembly/btf_dump.ts`) over the parsed `Btf`, for speed:
 * this file is its API. A {@linkcode CDumper} holds a dumper handle in the core, whose state
 * (emitted types, `___N` names) lasts across calls. Hostile BTF fails with a `BtfError` rather than
 * running away: at most about 400 anonymous types nested in each other, chains of at most 1024
 * pointers and modifiers (the kernel allows 32), at most 256 MiB of text per call.
 *
 * @module
 */
import { Btf } from "../btf/btf.ts";
import { BpfError, BtfError } from "../errors.ts";
import { Core } from "../core-wasm/mod.ts";

/**
 * What the dumper needs from a BTF reader: its raw blob and its base, for split BTF. The
 * {@linkcode Btf} class of `btf/btf.ts` fits.
 */
export interface BtfBlobSource {
  /** The whole blob (header, types, strings). */
  rawBytes(): Uint8Array;
  /** The base BTF of a split blob, undefined for a standalone one. */
  readonly base?: BtfBlobSource | undefined;
}

/** Options of {@linkcode CDumper.emitTypeDecl}. */
export interface EmitTypeDeclOptions {
  /** Indentation, in tabs, of the lines of inlined anonymous structs, unions and enums. Default 0. */
  indentLevel?: number;
  /** Leave out const, volatile, restrict and type tags. Default false. */
  stripMods?: boolean;
}

/** Dumpers whose owner dropped them without close(): their core state is freed here. */
const registry = new FinalizationRegistry<{ core: Core; h: number; owned: Btf[] }>((held) => {
  try {
    held.core.exports.btf_dump_free(held.h);
  } catch {
    // A finalizer must not throw; the core may be gone.
  }
  for (const b of held.owned) b.close();
});

/** Parses a source that is not a `Btf` (and its bases) into the core; the caller owns the result. */
function parseSource(src: BtfBlobSource, owned: Btf[]): Btf {
  if (src instanceof Btf) return src;
  const base = src.base === undefined ? undefined : parseSource(src.base, owned);
  const b = Btf.parse(src.rawBytes(), { base });
  owned.push(b);
  return b;
}

const enc = new TextEncoder();

/** Options of {@linkcode CDumper} and {@linkcode btfToC}. */
export interface CDumpOptions {
  /** The most C text one call may make, in bytes (default and most 256 MiB, least 64 KiB). */
  maxBytes?: number;
}

/**
 * Prints BTF types as C, keeping libbpf's per-dumper state: which types were already emitted or
 * forward-declared, and which unique name (`foo___2`) each type got. Names are given in the order
 * types are first printed, so the same calls in the same order give the same text as libbpf's
 * `btf_dump`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Btf } from "../btf/btf.ts";
 * import { CDumper } from "./c_dump.ts";
 * const d = new CDumper(Btf.kernel());
 * const id = Btf.kernel().findByName("task_struct");
 * assert(d.emitTypeDecl(id, "t") === "struct task_struct t");
 * ```
 */
export class CDumper {
  readonly #core: Core;
  readonly #owned: Btf[] = [];
  readonly #token = {};
  #h: number;
  /** The number of type ids, void included. */
  readonly typeCount: number;

  /**
   * Makes a dumper over a BTF blob (and its base, for split BTF). The `Btf` must stay open while
   * the dumper is used; other sources are parsed into a copy the dumper owns.
   *
   * @param btf The BTF to print: a `Btf`, or anything that gives its raw blob.
   * @param opts `maxBytes`: the most C text one call may make (default and most 256 MiB, least
   *   64 KiB); past it the call fails with a BtfError.
   * @throws {BtfError} When the blob is malformed or refers to missing types.
   */
  constructor(btf: BtfBlobSource, opts: CDumpOptions = {}) {
    const b = parseSource(btf, this.#owned);
    const core = this.#core = Core.get();
    try {
      this.#h = core.check(
        core.call(() => core.exports.btf_dump_new(b.handle) as number),
        "Preparing to print BTF as C",
      );
      if (opts.maxBytes !== undefined) {
        core.check(
          core.call(() => core.exports.btf_dump_set_max(this.#h, opts.maxBytes!) as number),
          "Preparing to print BTF as C",
        );
      }
    } catch (e) {
      for (const o of this.#owned) o.close();
      throw e;
    }
    this.typeCount = b.typeCount;
    registry.register(this, { core, h: this.#h, owned: this.#owned }, this.#token);
  }

  /**
   * Prints the C definition of a type and of every type it needs that was not printed yet, like
   * libbpf's `btf_dump__dump_type`.
   *
   * @param id The type id.
   * @returns The C text, possibly empty (for types already printed, or with no definition).
   * @throws {BtfError} On a bad id, or a cycle of types that C cannot express.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "../btf/btf.ts";
   * import { CDumper } from "./c_dump.ts";
   * const btf = Btf.kernel();
   * const text = new CDumper(btf).dumpType(btf.findByName("list_head"));
   * assert(text.includes("struct list_head {"));
   * ```
   */
  dumpType(id: number): string {
    const h = this.#live(id);
    const core = this.#core;
    core.check(core.call(() => core.exports.btf_dump_type(h, id) as number), "Printing BTF as C");
    return core.outText();
  }

  /**
   * Prints one C declaration of `varName` with type `id`, like libbpf's `btf_dump__emit_type_decl`:
   * `int (*handlers[4])(void *)`, `const volatile struct foo *const p`. Anonymous structs, unions
   * and enums are written inline.
   *
   * @param id The type id.
   * @param varName The declared name; "" for an abstract declarator (`char *`).
   * @param opts Indentation and whether to strip modifiers.
   * @returns The declaration, without a trailing semicolon.
   * @throws {BtfError} On a bad id.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Btf } from "../btf/btf.ts";
   * import { CDumper } from "./c_dump.ts";
   * const btf = Btf.kernel();
   * const d = new CDumper(btf);
   * assert(d.emitTypeDecl(btf.findByName("u32"), "x") === "u32 x");
   * ```
   */
  emitTypeDecl(id: number, varName: string, opts?: EmitTypeDeclOptions): string {
    const h = this.#live(id);
    const core = this.#core;
    const name = enc.encode(varName);
    const indent = Math.max(0, Math.min(opts?.indentLevel ?? 0, 1 << 20)) | 0;
    const strip = opts?.stripMods ? 1 : 0;
    core.check(
      core.call(() => {
        const p = core.exports.btf_dump_name_buf(name.length) as number;
        core.u8().set(name, p);
        return core.exports.btf_dump_decl(h, id, indent, strip) as number;
      }),
      "Printing a C declaration",
    );
    return core.outText();
  }

  /**
   * Prints the whole header as `bpftool btf dump file FILE format c` does: every type in id order
   * between bpftool's guard and `preserve_access_index` frame.
   *
   * @returns The header text.
   * @throws {BtfError} On a cycle of types that C cannot express.
   */
  dumpAll(): string {
    this.#dumpAll();
    return this.#core.outText();
  }

  /**
   * Like {@linkcode CDumper.dumpAll}, as UTF-8 bytes (what a file or stdout wants).
   *
   * @returns The header bytes.
   * @throws {BtfError} On a cycle of types that C cannot express.
   */
  dumpAllBytes(): Uint8Array {
    this.#dumpAll();
    return this.#core.outBytes();
  }

  /**
   * Like {@linkcode CDumper.dumpAll}, handing the UTF-8 bytes to `sink` without copying them out of
   * the core: the view is valid only until `sink` returns (or its promise settles); copy it to keep
   * it. Nothing may call into the core meanwhile.
   *
   * @param sink Takes the header bytes, such as a write to stdout.
   * @returns What `sink` returns.
   * @throws {BtfError} On a cycle of types that C cannot express.
   */
  dumpAllTo<T>(sink: (bytes: Uint8Array) => T): T {
    this.#dumpAll();
    const core = this.#core;
    const p = core.exports.out_ptr() as number;
    const n = core.exports.out_len() as number;
    return sink(core.u8().subarray(p, p + n));
  }

  /** Frees the dumper's state in the core (and a BTF it parsed itself). Safe to call twice. */
  close(): void {
    if (this.#h < 0) return;
    const h = this.#h;
    this.#h = -1;
    registry.unregister(this.#token);
    try {
      this.#core.exports.btf_dump_free(h);
    } finally {
      for (const o of this.#owned) o.close();
    }
  }

  /** Same as {@linkcode CDumper.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #dumpAll(): void {
    const h = this.#live(0);
    const core = this.#core;
    core.check(core.call(() => core.exports.btf_dump_all(h) as number), "Printing BTF as C");
  }

  #live(id: number): number {
    if (this.#h < 0) throw new BpfError("This CDumper is closed");
    if (!Number.isInteger(id) || id < 0 || id >= this.typeCount) {
      throw new BtfError(
        `Type id ${id} out of range; this BTF has ids 0 to ${this.typeCount - 1}`,
        {
          typeId: id,
        },
      );
    }
    return this.#h;
  }
}

/**
 * Prints a whole BTF blob as a C header, byte for byte as `bpftool btf dump file FILE format c`
 * (bpftool 7.1, libbpf 1.1) does.
 *
 * @param btf The BTF to print: a `Btf` (split BTF includes its base's types).
 * @param opts `maxBytes`: the most text to make (default 256 MiB).
 * @returns The header, ending in a newline.
 * @throws {BtfError} When the blob is malformed, has a cycle of types C cannot express, or its
 *   text would pass `maxBytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Btf } from "../btf/btf.ts";
 * import { btfToC } from "./c_dump.ts";
 * const h = btfToC(Btf.kernel());
 * assert(h.startsWith("#ifndef __VMLINUX_H__\n"));
 * ```
 */
export function btfToC(btf: BtfBlobSource, opts: CDumpOptions = {}): string {
  using d = new CDumper(btf, opts);
  return d.dumpAll();
}

/**
 * Like {@linkcode btfToC}, as UTF-8 bytes: what the CLI writes to stdout, with no decoding.
 *
 * @param btf The BTF to print: a `Btf` (split BTF includes its base's types).
 * @returns The header bytes, ending in a newline.
 * @throws {BtfError} When the blob is malformed, or has a cycle of types C cannot express.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Btf } from "../btf/btf.ts";
 * import { btfToCBytes } from "./c_dump.ts";
 * const h = btfToCBytes(Btf.kernel());
 * assert(h[0] === 0x23); // "#"
 * ```
 */
export function btfToCBytes(btf: BtfBlobSource): Uint8Array {
  using d = new CDumper(btf);
  return d.dumpAllBytes();
}

/**
 * Prints a whole BTF blob as a C header like {@linkcode btfToC}, and hands the UTF-8 bytes to
 * `write` straight from the core's memory, with no copy: what the CLI does for stdout. The view is
 * valid until the promise `write` returns settles; nothing else may call into the core meanwhile.
 *
 * @param btf The BTF to print: a `Btf` (split BTF includes its base's types).
 * @param write Takes the bytes, such as a write to stdout that resolves when written.
 * @returns When `write` is done.
 * @throws {BtfError} When the blob is malformed, or has a cycle of types C cannot express.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Btf } from "../btf/btf.ts";
 * import { writeBtfAsC } from "./c_dump.ts";
 * let size = 0;
 * await writeBtfAsC(Btf.kernel(), (bytes) => {
 *   size = bytes.length;
 * });
 * assert(size > 0);
 * ```
 */
export async function writeBtfAsC(
  btf: BtfBlobSource,
  write: (bytes: Uint8Array) => Promise<void> | void,
): Promise<void> {
  using d = new CDumper(btf);
  await d.dumpAllTo(write);
}
