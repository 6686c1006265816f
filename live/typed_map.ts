/**
 * {@linkcode TypedMap}: a {@linkcode BpfMap} read and written as TypeScript values, through codecs
 * built from the BTF types of its key and value (`btf/codec.ts`). Made by `BpfMap.typed()`; the
 * generated skeleton can type each map as `TypedMap<Key, Value>` with the key and value types it
 * generates from the same BTF.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import type { Btf } from "../btf/btf.ts";
import { type Codec, codecFor } from "../btf/codec.ts";
import type { BpfMap } from "./map.ts";

/**
 * A map seen through codecs: keys of type `K`, values of type `V` (per-CPU maps: one `V` per
 * possible CPU through the `...PerCpu` calls). Each call encodes into one key and one value buffer
 * that the view keeps and reuses, so a lookup allocates only the decoded value.
 *
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
export class TypedMap<K, V> {
  /** The map underneath (its byte API stays usable). */
  readonly map: BpfMap;
  /** The key's codec. */
  readonly keyCodec: Codec<K>;
  /** The value's codec. */
  readonly valueCodec: Codec<V>;
  readonly #key: Uint8Array;
  readonly #keyView: DataView;
  readonly #value: Uint8Array;
  readonly #valueView: DataView;

  /**
   * Builds the view.
   *
   * @param map the map.
   * @param key the key's codec (its size must be the map's key size).
   * @param value the value's codec (its size must be the map's value size).
   * @throws {BpfError} the codecs' sizes do not match the map.
   */
  constructor(map: BpfMap, key: Codec<K>, value: Codec<V>) {
    if (key.size !== map.keySize || value.size !== map.valueSize) {
      throw new BpfError(
        `Map '${map.name}': its key and value are ${map.keySize} and ${map.valueSize} bytes, the ` +
          `codecs ${key.size} and ${value.size}; pass codecs of the map's own BTF types`,
      );
    }
    this.map = map;
    this.keyCodec = key;
    this.valueCodec = value;
    this.#key = new Uint8Array(map.keySize);
    this.#keyView = new DataView(this.#key.buffer);
    this.#value = new Uint8Array(map.valueBytes);
    this.#valueView = new DataView(this.#value.buffer);
  }

  /**
   * Builds the view from a BTF and the map's key and value type ids.
   *
   * @param map the map.
   * @param btf the BTF the ids belong to.
   * @param keyTypeId the key's type id (0: the map has no key, as queues).
   * @param valueTypeId the value's type id.
   * @returns the view.
   * @throws {CodecError} a type cannot be encoded.
   */
  static fromBtf<K, V>(
    map: BpfMap,
    btf: Btf,
    keyTypeId: number,
    valueTypeId: number,
  ): TypedMap<K, V> {
    const key = keyTypeId === 0 ? (EMPTY as unknown as Codec<K>) : codecFor<K>(btf, keyTypeId);
    return new TypedMap(map, key, codecFor<V>(btf, valueTypeId));
  }

  #encodeKey(key: K): Uint8Array {
    this.keyCodec.encode(key, this.#keyView, 0);
    return this.#key;
  }

  /**
   * Reads a value.
   *
   * @param key the key.
   * @param flags `UpdateFlags.LOCK` or 0.
   * @returns the decoded value, or undefined when there is no such key.
   * @throws {BpfError} for a per-CPU map (use `lookupPerCpu`).
   */
  lookup(key: K, flags = 0): V | undefined {
    this.#notPerCpu("lookup");
    if (!this.map.lookupInto(this.#encodeKey(key), this.#value, flags)) return undefined;
    return this.valueCodec.decode(this.#valueView, 0);
  }

  /**
   * Writes a value.
   *
   * @param key the key.
   * @param value the value.
   * @param flags `UpdateFlags` (`ANY`, `NOEXIST`, `EXIST`, with `LOCK`).
   */
  update(key: K, value: V, flags = 0): void {
    this.#notPerCpu("update");
    this.valueCodec.encode(value, this.#valueView, 0);
    this.map.update(this.#encodeKey(key), this.#value, flags);
  }

  /**
   * Deletes a key.
   *
   * @param key the key.
   * @returns false when there was no such key.
   */
  delete(key: K): boolean {
    return this.map.delete(this.#encodeKey(key));
  }

  /**
   * Reads a per-CPU value: one decoded value per possible CPU.
   *
   * @param key the key.
   * @returns the values, or undefined when there is no such key.
   */
  lookupPerCpu(key: K): V[] | undefined {
    this.#perCpu("lookupPerCpu");
    if (!this.map.lookupInto(this.#encodeKey(key), this.#value)) return undefined;
    return this.#decodePerCpu(this.#valueView);
  }

  /**
   * Writes a per-CPU value.
   *
   * @param key the key.
   * @param values one value per possible CPU, or one for all of them.
   * @param flags update flags.
   */
  updatePerCpu(key: K, values: V[], flags = 0): void {
    this.#perCpu("updatePerCpu");
    const n = this.#cpus();
    if (values.length !== n && values.length !== 1) {
      throw new RangeError(`Map '${this.map.name}': ${values.length} values, expected ${n}`);
    }
    this.#value.fill(0);
    for (let i = 0; i < n; i++) {
      this.valueCodec.encode(
        values[values.length === 1 ? 0 : i],
        this.#valueView,
        i * this.map.perCpuSlot,
      );
    }
    this.map.update(this.#encodeKey(key), this.#value, flags);
  }

  #decodePerCpu(view: DataView, base = 0): V[] {
    const out: V[] = [];
    const slot = this.map.perCpuSlot;
    for (let i = 0, n = this.#cpus(); i < n; i++) {
      out.push(this.valueCodec.decode(view, base + i * slot));
    }
    return out;
  }

  /** Every key, decoded (batch reads where the kernel has them). */
  *keys(): Generator<K> {
    for (const k of this.map.keys()) yield this.keyCodec.fromBytes(k);
  }

  /** Every `[key, value]`, decoded; per-CPU maps give `[key, V[]]` through `entriesPerCpu()`. */
  *entries(): Generator<[K, V]> {
    this.#notPerCpu("entries");
    for (const [k, v] of this.map.entries()) {
      yield [this.keyCodec.fromBytes(k), this.valueCodec.fromBytes(v)];
    }
  }

  /** Every `[key, one value per CPU]` of a per-CPU map. */
  *entriesPerCpu(): Generator<[K, V[]]> {
    this.#perCpu("entriesPerCpu");
    for (const [k, v] of this.map.entries()) {
      yield [this.keyCodec.fromBytes(k), this.#decodePerCpu(new DataView(v.buffer, v.byteOffset))];
    }
  }

  #cpus(): number {
    return this.map.valueBytes / this.map.perCpuSlot;
  }

  #perCpu(what: string): void {
    if (!this.map.perCpu) {
      throw new BpfError(`Map '${this.map.name}' is not per-CPU; ${what} needs a per-CPU map`);
    }
  }

  #notPerCpu(what: string): void {
    if (this.map.perCpu) {
      throw new BpfError(
        `Map '${this.map.name}' is per-CPU; use ${
          what === "entries" ? "entriesPerCpu" : `${what}PerCpu`
        }`,
      );
    }
  }
}

/** The codec of a map without keys (queues, stacks, bloom filters). */
const EMPTY: Codec<null> = {
  typeId: 0,
  name: "",
  size: 0,
  align: 1,
  decode: () => null,
  encode: () => {},
  fromBytes: () => null,
  toBytes: () => new Uint8Array(0),
} as unknown as Codec<null>;
