/**
 * The kernel's numbers a user compares against, with short names: {@linkcode MapType}`.HASH`,
 * {@linkcode ProgType}`.XDP`, {@linkcode AttachType}`.CGROUP_INET_INGRESS`,
 * {@linkcode UpdateFlags}`.NOEXIST`, {@linkcode MapFlags}`.NO_PREALLOC`. Each is the UAPI enum
 * (`ffi/constants.ts`) with its `BPF_MAP_TYPE_` / `BPF_PROG_TYPE_` / `BPF_` / `BPF_F_` prefix
 * dropped; {@linkcode mapTypeName} turns a map type back into its short name.
 *
 * @example
 * ```ts
 * import { MapType, mapTypeName, UpdateFlags } from "./constants.ts";
 * if (MapType.HASH !== 1 || UpdateFlags.NOEXIST !== 1 || mapTypeName(27) !== "RINGBUF") {
 *   throw new Error("wrong numbers");
 * }
 * ```
 *
 * @module
 */
import {
  BpfAttachType,
  BpfLinkType,
  BpfMapFlags,
  BpfMapType,
  BpfProgType,
} from "./ffi/constants.ts";

/** An object's keys with a prefix dropped. */
export type Unprefixed<O, P extends string> = {
  readonly [K in keyof O as K extends `${P}${infer R}` ? R : never]: O[K];
};

function unprefix<O extends Record<string, number>, P extends string>(
  o: O,
  prefix: P,
): Unprefixed<O, P> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return Object.freeze(out) as Unprefixed<O, P>;
}

function namer(o: Record<string, number>): (n: number) => string {
  const names = new Map<number, string>();
  for (const [k, v] of Object.entries(o)) if (!names.has(v)) names.set(v, k);
  return (n) => names.get(n) ?? `unknown (${n})`;
}

/**
 * Map types (`enum bpf_map_type` without `BPF_MAP_TYPE_`), as `BpfMap.type` holds them.
 *
 * @example
 * ```ts
 * import { MapType } from "./constants.ts";
 * if (MapType.RINGBUF !== 27) throw new Error("wrong number");
 * ```
 */
export const MapType: Unprefixed<typeof BpfMapType, "BPF_MAP_TYPE_"> = unprefix(
  BpfMapType,
  "BPF_MAP_TYPE_",
);

/**
 * Program types (`enum bpf_prog_type` without `BPF_PROG_TYPE_`), as `BpfProgram.type` holds them.
 *
 * @example
 * ```ts
 * import { ProgType } from "./constants.ts";
 * if (ProgType.XDP !== 6) throw new Error("wrong number");
 * ```
 */
export const ProgType: Unprefixed<typeof BpfProgType, "BPF_PROG_TYPE_"> = unprefix(
  BpfProgType,
  "BPF_PROG_TYPE_",
);

/**
 * Attach types (`enum bpf_attach_type` without `BPF_`), as `BpfProgram.expectedAttachType` holds
 * them.
 *
 * @example
 * ```ts
 * import { AttachType } from "./constants.ts";
 * if (AttachType.CGROUP_INET_INGRESS !== 0 || AttachType.TRACE_FENTRY !== 24) {
 *   throw new Error("wrong number");
 * }
 * ```
 */
export const AttachType: Unprefixed<typeof BpfAttachType, "BPF_"> = unprefix(BpfAttachType, "BPF_");

/**
 * Link types (`enum bpf_link_type` without `BPF_LINK_TYPE_`).
 *
 * @example
 * ```ts
 * import { LinkType } from "./constants.ts";
 * if (LinkType.XDP !== 6) throw new Error("wrong number");
 * ```
 */
export const LinkType: Unprefixed<typeof BpfLinkType, "BPF_LINK_TYPE_"> = unprefix(
  BpfLinkType,
  "BPF_LINK_TYPE_",
);

/**
 * The flags of `BpfMap.update()` and the batch calls: `ANY` (create or replace), `NOEXIST` (create
 * only), `EXIST` (replace only), or-ed with `LOCK` for values with a `struct bpf_spin_lock`
 * (`LOCK` also goes to `lookup()`).
 *
 * @example
 * ```ts
 * import { UpdateFlags } from "./constants.ts";
 * if (UpdateFlags.ANY !== 0 || UpdateFlags.EXIST !== 2 || UpdateFlags.LOCK !== 4) {
 *   throw new Error("wrong number");
 * }
 * ```
 */
export const UpdateFlags: {
  readonly ANY: 0;
  readonly NOEXIST: 1;
  readonly EXIST: 2;
  readonly LOCK: 4;
} = Object.freeze({
  ANY: BpfMapFlags.BPF_ANY,
  NOEXIST: BpfMapFlags.BPF_NOEXIST,
  EXIST: BpfMapFlags.BPF_EXIST,
  LOCK: BpfMapFlags.BPF_F_LOCK,
});

/** `BpfMapFlags` without the update flags, which share numbers with creation flags. */
/** The map-creation flags of {@linkcode BpfMapFlags} (not the update flags). */
export type CreateFlags = Omit<
  typeof BpfMapFlags,
  "BPF_ANY" | "BPF_NOEXIST" | "BPF_EXIST" | "BPF_F_LOCK"
>;
const UPDATE_ONLY = new Set(["BPF_ANY", "BPF_NOEXIST", "BPF_EXIST", "BPF_F_LOCK"]);
const CREATE_FLAGS = Object.fromEntries(
  Object.entries(BpfMapFlags).filter(([k]) => !UPDATE_ONLY.has(k)),
) as unknown as CreateFlags;

/**
 * Map creation flags (`map_flags`, `BPF_F_` dropped), as `BpfMap.flags` holds them: `NO_PREALLOC`,
 * `RDONLY_PROG`, `MMAPABLE`, `INNER_MAP`...
 *
 * @example
 * ```ts
 * import { MapFlags } from "./constants.ts";
 * if (MapFlags.NO_PREALLOC !== 1 || MapFlags.MMAPABLE !== 1024) throw new Error("wrong number");
 * ```
 */
export const MapFlags: Unprefixed<CreateFlags, "BPF_F_"> = unprefix(CREATE_FLAGS, "BPF_F_");

/**
 * The short name of a map type.
 *
 * @param type the number.
 * @returns such as `HASH`, or `unknown (N)`.
 * @example
 * ```ts
 * import { mapTypeName } from "./constants.ts";
 * if (mapTypeName(1) !== "HASH") throw new Error("wrong name");
 * ```
 */
export const mapTypeName: (type: number) => string = namer(MapType);
