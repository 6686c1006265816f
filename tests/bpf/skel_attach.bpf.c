/* attach() rules of generated skeletons (tests/skeleton_test.ts): two tracepoints it attaches, a
 * uprobe without a target and an XDP program it leaves alone, and a program with autoload off. */
#include "common.h"

__u32 hits;

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	hits++;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpgid")
int on_getpgid(void *ctx)
{
	hits += 100;
	return 0;
}

SEC("uprobe")
int no_target(void *ctx)
{
	return 0;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("?tp/syscalls/sys_enter_getuid")
int not_loaded(void *ctx)
{
	return 0;
}
