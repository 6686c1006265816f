/**
 * The error classes of tsbpf. Every error a user can meet is a {@linkcode BpfError}; the subclasses
 * say which layer failed and carry what that layer knows (an offset, a type id, an errno, a log).
 *
 * @module
 */

/** Options shared by every tsbpf error. */
export interface BpfErrorOptions {
  /** The error that caused this one, if any. */
  cause?: unknown;
}

/**
 * The base class of every error tsbpf throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfError } from "./errors.ts";
 * const e = new BpfError("Something failed");
 * assert(e instanceof Error && e.name === "BpfError");
 * ```
 */
export class BpfError extends Error {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "BpfError";
  /** Makes an error with a message that starts with a capital letter and ends with no period. */
  constructor(message: string, options?: BpfErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * A malformed or unsupported ELF file. `offset` is the file offset at fault, when known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ElfError } from "./errors.ts";
 * const e = new ElfError("Section header table out of range", { offset: 64 });
 * assert(e.offset === 64);
 * ```
 */
export class ElfError extends BpfError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "ElfError";
  /** The byte offset in the file where the fault was found, or -1. */
  readonly offset: number;
  /** Makes an ELF error at a file offset. */
  constructor(message: string, options?: BpfErrorOptions & { offset?: number }) {
    super(message, options);
    this.offset = options?.offset ?? -1;
  }
}

/**
 * Malformed BTF or .BTF.ext data. `typeId` is the type at fault and `offset` the byte offset inside
 * the BTF blob, each -1 when unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BtfError } from "./errors.ts";
 * const e = new BtfError("Type 7 refers to missing type 900", { typeId: 7 });
 * assert(e.typeId === 7);
 * ```
 */
export class BtfError extends BpfError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "BtfError";
  /** The type id at fault, or -1. */
  readonly typeId: number;
  /** The byte offset inside the BTF data at fault, or -1. */
  readonly offset: number;
  /** Makes a BTF error about a type id or an offset. */
  constructor(message: string, options?: BpfErrorOptions & { typeId?: number; offset?: number }) {
    super(message, options);
    this.typeId = options?.typeId ?? -1;
    this.offset = options?.offset ?? -1;
  }
}

/**
 * A relocation that could not be applied: a missing symbol, a CO-RE relocation with no target, an
 * extern with no value. Names the program, its section and the instruction index when known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RelocationError } from "./errors.ts";
 * const e = new RelocationError("Unknown map", { program: "p", section: "xdp", insn: 3 });
 * assert(e.insn === 3);
 * ```
 */
export class RelocationError extends BpfError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "RelocationError";
  /** The program whose instructions were being relocated, or "". */
  readonly program: string;
  /** The program's ELF section, or "". */
  readonly section: string;
  /** The instruction index at fault, or -1. */
  readonly insn: number;
  /** Makes a relocation error about a program's instruction. */
  constructor(
    message: string,
    options?: BpfErrorOptions & { program?: string; section?: string; insn?: number },
  ) {
    super(message, options);
    this.program = options?.program ?? "";
    this.section = options?.section ?? "";
    this.insn = options?.insn ?? -1;
  }
}

/**
 * A system call that failed. `errno` is the number and `code` its name (`EPERM`, `ENOENT`...).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SyscallError } from "./errors.ts";
 * const e = new SyscallError("BPF_MAP_CREATE failed", { call: "bpf(BPF_MAP_CREATE)", errno: 1, code: "EPERM" });
 * assert(e.code === "EPERM");
 * ```
 */
export class SyscallError extends BpfError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "SyscallError";
  /** The call that failed, such as `bpf(BPF_PROG_LOAD)` or `perf_event_open`. */
  readonly call: string;
  /** The errno value. */
  readonly errno: number;
  /** The errno name, such as `EPERM`. */
  readonly code: string;
  /** Makes an error for a failed call. */
  constructor(
    message: string,
    options: BpfErrorOptions & { call: string; errno: number; code: string },
  ) {
    super(message, options);
    this.call = options.call;
    this.errno = options.errno;
    this.code = options.code;
  }
}

/**
 * The kernel refused to load a program. Carries the program, its section, the errno and the full
 * verifier log; the message ends with the log's last meaningful lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VerifierError } from "./errors.ts";
 * const e = new VerifierError({ program: "p", section: "xdp", errno: 13, code: "EACCES", log: "R0 !read_ok\n" });
 * assert(e.message.includes("R0 !read_ok"));
 * ```
 */
export class VerifierError extends SyscallError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "VerifierError";
  /** The program's name. */
  readonly program: string;
  /** The program's ELF section. */
  readonly section: string;
  /** The whole verifier log, or "" when the kernel gave none. */
  readonly log: string;
  /** Builds the message from the program, section, errno and log tail. */
  constructor(
    options: BpfErrorOptions & {
      program: string;
      section: string;
      errno: number;
      code: string;
      log: string;
      truncated?: boolean;
      /** What the machine shows about the refusal, appended after the errno. */
      hint?: string;
    },
  ) {
    const tail = verifierLogTail(options.log, 6);
    const head = `Loading program '${escapeControl(options.program)}' (section ${
      escapeControl(options.section)
    }) failed: ${options.code}${options.hint ? `: ${options.hint}` : ""}`;
    super(
      tail.length > 0 ? `${head}; the verifier said:\n${tail.join("\n")}` : head,
      {
        call: "bpf(BPF_PROG_LOAD)",
        errno: options.errno,
        code: options.code,
        cause: options.cause,
      },
    );
    this.program = options.program;
    this.section = options.section;
    this.log = options.log;
  }
}

/**
 * The error for a file that could not be opened or read: the path, the errno name (the same words
 * on every runtime), and what to check.
 *
 * @param path the file.
 * @param cause what the runtime threw.
 * @returns the error.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cannotRead } from "./errors.ts";
 * const e = cannotRead("/x", Object.assign(new Error("gone"), { code: "ENOENT" }));
 * assert.equal(e.message, 'Cannot read "/x": ENOENT; check the path and its permissions');
 * ```
 */
export function cannotRead(path: string, cause: unknown): BpfError {
  const code = (cause as { code?: unknown })?.code;
  return new BpfError(
    `Cannot read ${JSON.stringify(path)}${
      typeof code === "string" && code !== "" ? `: ${code}` : ""
    }; check the path and its permissions`,
    { cause },
  );
}

// C0 controls, DEL and C1 controls: what a terminal may act on (ESC sequences, CSI, bell...).
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
// deno-lint-ignore no-control-regex
const CONTROL_BUT_LINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * Escapes the control characters of text that came from an object or a target (names, sections,
 * logs) before it reaches a terminal, so that a crafted name cannot set the window title, clear
 * the screen or forge a line of a table: each becomes `\xNN`. With `keepLines`, newlines and tabs
 * stay (for multi-line messages and dumps).
 *
 * @param text the text.
 * @param opts whether newlines and tabs stay.
 * @returns the text with every control character escaped.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeControl } from "./errors.ts";
 * assert.equal(escapeControl("map\x1b]0;pwned\x07"), "map\\x1b]0;pwned\\x07");
 * assert.equal(escapeControl("a\nb", { keepLines: true }), "a\nb");
 * assert.equal(escapeControl("a\nb"), "a\\x0ab");
 * ```
 */
export function escapeControl(text: string, opts: { keepLines?: boolean } = {}): string {
  return text.replace(
    opts.keepLines ? CONTROL_BUT_LINES : CONTROL,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * The last `max` non-empty lines of a verifier log, without the closing statistics lines.
 *
 * @param log the verifier's log.
 * @param max how many lines at most.
 * @returns the lines, oldest first.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifierLogTail } from "./errors.ts";
 * const log = "0: R1=ctx() R10=fp0\n1: (85) call unknown#12345\ninvalid func unknown#12345\n" +
 *   "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0\n";
 * assert.deepEqual(verifierLogTail(log, 2), [
 *   "1: (85) call unknown#12345",
 *   "invalid func unknown#12345",
 * ]);
 * ```
 */
export function verifierLogTail(log: string, max: number): string[] {
  const lines = log.split("\n").map((l) => l.trimEnd()).filter((l) => l.length > 0);
  while (
    lines.length > 0 &&
    /^(processed \d+ insns|verification time|stack depth|max_states_per_insn)/.test(
      lines[lines.length - 1],
    )
  ) {
    lines.pop();
  }
  return lines.slice(-max);
}

/**
 * The running kernel, or the runtime, lacks a feature. `feature` names it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotSupportedError } from "./errors.ts";
 * const e = new NotSupportedError("kprobe PMU", "Kprobes are not built into this kernel");
 * assert(e.feature === "kprobe PMU");
 * ```
 */
export class NotSupportedError extends BpfError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "NotSupportedError";
  /** The missing feature, such as `BPF_MAP_TYPE_RINGBUF` or `kprobe PMU`. */
  readonly feature: string;
  /** The program that needs the feature, or "" when the error is not about one program. */
  readonly program: string;
  /** That program's ELF section, or "". */
  readonly section: string;
  /** Makes an error about a missing feature, needed by `options.program` when given. */
  constructor(
    feature: string,
    message: string,
    options?: BpfErrorOptions & { program?: string; section?: string },
  ) {
    super(message, options);
    this.feature = feature;
    this.program = options?.program ?? "";
    this.section = options?.section ?? "";
  }
}

/**
 * An operation on a map, program, link or buffer after its `close()`. `resource` says what was
 * closed (`map 'counts'`).
 *
 * @example
 * ```ts
 * import { BpfError, ClosedError } from "./errors.ts";
 * const e = new ClosedError("map 'counts'");
 * if (!(e instanceof BpfError) || e.message !== "The map 'counts' is closed; open it again") {
 *   throw new Error("unexpected message");
 * }
 * ```
 */
export class ClosedError extends BpfError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "ClosedError";
  /** What was closed, such as `map 'counts'`. */
  readonly resource: string;
  /** Makes the error for a closed resource. */
  constructor(resource: string, options?: BpfErrorOptions) {
    super(`The ${resource} is closed; open it again`, options);
    this.resource = resource;
  }
}

/**
 * A value that does not fit a BTF type, or a BTF type that has no codec (a function prototype,
 * void, a type nested too deeply). `path` names the field at fault, from the type's name:
 * `event.args[2].flags`; `typeId` is the BTF type at fault, or -1.
 *
 * @example
 * ```ts
 * import { CodecError } from "./errors.ts";
 * const e = new CodecError("Expected a number", { path: "event.pid", typeId: 3 });
 * if (e.path !== "event.pid" || e.typeId !== 3 || e.name !== "CodecError") throw new Error("bad");
 * ```
 */
export class CodecError extends BpfError {
  /** The class name, set explicitly so that bundlers renaming classes do not change it. */
  override name = "CodecError";
  /** The field at fault, such as `event.args[2].flags`; the type's name (or `value`) for the whole. */
  readonly path: string;
  /** The BTF type id at fault, or -1. */
  readonly typeId: number;
  /** Makes an error about the field at `path`. */
  constructor(message: string, options: BpfErrorOptions & { path: string; typeId?: number }) {
    super(message, options);
    this.path = options.path;
    this.typeId = options.typeId ?? -1;
  }
}
