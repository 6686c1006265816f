/**
 * The two kernel feature probes the loader needs that `probes.ts` lacks (BPF_PROG_BIND_MAP and syscall wrappers), each run once per process and cached, like
 * libbpf's `kernel_supports()`. Private to `live/`; `live/probes.ts` (when present) is the public
 * probe API.
 *
 * @module
 */
import { host } from "../_host.ts";
import { mapCreate, progBindMap, progLoad } from "../ffi/bpf.ts";
import { BpfMapType, BpfProgType } from "../ffi/constants.ts";
import { hasKallsym } from "./ksyms.ts";

const cache = new Map<string, boolean>();

function once(name: string, probe: () => boolean): boolean {
  const v = cache.get(name);
  if (v !== undefined) return v;
  let ok = false;
  try {
    ok = probe();
  } catch {
    ok = false;
  }
  cache.set(name, ok);
  return ok;
}

// mov r0, 0; exit
const RET0 = new Uint8Array([
  0xb7,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x95,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
]);

/** Whether BPF_PROG_BIND_MAP exists (FEAT_PROG_BIND_MAP); assumed with BTF-era kernels. */
export function hasProgBindMap(): boolean {
  return once("prog_bind_map", () => {
    const map = mapCreate({
      type: BpfMapType.BPF_MAP_TYPE_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
    });
    try {
      const prog = progLoad({
        type: BpfProgType.BPF_PROG_TYPE_SOCKET_FILTER,
        insns: RET0,
        license: "GPL",
      });
      try {
        progBindMap(prog, map);
        return true;
      } finally {
        prog.close();
      }
    } finally {
      map.close();
    }
  });
}

/**
 * Whether syscalls go through `__<arch>_sys_*` wrappers (FEAT_SYSCALL_WRAPPER). libbpf decides by
 * creating a kprobe on `__x64_sys_bpf`; a kernel without kprobes (no kprobe PMU and no
 * kprobe_events) answers no there, and so does this.
 */
export function hasSyscallWrapper(arch: string): boolean {
  return once("syscall_wrapper", () => {
    const pfx = arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : "";
    if (pfx === "") return false;
    const pmu = host().exists("/sys/bus/event_source/devices/kprobe/type");
    const legacy = host().exists("/sys/kernel/tracing/kprobe_events") ||
      host().exists("/sys/kernel/debug/tracing/kprobe_events");
    if (!pmu && !legacy) return false;
    return hasKallsym(`__${pfx}_sys_bpf`);
  });
}
