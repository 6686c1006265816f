/* CO-RE relocations that cannot be resolved against the kernel. In `guarded` the read sits behind
 * bpf_core_field_exists, so the poisoned instruction is dead code and the program loads. In
 * `unguarded` it is reached, so libbpf poisons it and the verifier rejects the program. */
#include "common.h"

struct task_struct___gone {
	int tsbpf_field_that_never_existed;
} __attribute__((preserve_access_index));

int out;

SEC("tp/syscalls/sys_enter_getpid")
int guarded(void *ctx)
{
	struct task_struct___gone *t = (void *)bpf_get_current_task();

	if (bpf_core_field_exists(t->tsbpf_field_that_never_existed))
		out = BPF_CORE_READ(t, tsbpf_field_that_never_existed);
	else
		out = -1;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int unguarded(void *ctx)
{
	struct task_struct___gone *t = (void *)bpf_get_current_task();

	out = BPF_CORE_READ(t, tsbpf_field_that_never_existed);
	return 0;
}
