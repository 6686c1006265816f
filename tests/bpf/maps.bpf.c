/* One map of every common kind, touched from a tracepoint so each is referenced by code. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} array_map SEC(".maps");

struct pair {
	__u32 pid;
	__u32 tid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct pair);
	__type(value, __u64);
} hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_array_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u32);
} percpu_hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u64);
} lru_hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} lru_percpu_hash_map SEC(".maps");

struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u32);
} lpm_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ringbuf_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 128);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stack_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 100);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 32);
	__type(value, __u64);
} queue_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 32);
	__type(value, __u64);
} stack_kind_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} task_storage_map SEC(".maps");

struct event {
	__u32 pid;
	__u32 cpu;
	__u64 count;
	char comm[16];
};

SEC("tp/syscalls/sys_enter_write")
int touch_maps(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct pair key = { .pid = pid_tgid >> 32, .tid = (__u32)pid_tgid };
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(&array_map, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&hash_map, &key);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&hash_map, &key, &one, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&percpu_array_map, &zero);
	if (v)
		*v += 1;
	bpf_map_update_elem(&percpu_hash_map, &cpu, &cpu, BPF_ANY);
	bpf_map_update_elem(&lru_hash_map, &pid_tgid, &one, BPF_ANY);
	bpf_map_update_elem(&lru_percpu_hash_map, &zero, &one, BPF_ANY);

	struct lpm_v4_key lk = { .prefixlen = 32, .addr = { 127, 0, 0, 1 } };
	__u32 *hit = bpf_map_lookup_elem(&lpm_map, &lk);
	if (hit)
		*hit += 1;

	struct event *e = bpf_ringbuf_reserve(&ringbuf_map, sizeof(*e), 0);
	if (e) {
		e->pid = key.pid;
		e->cpu = cpu;
		e->count = one;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}

	struct event pe = { .pid = key.pid, .cpu = cpu, .count = 2 };
	bpf_perf_event_output(ctx, &perf_map, BPF_F_CURRENT_CPU, &pe, sizeof(pe));
	bpf_get_stackid(ctx, &stack_map, BPF_F_USER_STACK);

	if (bpf_map_peek_elem(&bloom_map, &key.pid) == 0)
		bpf_map_push_elem(&queue_map, &pid_tgid, BPF_EXIST);
	bpf_map_push_elem(&stack_kind_map, &pid_tgid, BPF_EXIST);

	struct task_struct *task = bpf_get_current_task_btf();
	v = bpf_task_storage_get(&task_storage_map, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (v)
		*v += 1;
	return 0;
}
