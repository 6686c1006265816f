/**
 * A tiny BTF writer for tests: builds raw BTF blobs type by type, including broken ones.
 *
 * @module
 */

/** A member of {@linkcode BtfBuilder.struct}: name, type id, bit offset, bitfield size. */
export type MemberSpec = [name: string, type: number, bitOffset: number, bitSize?: number];

/** Builds a BTF blob. Ids start at `startId` (1, or the base's type count for split BTF). */
export class BtfBuilder {
  /** The type section, one array of u32 words per type. */
  readonly types: number[][] = [];
  #strs: number[];
  #strIndex = new Map<string, number>();
  readonly startId: number;
  readonly strBase: number;

  /** For split BTF pass the base's type count and string section length. */
  constructor(opts: { startId?: number; strBase?: number } = {}) {
    this.startId = opts.startId ?? 1;
    this.strBase = opts.strBase ?? 0;
    this.#strs = this.strBase === 0 ? [0] : [];
    this.#strIndex.set("", 0);
  }

  /** The string section's bytes. */
  get strings(): number[] {
    return this.#strs;
  }

  /** Adds a string (deduplicated) and returns its offset. */
  str(s: string): number {
    const have = this.#strIndex.get(s);
    if (have !== undefined) return have;
    const off = this.strBase + this.#strs.length;
    for (const b of new TextEncoder().encode(s)) this.#strs.push(b);
    this.#strs.push(0);
    this.#strIndex.set(s, off);
    return off;
  }

  /** Adds raw words as a type and returns its id. */
  raw(words: number[]): number {
    this.types.push(words);
    return this.startId + this.types.length - 1;
  }

  static info(kind: number, vlen: number, kflag = false): number {
    return ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;
  }

  int(name: string, size: number, opts: { signed?: boolean; bits?: number; enc?: number } = {}) {
    const enc = opts.enc ?? (opts.signed ? 1 : 0);
    return this.raw([
      this.str(name),
      BtfBuilder.info(1, 0),
      size,
      (enc << 24) | (opts.bits ?? size * 8),
    ]);
  }
  ptr(type: number) {
    return this.raw([0, BtfBuilder.info(2, 0), type]);
  }
  array(elem: number, index: number, nelems: number) {
    return this.raw([0, BtfBuilder.info(3, 0), 0, elem, index, nelems]);
  }
  struct(name: string, size: number, members: MemberSpec[], union = false) {
    const kflag = members.some((m) => (m[3] ?? 0) !== 0);
    const words = [this.str(name), BtfBuilder.info(union ? 5 : 4, members.length, kflag), size];
    for (const [n, t, off, bits] of members) {
      words.push(this.str(n), t, kflag ? ((bits ?? 0) << 24) | off : off);
    }
    return this.raw(words);
  }
  enum(name: string, size: number, values: [string, number][], signed = false) {
    const words = [this.str(name), BtfBuilder.info(6, values.length, signed), size];
    for (const [n, v] of values) words.push(this.str(n), v >>> 0);
    return this.raw(words);
  }
  enum64(name: string, values: [string, bigint][], signed = false) {
    const words = [this.str(name), BtfBuilder.info(19, values.length, signed), 8];
    for (const [n, v] of values) {
      const u = BigInt.asUintN(64, v);
      words.push(this.str(n), Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this.raw(words);
  }
  fwd(name: string, union = false) {
    return this.raw([this.str(name), BtfBuilder.info(7, 0, union), 0]);
  }
  /** kind 8 typedef, 9 volatile, 10 const, 11 restrict, 18 type tag. */
  ref(kind: number, type: number, name = "") {
    return this.raw([this.str(name), BtfBuilder.info(kind, 0), type]);
  }
  typedef(name: string, type: number) {
    return this.ref(8, type, name);
  }
  func(name: string, proto: number, linkage = 1) {
    return this.raw([this.str(name), BtfBuilder.info(12, linkage), proto]);
  }
  proto(ret: number, params: [string, number][]) {
    const words = [0, BtfBuilder.info(13, params.length), ret];
    for (const [n, t] of params) words.push(this.str(n), t);
    return this.raw(words);
  }
  variable(name: string, type: number, linkage = 1) {
    return this.raw([this.str(name), BtfBuilder.info(14, 0), type, linkage]);
  }
  datasec(name: string, size: number, vars: [number, number, number][]) {
    const words = [this.str(name), BtfBuilder.info(15, vars.length), size];
    for (const v of vars) words.push(...v);
    return this.raw(words);
  }
  float(name: string, size: number) {
    return this.raw([this.str(name), BtfBuilder.info(16, 0), size]);
  }
  declTag(name: string, type: number, componentIdx: number) {
    return this.raw([this.str(name), BtfBuilder.info(17, 0), type, componentIdx >>> 0]);
  }

  /** The blob: a 24-byte header, the types, the strings. */
  build(): Uint8Array {
    const words = this.types.flat();
    const typeLen = words.length * 4;
    const strLen = this.#strs.length;
    const out = new Uint8Array(24 + typeLen + strLen);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, true);
    dv.setUint8(2, 1);
    dv.setUint32(4, 24, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, typeLen, true);
    dv.setUint32(16, typeLen, true);
    dv.setUint32(20, strLen, true);
    words.forEach((w, i) => dv.setUint32(24 + 4 * i, w >>> 0, true));
    out.set(this.#strs, 24 + typeLen);
    return out;
  }
}

/** The bytes of ELF section `name` in a little-endian ELF64 file, or undefined. */
export function elfSection(file: Uint8Array, name: string): Uint8Array | undefined {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const sh = (i: number) => shoff + i * shentsize;
  const strOff = Number(dv.getBigUint64(sh(shstrndx) + 0x18, true));
  const dec = new TextDecoder();
  for (let i = 1; i < shnum; i++) {
    const n = strOff + dv.getUint32(sh(i), true);
    const end = file.indexOf(0, n);
    if (dec.decode(file.subarray(n, end)) !== name) continue;
    const off = Number(dv.getBigUint64(sh(i) + 0x18, true));
    const size = Number(dv.getBigUint64(sh(i) + 0x20, true));
    return new Uint8Array(file.buffer.slice(file.byteOffset + off, file.byteOffset + off + size));
  }
  return undefined;
}
