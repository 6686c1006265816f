/* Maps of the kinds the map API has special calls for (queue, stack, bloom filter, LPM trie, prog
 * array, stack trace, per-CPU, array of maps, spin-locked values), and programs that write them when
 * run with BPF_PROG_TEST_RUN (raw_tp: a test run can pick its CPU), so that tests can check what user space reads against what a BPF
 * program wrote. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

/* 12-byte values: each CPU's slot is rounded up to 16 bytes in user space. */
struct triple {
	__u32 cpu;
	__u32 runs;
	__u32 magic;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct triple);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} percpu_hash SEC(".maps");

struct locked {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct locked);
} locked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner inner_one SEC(".maps");
struct inner inner_two SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

/* Writes the maps: three values into the queue and the stack, one into the bloom filter, this
 * CPU's per-CPU slot, a counter, and slot 0 of whatever map sits in outer[0]. */
SEC("raw_tp/sys_enter")
int write_maps(void *ctx)
{
	__u32 zero = 0, one = 1, cpu = bpf_get_smp_processor_id();
	__u64 seven = 7;

	__u32 v1 = 1, v2 = 2, v3 = 3;

	bpf_map_push_elem(&queue, &v1, 0);
	bpf_map_push_elem(&queue, &v2, 0);
	bpf_map_push_elem(&queue, &v3, 0);
	bpf_map_push_elem(&stack, &v1, 0);
	bpf_map_push_elem(&stack, &v2, 0);
	bpf_map_push_elem(&stack, &v3, 0);
	__u32 b = 42;
	bpf_map_push_elem(&bloom, &b, 0);

	struct triple *t = bpf_map_lookup_elem(&percpu, &zero);
	if (t) {
		t->cpu = cpu;
		t->runs += 1;
		t->magic = 0xabcd;
	}
	__u64 *c = bpf_map_lookup_elem(&counts, &one);
	if (c)
		*c += 1;
	else
		bpf_map_update_elem(&counts, &one, &seven, BPF_NOEXIST);

	void *in = bpf_map_lookup_elem(&outer, &zero);
	if (in) {
		__u64 *slot = bpf_map_lookup_elem(in, &zero);
		if (slot)
			*slot += 100;
	}
	return 0;
}

__s64 last_stack_id = -1;

/* Records its own kernel stack (the test run's call chain). */
SEC("raw_tp/sys_enter")
int record_stack(void *ctx)
{
	last_stack_id = bpf_get_stackid(ctx, &stacks, 0);
	return 0;
}

/* Tail-calls jumps[0]; returns XDP_PASS when the slot is empty. */
SEC("xdp")
int xdp_entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jumps, 0);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
