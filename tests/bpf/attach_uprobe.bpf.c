/* Auto-attached uprobes in libc (found through libbpf's library search for "libc.so.6"), counted
 * only for the process whose tgid the test writes into target_pid. */
#include "common.h"

__u32 target_pid;
__u64 printf_calls;
__u64 read_returns;
__s64 last_read_ret;

static __always_inline bool mine(void)
{
	return target_pid && (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("uprobe/libc.so.6:printf")
int BPF_KPROBE(libc_printf, const char *fmt)
{
	if (mine())
		printf_calls++;
	return 0;
}

SEC("uretprobe/libc.so.6:read")
int BPF_KRETPROBE(libc_read_ret, long ret)
{
	if (mine()) {
		read_returns++;
		last_read_ret = ret;
	}
	return 0;
}
