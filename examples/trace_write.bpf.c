/* The live demo's BPF side (examples/trace_write.ts): counts write() calls and bytes per process on
 * the syscalls/sys_enter_write tracepoint.
 *
 * - `writers` (HASH, keyed by tgid): calls, bytes and the command name of each writing process,
 * - `.bss`: totals over every process, which user space reads straight from the mmapped map,
 * - `.rodata`: filters that user space sets between open and load (0 = no filter); the verifier
 *   sees them as constants.
 *
 * Built by scripts/setup.sh into examples/build/trace_write.bpf.o. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct write_stats {
	__u64 count;
	__u64 bytes;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct write_stats);
} writers SEC(".maps");

/* Filters, set by user space before load. */
const volatile __u32 target_tgid = 0;
const volatile __u64 min_bytes = 0;

/* Totals over every counted write. */
__u64 total_writes = 0;
__u64 total_bytes = 0;

SEC("tp/syscalls/sys_enter_write")
int count_write(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 len = ctx->args[2];
	struct write_stats *w;

	if (target_tgid && tgid != target_tgid)
		return 0;
	if (len < min_bytes)
		return 0;

	w = bpf_map_lookup_elem(&writers, &tgid);
	if (!w) {
		struct write_stats fresh = {};

		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		bpf_map_update_elem(&writers, &tgid, &fresh, BPF_NOEXIST);
		w = bpf_map_lookup_elem(&writers, &tgid);
		if (!w)
			return 0; /* the map is full */
	}
	__sync_fetch_and_add(&w->count, 1);
	__sync_fetch_and_add(&w->bytes, len);
	__sync_fetch_and_add(&total_writes, 1);
	__sync_fetch_and_add(&total_bytes, len);
	return 0;
}
