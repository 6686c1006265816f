/* kprobe/kretprobe programs: they load on any kernel with BPF, but this test kernel has no
 * CONFIG_KPROBES, so attaching them fails. */
#include "common.h"

__u64 kprobe_hits;

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(kprobe_openat, int dfd, const char *filename)
{
	kprobe_hits++;
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int BPF_KRETPROBE(kretprobe_openat, long ret)
{
	kprobe_hits += ret < 0;
	return 0;
}

SEC("ksyscall/getpid")
int BPF_KSYSCALL(ksyscall_getpid)
{
	kprobe_hits++;
	return 0;
}
