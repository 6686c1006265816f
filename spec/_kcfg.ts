/**
 * libbpf's classification of a `.kconfig` extern's C type (`find_kcfg_type`). Pure: `open()` uses
 * it to refuse an unsupported type as libbpf does at open, and the loader to write values.
 *
 * @module
 */
import type { Btf } from "../btf/btf.ts";
import { BtfIntEncoding, BtfKind } from "../btf/types.ts";

/** How libbpf classifies a kconfig extern's C type. */
export type KcfgType = "unknown" | "bool" | "tristate" | "char" | "int" | "char_arr";

/**
 * Classifies a kconfig extern's value type as libbpf's `find_kcfg_type` does.
 *
 * @param btf the object's BTF.
 * @param id the value type id.
 * @returns the class and whether an int is signed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kcfgType } from "./_kcfg.ts";
 * import { open } from "./open.ts";
 * const spec = open("tests/bpf/build/externs.bpf.o");
 * const hz = spec.externs.find((e) => e.name === "CONFIG_HZ")!;
 * assert.equal(kcfgType(spec.btf!, hz.btfTypeId).type, "int");
 * spec.btf?.close();
 * ```
 */
export function kcfgType(btf: Btf, id: number): { type: KcfgType; signed: boolean } {
  const tid = btf.skipModsAndTypedefs(id);
  const t = btf.type(tid);
  switch (t.kind) {
    case BtfKind.Int: {
      const enc = t.encoding;
      if (enc & BtfIntEncoding.Bool) {
        return { type: t.size === 1 ? "bool" : "unknown", signed: false };
      }
      const signed = (enc & BtfIntEncoding.Signed) !== 0;
      if (t.size === 1) return { type: "char", signed };
      if (t.size < 1 || t.size > 8 || (t.size & (t.size - 1)) !== 0) {
        return { type: "unknown", signed };
      }
      return { type: "int", signed };
    }
    case BtfKind.Enum:
      return {
        type: t.size === 4 && t.name === "libbpf_tristate" ? "tristate" : "unknown",
        signed: false,
      };
    case BtfKind.Enum64:
      return { type: t.name === "libbpf_tristate" ? "tristate" : "unknown", signed: false };
    case BtfKind.Array: {
      if (t.nelems === 0 || kcfgType(btf, t.type).type !== "char") {
        return { type: "unknown", signed: false };
      }
      return { type: "char_arr", signed: false };
    }
    default:
      return { type: "unknown", signed: false };
  }
}
