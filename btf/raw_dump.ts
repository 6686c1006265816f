/**
 * The raw BTF dump: the same text `bpftool btf dump file FILE` (format raw) prints, byte for byte
 * (but for control characters in names, which are escaped as `\xNN`).
 *
 * @module
 */
import { escapeControl } from "../errors.ts";
import type { Btf } from "./btf.ts";
import { BTF_KIND_NAMES, BtfKind } from "./types.ts";

const INT_ENCODINGS: Record<number, string> = { 0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL" };
const LINKAGES = ["static", "global", "extern"];

// Names are the object's: their control characters (newlines included) are escaped, so a crafted
// name cannot forge a line or drive the terminal. Other names print as bpftool prints them.
function quoted(btf: Btf, nameOff: number): string {
  return nameOff === 0
    ? "'(anon)'"
    : btf.hasStr(nameOff)
    ? `'${escapeControl(btf.str(nameOff))}'`
    : "'(invalid)'";
}

/**
 * Prints the types of `btf` as `bpftool btf dump file FILE` does: one `[id] KIND 'name' ...` line
 * per type, members, values and parameters on tab-indented lines. For split BTF only its own types
 * are printed, as `bpftool btf dump -B BASE file FILE` does.
 *
 * @param btf The BTF to print.
 * @returns The text, ending with a newline (empty for a BTF with no types).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Btf } from "./btf.ts";
 * import { dumpRaw } from "./raw_dump.ts";
 * const text = dumpRaw(Btf.kernel());
 * assert(text.startsWith("[1] "));
 * ```
 */
export function dumpRaw(btf: Btf): string {
  const parts: string[] = [];
  for (let id = btf.startId; id < btf.typeCount; id++) parts.push(dumpType(btf, id));
  return parts.join("");
}

/** One type's lines, as bpftool prints them, with the final newline. */
export function dumpType(btf: Btf, id: number): string {
  const { dv, offset: p } = btf.record(id);
  const u = (o: number) => dv.getUint32(p + o, true);
  const info = u(4);
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const kflag = (info >>> 31) === 1;
  const st = u(8);
  // Names are looked up first: str() may call into the core and move its memory.
  let s = `[${id}] ${BTF_KIND_NAMES[kind] ?? "UNKNOWN"} ${quoted(btf, u(0))}`;
  switch (kind) {
    case BtfKind.Int: {
      const v = u(12);
      s += ` size=${st} bits_offset=${(v >>> 16) & 0xff} nr_bits=${v & 0xff} encoding=${
        INT_ENCODINGS[(v >>> 24) & 0x0f] ?? "UNKN"
      }`;
      break;
    }
    case BtfKind.Ptr:
    case BtfKind.Const:
    case BtfKind.Volatile:
    case BtfKind.Restrict:
    case BtfKind.Typedef:
    case BtfKind.TypeTag:
      s += ` type_id=${st}`;
      break;
    case BtfKind.Array:
      s += ` type_id=${u(12)} index_type_id=${u(16)} nr_elems=${u(20)}`;
      break;
    case BtfKind.Struct:
    case BtfKind.Union:
      s += ` size=${st} vlen=${vlen}`;
      for (let i = 0, m = 12; i < vlen; i++, m += 12) {
        const off = u(m + 8);
        s += `\n\t${quoted(btf, u(m))} type_id=${u(m + 4)} bits_offset=${
          kflag ? off & 0xffffff : off
        }`;
        if (kflag && off >>> 24 !== 0) s += ` bitfield_size=${off >>> 24}`;
      }
      break;
    case BtfKind.Enum:
      s += ` encoding=${kflag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`;
      for (let i = 0, m = 12; i < vlen; i++, m += 8) {
        s += `\n\t${quoted(btf, u(m))} val=${kflag ? dv.getInt32(p + m + 4, true) : u(m + 4)}`;
      }
      break;
    case BtfKind.Enum64:
      s += ` encoding=${kflag ? "SIGNED" : "UNSIGNED"} size=${st} vlen=${vlen}`;
      for (let i = 0, m = 12; i < vlen; i++, m += 12) {
        const v = (BigInt(u(m + 8)) << 32n) | BigInt(u(m + 4));
        s += `\n\t${quoted(btf, u(m))} val=${kflag ? `${BigInt.asIntN(64, v)}LL` : `${v}ULL`}`;
      }
      break;
    case BtfKind.Fwd:
      s += ` fwd_kind=${kflag ? "union" : "struct"}`;
      break;
    case BtfKind.Func:
      s += ` type_id=${st} linkage=${LINKAGES[vlen] ?? "(unknown)"}`;
      break;
    case BtfKind.FuncProto:
      s += ` ret_type_id=${st} vlen=${vlen}`;
      for (let i = 0, m = 12; i < vlen; i++, m += 8) {
        s += `\n\t${quoted(btf, u(m))} type_id=${u(m + 4)}`;
      }
      break;
    case BtfKind.Var:
      s += ` type_id=${st}, linkage=${LINKAGES[u(12)] ?? "(unknown)"}`;
      break;
    case BtfKind.Datasec:
      s += ` size=${st} vlen=${vlen}`;
      for (let i = 0, m = 12; i < vlen; i++, m += 12) {
        const vt = u(m);
        s += `\n\ttype_id=${vt} offset=${u(m + 4)} size=${u(m + 8)}`;
        if (vt < btf.typeCount) {
          s += ` (${BTF_KIND_NAMES[btf.kind(vt)] ?? "UNKNOWN"} ${quoted(btf, btf.nameOff(vt))})`;
        }
      }
      break;
    case BtfKind.Float:
      s += ` size=${st}`;
      break;
    case BtfKind.DeclTag:
      s += ` type_id=${st} component_idx=${dv.getInt32(p + 12, true)}`;
      break;
    default:
      break;
  }
  return s + "\n";
}
