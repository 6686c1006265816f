/* Typed __ksym variables (a per-cpu struct and a plain int). libbpf resolves them through vmlinux BTF,
 * but the kernel must find their addresses with kallsyms: without CONFIG_KALLSYMS_ALL the load fails
 * with "ldimm64 failed to find the address for kernel symbol". A negative test object on such kernels. */
#include "common.h"

extern const struct rq runqueues __ksym;
extern const int bpf_prog_active __ksym;

__s32 seen_cpu = -1;
__u32 seen_active;

SEC("raw_tp/sys_enter")
int read_typed_ksyms(void *ctx)
{
	struct rq *rq = (struct rq *)bpf_per_cpu_ptr(&runqueues, 0);
	int *active = (int *)bpf_this_cpu_ptr(&bpf_prog_active);

	if (rq)
		seen_cpu = rq->cpu;
	seen_active = *active;
	return 0;
}
