/**
 * Live objects: {@linkcode BpfObject} (open, load, close), {@linkcode BpfMap},
 * {@linkcode BpfProgram}, kernel feature probes, and the loader's kernel lookups (kconfig, ksyms,
 * kernel BTF).
 *
 * @module
 */
export * from "./object.ts";
export * from "./map.ts";
export * from "./typed_map.ts";
export * from "./program.ts";
export * from "./probes.ts";
export * from "./ringbuf.ts";
export * from "./perfbuf.ts";
export {
  KernelBtfs,
  type KernelTypeRef,
  type ModuleBtf,
  targetBtf,
  vmlinuxBtf,
} from "./kernel_btf.ts";
export {
  type KcfgType,
  kcfgType,
  kernelVersionCode,
  parseKconfig,
  readKernelConfig,
  resolveKconfig,
  Tristate,
} from "./kconfig.ts";
export { FdArray, hasKallsym, kallsymAddress, resolveKsyms, typesAreCompat } from "./ksyms.ts";
