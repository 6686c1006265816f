/**
 * Thin typed wrappers over bpf(): each function makes one syscall (two for the info queries that
 * fetch variable-length parts), builds its `bpf_attr` from the named layouts in `bpf_attr.ts`, and
 * throws a {@linkcode SyscallError} naming the command and errno when the kernel refuses.
 *
 * Functions that make an fd return an {@linkcode Fd}; the caller owns it and must `close()` it.
 * All calls go through `getSys()`, so a test that installs `withFaults(...)` with `setSys` reaches
 * every one of them.
 *
 * @module
 */
import type { SyscallError } from "../errors.ts";
import {
  Attr,
  BTF_INFO,
  BTF_LOAD,
  ENABLE_STATS,
  GET_ID,
  INFO,
  ITER_CREATE,
  LINK_CREATE,
  LINK_DETACH,
  LINK_INFO,
  LINK_UPDATE,
  MAP_BATCH,
  MAP_CREATE,
  MAP_ELEM,
  MAP_INFO,
  OBJ,
  PROG_ATTACH,
  PROG_BIND_MAP,
  PROG_INFO,
  PROG_LOAD,
  QUERY,
  RAW_TRACEPOINT,
  TEST_RUN,
} from "./bpf_attr.ts";
import { BpfCmd, BpfLinkType } from "./constants.ts";
import { Fd, type FdLike, fdOf } from "./fd.ts";
import { getSys } from "./runtime.ts";
import { keepAlive, type Sys } from "./sys.ts";

export { Fd, type FdLike, fdOf, openFds, traceFds } from "./fd.ts";

const ENOENT = 2;

function isErrno(e: unknown, errno: number): e is SyscallError {
  return e instanceof Error && (e as SyscallError).errno === errno;
}

/**
 * Makes the syscall, then touches `keep` so that the buffers whose addresses sit inside the attr
 * stay reachable (and so cannot be collected) until the kernel is done with them.
 */
function call(cmd: number, attr: Uint8Array, ...keep: unknown[]): number {
  try {
    return getSys().bpf(cmd, attr);
  } finally {
    keepAlive(keep);
  }
}

function ptr(buf: Uint8Array | undefined | null): bigint {
  return buf ? getSys().ptrOf(buf) : 0n;
}

function cstrBuf(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Options of {@linkcode mapCreate}. Every field not given is 0. */
export interface MapCreateOptions {
  /** `BPF_MAP_TYPE_*`. */
  type: number;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes. */
  valueSize: number;
  /** Maximum number of entries. */
  maxEntries: number;
  /** `BPF_F_*` map flags. */
  flags?: number;
  /** Name (at most 15 bytes are kept). */
  name?: string;
  /** The inner map's fd, for map-in-map types. */
  innerMapFd?: number;
  /** NUMA node, with `BPF_F_NUMA_NODE`. */
  numaNode?: number;
  /** Offload device. */
  ifindex?: number;
  /** BTF object fd describing key and value. */
  btfFd?: number;
  /** BTF type id of the key. */
  btfKeyTypeId?: number;
  /** BTF type id of the value. */
  btfValueTypeId?: number;
  /** vmlinux BTF type id of the value (struct_ops). */
  btfVmlinuxValueTypeId?: number;
  /** `map_extra` (bloom filter hashes, arena address). */
  mapExtra?: bigint;
  /** BTF object fd of `btfVmlinuxValueTypeId`, with `BPF_F_VTYPE_BTF_OBJ_FD`. */
  valueTypeBtfObjFd?: number;
}

/**
 * `BPF_MAP_CREATE`.
 *
 * @param o the map's definition.
 * @returns the new map's fd.
 * @throws {SyscallError} `bpf(BPF_MAP_CREATE)` failed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mapCreate, mapLookup, mapUpdate } from "./bpf.ts";
 * using fd = mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 16, name: "counts" }); // ARRAY
 * mapUpdate(fd, new Uint8Array(4), new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]));
 * const value = new Uint8Array(8);
 * assert(mapLookup(fd, new Uint8Array(4), value) && value[0] === 7);
 * ```
 */
export function mapCreate(o: MapCreateOptions): Fd {
  const a = new Attr(MAP_CREATE)
    .set("map_type", o.type)
    .set("key_size", o.keySize)
    .set("value_size", o.valueSize)
    .set("max_entries", o.maxEntries)
    .set("map_flags", o.flags ?? 0)
    .set("inner_map_fd", o.innerMapFd ?? 0)
    .set("numa_node", o.numaNode ?? 0)
    .set("map_ifindex", o.ifindex ?? 0)
    .set("btf_fd", o.btfFd ?? 0)
    .set("btf_key_type_id", o.btfKeyTypeId ?? 0)
    .set("btf_value_type_id", o.btfValueTypeId ?? 0)
    .set("btf_vmlinux_value_type_id", o.btfVmlinuxValueTypeId ?? 0)
    .set("map_extra", o.mapExtra ?? 0n)
    .set("value_type_btf_obj_fd", o.valueTypeBtfObjFd ?? 0);
  if (o.name) a.setString("map_name", o.name);
  return new Fd(getSys().bpf(BpfCmd.BPF_MAP_CREATE, a.bytes), "map");
}

function elemAttr(map: FdLike, key: bigint, value: bigint, flags: number | bigint): Uint8Array {
  return new Attr(MAP_ELEM)
    .set("map_fd", fdOf(map))
    .set("key", key)
    .set("value", value)
    .set("flags", flags)
    .bytes;
}

/**
 * `BPF_MAP_LOOKUP_ELEM`: reads the value of `key` into `value`.
 *
 * @param map the map.
 * @param key the key's bytes (ignored by queue and stack maps: pass an empty array).
 * @param value receives the value (`value_size` bytes, times the CPU count for per-CPU maps).
 * @param flags `BPF_F_LOCK` or 0.
 * @returns false when there is no such key (ENOENT).
 * @throws {SyscallError} any other failure.
 */
export function mapLookup(map: FdLike, key: Uint8Array, value: Uint8Array, flags = 0): boolean {
  try {
    call(BpfCmd.BPF_MAP_LOOKUP_ELEM, elemAttr(map, ptr(key), ptr(value), flags), key, value);
    return true;
  } catch (e) {
    if (isErrno(e, ENOENT)) return false;
    throw e;
  }
}

/**
 * `BPF_MAP_UPDATE_ELEM`.
 *
 * @param map the map.
 * @param key the key's bytes.
 * @param value the value's bytes.
 * @param flags `BPF_ANY` (0), `BPF_NOEXIST`, `BPF_EXIST`, optionally with `BPF_F_LOCK`.
 * @throws {SyscallError} the kernel refused (EEXIST, ENOENT, E2BIG...).
 */
export function mapUpdate(map: FdLike, key: Uint8Array, value: Uint8Array, flags = 0): void {
  call(BpfCmd.BPF_MAP_UPDATE_ELEM, elemAttr(map, ptr(key), ptr(value), flags), key, value);
}

/**
 * `BPF_MAP_DELETE_ELEM`.
 *
 * @param map the map.
 * @param key the key's bytes.
 * @returns false when there was no such key (ENOENT).
 * @throws {SyscallError} any other failure (arrays refuse with EINVAL).
 */
export function mapDelete(map: FdLike, key: Uint8Array): boolean {
  try {
    call(BpfCmd.BPF_MAP_DELETE_ELEM, elemAttr(map, ptr(key), 0n, 0), key);
    return true;
  } catch (e) {
    if (isErrno(e, ENOENT)) return false;
    throw e;
  }
}

/**
 * `BPF_MAP_LOOKUP_AND_DELETE_ELEM` (also pops queues and stacks).
 *
 * @param map the map.
 * @param key the key's bytes (empty for queues and stacks).
 * @param value receives the value.
 * @returns false when there was nothing (ENOENT).
 * @throws {SyscallError} any other failure.
 */
export function mapLookupAndDelete(map: FdLike, key: Uint8Array, value: Uint8Array): boolean {
  try {
    call(
      BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM,
      elemAttr(map, ptr(key), ptr(value), 0),
      key,
      value,
    );
    return true;
  } catch (e) {
    if (isErrno(e, ENOENT)) return false;
    throw e;
  }
}

/**
 * `BPF_MAP_GET_NEXT_KEY`: the key after `key`, or the first key when `key` is null.
 *
 * @param map the map.
 * @param key the current key, or null to start.
 * @param next receives the next key.
 * @returns false at the end of the map (ENOENT).
 * @throws {SyscallError} any other failure.
 */
export function mapGetNextKey(map: FdLike, key: Uint8Array | null, next: Uint8Array): boolean {
  try {
    call(BpfCmd.BPF_MAP_GET_NEXT_KEY, elemAttr(map, ptr(key), ptr(next), 0), key, next);
    return true;
  } catch (e) {
    if (isErrno(e, ENOENT)) return false;
    throw e;
  }
}

/**
 * Addresses of buffers already passed to the element commands. An address stays valid while its
 * buffer lives (`ptrOf` moves a small array's bytes off the engine's heap for good first), and the
 * entry goes with the buffer. A detached buffer has length 0, which the callers refuse.
 */
let addrs = new WeakMap<Uint8Array, bigint>();
let addrsSys: Sys | undefined;

function addrOf(sys: Sys, buf: Uint8Array): bigint {
  if (sys !== addrsSys) {
    addrs = new WeakMap();
    addrsSys = sys;
  }
  let a = addrs.get(buf);
  if (a === undefined) {
    a = sys.ptrOf(buf);
    addrs.set(buf, a);
  }
  return a;
}

/**
 * One map's reusable `bpf_attr` for the element commands, for loops that must not allocate: the
 * attr buffer and its address are made once, and the addresses of key and value buffers are
 * remembered by identity (the last ones in the attr, others in a weak table), so a call with
 * buffers seen before takes no new address.
 * A failure comes back as `-errno` (see {@linkcode Sys.bpfRaw}), never as a thrown error.
 *
 * The buffers last passed stay referenced (so their addresses stay valid) until other buffers take
 * their place or the object is dropped.
 *
 * @example
 * ```ts
 * import { MapElemAttr, mapCreate } from "./bpf.ts";
 * import { BpfCmd } from "./constants.ts";
 * using fd = mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 4 });
 * const a = new MapElemAttr(fd.value);
 * const key = new Uint8Array(4), value = new Uint8Array(8);
 * if (a.run(BpfCmd.BPF_MAP_LOOKUP_ELEM, key, value, 0) !== 0) throw new Error("lookup failed"); // an array has every key
 * ```
 */
export class MapElemAttr {
  readonly #attr = new Uint8Array(MAP_ELEM.size);
  readonly #dv = new DataView(this.#attr.buffer);
  #addr = 0n;
  #sys: Sys | undefined;
  #key: Uint8Array | null = null;
  #value: Uint8Array | null = null;
  #flags = 0;

  /**
   * Makes the attr of one map.
   *
   * @param fd the map's fd number.
   */
  constructor(fd: number) {
    this.#dv.setUint32(MAP_ELEM.fields.map_fd.off, fd, true);
  }

  /**
   * Makes one element command.
   *
   * @param cmd `BPF_MAP_LOOKUP_ELEM`, `..._UPDATE_ELEM`, `..._DELETE_ELEM`, `..._GET_NEXT_KEY` or
   *   `..._LOOKUP_AND_DELETE_ELEM`.
   * @param key the key's buffer, or null (queues, stacks, bloom filters; the first key).
   * @param value the value's (or next key's) buffer, or null.
   * @param flags the command's flags.
   * @returns 0 (or the command's result), or the negated errno.
   */
  run(cmd: number, key: Uint8Array | null, value: Uint8Array | null, flags: number): number {
    const sys = getSys();
    const dv = this.#dv;
    if (sys !== this.#sys) {
      // A new entry point (setSys): addresses are taken again through it.
      this.#sys = sys;
      this.#addr = sys.ptrOf(this.#attr);
      this.#key = this.#value = null;
      dv.setBigUint64(MAP_ELEM.fields.key.off, 0n, true);
      dv.setBigUint64(MAP_ELEM.fields.value.off, 0n, true);
    }
    if (key !== this.#key) {
      dv.setBigUint64(MAP_ELEM.fields.key.off, key === null ? 0n : addrOf(sys, key), true);
      this.#key = key;
    }
    if (value !== this.#value) {
      dv.setBigUint64(MAP_ELEM.fields.value.off, value === null ? 0n : addrOf(sys, value), true);
      this.#value = value;
    }
    if (flags !== this.#flags) {
      dv.setUint32(MAP_ELEM.fields.flags.off, flags >>> 0, true);
      this.#flags = flags;
    }
    return sys.bpfRaw(cmd, this.#addr, MAP_ELEM.size);
  }

  /** Forgets the buffers last passed (so they can be collected). */
  release(): void {
    this.#key = this.#value = null;
    this.#sys = undefined;
  }
}

/**
 * `BPF_MAP_FREEZE`: makes the map read-only for user space.
 *
 * @param map the map.
 * @throws {SyscallError} the kernel refused (EBUSY when writable mappings exist).
 */
export function mapFreeze(map: FdLike): void {
  getSys().bpf(BpfCmd.BPF_MAP_FREEZE, new Attr(MAP_ELEM).set("map_fd", fdOf(map)).bytes);
}

/** Options of the batch operations. */
export interface MapBatchOptions {
  /** The opaque batch position to start from (`keySize`-sized, at least 4 bytes); null starts. */
  inBatch?: Uint8Array | null;
  /** Receives the position to continue from. */
  outBatch?: Uint8Array | null;
  /** Keys, `count` of them. */
  keys: Uint8Array;
  /** Values, `count` of them (absent for delete). */
  values?: Uint8Array | null;
  /** How many elements the buffers hold. */
  count: number;
  /** Per-element flags (`BPF_F_LOCK`). */
  elemFlags?: number;
  /** Flags. */
  flags?: number;
}

function batch(cmd: number, map: FdLike, o: MapBatchOptions): { count: number; done: boolean } {
  const a = new Attr(MAP_BATCH)
    .set("map_fd", fdOf(map))
    .set("in_batch", ptr(o.inBatch))
    .set("out_batch", ptr(o.outBatch))
    .set("keys", ptr(o.keys))
    .set("values", ptr(o.values))
    .set("count", o.count)
    .set("elem_flags", o.elemFlags ?? 0)
    .set("flags", o.flags ?? 0);
  try {
    call(cmd, a.bytes, o.inBatch, o.outBatch, o.keys, o.values);
    return { count: a.get("count"), done: false };
  } catch (e) {
    // ENOENT means the walk reached the end; `count` still says how many were done.
    if (isErrno(e, ENOENT)) return { count: a.get("count"), done: true };
    throw e;
  }
}

/**
 * `BPF_MAP_LOOKUP_BATCH`.
 *
 * @param map the map.
 * @param o buffers and count.
 * @returns how many elements were read and whether the walk reached the end.
 * @throws {SyscallError} the kernel refused.
 */
export function mapLookupBatch(map: FdLike, o: MapBatchOptions): { count: number; done: boolean } {
  return batch(BpfCmd.BPF_MAP_LOOKUP_BATCH, map, o);
}

/**
 * `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
 *
 * @param map the map.
 * @param o buffers and count.
 * @returns how many elements were read and deleted and whether the walk reached the end.
 * @throws {SyscallError} the kernel refused.
 */
export function mapLookupAndDeleteBatch(
  map: FdLike,
  o: MapBatchOptions,
): { count: number; done: boolean } {
  return batch(BpfCmd.BPF_MAP_LOOKUP_AND_DELETE_BATCH, map, o);
}

/**
 * `BPF_MAP_UPDATE_BATCH`.
 *
 * @param map the map.
 * @param o keys, values and count.
 * @returns how many elements were written.
 * @throws {SyscallError} the kernel refused.
 */
export function mapUpdateBatch(map: FdLike, o: MapBatchOptions): number {
  return batch(BpfCmd.BPF_MAP_UPDATE_BATCH, map, o).count;
}

/**
 * `BPF_MAP_DELETE_BATCH`.
 *
 * @param map the map.
 * @param o keys and count.
 * @returns how many elements were deleted.
 * @throws {SyscallError} the kernel refused.
 */
export function mapDeleteBatch(map: FdLike, o: MapBatchOptions): number {
  return batch(BpfCmd.BPF_MAP_DELETE_BATCH, map, o).count;
}

/** Options of {@linkcode progLoad}. Every field not given is 0. */
export interface ProgLoadOptions {
  /** `BPF_PROG_TYPE_*`. */
  type: number;
  /** The instructions, 8 bytes each. */
  insns: Uint8Array;
  /** The license string (`GPL`...). */
  license: string;
  /** Name (at most 15 bytes are kept; older kernels refuse some characters). */
  name?: string;
  /** Verifier log level (1, 2, 4 for stats); needs `logBuf`. */
  logLevel?: number;
  /** Receives the verifier log. */
  logBuf?: Uint8Array;
  /** `kern_version` (kprobes on old kernels). */
  kernVersion?: number;
  /** `BPF_F_*` program flags. */
  flags?: number;
  /** Offload device. */
  ifindex?: number;
  /** `BPF_*` expected attach type. */
  expectedAttachType?: number;
  /** BTF object fd for func_info and line_info. */
  btfFd?: number;
  /** `bpf_func_info` records. */
  funcInfo?: Uint8Array;
  /** Size of one func_info record (8). */
  funcInfoRecSize?: number;
  /** `bpf_line_info` records. */
  lineInfo?: Uint8Array;
  /** Size of one line_info record (16). */
  lineInfoRecSize?: number;
  /** BTF id of the attach target (fentry, LSM, struct_ops...). */
  attachBtfId?: number;
  /** Program fd of the attach target (freplace, fentry on BPF). */
  attachProgFd?: number;
  /** BTF object fd of the attach target (module BTF); shares its slot with `attachProgFd`. */
  attachBtfObjFd?: number;
  /** fds referred to by index from `ld_imm64` (`BPF_PSEUDO_MAP_IDX`) and kfunc calls, as int32s. */
  fdArray?: Int32Array;
  /**
   * `bpf_core_relo` records (16 bytes each) for the kernel to apply (Linux 5.17+); it applies them
   * only when func_info or line_info is given too.
   */
  coreRelos?: Uint8Array;
  /** Filled in after the call, whether it succeeded or not. */
  out?: { logTrueSize: number };
}

/**
 * `BPF_PROG_LOAD`. The caller decides about retries (a bigger log buffer, fewer features).
 *
 * @param o the program.
 * @returns the new program's fd.
 * @throws {SyscallError} `bpf(BPF_PROG_LOAD)` failed; the verifier's words are in `o.logBuf`.
 */
export function progLoad(o: ProgLoadOptions): Fd {
  const sys = getSys();
  const license = cstrBuf(o.license);
  const fdArray = o.fdArray
    ? new Uint8Array(o.fdArray.buffer, o.fdArray.byteOffset, o.fdArray.byteLength)
    : undefined;
  const funcRec = o.funcInfoRecSize ?? 8;
  const lineRec = o.lineInfoRecSize ?? 16;
  const a = new Attr(PROG_LOAD)
    .set("prog_type", o.type)
    .set("insn_cnt", Math.floor(o.insns.length / 8))
    .set("insns", sys.ptrOf(o.insns))
    .set("license", sys.ptrOf(license))
    .set("log_level", o.logBuf ? (o.logLevel ?? 1) : 0)
    .set("log_size", o.logBuf?.length ?? 0)
    .set("log_buf", ptr(o.logBuf))
    .set("kern_version", o.kernVersion ?? 0)
    .set("prog_flags", o.flags ?? 0)
    .set("prog_ifindex", o.ifindex ?? 0)
    .set("expected_attach_type", o.expectedAttachType ?? 0)
    .set("prog_btf_fd", o.btfFd ?? 0)
    .set("attach_btf_id", o.attachBtfId ?? 0)
    .set("attach_prog_fd", o.attachProgFd ?? o.attachBtfObjFd ?? 0)
    .set("fd_array", ptr(fdArray));
  if (o.funcInfo && o.funcInfo.length > 0) {
    a.set("func_info_rec_size", funcRec).set("func_info", sys.ptrOf(o.funcInfo))
      .set("func_info_cnt", Math.floor(o.funcInfo.length / funcRec));
  }
  if (o.lineInfo && o.lineInfo.length > 0) {
    a.set("line_info_rec_size", lineRec).set("line_info", sys.ptrOf(o.lineInfo))
      .set("line_info_cnt", Math.floor(o.lineInfo.length / lineRec));
  }
  if (o.coreRelos && o.coreRelos.length > 0) {
    a.set("core_relo_rec_size", 16).set("core_relos", sys.ptrOf(o.coreRelos))
      .set("core_relo_cnt", Math.floor(o.coreRelos.length / 16));
  }
  if (o.name) a.setString("prog_name", o.name);
  try {
    return new Fd(call(BpfCmd.BPF_PROG_LOAD, a.bytes, o, license, fdArray), "prog");
  } finally {
    if (o.out) o.out.logTrueSize = a.get("log_true_size");
  }
}

/** Options of {@linkcode btfLoad}. */
export interface BtfLoadOptions {
  /** Log level (1 or 2); needs `logBuf`. */
  logLevel?: number;
  /** Receives the kernel's BTF log. */
  logBuf?: Uint8Array;
  /** Filled in after the call, whether it succeeded or not. */
  out?: { logTrueSize: number };
}

/**
 * `BPF_BTF_LOAD`.
 *
 * @param data the raw BTF blob (header, types, strings).
 * @param o log options.
 * @returns the BTF object's fd.
 * @throws {SyscallError} the kernel refused the BTF.
 */
export function btfLoad(data: Uint8Array, o: BtfLoadOptions = {}): Fd {
  const a = new Attr(BTF_LOAD)
    .set("btf", ptr(data))
    .set("btf_size", data.length)
    .set("btf_log_buf", ptr(o.logBuf))
    .set("btf_log_size", o.logBuf?.length ?? 0)
    .set("btf_log_level", o.logBuf ? (o.logLevel ?? 1) : 0);
  try {
    return new Fd(call(BpfCmd.BPF_BTF_LOAD, a.bytes, data, o.logBuf), "btf");
  } finally {
    if (o.out) o.out.logTrueSize = a.get("btf_log_true_size");
  }
}

/**
 * `BPF_OBJ_PIN`: pins a map, program, link or BTF object to a path on a bpf filesystem.
 *
 * @param fd the object.
 * @param path the path, under a bpffs mount such as `/sys/fs/bpf`.
 * @throws {SyscallError} the kernel refused (EEXIST, ENOENT for a missing directory, EPERM...).
 */
export function objPin(fd: FdLike, path: string): void {
  const p = cstrBuf(path);
  const a = new Attr(OBJ).set("pathname", ptr(p)).set("bpf_fd", fdOf(fd));
  call(BpfCmd.BPF_OBJ_PIN, a.bytes, p);
}

/**
 * `BPF_OBJ_GET`: opens a pinned object.
 *
 * @param path the pinned path.
 * @param fileFlags `BPF_F_RDONLY`, `BPF_F_WRONLY` or 0.
 * @returns a new fd for the object.
 * @throws {SyscallError} the kernel refused (ENOENT when nothing is pinned there).
 */
export function objGet(path: string, fileFlags = 0): Fd {
  const p = cstrBuf(path);
  const a = new Attr(OBJ).set("pathname", ptr(p)).set("file_flags", fileFlags);
  return new Fd(call(BpfCmd.BPF_OBJ_GET, a.bytes, p), "pinned");
}

/**
 * `BPF_OBJ_GET_INFO_BY_FD` with a caller-made info buffer (a `bpf_*_info` laid out as `PROG_INFO`,
 * `MAP_INFO`, `BTF_INFO` or `LINK_INFO`), for fields the decoded forms leave out.
 *
 * @param fd the object.
 * @param info the info struct; the kernel fills it in.
 * @param keep buffers whose addresses sit inside `info`, kept alive across the call.
 * @returns how many bytes of `info` the kernel filled in.
 * @throws {SyscallError} the kernel refused.
 */
export function objGetInfoByFd(fd: FdLike, info: Uint8Array, ...keep: Uint8Array[]): number {
  return getInfo(fd, info, ...keep);
}

function getInfo(fd: FdLike, info: Uint8Array, ...keep: Uint8Array[]): number {
  const a = new Attr(INFO)
    .set("bpf_fd", fdOf(fd))
    .set("info_len", info.length)
    .set("info", ptr(info));
  call(BpfCmd.BPF_OBJ_GET_INFO_BY_FD, a.bytes, info, keep);
  return a.get("info_len");
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** `struct bpf_prog_info`, decoded. */
export interface ProgInfo {
  /** `BPF_PROG_TYPE_*`. */
  type: number;
  /** The kernel's id of the program. */
  id: number;
  /** The tag: 16 lowercase hex digits, as bpftool shows it. */
  tag: string;
  /** Bytes of JITed code. */
  jitedProgLen: number;
  /** Bytes of translated instructions. */
  xlatedProgLen: number;
  /** `xlatedProgLen / 8`. */
  insnCount: number;
  /** Load time in ns since boot. */
  loadTime: bigint;
  /** Uid of the loader. */
  createdByUid: number;
  /** Ids of the maps the program uses. */
  mapIds: number[];
  /** The name (up to 15 bytes). */
  name: string;
  /** Offload device. */
  ifindex: number;
  /** Whether the license is GPL compatible. */
  gplCompatible: boolean;
  /** BTF object id, 0 when none. */
  btfId: number;
  /** Number of func_info records. */
  nrFuncInfo: number;
  /** Number of line_info records. */
  nrLineInfo: number;
  /** Total run time in ns (with stats enabled). */
  runTimeNs: bigint;
  /** Number of runs (with stats enabled). */
  runCnt: bigint;
  /** Runs missed because of recursion. */
  recursionMisses: bigint;
  /** Instructions the verifier processed. */
  verifiedInsns: number;
  /** BTF object id of the attach target. */
  attachBtfObjId: number;
  /** BTF id of the attach target. */
  attachBtfId: number;
  /** The translated instructions, when asked for. */
  xlated?: Uint8Array;
}

/**
 * `BPF_OBJ_GET_INFO_BY_FD` on a program: one call, and a second one when the program uses maps
 * (to fetch their ids) or when `opts.xlated` asks for the translated instructions.
 *
 * @param fd the program.
 * @param opts `xlated: true` also returns the instructions as the kernel rewrote them.
 * @returns its info.
 * @throws {SyscallError} the kernel refused (EINVAL when `fd` is not a program).
 */
export function progInfo(fd: FdLike, opts: { xlated?: boolean } = {}): ProgInfo {
  let buf = new Uint8Array(PROG_INFO.size);
  getInfo(fd, buf);
  let a = new Attr(PROG_INFO, buf);
  const nrMaps = a.get("nr_map_ids");
  const xlatedLen = opts.xlated ? a.get("xlated_prog_len") : 0;
  const mapIds: number[] = [];
  let xlated: Uint8Array | undefined;
  if (nrMaps > 0 || xlatedLen > 0) {
    const ids = new Uint32Array(nrMaps);
    const idBytes = new Uint8Array(ids.buffer);
    const insnBytes = new Uint8Array(xlatedLen);
    buf = new Uint8Array(PROG_INFO.size);
    a = new Attr(PROG_INFO, buf)
      .set("nr_map_ids", nrMaps)
      .set("map_ids", ptr(idBytes))
      .set("xlated_prog_len", xlatedLen)
      .set("xlated_prog_insns", ptr(insnBytes));
    getInfo(fd, buf, idBytes, insnBytes);
    mapIds.push(...ids.subarray(0, Math.min(nrMaps, a.get("nr_map_ids"))));
    if (opts.xlated) xlated = insnBytes.subarray(0, Math.min(xlatedLen, a.get("xlated_prog_len")));
  }
  return {
    type: a.get("type"),
    id: a.get("id"),
    tag: hex(a.getBytes("tag")),
    jitedProgLen: a.get("jited_prog_len"),
    xlatedProgLen: a.get("xlated_prog_len"),
    insnCount: a.get("xlated_prog_len") / 8,
    loadTime: a.get64("load_time"),
    createdByUid: a.get("created_by_uid"),
    mapIds,
    name: a.getString("name"),
    ifindex: a.get("ifindex"),
    gplCompatible: (a.get("gpl_compatible") & 1) === 1,
    btfId: a.get("btf_id"),
    nrFuncInfo: a.get("nr_func_info"),
    nrLineInfo: a.get("nr_line_info"),
    runTimeNs: a.get64("run_time_ns"),
    runCnt: a.get64("run_cnt"),
    recursionMisses: a.get64("recursion_misses"),
    verifiedInsns: a.get("verified_insns"),
    attachBtfObjId: a.get("attach_btf_obj_id"),
    attachBtfId: a.get("attach_btf_id"),
    xlated,
  };
}

/** `struct bpf_map_info`, decoded. */
export interface MapInfo {
  /** `BPF_MAP_TYPE_*`. */
  type: number;
  /** The kernel's id of the map. */
  id: number;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes. */
  valueSize: number;
  /** Maximum entries. */
  maxEntries: number;
  /** `BPF_F_*` flags. */
  flags: number;
  /** The name. */
  name: string;
  /** Offload device. */
  ifindex: number;
  /** BTF object id, 0 when none. */
  btfId: number;
  /** BTF id of the key. */
  btfKeyTypeId: number;
  /** BTF id of the value. */
  btfValueTypeId: number;
  /** vmlinux BTF id of the value (struct_ops). */
  btfVmlinuxValueTypeId: number;
  /** `map_extra`. */
  mapExtra: bigint;
}

/**
 * `BPF_OBJ_GET_INFO_BY_FD` on a map.
 *
 * @param fd the map.
 * @returns its info.
 * @throws {SyscallError} the kernel refused.
 */
export function mapInfo(fd: FdLike): MapInfo {
  const buf = new Uint8Array(MAP_INFO.size);
  getInfo(fd, buf);
  const a = new Attr(MAP_INFO, buf);
  return {
    type: a.get("type"),
    id: a.get("id"),
    keySize: a.get("key_size"),
    valueSize: a.get("value_size"),
    maxEntries: a.get("max_entries"),
    flags: a.get("map_flags"),
    name: a.getString("name"),
    ifindex: a.get("ifindex"),
    btfId: a.get("btf_id"),
    btfKeyTypeId: a.get("btf_key_type_id"),
    btfValueTypeId: a.get("btf_value_type_id"),
    btfVmlinuxValueTypeId: a.get("btf_vmlinux_value_type_id"),
    mapExtra: a.get64("map_extra"),
  };
}

/** `struct bpf_btf_info`, decoded. */
export interface BtfInfo {
  /** The kernel's id of the BTF object. */
  id: number;
  /** Size of the raw BTF in bytes. */
  btfSize: number;
  /** The name (`vmlinux`, a module's name, or "" for loaded BTF). */
  name: string;
  /** Whether it is kernel (vmlinux or module) BTF. */
  kernelBtf: boolean;
  /** The raw BTF, when asked for. */
  data?: Uint8Array;
}

/**
 * `BPF_OBJ_GET_INFO_BY_FD` on a BTF object.
 *
 * @param fd the BTF object.
 * @param opts `data: true` also fetches the raw BTF (a second call).
 * @returns its info.
 * @throws {SyscallError} the kernel refused.
 */
export function btfInfo(fd: FdLike, opts: { data?: boolean } = {}): BtfInfo {
  const name = new Uint8Array(64);
  let buf = new Uint8Array(BTF_INFO.size);
  let a = new Attr(BTF_INFO, buf).set("name", ptr(name)).set("name_len", name.length);
  getInfo(fd, buf, name);
  let data: Uint8Array | undefined;
  if (opts.data) {
    data = new Uint8Array(a.get("btf_size"));
    buf = new Uint8Array(BTF_INFO.size);
    a = new Attr(BTF_INFO, buf)
      .set("name", ptr(name))
      .set("name_len", name.length)
      .set("btf", ptr(data))
      .set("btf_size", data.length);
    getInfo(fd, buf, name, data);
  }
  const z = name.indexOf(0);
  return {
    id: a.get("id"),
    btfSize: a.get("btf_size"),
    name: new TextDecoder().decode(name.subarray(0, z < 0 ? name.length : z)),
    kernelBtf: a.get("kernel_btf") !== 0,
    data,
  };
}

/** `struct bpf_link_info`: the common part decoded, the per-type part as a view. */
export interface LinkInfo {
  /** `BPF_LINK_TYPE_*`. */
  type: number;
  /** The kernel's id of the link. */
  id: number;
  /** Id of the attached program. */
  progId: number;
  /** The raw tracepoint's or the iterator target's name, "" for other link types. */
  name: string;
  /** The whole struct, to read the per-type union by name (`xdp.ifindex`, `tcx.attach_type`...). */
  raw: Attr<typeof LINK_INFO.fields>;
}

/**
 * `BPF_OBJ_GET_INFO_BY_FD` on a link. Raw tracepoint and iterator links get a name buffer, so the
 * kernel also reports the tracepoint or target name.
 *
 * @param fd the link.
 * @returns its info.
 * @throws {SyscallError} the kernel refused.
 */
export function linkInfo(fd: FdLike): LinkInfo {
  const name = new Uint8Array(256);
  const buf = new Uint8Array(LINK_INFO.size);
  getInfo(fd, buf);
  let a = new Attr(LINK_INFO, buf);
  const type = a.get("type");
  const field = type === BpfLinkType.BPF_LINK_TYPE_RAW_TRACEPOINT
    ? "raw_tracepoint"
    : type === BpfLinkType.BPF_LINK_TYPE_ITER
    ? "iter"
    : undefined;
  let text = "";
  if (field !== undefined) {
    const again = new Uint8Array(LINK_INFO.size);
    a = new Attr(LINK_INFO, again);
    if (field === "raw_tracepoint") {
      a.set("raw_tracepoint.tp_name", ptr(name)).set("raw_tracepoint.tp_name_len", name.length);
    } else {
      a.set("iter.target_name", ptr(name)).set("iter.target_name_len", name.length);
    }
    getInfo(fd, again, name);
    const z = name.indexOf(0);
    text = new TextDecoder().decode(name.subarray(0, z < 0 ? name.length : z));
  }
  return { type, id: a.get("id"), progId: a.get("prog_id"), name: text, raw: a };
}

/** The kinds of kernel object ids. */
export type IdKind = "prog" | "map" | "btf" | "link";

const NEXT_ID: Record<IdKind, number> = {
  prog: BpfCmd.BPF_PROG_GET_NEXT_ID,
  map: BpfCmd.BPF_MAP_GET_NEXT_ID,
  btf: BpfCmd.BPF_BTF_GET_NEXT_ID,
  link: BpfCmd.BPF_LINK_GET_NEXT_ID,
};

const FD_BY_ID: Record<IdKind, number> = {
  prog: BpfCmd.BPF_PROG_GET_FD_BY_ID,
  map: BpfCmd.BPF_MAP_GET_FD_BY_ID,
  btf: BpfCmd.BPF_BTF_GET_FD_BY_ID,
  link: BpfCmd.BPF_LINK_GET_FD_BY_ID,
};

/**
 * `BPF_*_GET_NEXT_ID`: the smallest id above `start`.
 *
 * @param kind which objects.
 * @param start 0 to begin.
 * @returns the next id, or 0 at the end.
 * @throws {SyscallError} the kernel refused.
 */
export function getNextId(kind: IdKind, start: number): number {
  const a = new Attr(GET_ID).set("start_id", start);
  try {
    getSys().bpf(NEXT_ID[kind], a.bytes);
  } catch (e) {
    if (isErrno(e, ENOENT)) return 0;
    throw e;
  }
  return a.get("next_id");
}

/**
 * `BPF_*_GET_FD_BY_ID`.
 *
 * @param kind which object.
 * @param id its id.
 * @param openFlags `BPF_F_RDONLY` and the like, for maps.
 * @returns a new fd.
 * @throws {SyscallError} ENOENT when the id is gone.
 */
export function getFdById(kind: IdKind, id: number, openFlags = 0): Fd {
  const a = new Attr(GET_ID).set("start_id", id).set("open_flags", openFlags);
  return new Fd(getSys().bpf(FD_BY_ID[kind], a.bytes), kind);
}

/**
 * `BPF_ENABLE_STATS`: turns on run time and run count statistics until the fd is closed.
 *
 * @param type `BPF_STATS_RUN_TIME` (0).
 * @returns the fd that keeps the statistics on.
 * @throws {SyscallError} the kernel refused.
 */
export function enableStats(type = 0): Fd {
  return new Fd(
    getSys().bpf(BpfCmd.BPF_ENABLE_STATS, new Attr(ENABLE_STATS).set("type", type).bytes),
    "stats",
  );
}

/** Options of {@linkcode linkCreate}: the per-type part of `link_create`. */
export interface LinkCreateOptions {
  /** `BPF_F_*` link flags. */
  flags?: number;
  /** BTF id of the target (tracing, freplace). */
  targetBtfId?: number;
  /** `bpf_iter_link_info` bytes (iterators). */
  iterInfo?: Uint8Array;
  /** The BPF cookie of a perf-event link. */
  perfEventCookie?: bigint;
  /** kprobe_multi: symbols (array of addresses of C strings) or addresses, and cookies. */
  kprobeMulti?: {
    flags?: number;
    cnt: number;
    syms?: Uint8Array;
    addrs?: Uint8Array;
    cookies?: Uint8Array;
  };
  /** tracing: target BTF id and cookie. */
  tracing?: { targetBtfId?: number; cookie?: bigint };
  /** netfilter hook. */
  netfilter?: { pf: number; hooknum: number; priority: number; flags?: number };
  /** tcx, netkit and cgroup mprog placement. */
  relative?: { fd?: number; id?: number; expectedRevision?: bigint };
  /** uprobe_multi: binary path, offsets, ref counter offsets, cookies. */
  uprobeMulti?: {
    path: string;
    offsets: Uint8Array;
    refCtrOffsets?: Uint8Array;
    cookies?: Uint8Array;
    cnt: number;
    flags?: number;
    pid?: number;
  };
}

/**
 * `BPF_LINK_CREATE`.
 *
 * @param prog the program (or a struct_ops map).
 * @param target the target fd or ifindex (0 when the attach type needs none).
 * @param attachType `BPF_*` attach type.
 * @param o the per-type part.
 * @returns the link's fd.
 * @throws {SyscallError} the kernel refused.
 */
export function linkCreate(
  prog: FdLike,
  target: number,
  attachType: number,
  o: LinkCreateOptions = {},
): Fd {
  const a = new Attr(LINK_CREATE)
    .set("prog_fd", fdOf(prog))
    .set("target_fd", target)
    .set("attach_type", attachType)
    .set("flags", o.flags ?? 0);
  const keep: unknown[] = [];
  if (o.targetBtfId !== undefined) a.set("target_btf_id", o.targetBtfId);
  if (o.iterInfo) {
    keep.push(o.iterInfo);
    a.set("iter_info", ptr(o.iterInfo)).set("iter_info_len", o.iterInfo.length);
  }
  if (o.perfEventCookie !== undefined) a.set("perf_event.bpf_cookie", o.perfEventCookie);
  if (o.kprobeMulti) {
    const k = o.kprobeMulti;
    a.set("kprobe_multi.flags", k.flags ?? 0).set("kprobe_multi.cnt", k.cnt)
      .set("kprobe_multi.syms", ptr(k.syms)).set("kprobe_multi.addrs", ptr(k.addrs))
      .set("kprobe_multi.cookies", ptr(k.cookies));
  }
  if (o.tracing) {
    a.set("tracing.target_btf_id", o.tracing.targetBtfId ?? 0)
      .set("tracing.cookie", o.tracing.cookie ?? 0n);
  }
  if (o.netfilter) {
    a.set("netfilter.pf", o.netfilter.pf).set("netfilter.hooknum", o.netfilter.hooknum)
      .set("netfilter.priority", o.netfilter.priority).set(
        "netfilter.flags",
        o.netfilter.flags ?? 0,
      );
  }
  if (o.relative) {
    a.set("tcx.relative_fd", o.relative.fd ?? o.relative.id ?? 0)
      .set("tcx.expected_revision", o.relative.expectedRevision ?? 0n);
  }
  if (o.uprobeMulti) {
    const u = o.uprobeMulti;
    const path = cstrBuf(u.path);
    keep.push(path);
    a.set("uprobe_multi.path", ptr(path)).set("uprobe_multi.offsets", ptr(u.offsets))
      .set("uprobe_multi.ref_ctr_offsets", ptr(u.refCtrOffsets))
      .set("uprobe_multi.cookies", ptr(u.cookies)).set("uprobe_multi.cnt", u.cnt)
      .set("uprobe_multi.flags", u.flags ?? 0).set("uprobe_multi.pid", u.pid ?? 0);
  }
  const fd = call(BpfCmd.BPF_LINK_CREATE, a.bytes, keep, o);
  return new Fd(fd, "link");
}

/**
 * `BPF_LINK_UPDATE`: swaps the link's program.
 *
 * @param link the link.
 * @param newProg the new program.
 * @param o `oldProg` with `BPF_F_REPLACE` in `flags` replaces only if it is still attached.
 * @throws {SyscallError} the kernel refused.
 */
export function linkUpdate(
  link: FdLike,
  newProg: FdLike,
  o: { oldProg?: FdLike; flags?: number } = {},
): void {
  const a = new Attr(LINK_UPDATE)
    .set("link_fd", fdOf(link))
    .set("new_prog_fd", fdOf(newProg))
    .set("flags", o.flags ?? 0)
    .set("old_prog_fd", o.oldProg === undefined ? 0 : fdOf(o.oldProg));
  getSys().bpf(BpfCmd.BPF_LINK_UPDATE, a.bytes);
}

/**
 * `BPF_LINK_DETACH`: detaches the link's program while the fd stays open.
 *
 * @param link the link.
 * @throws {SyscallError} the kernel refused.
 */
export function linkDetach(link: FdLike): void {
  getSys().bpf(BpfCmd.BPF_LINK_DETACH, new Attr(LINK_DETACH).set("link_fd", fdOf(link)).bytes);
}

/**
 * `BPF_RAW_TRACEPOINT_OPEN`.
 *
 * @param name the raw tracepoint (`sched_switch`), or null for BTF-typed programs.
 * @param prog the program.
 * @param cookie the BPF cookie.
 * @returns the link's fd.
 * @throws {SyscallError} the kernel refused.
 */
export function rawTracepointOpen(name: string | null, prog: FdLike, cookie = 0n): Fd {
  const n = name === null ? null : cstrBuf(name);
  const a = new Attr(RAW_TRACEPOINT)
    .set("name", ptr(n))
    .set("prog_fd", fdOf(prog))
    .set("cookie", cookie);
  return new Fd(call(BpfCmd.BPF_RAW_TRACEPOINT_OPEN, a.bytes, n), "link");
}

/** Options of {@linkcode progAttach} and {@linkcode progDetach}. */
export interface ProgAttachOptions {
  /** The target (cgroup fd, ifindex, map fd...). */
  target: number;
  /** The program (0 to detach whatever is there, where the type allows). */
  prog: FdLike;
  /** `BPF_*` attach type. */
  attachType: number;
  /** `BPF_F_ALLOW_MULTI`, `BPF_F_REPLACE`, `BPF_F_BEFORE`... */
  flags?: number;
  /** The program to replace, with `BPF_F_REPLACE`. */
  replaceProg?: FdLike;
  /** mprog placement: relative fd or id. */
  relative?: number;
  /** mprog: the revision the caller expects. */
  expectedRevision?: bigint;
}

function attachAttr(o: ProgAttachOptions): Uint8Array {
  return new Attr(PROG_ATTACH)
    .set("target_fd", o.target)
    .set("attach_bpf_fd", fdOf(o.prog))
    .set("attach_type", o.attachType)
    .set("attach_flags", o.flags ?? 0)
    .set("replace_bpf_fd", o.replaceProg === undefined ? 0 : fdOf(o.replaceProg))
    .set("relative_fd", o.relative ?? 0)
    .set("expected_revision", o.expectedRevision ?? 0n)
    .bytes;
}

/**
 * `BPF_PROG_ATTACH`.
 *
 * @param o target, program, attach type and flags.
 * @throws {SyscallError} the kernel refused.
 */
export function progAttach(o: ProgAttachOptions): void {
  getSys().bpf(BpfCmd.BPF_PROG_ATTACH, attachAttr(o));
}

/**
 * `BPF_PROG_DETACH`.
 *
 * @param o target, program and attach type.
 * @throws {SyscallError} the kernel refused.
 */
export function progDetach(o: ProgAttachOptions): void {
  getSys().bpf(BpfCmd.BPF_PROG_DETACH, attachAttr(o));
}

/** What {@linkcode progQuery} returns. */
export interface ProgQueryResult {
  /** The attach flags of the hook (cgroups). */
  attachFlags: number;
  /** Ids of the attached programs, in run order. */
  progIds: number[];
  /** Ids of the links of those programs (0 for a program attached without a link; mprog hooks). */
  linkIds: number[];
  /** The hook's revision (mprog hooks: tcx, netkit, cgroups on 6.x). */
  revision: bigint;
}

/**
 * `BPF_PROG_QUERY`: which programs are attached to a hook.
 *
 * @param target the target fd (cgroup) or ifindex (tcx, netkit).
 * @param attachType `BPF_*` attach type.
 * @param opts `queryFlags` (`BPF_F_QUERY_EFFECTIVE`), `max` ids to fetch (default 64).
 * @returns the attached programs.
 * @throws {SyscallError} the kernel refused.
 */
export function progQuery(
  target: number,
  attachType: number,
  opts: { queryFlags?: number; max?: number } = {},
): ProgQueryResult {
  const max = opts.max ?? 64;
  const ids = new Uint32Array(max);
  const links = new Uint32Array(max);
  const idBytes = new Uint8Array(ids.buffer);
  const linkBytes = new Uint8Array(links.buffer);
  const a = new Attr(QUERY)
    .set("target_fd", target)
    .set("attach_type", attachType)
    .set("query_flags", opts.queryFlags ?? 0)
    .set("prog_ids", ptr(idBytes))
    .set("prog_cnt", max)
    .set("link_ids", ptr(linkBytes));
  call(BpfCmd.BPF_PROG_QUERY, a.bytes, idBytes, linkBytes);
  const n = Math.min(a.get("prog_cnt"), max);
  return {
    attachFlags: a.get("attach_flags"),
    progIds: [...ids.subarray(0, n)],
    linkIds: [...links.subarray(0, n)],
    revision: a.get64("revision"),
  };
}

/** Options of {@linkcode progTestRun}. */
export interface TestRunOptions {
  /** Packet or input data. */
  dataIn?: Uint8Array;
  /** Receives the output data. */
  dataOut?: Uint8Array;
  /** Context in. */
  ctxIn?: Uint8Array;
  /** Receives the context out. */
  ctxOut?: Uint8Array;
  /** How many runs (0 and 1 mean one). */
  repeat?: number;
  /** `BPF_F_TEST_RUN_ON_CPU`... */
  flags?: number;
  /** CPU, with `BPF_F_TEST_RUN_ON_CPU`. */
  cpu?: number;
  /** Batch size (XDP live frames). */
  batchSize?: number;
}

/** What {@linkcode progTestRun} returns. */
export interface TestRunResult {
  /** The program's return value. */
  retval: number;
  /** Mean duration of one run in ns. */
  duration: number;
  /** Bytes written to `dataOut`. */
  dataSizeOut: number;
  /** Bytes written to `ctxOut`. */
  ctxSizeOut: number;
}

/**
 * `BPF_PROG_TEST_RUN`.
 *
 * @param prog the program.
 * @param o inputs and output buffers.
 * @returns the return value, duration and output sizes.
 * @throws {SyscallError} the kernel refused (ENOTSUPP for types without test runs).
 */
export function progTestRun(prog: FdLike, o: TestRunOptions = {}): TestRunResult {
  const a = new Attr(TEST_RUN)
    .set("prog_fd", fdOf(prog))
    .set("data_in", ptr(o.dataIn))
    .set("data_size_in", o.dataIn?.length ?? 0)
    .set("data_out", ptr(o.dataOut))
    .set("data_size_out", o.dataOut?.length ?? 0)
    .set("ctx_in", ptr(o.ctxIn))
    .set("ctx_size_in", o.ctxIn?.length ?? 0)
    .set("ctx_out", ptr(o.ctxOut))
    .set("ctx_size_out", o.ctxOut?.length ?? 0)
    .set("repeat", o.repeat ?? 0)
    .set("flags", o.flags ?? 0)
    .set("cpu", o.cpu ?? 0)
    .set("batch_size", o.batchSize ?? 0);
  call(BpfCmd.BPF_PROG_TEST_RUN, a.bytes, o);
  return {
    retval: a.get("retval"),
    duration: a.get("duration"),
    dataSizeOut: a.get("data_size_out"),
    ctxSizeOut: a.get("ctx_size_out"),
  };
}

/**
 * `BPF_ITER_CREATE`: opens a new read of an iterator link.
 *
 * @param link the iterator link.
 * @returns an fd to `read()` the iterator's output from.
 * @throws {SyscallError} the kernel refused.
 */
export function iterCreate(link: FdLike): Fd {
  return new Fd(
    getSys().bpf(BpfCmd.BPF_ITER_CREATE, new Attr(ITER_CREATE).set("link_fd", fdOf(link)).bytes),
    "iter",
  );
}

/**
 * `BPF_PROG_BIND_MAP`: keeps a map alive as long as the program (like `.rodata` of libbpf).
 *
 * @param prog the program.
 * @param map the map.
 * @throws {SyscallError} the kernel refused.
 */
export function progBindMap(prog: FdLike, map: FdLike): void {
  const a = new Attr(PROG_BIND_MAP).set("prog_fd", fdOf(prog)).set("map_fd", fdOf(map));
  getSys().bpf(BpfCmd.BPF_PROG_BIND_MAP, a.bytes);
}
