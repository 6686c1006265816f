/* For the loader's tests (tests/load_*_test.ts): a syscall program that copies .rodata and .data
 * into .bss (run with BPF_PROG_TEST_RUN), a program the verifier rejects (autoload off), and a
 * CO-RE tracepoint with task_struct reads, a ring buffer, .rodata and .bss for the load benchmark. */
#include "common.h"

const volatile __u64 ro_value = 1;
const volatile __u32 ro_pid_filter = 0;
__u64 data_value = 2;
__u64 bss_out_ro;
__u64 bss_out_data;
__u32 runs;
__u64 events_sent;

struct event {
	__u32 pid;
	__u32 ppid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("syscall")
int copy_globals(void *ctx)
{
	bss_out_ro = ro_value;
	bss_out_data = data_value;
	data_value += 1;
	runs++;
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int core_task_event(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e;
	__u32 pid = BPF_CORE_READ(task, tgid);

	if (ro_pid_filter && pid != ro_pid_filter)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_ringbuf_submit(e, 0);
	events_sent++;
	return 0;
}

SEC("?socket")
int rejected(struct __sk_buff *skb)
{
	return *(volatile int *)(unsigned long)skb->len;
}
