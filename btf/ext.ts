/**
 * `.BTF.ext`: the per-section function info, line info and CO-RE relocation records that clang
 * writes beside `.BTF` in a BPF object.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { Core } from "../core-wasm/mod.ts";
import type { Btf } from "./btf.ts";

/** A func_info record: which BTF FUNC starts at an instruction. */
export interface BtfFuncInfo {
  /** Byte offset of the instruction in its section. */
  insnOff: number;
  /** The BTF FUNC type id. */
  typeId: number;
}

/** A line_info record: the source line of an instruction. */
export interface BtfLineInfo {
  /** Byte offset of the instruction in its section. */
  insnOff: number;
  /** String offset of the file name in the BTF. */
  fileNameOff: number;
  /** String offset of the source line text in the BTF. */
  lineOff: number;
  /** Line number. */
  line: number;
  /** Column number. */
  col: number;
}

/** A CO-RE relocation record. */
export interface BtfCoreRelo {
  /** Byte offset of the instruction in its section. */
  insnOff: number;
  /** The root type id in the object's BTF. */
  typeId: number;
  /** The access string, such as `0:1:2`. */
  accessStr: string;
  /** Where the access string is in the object's BTF string section (what the kernel takes). */
  accessStrOff: number;
  /** The relocation kind (`bpf_core_relo_kind`: 0 field byte offset ... 13 type matches). */
  kind: number;
}

/**
 * The decoded `.BTF.ext` of an object: records per ELF section name, in file order. The strings
 * and types its records name are in the object's {@linkcode Btf}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BtfExt } from "./ext.ts";
 * import { Btf } from "./btf.ts";
 * // Normally both come from an object's .BTF and .BTF.ext sections; this is an empty .BTF.ext.
 * const bytes = new Uint8Array(32);
 * const dv = new DataView(bytes.buffer);
 * dv.setUint16(0, 0xeb9f, true);
 * dv.setUint8(2, 1);
 * dv.setUint32(4, 32, true);
 * const ext = BtfExt.parse(bytes, Btf.kernel());
 * assert(ext.funcInfo.size === 0 && ext.coreRelos.size === 0);
 * ```
 */
export class BtfExt {
  /** func_info records by section name. */
  readonly funcInfo: Map<string, BtfFuncInfo[]> = new Map();
  /** line_info records by section name. */
  readonly lineInfo: Map<string, BtfLineInfo[]> = new Map();
  /** CO-RE relocation records by section name. */
  readonly coreRelos: Map<string, BtfCoreRelo[]> = new Map();
  /** The record sizes as stored: func_info, line_info, CO-RE relocation (0 when absent). */
  readonly recordSizes: { func: number; line: number; core: number } = {
    func: 0,
    line: 0,
    core: 0,
  };

  private constructor() {}

  /**
   * Decodes a `.BTF.ext` blob against its object's BTF.
   *
   * @param bytes The section's bytes.
   * @param btf The object's BTF (from its `.BTF` section), where the strings and types live.
   * @returns The decoded records; nothing to close.
   * @throws {BtfError} When the blob is malformed (names the offset at fault).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BtfExt } from "./ext.ts";
   * import { Btf } from "./btf.ts";
   * import { BtfError } from "../errors.ts";
   * try {
   *   BtfExt.parse(new Uint8Array(4), Btf.kernel());
   *   assert(false);
   * } catch (e) {
   *   assert(e instanceof BtfError);
   * }
   * ```
   */
  static parse(bytes: Uint8Array, btf: Btf): BtfExt {
    const core = Core.get();
    const buf = core.copyIn(bytes);
    try {
      const h = core.check(
        core.call(() => core.exports.btf_ext_parse(buf.ptr, buf.len, btf.handle) as number),
        "Parsing .BTF.ext",
      );
      try {
        return BtfExt.#decode(core, h, btf);
      } finally {
        core.exports.btf_ext_free(h);
      }
    } finally {
      core.free(buf);
    }
  }

  static #decode(core: Core, h: number, btf: Btf): BtfExt {
    const ext = new BtfExt();
    const desc = core.exports.btf_ext_info(h) as number;
    if (desc === 0) throw new BpfError("Internal error: bad .BTF.ext handle");
    const dv = core.dv();
    const kinds = [0, 1, 2].map((k) => ({
      recSize: dv.getUint32(desc + 12 * k, true),
      nsecs: dv.getUint32(desc + 12 * k + 4, true),
      secs: dv.getUint32(desc + 12 * k + 8, true),
    }));
    ext.recordSizes.func = kinds[0].recSize;
    ext.recordSizes.line = kinds[1].recSize;
    ext.recordSizes.core = kinds[2].recSize;
    for (let k = 0; k < 3; k++) {
      const { recSize, nsecs, secs } = kinds[k];
      for (let i = 0; i < nsecs; i++) {
        const name = btf.str(dv.getUint32(secs + 12 * i, true));
        let r = dv.getUint32(secs + 12 * i + 4, true);
        const n = dv.getUint32(secs + 12 * i + 8, true);
        const u = (o: number) => dv.getUint32(r + o, true);
        if (k === 0) {
          const list: BtfFuncInfo[] = ext.funcInfo.get(name) ?? [];
          for (let j = 0; j < n; j++, r += recSize) list.push({ insnOff: u(0), typeId: u(4) });
          ext.funcInfo.set(name, list);
        } else if (k === 1) {
          const list: BtfLineInfo[] = ext.lineInfo.get(name) ?? [];
          for (let j = 0; j < n; j++, r += recSize) {
            const lc = u(12);
            list.push({
              insnOff: u(0),
              fileNameOff: u(4),
              lineOff: u(8),
              line: lc >>> 10,
              col: lc & 0x3ff,
            });
          }
          ext.lineInfo.set(name, list);
        } else {
          const list: BtfCoreRelo[] = ext.coreRelos.get(name) ?? [];
          for (let j = 0; j < n; j++, r += recSize) {
            list.push({
              insnOff: u(0),
              typeId: u(4),
              accessStr: btf.str(u(8)),
              accessStrOff: u(8),
              kind: u(12),
            });
          }
          ext.coreRelos.set(name, list);
        }
      }
    }
    return ext;
  }
}
