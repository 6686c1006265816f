/* A USDT program for the tsbpf:add probe in tests/bin/build/uprobe_target (uses libbpf's usdt.bpf.h,
 * whose spec maps tsbpf must fill in when it attaches). */
#include "common.h"
#include <bpf/usdt.bpf.h>

__u64 usdt_hits;
__s64 usdt_last_a;
__s64 usdt_last_b;

SEC("usdt")
int BPF_USDT(usdt_add, long a, long b)
{
	usdt_hits++;
	usdt_last_a = a;
	usdt_last_b = b;
	return 0;
}
