/* attachAll()'s rollback: a tracepoint that attaches, then a kprobe that cannot on a kernel
 * without kprobes. */
#include "common.h"

__u64 mixed_hits;

SEC("tp/syscalls/sys_enter_getppid")
int mixed_tp(void *ctx)
{
	mixed_hits++;
	return 0;
}

SEC("kprobe/do_nanosleep")
int mixed_kprobe(void *ctx)
{
	mixed_hits++;
	return 0;
}
