/* CO-RE beyond core.bpf.c: type ids, typedef roots, a signed local bitfield over an unsigned
 * kernel one, 64-bit and flavored enumerators, load-size shrinking, fields behind anonymous
 * unions, array elements, kernel types with two definitions (candidate pruning), and a
 * size-change poison in dead code. Every program loads. */
#include "common.h"

/* task_struct.flags is an unsigned int in the kernel: an 8-byte load of it shrinks to 4. */
struct task_struct___u64 {
	__u64 flags;
} __attribute__((preserve_access_index));

/* task_struct.prio is a signed int: an 8-byte signed load of it cannot shrink and is poisoned. */
struct task_struct___s64 {
	__s64 prio;
} __attribute__((preserve_access_index));

/* A signed view of the kernel's unsigned 1-bit field. */
struct task_struct___sbf {
	int sched_reset_on_fork : 1;
} __attribute__((preserve_access_index));

/* sk_buff.dev and .len live behind anonymous unions and structs in the kernel. */
struct sk_buff___mine {
	struct net_device *dev;
	unsigned int len;
} __attribute__((preserve_access_index));

/* The kernel has two struct syscall_tp_t: {ent, syscall_nr, ret} and {ent, syscall_nr, args}. */
struct syscall_tp_t___mine {
	struct trace_entry ent;
	int syscall_nr;
	long ret;
	unsigned long args[6];
} __attribute__((preserve_access_index));

/* The kernel has two struct console; only one has a name. */
struct console___mine {
	char name[16];
} __attribute__((preserve_access_index));

/* Enumerator flavors. */
enum bpf_map_type___mine {
	BPF_MAP_TYPE_RINGBUF___mine = 1,
	BPF_MAP_TYPE_TSBPF_NOPE___mine = 2,
};

struct tsbpf_absent {
	int x;
} __attribute__((preserve_access_index));

struct extra_result {
	__u64 ids[2];
	__u64 flags;
	__u64 sizes;
	__s64 sbit;
	__u64 enum64;
	__u64 enum_flavor;
	__u64 dev;
	__u32 len;
	char c3;
	__u64 prio;
};

struct extra_result extra;

SEC("tp/syscalls/sys_enter_getpgid")
int core_extra_tp(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct sk_buff___mine *skb = (void *)(long)bpf_get_prandom_u32();
	struct task_struct___sbf *sbf = (void *)task;
	__u64 flags = 0;

	extra.ids[0] = bpf_core_type_id_local(struct task_struct);
	extra.ids[1] = bpf_core_type_id_kernel(struct task_struct);
	extra.sizes = bpf_core_type_size(pid_t) | (__u64)bpf_core_type_exists(pid_t) << 32;
	extra.sbit = BPF_CORE_READ_BITFIELD_PROBED(sbf, sched_reset_on_fork);
	extra.enum64 = bpf_core_enum_value(enum perf_callchain_context, PERF_CONTEXT_MAX);
	extra.enum_flavor = bpf_core_enum_value(enum bpf_map_type___mine, BPF_MAP_TYPE_RINGBUF___mine);
	if (bpf_core_enum_value_exists(enum bpf_map_type___mine, BPF_MAP_TYPE_TSBPF_NOPE___mine))
		flags |= 1;
	/* The first relocation keeps only the kernel's first syscall_tp_t; the second then finds no args. */
	if (bpf_core_field_exists(struct syscall_tp_t___mine, ret))
		flags |= 2;
	if (bpf_core_field_exists(struct syscall_tp_t___mine, args))
		flags |= 4;
	if (bpf_core_field_exists(struct console___mine, name))
		flags |= 8;
	flags |= (__u64)bpf_core_field_offset(struct console___mine, name) << 16;
	extra.flags = flags;
	extra.dev = (__u64)BPF_CORE_READ(skb, dev);
	extra.len = BPF_CORE_READ(skb, len);
	bpf_probe_read_kernel(&extra.c3, 1, __builtin_preserve_access_index(&task->comm[3]));
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(core_extra_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct task_struct___u64 *p = (void *)prev;
	struct task_struct___s64 *s = (void *)next;

	extra.flags = p->flags;
	/* Dead code once relocated: the guard becomes 0, so the poisoned load is never verified. */
	if (bpf_core_type_exists(struct tsbpf_absent))
		extra.prio = s->prio;
	return 0;
}
