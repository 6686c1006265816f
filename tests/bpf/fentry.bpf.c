/* fentry/fexit programs (BPF trampolines). The test kernel refuses to load them with EPERM. */
#include "common.h"

__u64 fentry_hits;

SEC("fentry/do_unlinkat")
int BPF_PROG(fentry_unlinkat, int dfd, struct filename *name)
{
	fentry_hits++;
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(fexit_unlinkat, int dfd, struct filename *name, long ret)
{
	fentry_hits += ret != 0;
	return 0;
}
