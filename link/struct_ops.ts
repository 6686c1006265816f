/**
 * struct_ops maps: registering one (a BPF_STRUCT_OPS link for maps made with BPF_F_LINK, else the
 * map update that registers it) and unregistering it when the link closes.
 *
 * @module
 */
import { linkCreate, mapDelete, mapInfo, mapUpdate } from "../ffi/bpf.ts";
import { BpfAttachType, BpfMapFlags } from "../ffi/constants.ts";
import { BpfLink } from "./link.ts";

/**
 * Registers a struct_ops map (libbpf's `bpf_map__attach_struct_ops`).
 *
 * @param map the STRUCT_OPS map's fd and name.
 * @param value the kernel value to write first (maps without BPF_F_LINK register on this
 *   update); omit it when the loader wrote it already.
 * @returns the link: closing it unregisters (link close, or delete of key 0).
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileSync } from "node:fs";
 * import { attachStructOps } from "./struct_ops.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/load_struct_ops.bpf.o");
 * obj.load();
 * const map = obj.map("tsbpf_cc"); // a tcp_congestion_ops named "tsbpf_cc"
 * {
 *   using link = attachStructOps(map, obj.structOpsValue("tsbpf_cc"));
 *   const avail = () => readFileSync("/proc/sys/net/ipv4/tcp_available_congestion_control", "utf8");
 *   assert.match(avail(), /\btsbpf_cc\b/);
 *   link.close();
 *   assert.doesNotMatch(avail(), /\btsbpf_cc\b/);
 * }
 * ```
 */
export function attachStructOps(
  map: { fd: number; name?: string },
  value?: Uint8Array,
): BpfLink {
  const flags = mapInfo(map.fd).flags;
  const key = new Uint8Array(4);
  if (value !== undefined) mapUpdate(map.fd, key, value);
  if ((flags & BpfMapFlags.BPF_F_LINK) !== 0) {
    const fd = linkCreate(map.fd, 0, BpfAttachType.BPF_STRUCT_OPS);
    return new BpfLink({
      kind: "struct_ops",
      program: map.name ?? "",
      target: map.name ?? "struct_ops",
      fd,
      bpfLink: true,
    });
  }
  return new BpfLink({
    kind: "struct_ops",
    program: map.name ?? "",
    target: map.name ?? "struct_ops",
    bpfLink: false,
    undo: () => void mapDelete(map.fd, key),
  });
}
