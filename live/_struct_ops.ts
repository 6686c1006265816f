/**
 * struct_ops maps at load, as libbpf 1.1's `bpf_map__init_kern_struct_ops`: the kernel struct and
 * its `bpf_struct_ops_<name>` value type, the value image with the object's data members copied
 * to the kernel's offsets, and for each function-pointer member the program's attach BTF id (the
 * kernel struct) and expected attach type (the member's index). Program fds are written into the
 * image after the programs load; the image is what registering the map writes (at attach).
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import { BtfKind } from "../btf/types.ts";
import { BpfError } from "../errors.ts";
import type { MapSpec } from "../spec/types.ts";

/** A struct_ops map resolved against the kernel's BTF. */
export interface KernStructOps {
  /** The kernel struct's type id (programs' attach_btf_id). */
  typeId: number;
  /** `bpf_struct_ops_<name>`'s type id (the map's btf_vmlinux_value_type_id). */
  valueTypeId: number;
  /** The map's value size (the value type's size). */
  valueSize: number;
  /** The value image: data members copied, function pointers still zero. */
  value: Uint8Array;
  /** Program name → its member's index in the kernel struct and the byte offset in `value`. */
  progs: Map<string, { memberIndex: number; offset: number }[]>;
}

function err(map: string, msg: string): BpfError {
  return new BpfError(`struct_ops map '${map}': ${msg}`);
}

/**
 * Resolves one struct_ops map against the kernel's BTF.
 *
 * @param m the map's spec (with `structOps`).
 * @param local the object's BTF.
 * @param kern the kernel's BTF (vmlinux).
 * @returns the kernel layout and value image.
 * @throws {BpfError} the kernel lacks the struct or a member, or a member's kind or size differs.
 */
export function initKernStructOps(m: MapSpec, local: Btf, kern: Btf): KernStructOps {
  const so = m.structOps!;
  const typeId = kern.findByName(so.typeName, BtfKind.Struct);
  if (typeId <= 0) throw err(m.name, `struct ${so.typeName} is not found in kernel BTF`);
  const valueTypeId = kern.findByName(`bpf_struct_ops_${so.typeName}`, BtfKind.Struct);
  if (valueTypeId <= 0) {
    throw err(m.name, `struct bpf_struct_ops_${so.typeName} is not found in kernel BTF`);
  }
  const ktype = kern.type(typeId);
  const vtype = kern.type(valueTypeId);
  if (ktype.kind !== BtfKind.Struct || vtype.kind !== BtfKind.Struct) {
    throw err(m.name, "bad kernel types");
  }
  const dataMember = vtype.members.find((x) => x.type === typeId);
  if (dataMember === undefined) {
    throw err(
      m.name,
      `struct ${so.typeName} data is not found in struct bpf_struct_ops_${so.typeName}`,
    );
  }
  const value = new Uint8Array(vtype.size);
  const dataOff = dataMember.bitOffset / 8;
  const ltype = local.type(so.btfTypeId);
  if (ltype.kind !== BtfKind.Struct) throw err(m.name, `local type ${so.typeName} is not a struct`);
  const progs = new Map<string, { memberIndex: number; offset: number }[]>();
  ltype.members.forEach((member, i) => {
    const kidx = ktype.members.findIndex((k) => k.name === member.name);
    if (kidx < 0) throw err(m.name, `cannot find member ${member.name} in kernel BTF`);
    const km = ktype.members[kidx];
    if (member.bitSize !== 0 || km.bitSize !== 0) {
      throw err(m.name, `bitfield ${member.name} is not supported`);
    }
    const moff = member.bitOffset / 8;
    const kmoff = km.bitOffset / 8;
    const mt = local.skipModsAndTypedefs(member.type);
    const kmt = kern.skipModsAndTypedefs(km.type);
    if (local.kind(mt) !== kern.kind(kmt)) {
      throw err(
        m.name,
        `unmatched member type ${member.name} ${local.kind(mt)} != ${kern.kind(kmt)}(kernel)`,
      );
    }
    if (local.kind(mt) === BtfKind.Ptr) {
      const p = so.progs.find((x) => x.memberIndex === i);
      if (p === undefined) return;
      if (kern.kind(kern.skipModsAndTypedefs(kern.refType(kmt))) !== BtfKind.FuncProto) {
        throw err(m.name, `kernel member ${member.name} is not a func ptr`);
      }
      const list = progs.get(p.program) ?? [];
      list.push({ memberIndex: kidx, offset: dataOff + kmoff });
      progs.set(p.program, list);
      return;
    }
    const size = local.resolveSize(mt);
    const ksize = kern.resolveSize(kmt);
    if (size !== ksize) {
      throw err(m.name, `error in size of member ${member.name}: ${size} != ${ksize}(kernel)`);
    }
    value.set(so.data.subarray(moff, moff + size), dataOff + kmoff);
  });
  return { typeId, valueTypeId, valueSize: vtype.size, value, progs };
}
