/**
 * `.kconfig` externs: values from the kernel's configuration (`/boot/config-$(uname -r)`, else
 * `/proc/config.gz`) and libbpf's virtual `LINUX_*` ones, written into the `.kconfig` map image at
 * each extern's offset with libbpf's type checks and errors.
 *
 * @module
 */
import { host, utf8 } from "../_host.ts";
import type { Btf } from "../btf/btf.ts";
import { BpfError, NotSupportedError } from "../errors.ts";
import type { ExternSpec } from "../spec/types.ts";

import { type KcfgType, kcfgType } from "../spec/_kcfg.ts";
export { type KcfgType, kcfgType };

/** libbpf's `enum libbpf_tristate` values. */
export const Tristate = { No: 0, Yes: 1, Module: 2 } as const;

/**
 * `KERNEL_VERSION(a, b, c)` of the running kernel, as libbpf's `get_kernel_version()`:
 * `/proc/version_signature` (Ubuntu) first, then `uname -r`.
 *
 * @param release the `uname` release string.
 * @returns the version code, 0 when it cannot be parsed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelVersionCode } from "./kconfig.ts";
 * // 6.1.0 is 0x060100, unless /proc/version_signature (Ubuntu) names another version
 * const code = kernelVersionCode("6.1.0");
 * assert(code > 0 && code < 2 ** 24);
 * ```
 */
export function kernelVersionCode(release: string): number {
  if (versionSignature === undefined) {
    // Read once per process: the file does not change while the kernel runs, and the failing read
    // (every kernel but Ubuntu's) costs a thrown error per program load.
    try {
      versionSignature = host().readText("/proc/version_signature");
    } catch {
      versionSignature = null; // not Ubuntu
    }
  }
  if (versionSignature !== null) {
    const m = /^\S+\s+\S+\s+(\d+)\.(\d+)\.(\d+)/.exec(versionSignature);
    if (m) return code(+m[1], +m[2], +m[3]);
  }
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(release);
  return m ? code(+m[1], +m[2], +m[3]) : 0;
}

let versionSignature: string | null | undefined;

function code(a: number, b: number, c: number): number {
  return a * 65536 + b * 256 + Math.min(c, 255);
}

let configCache: Map<string, string> | undefined;

/**
 * The kernel configuration as `CONFIG_X` → raw value, read once per process from
 * `/boot/config-<release>` or else `/proc/config.gz`.
 *
 * @param release the `uname` release.
 * @returns the map.
 * @throws {NotSupportedError} neither file exists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readKernelConfig } from "./kconfig.ts";
 * import { getSys } from "../ffi/runtime.ts";
 * const config = readKernelConfig(getSys().uname().release);
 * assert.equal(config.get("CONFIG_BPF_SYSCALL"), "y");
 * ```
 */
export function readKernelConfig(release: string): Map<string, string> {
  if (configCache !== undefined) return configCache;
  // zlib only when a config is read (host().gunzip loads it then): importing it costs Deno and
  // Bun several milliseconds at startup, which every program would pay for the few objects with
  // kconfig externs.
  const gunzipSync = (b: Uint8Array) => host().gunzip(b);
  let text: string;
  const boot = `/boot/config-${release}`;
  if (host().exists(boot)) {
    const raw = host().readFile(boot);
    text = utf8(raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw);
  } else if (host().exists("/proc/config.gz")) {
    text = utf8(gunzipSync(host().readFile("/proc/config.gz")));
  } else {
    throw new NotSupportedError(
      "kernel config",
      `Reading the kernel config failed: neither ${boot} nor /proc/config.gz exists; enable CONFIG_IKCONFIG_PROC or install the config file`,
    );
  }
  configCache = parseKconfig(text, "the kernel config");
  return configCache;
}

/**
 * Parses kernel-config text (`CONFIG_X=value` lines; others are ignored) as libbpf does.
 *
 * @param text the text.
 * @param what what it is, for errors.
 * @returns `CONFIG_X` → raw value (`y`, `m`, `n`, `"string"`, a number).
 * @throws {BpfError} a `CONFIG_` line with no `=` or no value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseKconfig } from "./kconfig.ts";
 * assert(parseKconfig("CONFIG_HZ=250\n# CONFIG_X is not set\n", "test").get("CONFIG_HZ") === "250");
 * ```
 */
export function parseKconfig(text: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith("CONFIG_")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new BpfError(`Parsing ${what} failed at '${line}': no separator`);
    const v = line.slice(eq + 1);
    if (v === "") throw new BpfError(`Parsing ${what} failed at '${line}': no value`);
    out.set(line.slice(0, eq), v);
  }
  return out;
}

/** What the virtual externs resolve to; supplied by the loader from its probes. */
export interface KconfigEnv {
  /** The `uname` release. */
  release: string;
  /** LINUX_HAS_BPF_COOKIE. */
  hasBpfCookie: () => boolean;
  /** LINUX_HAS_SYSCALL_WRAPPER. */
  hasSyscallWrapper: () => boolean;
  /**
   * Extra `CONFIG_X=value` lines (libbpf's `kconfig` open option), used before the kernel's
   * config file, which is then read only for externs these lines do not set.
   */
  extra?: string;
}

function err(ext: ExternSpec, msg: string): BpfError {
  return new BpfError(`Extern (kcfg) '${ext.name}': ${msg}`);
}

function setNum(
  ext: ExternSpec,
  kt: { type: KcfgType; signed: boolean },
  img: Uint8Array,
  value: bigint,
): void {
  if (kt.type !== "int" && kt.type !== "char" && kt.type !== "bool") {
    throw err(ext, `value '${value}' implies integer, char, or boolean type`);
  }
  if (kt.type === "bool" && value > 1n) throw err(ext, `value '${value}' isn't boolean compatible`);
  const bits = BigInt(ext.size * 8);
  if (ext.size !== 8) {
    const ok = kt.signed
      ? BigInt.asUintN(64, value + (1n << (bits - 1n))) < (1n << bits)
      : (value >> bits) === 0n;
    if (!ok) throw err(ext, `value '${value}' doesn't fit in ${ext.size} bytes`);
  }
  const dv = new DataView(img.buffer, img.byteOffset + ext.offset, ext.size);
  switch (ext.size) {
    case 1:
      dv.setUint8(0, Number(value & 0xffn));
      break;
    case 2:
      dv.setUint16(0, Number(value & 0xffffn), true);
      break;
    case 4:
      dv.setUint32(0, Number(value & 0xffffffffn), true);
      break;
    case 8:
      dv.setBigUint64(0, BigInt.asUintN(64, value), true);
      break;
    default:
      throw err(ext, `unsupported size ${ext.size}`);
  }
}

function setTri(ext: ExternSpec, kt: KcfgType, img: Uint8Array, v: string): void {
  const at = ext.offset;
  switch (kt) {
    case "bool":
      if (v === "m") throw err(ext, `value '${v}' implies tristate or char type`);
      img[at] = v === "y" ? 1 : 0;
      return;
    case "tristate":
      new DataView(img.buffer, img.byteOffset + at, 4).setUint32(
        0,
        v === "y" ? Tristate.Yes : v === "m" ? Tristate.Module : Tristate.No,
        true,
      );
      return;
    case "char":
      img[at] = v.charCodeAt(0);
      return;
    default:
      throw err(ext, `value '${v}' implies bool, tristate, or char type`);
  }
}

function setStr(ext: ExternSpec, kt: KcfgType, img: Uint8Array, v: string): void {
  if (kt !== "char_arr") throw err(ext, `value '${v}' implies char array type`);
  if (!v.endsWith('"') || v.length < 2) throw err(ext, `invalid string config '${v}'`);
  let bytes = new TextEncoder().encode(v.slice(1, -1));
  if (bytes.length >= ext.size) bytes = bytes.subarray(0, ext.size - 1);
  img.set(bytes, ext.offset);
  img[ext.offset + bytes.length] = 0;
}

function parseU64(s: string): bigint | undefined {
  // strtoull(value, &end, 0): optional sign, 0x hex, leading 0 octal, decimal
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2];
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body[0] === "0") v = BigInt("0o" + body.slice(1));
  else v = BigInt(body);
  if (m[1] === "-") v = -v;
  return BigInt.asUintN(64, v);
}

/**
 * Fills every `.kconfig` extern of an object into the `.kconfig` image, as libbpf's
 * `bpf_object__resolve_externs` does for kcfg externs.
 *
 * @param btf the object's BTF.
 * @param externs the object's externs (only `kind: "kconfig"` ones are used).
 * @param img the `.kconfig` section image (written in place).
 * @param env the virtual values.
 * @returns the names of the externs it set.
 * @throws {BpfError} a value that does not fit the extern's type, an unknown `LINUX_` extern, or a
 *   strong `CONFIG_` extern the kernel config lacks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveKconfig } from "./kconfig.ts";
 * import { open } from "../spec/open.ts";
 * const spec = open("tests/bpf/build/externs.bpf.o");
 * const img = new Uint8Array(spec.datasecs.find((d) => d.name === ".kconfig")!.size);
 * const set = resolveKconfig(spec.btf!, spec.externs, img, {
 *   release: "6.18.0",
 *   hasBpfCookie: () => true,
 *   hasSyscallWrapper: () => true,
 *   extra: "CONFIG_HZ=250\nCONFIG_BPF_SYSCALL=y\n",
 * });
 * assert(set.has("LINUX_KERNEL_VERSION") && set.has("CONFIG_HZ"));
 * spec.btf?.close();
 * ```
 */
export function resolveKconfig(
  btf: Btf,
  externs: readonly ExternSpec[],
  img: Uint8Array,
  env: KconfigEnv,
): Set<string> {
  const set = new Set<string>();
  const needConfig: ExternSpec[] = [];
  for (const ext of externs) {
    if (ext.kind !== "kconfig") continue;
    if (ext.offset < 0 || ext.offset + ext.size > img.length) {
      throw err(ext, `offset ${ext.offset} is outside the .kconfig data`);
    }
    const kt = kcfgType(btf, ext.btfTypeId);
    if (ext.name.startsWith("CONFIG_")) {
      needConfig.push(ext);
      continue;
    }
    let value: bigint;
    if (ext.name === "LINUX_KERNEL_VERSION") {
      const v = kernelVersionCode(env.release);
      if (v === 0) throw err(ext, "failed to get kernel version");
      value = BigInt(v);
    } else if (ext.name === "LINUX_HAS_BPF_COOKIE") {
      value = env.hasBpfCookie() ? 1n : 0n;
    } else if (ext.name === "LINUX_HAS_SYSCALL_WRAPPER") {
      value = env.hasSyscallWrapper() ? 1n : 0n;
    } else if (!ext.name.startsWith("LINUX_") || !ext.weak) {
      throw err(ext, "unrecognized virtual extern; only CONFIG_ and known LINUX_ externs exist");
    } else {
      continue; // weak unknown LINUX_*: stays zero
    }
    setNum(ext, kt, img, value);
    set.add(ext.name);
  }
  if (needConfig.length > 0) {
    const extra = env.extra
      ? parseKconfig(env.extra, "the kconfig option")
      : new Map<string, string>();
    const config = needConfig.every((e) => extra.has(e.name))
      ? new Map<string, string>()
      : readKernelConfig(env.release);
    for (const ext of needConfig) {
      const v = extra.get(ext.name) ?? config.get(ext.name);
      if (v === undefined) continue;
      const kt = kcfgType(btf, ext.btfTypeId);
      if (v === "y" || v === "n" || v === "m") setTri(ext, kt.type, img, v);
      else if (v.startsWith('"')) setStr(ext, kt.type, img, v);
      else {
        const n = parseU64(v);
        if (n === undefined) throw err(ext, `value '${v}' isn't a valid integer`);
        if (kt.type !== "int" && kt.type !== "char") {
          throw err(ext, `value '${v}' implies integer type`);
        }
        setNum(ext, kt, img, n);
      }
      set.add(ext.name);
    }
  }
  return set;
}
