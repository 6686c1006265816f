/* Tracing programs that attach on this kind of kernel: tracepoint, raw tracepoint, BTF tracepoint,
 * uprobe/uretprobe (attached by hand to tests/bin/build/uprobe_target) and perf_event. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

enum { HIT_TP, HIT_RAW_TP, HIT_TP_BTF, HIT_UPROBE, HIT_URETPROBE, HIT_PERF, HIT_SWITCH_BTF };

const volatile __u32 target_tgid = 0;
__u64 last_uprobe_arg;
__u64 last_uretprobe_ret;

static __always_inline void hit(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline bool mine(void)
{
	return !target_tgid || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tp/syscalls/sys_enter_write")
int tp_write(struct trace_event_raw_sys_enter *ctx)
{
	if (mine())
		hit(HIT_TP);
	return 0;
}

SEC("raw_tp/sched_switch")
int raw_tp_switch(struct bpf_raw_tracepoint_args *ctx)
{
	hit(HIT_RAW_TP);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (prev->pid != next->pid)
		hit(HIT_TP_BTF);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(uprobe_add, int a, int b)
{
	if (mine()) {
		hit(HIT_UPROBE);
		last_uprobe_arg = (__u64)a << 32 | (__u32)b;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_add, int ret)
{
	if (mine()) {
		hit(HIT_URETPROBE);
		last_uretprobe_ret = ret;
	}
	return 0;
}

SEC("perf_event")
int perf_sample(struct bpf_perf_event_data *ctx)
{
	hit(HIT_PERF);
	return 0;
}
