/* uprobe.multi programs (one link, many functions), counted for the process in target_pid. */
#include "common.h"

__u32 target_pid;
__u64 multi_hits;
__u64 auto_hits;

static __always_inline bool mine(void)
{
	return target_pid && (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("uprobe.multi")
int umulti_any(void *ctx)
{
	if (mine())
		multi_hits++;
	return 0;
}

SEC("uprobe.multi/libc.so.6:printf")
int umulti_printf(void *ctx)
{
	if (mine())
		auto_hits++;
	return 0;
}
