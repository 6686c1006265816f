/**
 * Kernel feature probes in the manner of libbpf's `kernel_supports()`: each one makes the smallest
 * object that needs the feature (a hand-built BTF blob, a map, a two-instruction program), reports
 * whether the kernel took it, closes everything, and is cached for the rest of the process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probe } from "./probes.ts";
 * if (!probe("btf_datasec")) console.log("global data sections need BTF rewriting here");
 * assert.equal(typeof probe("btf_datasec"), "boolean");
 * ```
 *
 * @module
 */
import { host } from "../_host.ts";
import { BtfBuilder } from "../btf/builder.ts";
import {
  btfLoad,
  linkCreate,
  mapCreate,
  progBindMap,
  progLoad,
  type ProgLoadOptions,
} from "../ffi/bpf.ts";
import {
  BpfAttachType,
  BpfMapFlags,
  BpfMapType,
  BpfProgType,
  BpfPseudo,
} from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import type { SyscallError } from "../errors.ts";
import { hasKallsym } from "./ksyms.ts";

/** Every feature {@linkcode probe} knows, with the libbpf feature it mirrors. */
export const FEATURES = {
  /** FEAT_BTF: the kernel takes BTF (BPF_BTF_LOAD of one INT). */
  btf: "BTF",
  /** FEAT_BTF_FUNC: BTF_KIND_FUNC and BTF_KIND_FUNC_PROTO. */
  btf_func: "BTF_KIND_FUNC",
  /** FEAT_BTF_GLOBAL_FUNC: FUNC with global linkage. */
  btf_func_global: "BTF_KIND_FUNC global linkage",
  /** FEAT_BTF_DATASEC: BTF_KIND_VAR and BTF_KIND_DATASEC. */
  btf_datasec: "BTF_KIND_DATASEC",
  /** FEAT_BTF_FLOAT: BTF_KIND_FLOAT. */
  btf_float: "BTF_KIND_FLOAT",
  /** FEAT_BTF_DECL_TAG: BTF_KIND_DECL_TAG. */
  btf_decl_tag: "BTF_KIND_DECL_TAG",
  /** FEAT_BTF_TYPE_TAG: BTF_KIND_TYPE_TAG. */
  btf_type_tag: "BTF_KIND_TYPE_TAG",
  /** FEAT_BTF_ENUM64: BTF_KIND_ENUM64. */
  btf_enum64: "BTF_KIND_ENUM64",
  /** BPF_PROG_LOAD takes func_info records against loaded BTF. */
  btf_func_info: "BPF_PROG_LOAD func_info",
  /** BPF_PROG_LOAD takes line_info records against loaded BTF. */
  btf_line_info: "BPF_PROG_LOAD line_info",
  /** BPF_PROG_LOAD applies CO-RE relocations itself (`core_relos`, Linux 5.17+). */
  core_relos: "BPF_PROG_LOAD core_relos",
  /** FEAT_GLOBAL_DATA: `ld_imm64` of a map value address (BPF_PSEUDO_MAP_VALUE). */
  global_data: "global data (BPF_PSEUDO_MAP_VALUE)",
  /** FEAT_ARRAY_MMAP: BPF_F_MMAPABLE arrays. */
  array_mmap: "BPF_F_MMAPABLE",
  /** FEAT_PROG_NAME: programs and maps have names. */
  prog_name: "BPF_PROG_LOAD prog_name",
  /** FEAT_BPF_COOKIE: the bpf_get_attach_cookie() helper. */
  bpf_cookie: "bpf_get_attach_cookie()",
  /** FEAT_PERF_LINK: BPF_LINK_CREATE with BPF_PERF_EVENT. */
  perf_link: "BPF_PERF_EVENT links",
  /** FEAT_MEMCG_ACCOUNT: BPF memory is charged to the memory cgroup (no RLIMIT_MEMLOCK needed). */
  memcg_account: "memcg-based BPF memory accounting",
  /** FEAT_PROG_BIND_MAP: BPF_PROG_BIND_MAP (the loader binds .rodata to programs with it). */
  prog_bind_map: "BPF_PROG_BIND_MAP",
  /**
   * FEAT_SYSCALL_WRAPPER: syscalls go through `__<arch>_sys_*` wrappers. libbpf decides by creating a
   * kprobe on `__<arch>_sys_bpf`, so a kernel without kprobes answers no, and so does this.
   */
  syscall_wrapper: "__<arch>_sys_* syscall wrappers",
} as const;

/** The name of a feature {@linkcode probe} knows. */
export type Feature = keyof typeof FEATURES;

const cache = new Map<Feature, boolean>();

/**
 * Whether the running kernel has a feature. Runs the probe the first time and caches the answer
 * for the process. A probe that fails for any reason (including missing privileges) answers false.
 *
 * @param feature the feature (see {@linkcode FEATURES}).
 * @returns true when the kernel took the probe.
 * @throws {RangeError} for a name that is not a feature.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probe } from "./probes.ts";
 * assert.equal(typeof probe("btf_enum64"), "boolean");
 * assert.throws(() => probe("no_such_feature" as "btf_enum64"), RangeError);
 * ```
 */
export function probe(feature: Feature): boolean {
  const have = cache.get(feature);
  if (have !== undefined) return have;
  const fn = PROBES[feature];
  if (fn === undefined) throw new RangeError(`Unknown feature ${String(feature)}`);
  let ok: boolean;
  try {
    ok = fn();
  } catch {
    ok = false;
  }
  cache.set(feature, ok);
  return ok;
}

/**
 * Runs every probe.
 *
 * @returns each feature's answer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probe, probeAll } from "./probes.ts";
 * const all = probeAll();
 * assert.equal(all.btf_datasec, probe("btf_datasec"));
 * ```
 */
export function probeAll(): Record<Feature, boolean> {
  const out = {} as Record<Feature, boolean>;
  for (const f of Object.keys(FEATURES) as Feature[]) out[f] = probe(f);
  return out;
}

/**
 * Forgets the cached answers (tests use it to run the probes again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probe, resetProbes } from "./probes.ts";
 * const before = probe("btf_func");
 * resetProbes(); // the next probe() runs the probe again
 * assert.equal(probe("btf_func"), before);
 * ```
 */
export function resetProbes(): void {
  cache.clear();
}

/** The running kernel's version, from uname(2) (and Ubuntu's /proc/version_signature). */
export interface KernelVersion {
  /** `uname -r`. */
  release: string;
  /** Major number. */
  major: number;
  /** Minor number. */
  minor: number;
  /** Patch level (capped at 255, as `KERNEL_VERSION()` does). */
  patch: number;
  /** `KERNEL_VERSION(major, minor, patch)`: `major << 16 | minor << 8 | patch`. */
  code: number;
}

let kver: KernelVersion | undefined;

/**
 * The running kernel's version, read once per process. Like libbpf, it prefers Ubuntu's
 * `/proc/version_signature` (whose last word is the upstream version) over `uname -r`.
 *
 * @returns the version.
 * @throws {SyscallError} uname() failed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelVersion } from "./probes.ts";
 * const v = kernelVersion();
 * assert.equal(v.code, (v.major << 16) + (v.minor << 8) + v.patch);
 * ```
 */
export function kernelVersion(): KernelVersion {
  if (kver) return kver;
  const release = getSys().uname().release;
  let text = release;
  try {
    const sig = readSmallFile("/proc/version_signature");
    const last = sig.trim().split(/\s+/).pop();
    if (last && /^\d+\.\d+/.test(last)) text = last;
  } catch {
    // Not Ubuntu: uname's release is the version.
  }
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  const major = m ? Number(m[1]) : 0;
  const minor = m ? Number(m[2]) : 0;
  const patch = Math.min(m?.[3] ? Number(m[3]) : 0, 255);
  kver = { release, major, minor, patch, code: (major << 16) | (minor << 8) | patch };
  return kver;
}

function readSmallFile(path: string): string {
  const sys = getSys();
  const fd = sys.open(path, 0o2000000);
  try {
    const buf = new Uint8Array(256);
    const n = sys.read(fd, buf);
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    sys.close(fd);
  }
}

// --- tiny BTF blobs ------------------------------------------------------------------------------

/** Adds the `int` (4 bytes, signed) most blobs start from and returns its id. */
function int(b: BtfBuilder): number {
  return b.int("int", 4, { signed: true });
}

/** The blob of the types `add` puts into an empty builder. */
function blob(add: (b: BtfBuilder) => unknown): Uint8Array {
  const b = new BtfBuilder();
  add(b);
  return b.build();
}

/** `int probe_fn(int x)` as a FUNC with the given linkage (0 static, 1 global). */
function funcBlob(linkage: number): Uint8Array {
  return blob((b) => {
    const i = int(b);
    b.func("probe_fn", b.funcProto(i, [["x", i]]), linkage);
  });
}

/**
 * `int probe_main(void)`, global, for the func_info and line_info probes, with the FUNC's id that
 * func_info names; with `lines`, also the offsets of the file name and source line that line_info
 * names (0 without).
 */
function mainBlob(lines: boolean): { bytes: Uint8Array; func: number; file: number; line: number } {
  const b = new BtfBuilder();
  const func = b.func("probe_main", b.funcProto(int(b), []), 1);
  const file = lines ? b.str("probe.c") : 0;
  const line = lines ? b.str("return 0;") : 0;
  return { bytes: b.build(), func, file, line };
}

/**
 * Internal, not part of the API: the BTF blob each BTF probe hands to BPF_BTF_LOAD, by feature,
 * made afresh on each call. The probes load exactly these bytes; tests pin them.
 *
 * @internal
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { _probeBlobs } from "./probes.ts";
 * import { Btf, BtfKind } from "../btf/mod.ts";
 * using btf = Btf.parse(_probeBlobs.btf_enum64());
 * assert(btf.kind(1) === BtfKind.Enum64 && btf.name(1) === "e");
 * ```
 */
export const _probeBlobs: Readonly<Record<Extract<Feature, `btf${string}`>, () => Uint8Array>> = {
  btf: () => blob(int),
  btf_func: () => funcBlob(0),
  btf_func_global: () => funcBlob(1),
  btf_datasec: () =>
    blob((b) => {
      const x = b.var("x", int(b), 1);
      b.datasec(".data", 4, [[x, 0, 4]]);
    }),
  btf_float: () => blob((b) => b.float("float", 4)),
  btf_decl_tag: () => blob((b) => b.declTag("tag", b.var("x", int(b), 1))),
  btf_type_tag: () => blob((b) => b.ptr(b.typeTag("tag", int(b)))),
  btf_enum64: () =>
    blob((b) => {
      // The enumerator's name goes first in the string section, as this probe has always sent it.
      b.str("V");
      b.enum64("e", 8, [["V", 0x1_0000_0001n]]);
    }),
  btf_func_info: () => mainBlob(false).bytes,
  btf_line_info: () => mainBlob(true).bytes,
};

function loads(bytes: Uint8Array): boolean {
  btfLoad(bytes).close();
  return true;
}

// --- programs ------------------------------------------------------------------------------------

function insns(...list: [number, number, number, number, number][]): Uint8Array {
  const out = new Uint8Array(list.length * 8);
  const dv = new DataView(out.buffer);
  list.forEach(([op, dst, src, off, imm], i) => {
    dv.setUint8(i * 8, op);
    dv.setUint8(i * 8 + 1, ((src & 0xf) << 4) | (dst & 0xf));
    dv.setInt16(i * 8 + 2, off, true);
    dv.setInt32(i * 8 + 4, imm, true);
  });
  return out;
}

const MOV64_IMM = 0xb7;
const EXIT = 0x95;
const CALL = 0x85;
const LD_IMM64 = 0x18;
const ST_MEM_DW = 0x7a;
const RET0 = insns([MOV64_IMM, 0, 0, 0, 0], [EXIT, 0, 0, 0, 0]);

const HELPER_KTIME_GET_COARSE_NS = 160;
const HELPER_GET_ATTACH_COOKIE = 174;

function loadsProgram(
  type: number,
  code: Uint8Array,
  opts: { expectedAttachType?: number } = {},
): boolean {
  progLoad({ type, insns: code, license: "GPL", expectedAttachType: opts.expectedAttachType })
    .close();
  return true;
}

/**
 * Loads `r0 = 0; exit` as a socket filter against the BTF `bytes`, with a func_info record naming
 * `func`, and `extra` (line info, CO-RE relocations).
 */
function loadsMain(bytes: Uint8Array, func: number, extra: Partial<ProgLoadOptions>): boolean {
  using btf = btfLoad(bytes);
  progLoad({
    type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
    insns: RET0,
    license: "GPL",
    btfFd: btf.value,
    funcInfo: new Uint8Array(new Uint32Array([0, func]).buffer),
    funcInfoRecSize: 8,
    ...extra,
  }).close();
  return true;
}

function errnoOf(e: unknown): number {
  return e instanceof Error ? ((e as SyscallError).errno ?? -1) : -1;
}

const PROBES: Record<Feature, () => boolean> = {
  btf: () => loads(_probeBlobs.btf()),
  btf_func: () => loads(_probeBlobs.btf_func()),
  btf_func_global: () => loads(_probeBlobs.btf_func_global()),
  btf_datasec: () => loads(_probeBlobs.btf_datasec()),
  btf_float: () => loads(_probeBlobs.btf_float()),
  btf_decl_tag: () => loads(_probeBlobs.btf_decl_tag()),
  btf_type_tag: () => loads(_probeBlobs.btf_type_tag()),
  btf_enum64: () => loads(_probeBlobs.btf_enum64()),
  btf_func_info: () => {
    const { bytes, func } = mainBlob(false);
    return loadsMain(bytes, func, {});
  },
  btf_line_info: () => {
    const { bytes, func, file, line } = mainBlob(true);
    const lines = new Uint8Array(new Uint32Array([0, file, line, (1 << 10) | 1]).buffer);
    return loadsMain(bytes, func, { lineInfo: lines, lineInfoRecSize: 16 });
  },
  core_relos: () => {
    // `r0 = <local type id of int>`: a BPF_CORE_TYPE_ID_LOCAL relocation (access string "0").
    const b = new BtfBuilder();
    const i = int(b);
    const func = b.func("probe_main", b.funcProto(i, []), 1);
    const access = b.str("0");
    const relo = new Uint8Array(new Uint32Array([0, i, access, 6]).buffer);
    return loadsMain(b.build(), func, { coreRelos: relo });
  },
  global_data: () => {
    using map = mapCreate({
      type: BpfMapType.BPF_MAP_TYPE_ARRAY,
      keySize: 4,
      valueSize: 32,
      maxEntries: 1,
    });
    // r1 = &map[0] + 16; *(u64 *)(r1 + 0) = 42; r0 = 0; exit
    const code = insns(
      [LD_IMM64, 1, BpfPseudo.BPF_PSEUDO_MAP_VALUE, 0, map.value],
      [0, 0, 0, 0, 16],
      [ST_MEM_DW, 1, 0, 0, 42],
      [MOV64_IMM, 0, 0, 0, 0],
      [EXIT, 0, 0, 0, 0],
    );
    return loadsProgram(BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER, code);
  },
  array_mmap: () => {
    mapCreate({
      type: BpfMapType.BPF_MAP_TYPE_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
      flags: BpfMapFlags.BPF_F_MMAPABLE,
    }).close();
    return true;
  },
  prog_name: () => {
    progLoad({
      type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
      insns: RET0,
      license: "GPL",
      name: "tsbpf_probe",
    }).close();
    return true;
  },
  bpf_cookie: () => {
    // Tracepoint programs may call bpf_get_attach_cookie() since the helper exists (5.15);
    // kprobe programs are not used, as kprobes may not be built into the kernel.
    const code = insns([CALL, 0, 0, 0, HELPER_GET_ATTACH_COOKIE], [EXIT, 0, 0, 0, 0]);
    return loadsProgram(BpfProgType.BPF_PROG_TYPE_TRACEPOINT, code);
  },
  perf_link: () => {
    using prog = progLoad({
      type: BpfProgType.BPF_PROG_TYPE_TRACEPOINT,
      insns: RET0,
      license: "GPL",
    });
    // A kernel with perf links checks the target and says EBADF for fd -1; one without them says
    // EINVAL for the attach type.
    try {
      linkCreate(prog, -1, BpfAttachType.BPF_PERF_EVENT).close();
      return true;
    } catch (e) {
      return errnoOf(e) === 9;
    }
  },
  memcg_account: () => {
    // bpf_ktime_get_coarse_ns() came in the same release (5.11) as memcg-based accounting.
    const code = insns([CALL, 0, 0, 0, HELPER_KTIME_GET_COARSE_NS], [MOV64_IMM, 0, 0, 0, 1], [
      EXIT,
      0,
      0,
      0,
      0,
    ]);
    return loadsProgram(BpfProgType.BPF_PROG_TYPE_CGROUP_SKB, code, {
      expectedAttachType: BpfAttachType.BPF_CGROUP_INET_INGRESS,
    });
  },
  prog_bind_map: () => {
    using map = mapCreate({
      type: BpfMapType.BPF_MAP_TYPE_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
    });
    using prog = progLoad({
      type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
      insns: RET0,
      license: "GPL",
    });
    progBindMap(prog, map);
    return true;
  },
  syscall_wrapper: () => {
    const arch = getSys().arch;
    const pfx = arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : "";
    if (pfx === "") return false;
    const kprobes = host().exists("/sys/bus/event_source/devices/kprobe/type") ||
      host().exists("/sys/kernel/tracing/kprobe_events") ||
      host().exists("/sys/kernel/debug/tracing/kprobe_events");
    return kprobes && hasKallsym(`__${pfx}_sys_bpf`);
  },
};
