/* CO-RE: BPF_CORE_READ chains, probed bitfields, field/type/enum existence, sizes, ___flavor types,
 * type matches. Everything the kernel has, plus flavors and fields it does not have. */
#include "common.h"

/* A flavor of task_struct with only the fields used here, plus one that does not exist. */
struct task_struct___mine {
	int pid;
	int tgid;
	struct task_struct___mine *real_parent;
	int tsbpf_no_such_field;
} __attribute__((preserve_access_index));

/* A type that no kernel has. */
struct tsbpf_no_such_type {
	int x;
} __attribute__((preserve_access_index));

/* An old layout of a renamed field: task_struct.state became __state in 5.14. */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

enum tsbpf_fake_enum { TSBPF_FAKE_VALUE = 1 };

/* A type that matches the kernel's struct list_head. */
struct list_head___match {
	struct list_head___match *next, *prev;
};

struct core_result {
	__s32 pid;
	__s32 ppid;
	__s32 pppid;
	__u64 mm_start_stack;
	__u32 exit_state_bits;
	__u32 flags;
	__u64 task_size;
	__s64 enum_val;
	__u64 sizes;
	__u32 sched_class_bit;
	char comm[16];
	char parent_comm[16];
};

struct core_result result;

SEC("tp/syscalls/sys_enter_getppid")
int core_reads(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct___mine *mine = (void *)task;
	__u32 flags = 0;

	result.pid = BPF_CORE_READ(task, pid);
	result.ppid = BPF_CORE_READ(task, real_parent, tgid);
	result.pppid = BPF_CORE_READ(mine, real_parent, real_parent, pid);
	result.mm_start_stack = BPF_CORE_READ(task, mm, start_stack);
	BPF_CORE_READ_STR_INTO(&result.comm, task, comm);
	BPF_CORE_READ_STR_INTO(&result.parent_comm, task, real_parent, comm);

	/* bitfields: task_struct.sched_reset_on_fork is a 1-bit field */
	result.sched_class_bit = BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork);
	result.exit_state_bits = BPF_CORE_READ_BITFIELD_PROBED(task, in_execve);

	if (bpf_core_field_exists(task->__state))
		flags |= 1;
	if (bpf_core_field_exists(((struct task_struct___old *)task)->state))
		flags |= 2;
	if (bpf_core_field_exists(mine->tsbpf_no_such_field))
		flags |= 4;
	if (bpf_core_type_exists(struct task_struct))
		flags |= 8;
	if (bpf_core_type_exists(struct tsbpf_no_such_type))
		flags |= 16;
	if (bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF))
		flags |= 32;
	if (bpf_core_enum_value_exists(enum tsbpf_fake_enum, TSBPF_FAKE_VALUE))
		flags |= 64;
	if (bpf_core_type_matches(struct list_head___match))
		flags |= 128;
	if (bpf_core_field_size(task->pid) == 4)
		flags |= 256;
	result.flags = flags;

	result.enum_val = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_BLOOM_FILTER);
	result.sizes = (__u64)bpf_core_type_size(struct task_struct) << 32 |
		       bpf_core_type_size(struct mm_struct);
	result.task_size = BPF_CORE_READ(task, mm, task_size);
	return 0;
}
