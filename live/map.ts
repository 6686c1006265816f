/**
 * {@linkcode BpfMap}: a live map. Made by `BpfObject.load()` from a {@linkcode MapSpec} the way
 * libbpf's `bpf_object__create_map` makes it (BTF key and value types where the kernel takes them,
 * a retry without BTF when refused, inner-map templates, pinning by name with reuse of a compatible
 * pinned map), then read and written with byte keys and values.
 *
 * @module
 */
import { host } from "../_host.ts";
import { BpfError, SyscallError } from "../errors.ts";
import {
  type Fd,
  mapCreate,
  mapDelete,
  mapGetNextKey,
  mapInfo,
  mapLookup,
  mapUpdate,
  objGet,
  objPin,
} from "../ffi/bpf.ts";
import { BpfMapType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import type { MapSpec } from "../spec/types.ts";

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
  try {
    const text = host().readText("/sys/devices/system/cpu/possible").trim();
    for (const part of text.split(",")) {
      const [a, b] = part.split("-").map((x) => parseInt(x, 10));
      n += b === undefined ? 1 : b - a + 1;
    }
  } catch {
    n = 1;
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

/**
 * A live BPF map: an fd plus its definition. Keys and values are bytes (`Uint8Array`) of exactly
 * `keySize` and `valueSize` (times the possible CPUs, rounded up to 8 bytes each, for per-CPU maps).
 * `close()` releases the fd and is safe to call twice; a map owned by a `BpfObject` is closed by it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BpfObject } from "../mod.ts";
 * using obj = BpfObject.open("tests/bpf/build/maps.bpf.o");
 * obj.load();
 * const m = obj.map("hash_map");
 * const key = new Uint8Array(m.keySize);
 * m.update(key, new Uint8Array(m.valueSize).fill(1));
 * assert.equal(m.lookup(key)?.[0], 1);
 * assert(m.delete(key) && m.lookup(key) === undefined);
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
  #fd: Fd | undefined;

  /**
   * Wraps an fd this map now owns.
   *
   * @param fd the map's fd.
   * @param def its definition.
   * @param opts pin path and whether it was reused.
   */
  constructor(fd: Fd, def: MapDef, opts: { pinPath?: string; reused?: boolean } = {}) {
    this.#fd = fd;
    this.name = def.name;
    this.type = def.type;
    this.keySize = def.keySize;
    this.valueSize = def.valueSize;
    this.maxEntries = def.maxEntries;
    this.flags = def.flags;
    this.pinPath = opts.pinPath ?? "";
    this.reused = opts.reused ?? false;
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

  /** The fd number. Throws once closed. */
  get fd(): number {
    if (this.#fd === undefined) throw new BpfError(`Map '${this.name}' is closed`);
    return this.#fd.value;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#fd === undefined;
  }

  /** Bytes of one value as user space reads and writes it (per-CPU maps: all CPUs). */
  get valueBytes(): number {
    return PERCPU.has(this.type)
      ? Math.ceil(this.valueSize / 8) * 8 * numPossibleCpus()
      : this.valueSize;
  }

  #key(key: Uint8Array | null): Uint8Array {
    if (key === null) return new Uint8Array(0);
    if (key.length !== this.keySize) {
      throw new RangeError(
        `Map '${this.name}': key has ${key.length} bytes, expected ${this.keySize}`,
      );
    }
    return key;
  }

  /**
   * Reads a value.
   *
   * @param key the key (`keySize` bytes).
   * @returns a new array with the value, or undefined when there is no such key.
   * @throws {SyscallError} the kernel refused.
   */
  lookup(key: Uint8Array): Uint8Array | undefined {
    const out = new Uint8Array(this.valueBytes);
    return mapLookup(this.fd, this.#key(key), out) ? out : undefined;
  }

  /**
   * Writes a value.
   *
   * @param key the key.
   * @param value the value (`valueBytes` bytes).
   * @param flags BPF_ANY (0, default), BPF_NOEXIST (1), BPF_EXIST (2).
   * @throws {SyscallError} the kernel refused.
   */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    if (value.length !== this.valueBytes) {
      throw new RangeError(
        `Map '${this.name}': value has ${value.length} bytes, expected ${this.valueBytes}`,
      );
    }
    mapUpdate(this.fd, this.#key(key), value, flags);
  }

  /**
   * Deletes a key.
   *
   * @param key the key.
   * @returns false when there was no such key.
   * @throws {SyscallError} the kernel refused (arrays refuse with EINVAL).
   */
  delete(key: Uint8Array): boolean {
    return mapDelete(this.fd, this.#key(key));
  }

  /**
   * The key after `key`, or the first key when `key` is null.
   *
   * @param key the current key or null.
   * @returns the next key, or undefined at the end.
   */
  nextKey(key: Uint8Array | null): Uint8Array | undefined {
    const out = new Uint8Array(this.keySize);
    return mapGetNextKey(this.fd, key === null ? null : this.#key(key), out) ? out : undefined;
  }

  /** Every key, walked with BPF_MAP_GET_NEXT_KEY. */
  *keys(): Generator<Uint8Array> {
    let k = this.nextKey(null);
    while (k !== undefined) {
      yield k;
      k = this.nextKey(k);
    }
  }

  /** Every `[key, value]` pair (keys deleted meanwhile are skipped). */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  /**
   * Pins the map at `path` on a bpf filesystem.
   *
   * @param path the path.
   * @throws {SyscallError} the kernel refused (EEXIST...).
   */
  pin(path: string): void {
    objPin(this.fd, path);
  }

  /** Removes the pin at `path` (default: this map's pin path). */
  unpin(path = this.pinPath): void {
    if (path !== "") host().unlink(path);
  }

  /** Closes the fd. Safe to call twice. */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    fd?.close();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
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
    : e.code === "EINVAL"
    ? "; check the map's type, sizes, flags and max_entries"
    : "";
  return new SyscallError(`Creating map '${def.name}' failed: ${e.message}${hint}`, {
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
