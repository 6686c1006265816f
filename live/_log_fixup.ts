/**
 * libbpf's `fixup_verifier_log`: when the verifier stops at an instruction that CO-RE relocation
 * poisoned (`call unknown#195896080`), the two lines are replaced by what libbpf prints there:
 * `N: <invalid CO-RE relocation>` and `failed to resolve CO-RE relocation <spec>`.
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import { BTF_KIND_NAMES, BtfKind } from "../btf/types.ts";
import type { RelocatedProgram } from "../reloc/types.ts";
import type { ObjectSpec, ProgramSpec } from "../spec/types.ts";

const POISON = "195896080";

const RELO_KIND = [
  "byte_off",
  "byte_sz",
  "field_exists",
  "signed",
  "lshift_u64",
  "rshift_u64",
  "local_type_id",
  "target_type_id",
  "type_exists",
  "type_size",
  "enumval_exists",
  "enumval_value",
  "type_matches",
];

function isTypeBased(k: number): boolean {
  return k >= 6 && k <= 9 || k === 12;
}

/** libbpf's `bpf_core_format_spec` of one relocation, or undefined when its spec does not parse. */
export function formatCoreSpec(
  btf: Btf,
  r: { typeId: number; accessStr: string; kind: number },
): string | undefined {
  try {
    const root = btf.type(r.typeId);
    const name = root.name === "" ? "<anon>" : root.name;
    let out = `<${RELO_KIND[r.kind] ?? "unknown"}> [${r.typeId}] ${
      BTF_KIND_NAMES[root.kind].toLowerCase()
    } ${name}`;
    if (isTypeBased(r.kind)) return out;
    const raw = r.accessStr.split(":").map((x) => parseInt(x, 10));
    if (raw.some((x) => !Number.isInteger(x))) return undefined;
    if (r.kind === 10 || r.kind === 11) {
      const t = btf.type(btf.skipModsAndTypedefs(r.typeId));
      if (t.kind !== BtfKind.Enum && t.kind !== BtfKind.Enum64) return undefined;
      const e = t.values[raw[0]];
      return e === undefined ? undefined : `${out}::${e.name} = ${e.value}`;
    }
    let id = btf.skipModsAndTypedefs(r.typeId);
    let bitOffset = raw[0] * btf.resolveSize(id) * 8;
    const acc: { name: string; idx: number }[] = [{ name: "", idx: raw[0] }];
    for (let i = 1; i < raw.length; i++) {
      const t = btf.type(btf.skipModsAndTypedefs(id));
      if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) {
        const m = t.members[raw[i]];
        if (m === undefined) return undefined;
        bitOffset += m.bitOffset;
        if (m.name !== "") acc.push({ name: m.name, idx: raw[i] });
        id = m.type;
      } else if (t.kind === BtfKind.Array) {
        id = btf.skipModsAndTypedefs(t.type);
        acc.push({ name: "", idx: raw[i] });
        bitOffset += raw[i] * btf.resolveSize(id) * 8;
      } else return undefined;
    }
    acc.forEach((a, i) => {
      if (a.name !== "") out += `.${a.name}`;
      else if (i > 0 || a.idx > 0) out += `[${a.idx}]`;
    });
    const off = bitOffset % 8
      ? `${Math.floor(bitOffset / 8)}.${bitOffset % 8}`
      : `${bitOffset / 8}`;
    return `${out} (${raw.join(":")} @ offset ${off})`;
  } catch {
    return undefined;
  }
}

/**
 * Rewrites a failed CO-RE relocation's poisoned call in a verifier log as libbpf does.
 *
 * @param log the verifier log.
 * @param spec the object.
 * @param r the program's relocated instructions (its func_info says where each function went).
 * @param main the entry program.
 * @returns the log, patched when it ends at a poisoned CO-RE instruction.
 */
export function fixupVerifierLog(
  log: string,
  spec: ObjectSpec,
  r: RelocatedProgram,
  main: ProgramSpec,
): string {
  const lines = log.split("\n");
  const last = lines.length - 1;
  for (let i = last; i > Math.max(0, last - 10); i--) {
    if (lines[i] !== `invalid func unknown#${POISON}`) continue;
    const m = /^(\d+): \(\d+\) call unknown#195896080$/.exec(lines[i - 1] ?? "");
    if (!m || spec.btf === undefined) return log;
    const idx = Number(m[1]);
    const relo = findRelo(spec, r, main, idx);
    if (relo === undefined) return log;
    const text = formatCoreSpec(spec.btf, relo);
    if (text === undefined) return log;
    lines.splice(
      i - 1,
      2,
      `${idx}: <invalid CO-RE relocation>`,
      `failed to resolve CO-RE relocation ${text}`,
    );
    return lines.join("\n");
  }
  return log;
}

function findRelo(spec: ObjectSpec, r: RelocatedProgram, main: ProgramSpec, idx: number) {
  const btf = spec.btf!;
  // Which function holds instruction idx: the last func_info record at or before it.
  let fn: ProgramSpec = main;
  let start = 0;
  const dv = new DataView(r.funcInfo.buffer, r.funcInfo.byteOffset, r.funcInfo.byteLength);
  const rec = r.funcInfoRecSize || 8;
  for (let p = 0; p + 8 <= r.funcInfo.length; p += rec) {
    const off = dv.getUint32(p, true);
    if (off > idx) break;
    const name = btf.name(dv.getUint32(p + 4, true));
    const f = [...spec.programs, ...spec.subprograms].find((x) => x.name === name);
    if (f !== undefined) {
      fn = f;
      start = off;
    }
  }
  const want = (fn.sectionInsnOffset + idx - start) * 8;
  return spec.btfExt?.coreRelos.get(fn.section)?.find((c) => c.insnOff === want);
}
