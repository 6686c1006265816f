/**
 * The one FFI symbol table of tsbpf: every libc function the library calls, written once with the C
 * prototype beside each parameter. The Deno and Bun adapters derive their `dlopen` tables from it
 * ({@linkcode denoSymbols}, {@linkcode bunSymbols}).
 *
 * The adapters bind the table in two groups: `open` (what opening and loading an object calls, bound
 * when libc is opened) and `more` (attaching, ring buffers, sockets, namespaces), bound on the first
 * call of any of its functions. Binding costs each runtime time per symbol (about 0.1 ms on Deno),
 * which a process that only loads objects should not pay.
 *
 * Parameter kinds are runtime-neutral:
 * - `i32`, `u32`, `i64`, `u64`: integers. Addresses are passed as `u64` and are `bigint` in tsbpf.
 * - `buf`: a `Uint8Array` (or `null`) whose memory the C function reads or writes during the call.
 * - `void`: no return value.
 *
 * `syscall` is variadic in C; on x86_64 and aarch64 Linux integer and pointer arguments of a variadic
 * call travel where fixed ones do (the seventh on x86_64 on the stack, where glibc's `syscall` reads
 * it), so a fixed seven-argument signature is sound. The plain system calls tsbpf makes all go
 * through it, by number ({@linkcode SYSCALL_NUMBERS}): the `open` group is three symbols and `more`
 * two, `epoll_wait` (Deno binds it a second time to run off the JavaScript thread; aarch64 has only
 * epoll_pwait) and `if_nametoindex` (a libc function, not a system call).
 *
 * @module
 */

/** A runtime-neutral FFI value kind. */
export type FfiKind = "i32" | "u32" | "i64" | "u64" | "buf" | "void";

/** When a symbol is bound: with libc (`open`) or on the first use of the group (`more`). */
export type FfiGroup = "open" | "more";

/** One C function: its parameter kinds, result kind and binding group. */
export interface FfiSymbol {
  /** The kind of each parameter, in order. */
  readonly parameters: readonly FfiKind[];
  /** The kind of the result. */
  readonly result: FfiKind;
  /** When it is bound; see the module doc. */
  readonly group: FfiGroup;
}

/**
 * Every libc function tsbpf uses. Keys are the C names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LIBC_SYMBOLS } from "./symbols.ts";
 * assert(LIBC_SYMBOLS.if_nametoindex.parameters.length === 1);
 * ```
 */
export const LIBC_SYMBOLS = {
  syscall: {
    parameters: [
      "i64", // long number
      "u64", // long a1
      "u64", // long a2 (pointers go as addresses)
      "u64", // long a3
      "u64", // long a4
      "u64", // long a5
      "u64", // long a6 (mmap's offset)
    ],
    result: "i64", // long
    group: "open",
  },
  epoll_wait: {
    parameters: [
      "i32", // int epfd
      "buf", // struct epoll_event *events
      "i32", // int maxevents
      "i32", // int timeout (milliseconds, -1 blocks)
    ],
    result: "i32", // int
    group: "more",
  },
  if_nametoindex: {
    parameters: [
      "buf", // const char *ifname
    ],
    result: "u32", // unsigned int (0 when there is no such interface)
    group: "more",
  },
  sysconf: {
    parameters: [
      "i32", // int name
    ],
    result: "i64", // long
    group: "open",
  },
  __errno_location: {
    parameters: [],
    result: "u64", // int * (thread-local errno)
    group: "open",
  },
} as const satisfies Record<string, FfiSymbol>;

/** The names of the libc functions in {@linkcode LIBC_SYMBOLS}. */
export type LibcName = keyof typeof LIBC_SYMBOLS;

const DENO_KIND = {
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  buf: "buffer",
  void: "void",
} as const;

const BUN_KIND = {
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  buf: "ptr",
  void: "void",
} as const;

/**
 * The table in the shape `Deno.dlopen` takes.
 *
 * @param group only this group's functions (see the module doc); every function when omitted.
 * @returns one entry per libc function, with Deno's type names.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoSymbols } from "./symbols.ts";
 * assert(denoSymbols().epoll_wait.parameters[1] === "buffer");
 * assert(denoSymbols("more").syscall_int.result === "i32");
 * ```
 */
export function denoSymbols(group?: FfiGroup): Record<
  LibcName | `${BlockingName}_nonblocking` | "syscall_int",
  { name?: string; parameters: string[]; result: string; nonblocking?: boolean }
> {
  const t: Record<
    string,
    { name?: string; parameters: string[]; result: string; nonblocking?: boolean }
  > = mapTable(DENO_KIND, group);
  for (const name of BLOCKING) {
    if (t[name] === undefined) continue;
    t[`${name}_nonblocking`] = { ...t[name], name, nonblocking: true };
  }
  if (group === undefined || group === "more") {
    // syscall() once more, for bpf() on map elements (Sys.bpfRaw): three arguments and an int
    // result. Deno returns a 64-bit result as a new BigInt per call (about 50 ns here); bpf()'s
    // results all fit an int, which comes back as a plain number. Bound with the `more` group, so
    // a program that never touches map elements does not pay for binding it.
    t.syscall_int = {
      name: "syscall",
      parameters: [DENO_KIND.i64, DENO_KIND.u64, DENO_KIND.u64, DENO_KIND.u64],
      result: DENO_KIND.i32,
    };
  }
  return t as ReturnType<typeof denoSymbols>;
}

/**
 * The calls that can block for long. Deno gets a second, `nonblocking` binding of each
 * (`epoll_wait_nonblocking`), which runs on a helper thread and returns a promise.
 */
export const BLOCKING = ["epoll_wait"] as const satisfies readonly LibcName[];

/** The names in {@linkcode BLOCKING}. */
export type BlockingName = typeof BLOCKING[number];

/**
 * The table in the shape `bun:ffi`'s `dlopen` takes (`args` and `returns`).
 *
 * @param group only this group's functions (see the module doc); every function when omitted.
 * @returns one entry per libc function, with Bun's type names.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bunSymbols } from "./symbols.ts";
 * assert(bunSymbols().epoll_wait.args[1] === "ptr");
 * assert(bunSymbols().syscall.returns === "i64_fast");
 * ```
 */
export function bunSymbols(
  group?: FfiGroup,
): Record<LibcName, { args: string[]; returns: string }> {
  const t = mapTable(BUN_KIND, group);
  const out = {} as Record<LibcName, { args: string[]; returns: string }>;
  for (const name of Object.keys(t) as LibcName[]) {
    // A 64-bit result as "i64" comes back as a new BigInt per call (about 100 ns on every bpf()
    // call here); the `_fast` kinds return a number whenever it fits, which the callers convert
    // with Number() anyway.
    const r = t[name].result;
    out[name] = { args: t[name].parameters, returns: r === "i64" || r === "u64" ? `${r}_fast` : r };
  }
  return out;
}

function mapTable(
  kinds: Record<FfiKind, string>,
  group: FfiGroup | undefined,
): Record<LibcName, { parameters: string[]; result: string }> {
  const out = {} as Record<LibcName, { parameters: string[]; result: string }>;
  for (const [name, sym] of Object.entries(LIBC_SYMBOLS) as [LibcName, FfiSymbol][]) {
    if (group !== undefined && sym.group !== group) continue;
    out[name] = { parameters: sym.parameters.map((k) => kinds[k]), result: kinds[sym.result] };
  }
  return out;
}

/**
 * Syscall numbers for the calls libc has no wrapper for, per architecture.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SYSCALL_NUMBERS } from "./symbols.ts";
 * assert(SYSCALL_NUMBERS.x86_64.bpf === 321);
 * ```
 */
export const SYSCALL_NUMBERS = {
  x86_64: {
    bpf: 321,
    perf_event_open: 298,
    madvise: 28,
    mmap: 9,
    munmap: 11,
    close: 3,
    read: 0,
    write: 1,
    openat: 257,
    uname: 63,
    ioctl: 16,
    epoll_create1: 291,
    epoll_ctl: 233,
    mount: 165,
    umount2: 166,
    setns: 308,
    socket: 41,
    bind: 49,
    setsockopt: 54,
    getpid: 39,
    eventfd2: 290,
    pread64: 17,
    fstat: 5,
    readlinkat: 267,
    mkdirat: 258,
    unlinkat: 263,
    statfs: 137,
  },
  aarch64: {
    bpf: 280,
    perf_event_open: 241,
    madvise: 233,
    mmap: 222,
    munmap: 215,
    close: 57,
    read: 63,
    write: 64,
    openat: 56,
    uname: 160,
    ioctl: 29,
    epoll_create1: 20,
    epoll_ctl: 21,
    mount: 40,
    umount2: 39,
    setns: 268,
    socket: 198,
    bind: 200,
    setsockopt: 208,
    getpid: 172,
    eventfd2: 19,
    pread64: 67,
    fstat: 80,
    readlinkat: 78,
    mkdirat: 34,
    unlinkat: 35,
    statfs: 43,
  },
} as const satisfies Record<Arch, Record<string, number>>;

/** A CPU architecture tsbpf runs on. */
export type Arch = "x86_64" | "aarch64";
