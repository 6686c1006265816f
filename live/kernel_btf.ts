/**
 * The kernel's BTF as the loader sees it: vmlinux (parsed once per process and shared by every
 * object), module BTFs found by name or through BPF_BTF_GET_NEXT_ID when a ksym, kfunc or attach
 * target is not in vmlinux, and a user-supplied target BTF that replaces the kernel's for CO-RE.
 *
 * @module
 */
import { Btf, type KernelBtfPlacement } from "../btf/btf.ts";
import type { BtfKind } from "../btf/types.ts";
import { btfInfo, type Fd, getFdById, getNextId } from "../ffi/bpf.ts";
import { Libc } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { pageSize } from "./map.ts";
import { host } from "../_host.ts";

const custom = new Map<string, Btf>();

/**
 * The running kernel's BTF (`/sys/kernel/btf/vmlinux`), read and indexed once per process.
 *
 * @returns the shared instance; do not close it.
 * @throws {BpfError} the kernel has no BTF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vmlinuxBtf } from "./kernel_btf.ts";
 * assert(vmlinuxBtf().findByName("task_struct") > 0);
 * ```
 */
export function vmlinuxBtf(): Btf {
  return Btf.kernel(mapVmlinux);
}

const VMLINUX = "/sys/kernel/btf/vmlinux";
const O_RDONLY_CLOEXEC = 0o2000000;

const HUGE_PAGE = 2 * 1024 * 1024;

// Kernels since 6.16 let /sys/kernel/btf/vmlinux be mapped read-only (sysfs otherwise hands it
// out 4 KiB per read(), over a thousand calls); the core gets a copy, in memory it has never
// touched. Faulting those megabytes in 4 KiB at a time cost more than the copy itself, so the
// blob starts on a 2 MiB boundary of a range advised for transparent huge pages (where the kernel
// has them on "madvise"; elsewhere the advice fails and is ignored).
function mapVmlinux(): KernelBtfPlacement | undefined {
  let size: number;
  try {
    size = host().size(VMLINUX);
  } catch {
    return undefined;
  }
  if (size <= 0) return undefined;
  const sys = getSys();
  return {
    size,
    slack: HUGE_PAGE,
    place(memory, ptr, room) {
      let fd: number;
      try {
        fd = sys.open(VMLINUX, O_RDONLY_CLOEXEC);
      } catch {
        return undefined;
      }
      let addr: bigint;
      try {
        addr = sys.mmap(size, Libc.PROT_READ, Libc.MAP_PRIVATE, fd, 0);
      } catch {
        return undefined;
      } finally {
        sys.close(fd);
      }
      try {
        const base = sys.ptrOf(memory);
        const huge = BigInt(HUGE_PAGE);
        const first = (base + BigInt(ptr) + huge - 1n) / huge * huge;
        const at = Number(first - base);
        if (at + size > ptr + room) return undefined;
        const page = BigInt(pageSize());
        const end = (first + BigInt(size) + page - 1n) / page * page;
        try {
          sys.madvise(first, Number(end - first), Libc.MADV_HUGEPAGE);
        } catch {
          // No transparent huge pages: the copy below faults 4 KiB pages in.
        }
        memory.set(new Uint8Array(sys.view(addr, size)), at);
        return at;
      } finally {
        sys.munmap(addr, size);
      }
    },
  };
}

/**
 * The BTF that CO-RE relocations are resolved against: `path` when given (libbpf's
 * `btf_custom_path`, cached per path for the process), else the kernel's.
 *
 * @param path a raw BTF file or an ELF with a .BTF section, or undefined.
 * @returns the target BTF; shared, do not close it.
 * @throws {BtfError} the file is not BTF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { targetBtf, vmlinuxBtf } from "./kernel_btf.ts";
 * assert(targetBtf() === vmlinuxBtf());
 * ```
 */
export function targetBtf(path?: string): Btf {
  if (path === undefined || path === "") return vmlinuxBtf();
  let b = custom.get(path);
  if (b === undefined) {
    b = Btf.load(path);
    custom.set(path, b);
  }
  return b;
}

/** One loaded kernel module's BTF: its parsed types and an fd of its kernel BTF object. */
export interface ModuleBtf {
  /** The module's name. */
  name: string;
  /** The kernel's id of the BTF object. */
  id: number;
  /** Its types, split over vmlinux. */
  btf: Btf;
  /** An fd of the BTF object (for attach_btf_obj_fd, ksym btf_obj_fd, fd_array). */
  fd: Fd;
}

/** Where a name was found: the BTF, the id in it, and the module when not vmlinux. */
export interface KernelTypeRef {
  /** The BTF holding the type. */
  btf: Btf;
  /** The type id. */
  id: number;
  /** The module, or undefined for vmlinux. */
  module: ModuleBtf | undefined;
}

/**
 * The kernel BTFs one object load uses: vmlinux first, then module BTFs, enumerated on first need
 * (as libbpf's `load_module_btfs`). `close()` releases the module fds and parsed module BTFs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelBtfs } from "./kernel_btf.ts";
 * import { BtfKind } from "../btf/types.ts";
 * const k = new KernelBtfs();
 * try {
 *   assert((k.find("bpf_task_acquire", BtfKind.Func)?.id ?? 0) > 0);
 * } finally {
 *   k.close();
 * }
 * ```
 */
export class KernelBtfs {
  #modules: ModuleBtf[] | undefined;

  /** vmlinux. */
  get vmlinux(): Btf {
    return vmlinuxBtf();
  }

  /** The loaded module BTFs, enumerated now if not yet. */
  modules(): ModuleBtf[] {
    if (this.#modules !== undefined) return this.#modules;
    const out: ModuleBtf[] = [];
    this.#modules = out;
    let id = 0;
    for (;;) {
      id = getNextId("btf", id);
      if (id === 0) break;
      let fd: Fd;
      try {
        fd = getFdById("btf", id);
      } catch {
        continue; // gone meanwhile
      }
      let keep = false;
      try {
        const info = btfInfo(fd);
        if (!info.kernelBtf || info.name === "vmlinux" || info.name === "") continue;
        const btf = Btf.kernelModule(info.name);
        out.push({ name: info.name, id, btf, fd });
        keep = true;
      } catch {
        // a module without readable BTF: skip it, as libbpf does when it cannot load one
      } finally {
        if (!keep) fd.close();
      }
    }
    return out;
  }

  /**
   * Finds a named type of a kind in vmlinux, then in each module.
   *
   * @param name the type's name.
   * @param kind its kind.
   * @returns where it is, or undefined.
   */
  find(name: string, kind: BtfKind): KernelTypeRef | undefined {
    const v = this.vmlinux.findByName(name, kind);
    if (v > 0) return { btf: this.vmlinux, id: v, module: undefined };
    for (const m of this.modules()) {
      for (const id of m.btf.findAllByName(name, kind)) {
        if (id >= m.btf.startId) return { btf: m.btf, id, module: m };
      }
    }
    return undefined;
  }

  /** Closes module fds and BTFs. Safe to call twice. */
  close(): void {
    const mods = this.#modules ?? [];
    this.#modules = undefined;
    for (const m of mods) {
      m.fd.close();
      m.btf.close();
    }
  }
}
