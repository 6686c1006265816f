/**
 * {@linkcode BpfMap}: a live map. Made by `BpfObject.load()` from a {@linkcode MapSpec} the way
 * libbpf's `bpf_object__create_map` makes it (BTF key and value types where the kernel takes them,
 * a retry without BTF when refused, inner-map templates, pinning by name with reuse of a compatible
 * pinned map), then read and written with byte keys and values.
 *
 * @module
 */
import { host } from "../_host.ts";
import {
  BpfError,
  ClosedError,
  escapeControl,
  NotSupportedError,
  SyscallError,
} from "../errors.ts";
import {
  type Fd,
  getFdById,
  type MapBatchOptions,
  mapCreate,
  mapDeleteBatch,
  MapElemAttr,
  mapFreeze,
  type MapInfo,
  mapInfo,
  mapLookupAndDeleteBatch,
  mapLookupBatch,
  mapUpdateBatch,
  objGet,
  objPin,
} from "../ffi/bpf.ts";
import { BpfCmd, BpfMapFlags, BpfMapType } from "../ffi/constants.ts";
import { errnoName } from "../ffi/errno.ts";
import { getSys } from "../ffi/runtime.ts";
import { syscallError } from "../ffi/sys.ts";
import type { MapSpec } from "../spec/types.ts";
import { Btf } from "../btf/btf.ts";
import { btfInfo } from "../ffi/bpf.ts";
import { TypedMap } from "./typed_map.ts";

const T = BpfMapType;

/** Map types libbpf creates without key/value BTF (`bpf_object__create_map`). */
export const NO_BTF_MAP_TYPES: ReadonlySet<number> = new Set([
  T.BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  T.BPF_MAP_TYPE_CGROUP_ARRAY,
  T.BPF_MAP_TYPE_STACK_TRACE,
  T.BPF_MAP_TYPE_ARRAY_OF_MAPS,
  T.BPF_MAP_TYPE_HASH_OF_MAPS,
  T.BPF_MAP_TYPE_DEVMAP,
  T.BPF_MAP_TYPE_DEVMAP_HASH,
  T.BPF_MAP_TYPE_CPUMAP,
  T.BPF_MAP_TYPE_XSKMAP,
  T.BPF_MAP_TYPE_SOCKMAP,
  T.BPF_MAP_TYPE_SOCKHASH,
  T.BPF_MAP_TYPE_QUEUE,
  T.BPF_MAP_TYPE_STACK,
]);

const PERCPU: ReadonlySet<number> = new Set([
  T.BPF_MAP_TYPE_PERCPU_HASH,
  T.BPF_MAP_TYPE_PERCPU_ARRAY,
  T.BPF_MAP_TYPE_LRU_PERCPU_HASH,
  T.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
]);

/**
 * Whether a map type holds other maps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMapInMap } from "./map.ts";
 * assert(isMapInMap(12) && !isMapInMap(1));
 * ```
 */
export function isMapInMap(type: number): boolean {
  return type === T.BPF_MAP_TYPE_ARRAY_OF_MAPS || type === T.BPF_MAP_TYPE_HASH_OF_MAPS;
}

let possibleCpus: number | undefined;

/**
 * The number of possible CPUs (`/sys/devices/system/cpu/possible`), as libbpf counts them.
 *
 * @returns the count, at least 1.
 * @throws {BpfError} the file cannot be read (the count is never guessed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { numPossibleCpus } from "./map.ts";
 * assert(numPossibleCpus() >= 1);
 * ```
 */
export function numPossibleCpus(): number {
  if (possibleCpus !== undefined) return possibleCpus;
  let n = 0;
  let text: string;
  try {
    text = host().readText("/sys/devices/system/cpu/possible").trim();
  } catch (e) {
    // Never guess (and never cache a guess): per-CPU values are sized by this count, and the
    // kernel writes one value per possible CPU into the buffer.
    throw new BpfError(
      `Reading the possible CPUs (/sys/devices/system/cpu/possible) failed: ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
  for (const part of text.split(",")) {
    const [a, b] = part.split("-").map((x) => parseInt(x, 10));
    n += b === undefined ? 1 : b - a + 1;
  }
  possibleCpus = Math.max(n, 1);
  return possibleCpus;
}

/**
 * The page size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pageSize } from "./map.ts";
 * const size = pageSize(); // 4096 on x86_64
 * assert(size >= 4096 && (size & (size - 1)) === 0);
 * ```
 */
export function pageSize(): number {
  try {
    const v = getSys().sysconf(30); // _SC_PAGESIZE
    return v > 0 ? v : 4096;
  } catch {
    return 4096;
  }
}

/**
 * libbpf's `adjust_ringbuf_sz`: the smallest power-of-2 multiple of the page size ≥ `sz`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adjustRingbufSize, pageSize } from "./map.ts";
 * if (pageSize() === 4096) assert(adjustRingbufSize(5000) === 8192);
 * assert(adjustRingbufSize(1) === pageSize());
 * ```
 */
export function adjustRingbufSize(sz: number): number {
  const page = pageSize();
  if (sz === 0) return 0;
  const mul = sz / page;
  if (sz % page === 0 && (mul & (mul - 1)) === 0) return sz;
  for (let m = 1; m * page <= 0xffffffff; m *= 2) if (m * page > sz) return m * page;
  return sz;
}

/** What a live map was made with, after libbpf's load-time adjustments. */
export interface MapDef {
  /** The map's name. */
  name: string;
  /** BPF_MAP_TYPE_*. */
  type: number;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes. */
  valueSize: number;
  /** max_entries. */
  maxEntries: number;
  /** map_flags. */
  flags: number;
}

/** The kernel-side context of {@linkcode BpfMap.create}. */
export interface MapCreateContext {
  /** The object's loaded BTF fd, or -1 when none. */
  btfFd: number;
  /** Whether the kernel takes map names. */
  names: boolean;
  /** Debug messages. */
  log?: (msg: string) => void;
}

/** Options of the batch operations of {@linkcode BpfMap}. */
export interface MapBatchOpts {
  /** How many elements to take from (or fill into) the buffers; default: as many as they hold. */
  count?: number;
  /** Per-element flags: `BPF_F_LOCK` (update: also `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`). */
  elemFlags?: number;
}

/**
 * Where a batch walk ({@linkcode BpfMap.lookupBatch}, {@linkcode BpfMap.lookupAndDeleteBatch})
 * stands: make one per walk, pass it to each call, stop when `done`. Opaque otherwise.
 *
 * @example
 * ```ts
 * import { MapBatchCursor } from "./map.ts";
 * const c = new MapBatchCursor();
 * if (c.done) throw new Error("a new cursor is at the start");
 * ```
 */
export class MapBatchCursor {
  /** True once the walk reached the end of the map. */
  done = false;
  /** @internal Whether the kernel has given a position yet. */
  started = false;
  /** @internal The kernel's opaque position (in and out). */
  token: Uint8Array = new Uint8Array(0);
  /** @internal The last key of a key-by-key walk (the fallback without batch commands). */
  lastKey: Uint8Array | null = null;
}

const E = { ENOENT: 2, EINVAL: 22, ENOSPC: 28, EOPNOTSUPP: 95, ENOTSUPP: 524 } as const;
const C = BpfCmd;

/** Which batch commands each map type lacks, learnt from the kernel's answers (per process). */
const noBatch = new Set<string>();

/**
 * Forgets what the kernel said about batch commands (tests and long-running processes after a
 * kernel change have no other use for it).
 */
export function resetBatchSupport(): void {
  noBatch.clear();
}

/** The API to use for map types whose elements are not read by key. */
const USE_INSTEAD: ReadonlyMap<number, string> = new Map([
  [T.BPF_MAP_TYPE_RINGBUF, "a RingBuffer (ring buffers are consumed, not read by key)"],
  [T.BPF_MAP_TYPE_USER_RINGBUF, "a UserRingBuffer (user ring buffers are written as a stream)"],
  [T.BPF_MAP_TYPE_PERF_EVENT_ARRAY, "a PerfBuffer (perf event arrays hold perf event fds)"],
]);

/** Map types with one value per possible CPU in user space. */
export function isPerCpu(type: number): boolean {
  return PERCPU.has(type);
}

function typeName(type: number): string {
  for (const [k, v] of Object.entries(BpfMapType)) if (v === type) return k;
  return `map type ${type}`;
}

function cmdName(cmd: number): string {
  for (const [k, v] of Object.entries(BpfCmd)) if (v === cmd) return k;
  return `cmd ${cmd}`;
}

/**
 * libbpf's LPM trie key: `prefixlen` as a host-order u32, then the address bytes.
 *
 * @param prefixLen the prefix length in bits.
 * @param data the address (network order), such as `[10, 0, 0, 0]`.
 * @param keySize the map's key size (default: 4 + data's length); the key is zero-padded to it.
 * @returns the key's bytes.
 * @throws {RangeError} the prefix is longer than the data, or the data longer than the key.
 * @example
 * ```ts
 * import { lpmKey } from "./map.ts";
 * const k = lpmKey(24, new Uint8Array([10, 1, 2, 0]));
 * if (k.length !== 8 || new DataView(k.buffer).getUint32(0, true) !== 24 || k[4] !== 10) {
 *   throw new Error("bad key");
 * }
 * ```
 */
export function lpmKey(
  prefixLen: number,
  data: Uint8Array | ArrayLike<number>,
  keySize = 4 + data.length,
): Uint8Array {
  if (data.length + 4 > keySize) {
    throw new RangeError(`LPM key: ${data.length} data bytes do not fit a ${keySize}-byte key`);
  }
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > (keySize - 4) * 8) {
    throw new RangeError(
      `LPM key: prefix length ${prefixLen} is not between 0 and ${(keySize - 4) * 8}`,
    );
  }
  const k = new Uint8Array(keySize);
  new DataView(k.buffer).setUint32(0, prefixLen, true);
  k.set(data, 4);
  return k;
}

/**
 * A live BPF map: an fd plus its definition. Keys and values are bytes (`Uint8Array`) of exactly
 * `keySize` and `valueBytes` (for per-CPU maps: one 8-byte-aligned slot of `valueSize` per possible
 * CPU, see {@linkcode BpfMap.lookupPerCpu}). `close()` releases the fd and is safe to call twice;
 * a map owned by a `BpfObject` is closed by it. Any operation after `close()` throws
 * {@linkcode ClosedError}.
 *
 * Hot loops: `lookupInto`, `lookupAndDeleteInto`, `nextKeyInto`, `update` and `delete` allocate
 * nothing when called again with the same key and value buffers (one `bpf_attr` per map is reused,
 * and the buffers' addresses are remembered).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject } from "../mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * const m = obj.map("array_map");
 * const key = new Uint8Array(4), value = new Uint8Array(8);
 * value[0] = 7;
 * m.update(key, value);
 * const out = new Uint8Array(8);
 * if (!m.lookupInto(key, out) || out[0] !== 7) throw new Error("lookup failed");
 * ```
 */
export class BpfMap {
  /** The map's name. */
  readonly name: string;
  /** BPF_MAP_TYPE_*. */
  readonly type: number;
  /** Key size in bytes. */
  readonly keySize: number;
  /** Value size in bytes (per CPU for per-CPU maps). */
  readonly valueSize: number;
  /** max_entries. */
  readonly maxEntries: number;
  /** map_flags. */
  readonly flags: number;
  /** The path it is pinned at, or "". */
  readonly pinPath: string;
  /** True when it was an existing pinned map that load() reused. */
  readonly reused: boolean;
  /** BTF type id of the key in the object's BTF (0 when none); see `typed()`. */
  readonly btfKeyTypeId: number;
  /** BTF type id of the value in the object's BTF (0 when none). */
  readonly btfValueTypeId: number;
  #fd: Fd | undefined;
  #btf: Btf | undefined;
  #valueBytes: number | undefined;
  #elem: MapElemAttr | undefined;
  #scratchKey: Uint8Array | undefined;
  #nullKey = new Uint8Array(0);

  /**
   * Wraps an fd this map now owns.
   *
   * @param fd the map's fd.
   * @param def its definition.
   * @param opts pin path, whether it was reused, and the BTF ids of key and value.
   */
  constructor(
    fd: Fd,
    def: MapDef,
    opts: {
      pinPath?: string;
      reused?: boolean;
      btfKeyTypeId?: number;
      btfValueTypeId?: number;
      btf?: Btf;
    } = {},
  ) {
    this.#btf = opts.btf;
    this.#fd = fd;
    this.name = def.name;
    this.type = def.type;
    this.keySize = def.keySize;
    this.valueSize = def.valueSize;
    this.maxEntries = def.maxEntries;
    this.flags = def.flags;
    this.pinPath = opts.pinPath ?? "";
    this.reused = opts.reused ?? false;
    this.btfKeyTypeId = opts.btfKeyTypeId ?? 0;
    this.btfValueTypeId = opts.btfValueTypeId ?? 0;
  }

  /**
   * Creates a map from its spec as libbpf does: name when the kernel takes names, BTF key/value type
   * ids unless the type takes none, a retry without BTF when the kernel refuses, and the inner map
   * template made (and closed again) for map-in-maps.
   *
   * @param spec the map's spec.
   * @param def the definition after load-time adjustments (max entries, flags).
   * @param ctx the object's BTF fd and feature bits.
   * @returns the new map's fd.
   * @throws {SyscallError} the kernel refused the map.
   */
  static createFd(spec: MapSpec, def: MapDef, ctx: MapCreateContext): Fd {
    let inner: Fd | undefined;
    if (isMapInMap(def.type) && spec.inner !== undefined) {
      const i = spec.inner;
      inner = BpfMap.createFd(i, innerDef(spec, i), ctx);
    }
    try {
      let withBtf = ctx.btfFd >= 0 && !NO_BTF_MAP_TYPES.has(def.type) &&
        (spec.btfKeyTypeId !== 0 || spec.btfValueTypeId !== 0);
      const attempt = () =>
        mapCreate({
          type: def.type,
          name: ctx.names ? def.name : undefined,
          keySize: def.keySize,
          valueSize: def.valueSize,
          maxEntries: def.maxEntries,
          flags: def.flags,
          numaNode: spec.numaNode,
          mapExtra: spec.mapExtra,
          innerMapFd: inner?.value,
          btfFd: withBtf ? ctx.btfFd : 0,
          btfKeyTypeId: withBtf ? spec.btfKeyTypeId : 0,
          btfValueTypeId: withBtf ? spec.btfValueTypeId : 0,
        });
      try {
        return attempt();
      } catch (e) {
        if (!withBtf) throw mapCreateError(def, e);
        ctx.log?.(
          `map '${def.name}': creating with BTF failed (${
            (e as SyscallError).code
          }), retrying without BTF`,
        );
        withBtf = false;
        try {
          return attempt();
        } catch (e2) {
          throw mapCreateError(def, e2);
        }
      }
    } finally {
      inner?.close();
    }
  }

  /**
   * Finds a pinned map at `path` and checks it against `def` like libbpf's `map_is_reuse_compat`
   * (type, key size, value size, max entries, flags, map_extra).
   *
   * @param path the pin path.
   * @param def the expected definition.
   * @param mapExtra the expected map_extra.
   * @returns its fd, or undefined when nothing is pinned there.
   * @throws {BpfError} something incompatible is pinned there.
   */
  static reusePinned(path: string, def: MapDef, mapExtra: bigint): Fd | undefined {
    let fd: Fd;
    try {
      fd = objGet(path);
    } catch (e) {
      if ((e as SyscallError).code === "ENOENT") return undefined;
      throw new BpfError(`Opening the pinned map at '${path}' failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      const info = mapInfo(fd);
      const diffs: string[] = [];
      if (info.type !== def.type) diffs.push(`type ${info.type} != ${def.type}`);
      if (info.keySize !== def.keySize) diffs.push(`key size ${info.keySize} != ${def.keySize}`);
      if (info.valueSize !== def.valueSize) {
        diffs.push(`value size ${info.valueSize} != ${def.valueSize}`);
      }
      if (info.maxEntries !== def.maxEntries) {
        diffs.push(`max entries ${info.maxEntries} != ${def.maxEntries}`);
      }
      if (info.flags !== def.flags) {
        diffs.push(`flags 0x${info.flags.toString(16)} != 0x${def.flags.toString(16)}`);
      }
      if (info.mapExtra !== mapExtra) diffs.push(`map_extra ${info.mapExtra} != ${mapExtra}`);
      if (diffs.length > 0) {
        throw new BpfError(
          `Map '${def.name}': the map pinned at '${path}' is incompatible (${
            diffs.join(", ")
          }); remove the pin or change the map`,
        );
      }
      return fd;
    } catch (e) {
      fd.close();
      throw e;
    }
  }

  /**
   * Wraps a map fd, reading its definition from the kernel (`BPF_OBJ_GET_INFO_BY_FD`). The map owns
   * the fd from then on, even when this throws.
   *
   * @param fd the fd.
   * @param opts the pin path it came from.
   * @returns the map.
   * @throws {SyscallError} the fd is not a map (EINVAL).
   */
  static fromFd(fd: Fd, opts: { pinPath?: string } = {}): BpfMap {
    try {
      const i = mapInfo(fd);
      const def = {
        name: i.name,
        type: i.type,
        keySize: i.keySize,
        valueSize: i.valueSize,
        maxEntries: i.maxEntries,
        flags: i.flags,
      };
      return new BpfMap(fd, def, {
        pinPath: opts.pinPath,
        btfKeyTypeId: i.btfKeyTypeId,
        btfValueTypeId: i.btfValueTypeId,
      });
    } catch (e) {
      fd.close();
      throw e;
    }
  }

  /**
   * Opens a map pinned on a bpf filesystem (libbpf's `bpf_obj_get` then `bpf_map_get_info_by_fd`).
   * The caller owns the result: close it.
   *
   * @param path the pin path, such as `/sys/fs/bpf/counts`.
   * @param opts `readOnly` / `writeOnly` open it with `BPF_F_RDONLY` / `BPF_F_WRONLY`.
   * @returns the map, with `pinPath` set to `path`.
   * @throws {SyscallError} nothing is pinned there (ENOENT), or it is not a map (EINVAL).
   * @example
   * ```ts
   * import { mkdirSync, rmSync } from "node:fs";
   * import { BpfObject } from "../mod.ts";
   * import { BpfMap } from "./map.ts";
   * using obj = BpfObject.open("tests/bpf/build/map_ops.bpf.o");
   * obj.load();
   * const dir = `/sys/fs/bpf/tsbpf-test-doc-frompin-${Deno.pid}`;
   * mkdirSync(dir);
   * try {
   *   obj.map("counts").pin(`${dir}/counts`);
   *   using m = BpfMap.fromPin(`${dir}/counts`);
   *   if (m.info().id !== obj.map("counts").info().id) throw new Error("another map");
   * } finally {
   *   rmSync(dir, { recursive: true, force: true });
   * }
   * ```
   */
  static fromPin(path: string, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
    const flags = (opts.readOnly ? BpfMapFlags.BPF_F_RDONLY : 0) |
      (opts.writeOnly ? BpfMapFlags.BPF_F_WRONLY : 0);
    let fd: Fd;
    try {
      fd = objGet(path, flags);
    } catch (e) {
      throw wrapped(`Opening the pinned map at '${path}' failed`, e, "check the path");
    }
    return BpfMap.fromFd(fd, { pinPath: path });
  }

  /**
   * Opens a map by its kernel id (`BPF_MAP_GET_FD_BY_ID`), as `bpftool map show` lists them.
   * The caller owns the result: close it.
   *
   * @param id the map's id.
   * @param opts `readOnly` / `writeOnly`.
   * @returns the map.
   * @throws {SyscallError} no map has that id (ENOENT).
   * @example
   * ```ts
   * import { BpfObject } from "../mod.ts";
   * import { BpfMap } from "./map.ts";
   * using obj = BpfObject.open("tests/bpf/build/map_ops.bpf.o");
   * obj.load();
   * const id = obj.map("counts").info().id;
   * using m = BpfMap.fromId(id);
   * if (m.info().id !== id) throw new Error("wrong map");
   * ```
   */
  static fromId(id: number, opts: { readOnly?: boolean; writeOnly?: boolean } = {}): BpfMap {
    const flags = (opts.readOnly ? BpfMapFlags.BPF_F_RDONLY : 0) |
      (opts.writeOnly ? BpfMapFlags.BPF_F_WRONLY : 0);
    let fd: Fd;
    try {
      fd = getFdById("map", id, flags);
    } catch (e) {
      throw wrapped(`Opening map id ${id} failed`, e, "list the ids with 'bpftool map show'");
    }
    return BpfMap.fromFd(fd);
  }

  /** The fd number. Throws {@linkcode ClosedError} once closed. */
  get fd(): number {
    if (this.#fd === undefined) throw new ClosedError(`map '${this.name}'`);
    return this.#fd.value;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#fd === undefined;
  }

  /** Whether values hold one slot per possible CPU. */
  get perCpu(): boolean {
    return PERCPU.has(this.type);
  }

  /** Bytes of one CPU's slot in a per-CPU value: `valueSize` rounded up to 8. */
  get perCpuSlot(): number {
    return Math.ceil(this.valueSize / 8) * 8;
  }

  /** Bytes of one value as user space reads and writes it (per-CPU maps: all CPUs). */
  get valueBytes(): number {
    return this.#valueBytes ??= PERCPU.has(this.type)
      ? this.perCpuSlot * numPossibleCpus()
      : this.valueSize;
  }

  /**
   * The kernel's view of the map (`BPF_OBJ_GET_INFO_BY_FD`): type, id, sizes, max entries, flags,
   * name, BTF ids and map_extra.
   *
   * @returns the info.
   * @throws {ClosedError} the map is closed.
   */
  info(): MapInfo {
    return mapInfo(this.fd);
  }

  /** Throws {@linkcode ClosedError} once closed. */
  #open(): void {
    if (this.#fd === undefined) throw new ClosedError(`map '${this.name}'`);
  }

  /**
   * A typed view of the map: keys and values as TypeScript values, through codecs built from the
   * map's BTF key and value types (the object's BTF; for a map opened by `fromPin()` or `fromId()`,
   * the BTF the kernel holds for it). The skeleton types `skel.maps.NAME` this way.
   *
   * @param btf the BTF the map's type ids belong to (default: the object's, else the kernel's).
   * @returns the view; it shares this map's fd (closing the map ends it too).
   * @throws {BpfError} the map has no BTF value type (maps made without BTF).
   * @throws {CodecError} a type has no codec.
   * @example
   * ```ts
   * import { BpfObject } from "../mod.ts";
   * using obj = BpfObject.open("tests/bpf/build/map_ops.bpf.o");
   * obj.load();
   * const counts = obj.map("counts").typed<number, bigint>();
   * counts.update(1, 5n);
   * if (counts.lookup(1) !== 5n) throw new Error("lookup failed");
   * ```
   */
  typed<K = unknown, V = unknown>(btf?: Btf): TypedMap<K, V> {
    this.#open();
    if (this.btfValueTypeId === 0) {
      throw new BpfError(
        `Map '${this.name}' has no BTF value type; build a TypedMap with codecs of your own`,
      );
    }
    if (btf ?? this.#btf) {
      return TypedMap.fromBtf<K, V>(
        this,
        (btf ?? this.#btf)!,
        this.btfKeyTypeId,
        this.btfValueTypeId,
      );
    }
    const id = this.info().btfId;
    if (id === 0) throw new BpfError(`Map '${this.name}' has no BTF in the kernel; pass one`);
    using fd = getFdById("btf", id);
    const data = btfInfo(fd, { data: true }).data!;
    using kbtf = Btf.parse(data);
    return TypedMap.fromBtf<K, V>(this, kbtf, this.btfKeyTypeId, this.btfValueTypeId);
  }

  #attr(): MapElemAttr {
    const fd = this.fd;
    return this.#elem ??= new MapElemAttr(fd);
  }

  #key(key: Uint8Array | null): Uint8Array | null {
    if (key === null) {
      if (this.keySize === 0) return null;
      throw new RangeError(`Map '${this.name}': a key of ${this.keySize} bytes is needed`);
    }
    if (key.length !== this.keySize) {
      throw new RangeError(
        `Map '${this.name}': key has ${key.length} bytes, expected ${this.keySize}`,
      );
    }
    return this.keySize === 0 ? null : key;
  }

  #value(value: Uint8Array, what = "value"): Uint8Array {
    if (value.length !== (this.#valueBytes ?? this.valueBytes)) {
      throw new RangeError(
        `Map '${this.name}': ${what} has ${value.length} bytes, expected ${this.valueBytes}${
          this.perCpu ? ` (${numPossibleCpus()} CPUs x ${this.perCpuSlot} bytes)` : ""
        }`,
      );
    }
    return value;
  }

  #noElems(op: string): void {
    const instead = USE_INSTEAD.get(this.type);
    if (instead === undefined) return;
    if (this.type === T.BPF_MAP_TYPE_PERF_EVENT_ARRAY && op !== "lookup") return;
    throw new NotSupportedError(
      typeName(this.type),
      `Map '${this.name}' (${typeName(this.type)}) has no ${op}; read it with ${instead}`,
    );
  }

  #fail(cmd: number, errno: number, flags = 0): SyscallError | NotSupportedError {
    const where = `Map '${this.name}' (${typeName(this.type)})`;
    if (errno === E.ENOTSUPP || errno === E.EOPNOTSUPP) {
      const instead = USE_INSTEAD.get(this.type);
      return new NotSupportedError(
        `${cmdName(cmd)} on ${typeName(this.type)}`,
        `${where}: the kernel has no ${cmdName(cmd)} for this map type${
          instead ? `; use ${instead}` : ""
        }`,
        { cause: syscallError(`bpf(${cmdName(cmd)})`, errno) },
      );
    }
    const code = errnoName(errno);
    const update = cmd === C.BPF_MAP_UPDATE_ELEM;
    const hint = code === "EEXIST" && update
      ? "the key exists and BPF_NOEXIST was given"
      : code === "ENOENT" && update
      ? "no such key and BPF_EXIST was given"
      : code === "E2BIG" && update
      ? `the map is full (max_entries ${this.maxEntries}) or the key is out of range`
      : code === "EINVAL" && cmd === C.BPF_MAP_DELETE_ELEM
      ? "this map type has no delete (arrays: write zeros instead)"
      : code === "EINVAL" && (flags & BpfMapFlags.BPF_F_LOCK) !== 0
      ? "BPF_F_LOCK needs a value with a struct bpf_spin_lock"
      : code === "EPERM" && update
      ? "the map is frozen or read-only to user space"
      : code === "EINVAL"
      ? "check the flags and that this map type has the operation"
      : undefined;
    const e = syscallError(`bpf(${cmdName(cmd)})`, errno, hint);
    return new SyscallError(`${where}: ${e.message}`, {
      call: e.call,
      errno: e.errno,
      code: e.code,
    });
  }

  /**
   * Reads a value.
   *
   * @param key the key (`keySize` bytes).
   * @param flags `BPF_F_LOCK` (values with a spin lock) or 0.
   * @returns a new array with the value (`valueBytes`), or undefined when there is no such key.
   * @throws {SyscallError} the kernel refused; {@linkcode NotSupportedError} for ring buffers and
   *   perf event arrays (which name the API to use instead); {@linkcode ClosedError}.
   */
  lookup(key: Uint8Array, flags = 0): Uint8Array | undefined {
    const out = new Uint8Array(this.valueBytes);
    return this.lookupInto(key, out, flags) ? out : undefined;
  }

  /**
   * Reads a value into the caller's buffer: no allocation when called again with the same buffers.
   *
   * @param key the key.
   * @param out receives the value (`valueBytes` bytes).
   * @param flags `BPF_F_LOCK` or 0.
   * @returns false when there is no such key (`out` is left alone).
   * @throws {SyscallError} the kernel refused.
   */
  lookupInto(key: Uint8Array, out: Uint8Array, flags = 0): boolean {
    const k = this.#key(key);
    this.#value(out);
    const r = this.#attr().run(C.BPF_MAP_LOOKUP_ELEM, k, out, flags);
    if (r >= 0) return true;
    if (r === -E.ENOENT) return false;
    this.#noElems("lookup");
    throw this.#fail(C.BPF_MAP_LOOKUP_ELEM, -r, flags);
  }

  /**
   * Writes a value.
   *
   * @param key the key.
   * @param value the value (`valueBytes` bytes).
   * @param flags `BPF_ANY` (0, default), `BPF_NOEXIST` (1), `BPF_EXIST` (2), optionally or-ed with
   *   `BPF_F_LOCK` (4); see `UpdateFlags`.
   * @throws {SyscallError} the kernel refused (EEXIST with NOEXIST, ENOENT with EXIST, E2BIG when
   *   full).
   */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    const k = this.#key(key);
    this.#value(value);
    const r = this.#attr().run(C.BPF_MAP_UPDATE_ELEM, k, value, flags);
    if (r >= 0) return;
    this.#noElems("update");
    throw this.#fail(C.BPF_MAP_UPDATE_ELEM, -r, flags);
  }

  /**
   * Deletes a key.
   *
   * @param key the key.
   * @returns false when there was no such key.
   * @throws {SyscallError} the kernel refused (arrays refuse with EINVAL).
   */
  delete(key: Uint8Array): boolean {
    const r = this.#attr().run(C.BPF_MAP_DELETE_ELEM, this.#key(key), null, 0);
    if (r >= 0) return true;
    if (r === -E.ENOENT) return false;
    this.#noElems("delete");
    throw this.#fail(C.BPF_MAP_DELETE_ELEM, -r);
  }

  /**
   * Reads and deletes a value in one call (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`; hash maps from Linux
   * 5.14, queues and stacks always).
   *
   * @param key the key (null for queues and stacks).
   * @param flags `BPF_F_LOCK` or 0.
   * @returns the value, or undefined when there was none.
   * @throws {SyscallError} the kernel refused; {@linkcode NotSupportedError} for map types without it.
   */
  lookupAndDelete(key: Uint8Array | null, flags = 0): Uint8Array | undefined {
    const out = new Uint8Array(this.valueBytes);
    return this.lookupAndDeleteInto(key, out, flags) ? out : undefined;
  }

  /**
   * {@linkcode BpfMap.lookupAndDelete} into the caller's buffer.
   *
   * @param key the key (null for queues and stacks).
   * @param out receives the value.
   * @param flags `BPF_F_LOCK` or 0.
   * @returns false when there was nothing.
   * @throws {SyscallError} the kernel refused.
   */
  lookupAndDeleteInto(key: Uint8Array | null, out: Uint8Array, flags = 0): boolean {
    const k = this.#key(key);
    this.#value(out);
    const r = this.#attr().run(C.BPF_MAP_LOOKUP_AND_DELETE_ELEM, k, out, flags);
    if (r >= 0) return true;
    if (r === -E.ENOENT) return false;
    this.#noElems("lookup and delete");
    throw this.#fail(C.BPF_MAP_LOOKUP_AND_DELETE_ELEM, -r, flags);
  }

  /**
   * The key after `key`, or the first key when `key` is null.
   *
   * @param key the current key or null.
   * @returns the next key, or undefined at the end.
   */
  nextKey(key: Uint8Array | null): Uint8Array | undefined {
    const out = new Uint8Array(this.keySize);
    return this.nextKeyInto(key, out) ? out : undefined;
  }

  /**
   * {@linkcode BpfMap.nextKey} into the caller's buffer (which may be `key` itself).
   *
   * @param key the current key, or null for the first.
   * @param out receives the next key (`keySize` bytes).
   * @returns false at the end of the map.
   * @throws {SyscallError} the kernel refused (queues, stacks and bloom filters have no keys).
   */
  nextKeyInto(key: Uint8Array | null, out: Uint8Array): boolean {
    const k = key === null ? null : this.#key(key);
    if (out.length !== this.keySize) this.#key(out);
    const r = this.#attr().run(C.BPF_MAP_GET_NEXT_KEY, k, out, 0);
    if (r >= 0) return true;
    if (r === -E.ENOENT) return false;
    this.#noElems("keys");
    throw this.#fail(C.BPF_MAP_GET_NEXT_KEY, -r);
  }

  /**
   * Every key. Uses batch lookups where the kernel has them for this map type, else
   * BPF_MAP_GET_NEXT_KEY; each key is a new array.
   *
   * @param opts `batchSize`: elements per batch call (default 256, grown when a hash bucket is
   *   bigger).
   */
  *keys(opts: { batchSize?: number } = {}): Generator<Uint8Array> {
    for (const [k] of this.entries(opts)) yield k;
  }

  /** Every value, in key order of {@linkcode BpfMap.entries}. */
  *values(opts: { batchSize?: number } = {}): Generator<Uint8Array> {
    for (const [, v] of this.entries(opts)) yield v;
  }

  /**
   * Every `[key, value]` pair: batch lookups where the kernel has them for this map type (one call
   * per `batchSize` elements), else BPF_MAP_GET_NEXT_KEY and a lookup per key (keys deleted
   * meanwhile are skipped). Keys and values are new arrays.
   *
   * @param opts `batchSize` (default 256).
   */
  *entries(opts: { batchSize?: number } = {}): Generator<[Uint8Array, Uint8Array]> {
    let n = Math.max(1, Math.min(opts.batchSize ?? 256, this.maxEntries || 256));
    let keys = new Uint8Array(n * this.keySize);
    let vals = new Uint8Array(n * this.valueBytes);
    const cursor = new MapBatchCursor();
    while (!cursor.done) {
      let got: number;
      try {
        got = this.lookupBatch(cursor, keys, vals);
      } catch (e) {
        // A hash bucket holds more elements than the buffers: grow and ask again.
        if ((e as SyscallError).errno === E.ENOSPC && n < 1 << 20) {
          n *= 2;
          keys = new Uint8Array(n * this.keySize);
          vals = new Uint8Array(n * this.valueBytes);
          continue;
        }
        throw e;
      }
      for (let i = 0; i < got; i++) {
        yield [
          keys.slice(i * this.keySize, (i + 1) * this.keySize),
          vals.slice(i * this.valueBytes, (i + 1) * this.valueBytes),
        ];
      }
    }
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): Generator<[Uint8Array, Uint8Array]> {
    return this.entries();
  }

  #batchCount(keys: Uint8Array, values: Uint8Array | null, o: MapBatchOpts): number {
    const ks = Math.max(this.keySize, 1);
    let n = Math.floor(keys.length / ks);
    if (values !== null) n = Math.min(n, Math.floor(values.length / this.valueBytes));
    if (o.count !== undefined) {
      if (o.count > n) {
        throw new RangeError(`Map '${this.name}': the buffers hold ${n} elements, not ${o.count}`);
      }
      n = o.count;
    }
    return n;
  }

  /** Whether the kernel answered that it has no `cmd` batch for this map type. */
  #batchKnownMissing(cmd: number): boolean {
    return noBatch.has(`${this.type}:${cmd}`);
  }

  /**
   * Runs one batch command; returns undefined (and remembers it for this map type) when the kernel
   * answers that it has no such batch command for the type.
   */
  #batch(
    cmd: number,
    o: MapBatchOptions,
    plain: boolean,
  ): { count: number; done: boolean } | undefined {
    if (this.#batchKnownMissing(cmd)) return undefined;
    try {
      return cmd === C.BPF_MAP_LOOKUP_BATCH
        ? mapLookupBatch(this.fd, o)
        : cmd === C.BPF_MAP_LOOKUP_AND_DELETE_BATCH
        ? mapLookupAndDeleteBatch(this.fd, o)
        : cmd === C.BPF_MAP_UPDATE_BATCH
        ? { count: mapUpdateBatch(this.fd, o), done: false }
        : { count: mapDeleteBatch(this.fd, o), done: false };
    } catch (e) {
      const errno = (e as SyscallError).errno;
      // ENOTSUPP / EOPNOTSUPP: the map type has no such batch; remembered. EINVAL on plain
      // arguments (no flags): a kernel without batch commands (before 5.6), or an element the
      // kernel refused; not remembered, and the key-by-key fallback names the element at fault.
      if (errno === E.ENOTSUPP || errno === E.EOPNOTSUPP) {
        noBatch.add(`${this.type}:${cmd}`);
        return undefined;
      }
      if (errno === E.EINVAL && plain) return undefined;
      const f = this.#fail(cmd, errno, o.elemFlags ?? 0);
      throw errno === E.ENOSPC
        ? new SyscallError(
          `${f.message}; a hash bucket holds more elements than the buffers: pass bigger ones`,
          { call: (f as SyscallError).call, errno, code: "ENOSPC" },
        )
        : f;
    }
  }

  #token(cursor: MapBatchCursor): Uint8Array {
    // The kernel's position is a u32 bucket index for hash maps and a key for the others.
    if (cursor.token.length < Math.max(this.keySize, 8)) {
      cursor.token = new Uint8Array(Math.max(this.keySize, 8));
    }
    return cursor.token;
  }

  /**
   * `BPF_MAP_LOOKUP_BATCH`: reads up to `count` elements from where `cursor` stands, into `keys`
   * (`keySize` each) and `values` (`valueBytes` each). Falls back to key-by-key reads where the
   * kernel or the map type has no batch (the answer is remembered per map type).
   *
   * @param cursor where the walk stands (`new MapBatchCursor()` to start); `done` turns true at the
   *   end.
   * @param keys receives the keys.
   * @param values receives the values.
   * @param opts count and `BPF_F_LOCK`.
   * @returns how many elements were read (0 at the end).
   * @throws {SyscallError} the kernel refused (ENOSPC: a hash bucket is bigger than the buffers).
   * @example
   * ```ts
   * import { BpfObject } from "../mod.ts";
   * import { MapBatchCursor } from "./map.ts";
   * using obj = BpfObject.open("tests/bpf/build/map_ops.bpf.o");
   * obj.load();
   * const m = obj.map("counts");
   * for (let i = 0; i < 100; i++) m.update(new Uint8Array(new Uint32Array([i]).buffer), new Uint8Array(8));
   * const c = new MapBatchCursor();
   * const keys = new Uint8Array(64 * m.keySize), values = new Uint8Array(64 * m.valueBytes);
   * let seen = 0;
   * while (!c.done) seen += m.lookupBatch(c, keys, values);
   * if (seen !== 100) throw new Error(`saw ${seen} entries`);
   * ```
   */
  lookupBatch(
    cursor: MapBatchCursor,
    keys: Uint8Array,
    values: Uint8Array,
    opts: MapBatchOpts = {},
  ): number {
    return this.#walkBatch(C.BPF_MAP_LOOKUP_BATCH, cursor, keys, values, opts);
  }

  /**
   * `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: like {@linkcode BpfMap.lookupBatch}, and deletes what it
   * read. Falls back to lookup then delete key by key where there is no such batch.
   *
   * @param cursor where the walk stands.
   * @param keys receives the keys.
   * @param values receives the values.
   * @param opts count and `BPF_F_LOCK`.
   * @returns how many elements were read and deleted.
   * @throws {SyscallError} the kernel refused.
   */
  lookupAndDeleteBatch(
    cursor: MapBatchCursor,
    keys: Uint8Array,
    values: Uint8Array,
    opts: MapBatchOpts = {},
  ): number {
    return this.#walkBatch(C.BPF_MAP_LOOKUP_AND_DELETE_BATCH, cursor, keys, values, opts);
  }

  #walkBatch(
    cmd: number,
    cursor: MapBatchCursor,
    keys: Uint8Array,
    values: Uint8Array,
    opts: MapBatchOpts,
  ): number {
    this.#open();
    if (cursor.done) return 0;
    const n = this.#batchCount(keys, values, opts);
    if (n === 0) throw new RangeError(`Map '${this.name}': the batch buffers hold no element`);
    const token = this.#token(cursor);
    const r = this.#batch(cmd, {
      inBatch: cursor.started ? token : null,
      outBatch: token,
      keys,
      values,
      count: n,
      elemFlags: opts.elemFlags ?? 0,
    }, (opts.elemFlags ?? 0) === 0);
    if (r !== undefined) {
      cursor.started = true;
      if (r.done) cursor.done = true;
      return r.count;
    }
    return cmd === C.BPF_MAP_LOOKUP_BATCH
      ? this.#walkKeys(cursor, keys, values, n, opts.elemFlags ?? 0)
      : this.#walkKeys(cursor, keys, values, n, opts.elemFlags ?? 0, true);
  }

  /**
   * The fallback of lookupBatch (and, with `drain`, of lookupAndDeleteBatch): GET_NEXT_KEY from the
   * cursor's last key and a lookup each, deleting each element read when draining (an array slot
   * that reads empty is passed over, so the walk ends on arrays too).
   */
  #walkKeys(
    cursor: MapBatchCursor,
    keys: Uint8Array,
    values: Uint8Array,
    n: number,
    flags: number,
    drain = false,
  ): number {
    const ks = this.keySize, vs = this.valueBytes;
    const next = this.#scratchKey ??= new Uint8Array(ks);
    let got = 0;
    while (got < n) {
      if (!this.nextKeyInto(cursor.lastKey, next)) {
        cursor.done = true;
        break;
      }
      cursor.lastKey ??= new Uint8Array(ks);
      cursor.lastKey.set(next);
      const v = values.subarray(got * vs, (got + 1) * vs);
      if (!this.lookupInto(next, v, flags)) continue; // deleted meanwhile
      if (drain && !this.delete(next)) continue;
      keys.set(next, got * ks);
      got++;
    }
    return got;
  }

  /**
   * `BPF_MAP_UPDATE_BATCH`: writes `count` elements (keys back to back, values back to back), or
   * one update per element where the kernel or map type has no batch.
   *
   * @param keys the keys.
   * @param values the values (`valueBytes` each).
   * @param opts count, and `elemFlags` (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`).
   * @returns how many were written.
   * @throws {SyscallError} an element was refused (the ones before it are written).
   */
  updateBatch(keys: Uint8Array, values: Uint8Array, opts: MapBatchOpts = {}): number {
    this.#open();
    const n = this.#batchCount(keys, values, opts);
    if (n === 0) return 0;
    const flags = opts.elemFlags ?? 0;
    const r = this.#batch(
      C.BPF_MAP_UPDATE_BATCH,
      { keys, values, count: n, elemFlags: flags },
      true,
    );
    if (r !== undefined) return r.count;
    const ks = this.keySize, vs = this.valueBytes;
    for (let i = 0; i < n; i++) {
      this.update(
        keys.subarray(i * ks, (i + 1) * ks),
        values.subarray(i * vs, (i + 1) * vs),
        flags,
      );
    }
    return n;
  }

  /**
   * `BPF_MAP_DELETE_BATCH`: deletes `count` keys, or one at a time where there is no batch.
   *
   * @param keys the keys, back to back.
   * @param opts count.
   * @returns how many were deleted (a batch stops at the first missing key, with ENOENT thrown;
   *   the fallback skips missing keys and does not count them).
   * @throws {SyscallError} the kernel refused.
   */
  deleteBatch(keys: Uint8Array, opts: MapBatchOpts = {}): number {
    this.#open();
    const n = this.#batchCount(keys, null, opts);
    if (n === 0) return 0;
    const r = this.#batch(C.BPF_MAP_DELETE_BATCH, { keys, count: n }, true);
    if (r !== undefined) return r.count;
    const ks = this.keySize;
    let done = 0;
    for (let i = 0; i < n; i++) if (this.delete(keys.subarray(i * ks, (i + 1) * ks))) done++;
    return done;
  }

  /**
   * Splits a per-CPU value into one view per possible CPU (each `valueSize` bytes, no copy).
   *
   * @param raw a value as `lookup()` returns it for a per-CPU map.
   * @returns one subarray per CPU.
   */
  splitPerCpu(raw: Uint8Array): Uint8Array[] {
    this.#value(raw);
    const slot = this.perCpuSlot;
    const out: Uint8Array[] = [];
    for (let off = 0; off < raw.length; off += slot) {
      out.push(raw.subarray(off, off + this.valueSize));
    }
    return out;
  }

  /**
   * Reads a per-CPU value as one array per possible CPU.
   *
   * @param key the key.
   * @returns `numPossibleCpus()` arrays of `valueSize` bytes, or undefined when there is no such key.
   * @throws {BpfError} the map is not per-CPU.
   * @example
   * ```ts
   * import { BpfObject, numPossibleCpus } from "../mod.ts";
   * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
   * obj.load();
   * const perCpu = obj.map("percpu_array_map").lookupPerCpu(new Uint8Array(4))!;
   * if (perCpu.length !== numPossibleCpus()) throw new Error("one value per possible CPU");
   * const total = perCpu.reduce((s, v) => s + new DataView(v.buffer, v.byteOffset).getBigUint64(0, true), 0n);
   * if (total !== 0n) throw new Error("a new array is zeroed");
   * ```
   */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    this.#needPerCpu();
    const raw = this.lookup(key);
    return raw === undefined ? undefined : this.splitPerCpu(raw);
  }

  /**
   * Writes a per-CPU value from one array per possible CPU.
   *
   * @param key the key.
   * @param values `numPossibleCpus()` arrays of `valueSize` bytes (or one, written to every CPU).
   * @param flags update flags.
   * @throws {RangeError} wrong count or sizes.
   */
  updatePerCpu(key: Uint8Array, values: Uint8Array[], flags = 0): void {
    this.#needPerCpu();
    const n = numPossibleCpus();
    if (values.length !== n && values.length !== 1) {
      throw new RangeError(
        `Map '${this.name}': ${values.length} values given, expected ${n} (CPUs)`,
      );
    }
    const raw = new Uint8Array(this.valueBytes);
    for (let i = 0; i < n; i++) {
      const v = values[values.length === 1 ? 0 : i];
      if (v.length !== this.valueSize) {
        throw new RangeError(
          `Map '${this.name}': CPU ${i}'s value has ${v.length} bytes, expected ${this.valueSize}`,
        );
      }
      raw.set(v, i * this.perCpuSlot);
    }
    this.update(key, raw, flags);
  }

  #needPerCpu(): void {
    if (!this.perCpu) {
      throw new BpfError(
        `Map '${this.name}' (${typeName(this.type)}) is not a per-CPU map; use lookup()`,
      );
    }
  }

  #needType(what: string, ...types: number[]): void {
    this.#open();
    if (!types.includes(this.type)) {
      throw new BpfError(
        `Map '${this.name}' is a ${typeName(this.type)}; ${what} needs ${
          types.map(typeName).join(" or ")
        }`,
      );
    }
  }

  /**
   * Pushes a value onto a queue or stack, or adds it to a bloom filter.
   *
   * @param value the value.
   * @param flags `BPF_EXIST` makes a full queue or stack drop its oldest value instead of failing.
   * @throws {SyscallError} the queue or stack is full (E2BIG).
   */
  push(value: Uint8Array, flags = 0): void {
    this.#needType("push", T.BPF_MAP_TYPE_QUEUE, T.BPF_MAP_TYPE_STACK, T.BPF_MAP_TYPE_BLOOM_FILTER);
    this.update(this.#nullKey, value, flags);
  }

  /**
   * Takes the next value off a queue (oldest) or stack (newest).
   *
   * @returns the value, or undefined when empty.
   */
  pop(): Uint8Array | undefined {
    this.#needType("pop", T.BPF_MAP_TYPE_QUEUE, T.BPF_MAP_TYPE_STACK);
    return this.lookupAndDelete(null);
  }

  /**
   * Reads the next value of a queue or stack without taking it.
   *
   * @returns the value, or undefined when empty.
   */
  peek(): Uint8Array | undefined {
    this.#needType("peek", T.BPF_MAP_TYPE_QUEUE, T.BPF_MAP_TYPE_STACK);
    return this.lookup(this.#nullKey);
  }

  /**
   * Whether a bloom filter may hold `value` (false: surely not; true: probably).
   *
   * @param value the value.
   * @returns the filter's answer.
   */
  contains(value: Uint8Array): boolean {
    this.#needType("contains", T.BPF_MAP_TYPE_BLOOM_FILTER);
    // A bloom filter's lookup reads the value buffer as the value to test.
    return this.lookupInto(this.#nullKey, value);
  }

  /**
   * Builds an LPM trie key of this map's key size (see {@linkcode lpmKey}).
   *
   * @param prefixLen the prefix length in bits.
   * @param data the address bytes.
   * @returns the key.
   */
  lpmKey(prefixLen: number, data: Uint8Array | ArrayLike<number>): Uint8Array {
    this.#needType("lpmKey", T.BPF_MAP_TYPE_LPM_TRIE);
    return lpmKey(prefixLen, data, this.keySize);
  }

  #u32Key(key: Uint8Array | number): Uint8Array {
    if (typeof key !== "number") return key;
    const k = new Uint8Array(this.keySize);
    new DataView(k.buffer).setUint32(0, key, true);
    return k;
  }

  /**
   * Puts a map into a map-in-map slot (array of maps, hash of maps).
   *
   * @param key the slot (a number for an array of maps).
   * @param inner the inner map, or its fd.
   * @throws {SyscallError} the inner map does not match the template (EINVAL).
   */
  setInner(key: Uint8Array | number, inner: BpfMap | number): void {
    this.#needType("setInner", T.BPF_MAP_TYPE_ARRAY_OF_MAPS, T.BPF_MAP_TYPE_HASH_OF_MAPS);
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, typeof inner === "number" ? inner : inner.fd, true);
    this.update(this.#u32Key(key), v);
  }

  /**
   * The id of the map in a map-in-map slot (open it with {@linkcode BpfMap.fromId}).
   *
   * @param key the slot.
   * @returns the inner map's id, or undefined for an empty slot.
   */
  innerId(key: Uint8Array | number): number | undefined {
    this.#needType("innerId", T.BPF_MAP_TYPE_ARRAY_OF_MAPS, T.BPF_MAP_TYPE_HASH_OF_MAPS);
    const v = this.lookup(this.#u32Key(key));
    return v === undefined ? undefined : new DataView(v.buffer).getUint32(0, true);
  }

  /**
   * Puts a program into a prog array slot (for tail calls).
   *
   * @param key the slot index.
   * @param prog the program (anything with an `fd`, such as a `BpfProgram`), or its fd.
   * @throws {SyscallError} the program does not fit the array (EINVAL: other type or JIT).
   */
  setProgram(key: Uint8Array | number, prog: { readonly fd: number } | number): void {
    this.#needType("setProgram", T.BPF_MAP_TYPE_PROG_ARRAY);
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, typeof prog === "number" ? prog : prog.fd, true);
    this.update(this.#u32Key(key), v);
  }

  /**
   * The id of the program in a prog array slot.
   *
   * @param key the slot index.
   * @returns the program's id, or undefined for an empty slot.
   */
  programId(key: Uint8Array | number): number | undefined {
    this.#needType("programId", T.BPF_MAP_TYPE_PROG_ARRAY);
    const v = this.lookup(this.#u32Key(key));
    return v === undefined ? undefined : new DataView(v.buffer).getUint32(0, true);
  }

  /**
   * Reads a stack trace map entry as addresses (instruction pointers), stopping at the first 0.
   *
   * @param id the stack id `bpf_get_stackid` returned.
   * @returns the addresses, innermost first, or undefined when there is no such stack.
   */
  stackTrace(id: number): bigint[] | undefined {
    this.#needType("stackTrace", T.BPF_MAP_TYPE_STACK_TRACE);
    const v = this.lookup(this.#u32Key(id));
    if (v === undefined) return undefined;
    const dv = new DataView(v.buffer);
    const out: bigint[] = [];
    for (let off = 0; off + 8 <= v.length; off += 8) {
      const ip = dv.getBigUint64(off, true);
      if (ip === 0n) break;
      out.push(ip);
    }
    return out;
  }

  /**
   * `BPF_MAP_FREEZE`: from now on user space can only read the map (programs may still write it,
   * unless it was made with `BPF_F_RDONLY_PROG`).
   *
   * @throws {SyscallError} the kernel refused (EBUSY while a writable mapping exists).
   */
  freeze(): void {
    try {
      mapFreeze(this.fd);
    } catch (e) {
      throw wrapped(`Freezing map '${this.name}' failed`, e, "unmap writable mappings first");
    }
  }

  /**
   * Pins the map at `path` on a bpf filesystem.
   *
   * @param path the path.
   * @throws {SyscallError} the kernel refused (EEXIST...).
   */
  pin(path: string): void {
    try {
      objPin(this.fd, path);
    } catch (e) {
      throw wrapped(
        `Pinning map '${this.name}' at '${path}' failed`,
        e,
        "the path must be new and on a bpf filesystem (/sys/fs/bpf)",
      );
    }
  }

  /** Removes the pin at `path` (default: this map's pin path). */
  unpin(path: string = this.pinPath): void {
    if (path !== "") host().unlink(path);
  }

  /** Closes the fd. Safe to call twice. */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    const elem = this.#elem;
    this.#elem = undefined;
    try {
      elem?.release();
    } finally {
      fd?.close();
    }
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function wrapped(what: string, e: unknown, hint: string): unknown {
  if (!(e instanceof SyscallError)) return e;
  return new SyscallError(
    `${what}: ${e.message}${
      e.code === "ENOENT" || e.code === "EEXIST" || e.code === "EINVAL" ? `; ${hint}` : ""
    }`,
    {
      call: e.call,
      errno: e.errno,
      code: e.code,
      cause: e,
    },
  );
}

/** Map types whose max_entries must be 0 (local storage and cgroup storage). */
const ZERO_MAX_ENTRIES_TYPES: ReadonlySet<number> = new Set([
  BpfMapType.BPF_MAP_TYPE_CGROUP_STORAGE,
  BpfMapType.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
  BpfMapType.BPF_MAP_TYPE_SK_STORAGE,
  BpfMapType.BPF_MAP_TYPE_INODE_STORAGE,
  BpfMapType.BPF_MAP_TYPE_TASK_STORAGE,
  BpfMapType.BPF_MAP_TYPE_CGRP_STORAGE,
]);

function mapCreateError(def: MapDef, e: unknown): unknown {
  if (!(e instanceof SyscallError)) return e;
  const unset = [
    def.maxEntries === 0 && !ZERO_MAX_ENTRIES_TYPES.has(def.type)
      ? "max_entries is 0 (setMaxEntries())"
      : "",
    def.valueSize === 0 ? "its value size is 0 (setValueSize())" : "",
  ].filter((x) => x !== "");
  const hint = e.code === "EPERM"
    ? "; run as root (or with CAP_BPF and CAP_PERFMON)"
    : e.code === "EINVAL" &&
        (def.type === T.BPF_MAP_TYPE_RINGBUF || def.type === T.BPF_MAP_TYPE_USER_RINGBUF)
    ? `; a ring buffer's max_entries (${def.maxEntries}) must be a power of 2 multiple of the page size (${pageSize()} bytes), and its key and value sizes 0: set it with setMaxEntries()`
    : e.code === "EINVAL" && unset.length > 0
    ? `; ${unset.join(" and ")}: set ${unset.length > 1 ? "them" : "it"} before load`
    : e.code === "EINVAL" && !/^[A-Za-z0-9_.]*$/.test(def.name)
    ? "; the kernel takes map names of [A-Za-z0-9_.] only: rename the map"
    : e.code === "EINVAL"
    ? "; check the map's type, sizes, flags and max_entries"
    : "";
  return new SyscallError(`Creating map '${escapeControl(def.name)}' failed: ${e.message}${hint}`, {
    call: e.call,
    errno: e.errno,
    code: e.code,
    cause: e,
  });
}

/**
 * The definition libbpf gives an inner map template.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { innerDef } from "./map.ts";
 * import { open } from "../spec/open.ts";
 * const spec = open("tests/bpf/build/map_in_map.bpf.o");
 * const outer = spec.maps.find((m) => m.inner)!;
 * assert.equal(innerDef(outer, outer.inner!).name, outer.inner!.name || `${outer.name}.inner`);
 * spec.btf?.close();
 * ```
 */
export function innerDef(outer: MapSpec, inner: MapSpec): MapDef {
  return {
    name: inner.name !== "" ? inner.name : `${outer.name}.inner`,
    type: inner.typeId,
    keySize: inner.keySize,
    valueSize: inner.valueSize,
    maxEntries: inner.maxEntries,
    flags: inner.flags,
  };
}
