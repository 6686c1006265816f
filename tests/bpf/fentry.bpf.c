/* Programs on BPF trampolines: fentry, fexit, fmod_ret and lsm. The test kernel refuses to load them
 * with EPERM. */
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

SEC("fmod_ret/security_file_open")
int BPF_PROG(fmod_ret_file_open, struct file *file)
{
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	fentry_hits++;
	return 0;
}
