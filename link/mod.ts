/**
 * Attaching programs: {@linkcode BpfLink} and one module per attach kind (perf events,
 * tracepoints, raw tracepoints, BTF tracing, kprobes, uprobes, USDT, iterators, XDP, tcx,
 * cgroups, sockets, network namespaces, struct_ops), plus auto-attach by section.
 *
 * Every attach function returns a {@linkcode BpfLink} the caller owns: `close()` it (or use
 * `using`) to detach.
 *
 * @module
 */
export * from "./link.ts";
export * from "./auto.ts";
export * from "./perf_event.ts";
export * from "./tracefs.ts";
export * from "./pmu.ts";
export * from "./tracepoint.ts";
export * from "./raw_tracepoint.ts";
export * from "./tracing.ts";
export * from "./kprobe.ts";
export * from "./elf_target.ts";
export * from "./uprobe.ts";
export * from "./usdt_notes.ts";
export * from "./usdt.ts";
export * from "./iter.ts";
export * from "./xdp.ts";
export * from "./tc.ts";
export * from "./tc_netlink.ts";
export * from "./cgroup.ts";
export * from "./socket.ts";
export * from "./struct_ops.ts";
