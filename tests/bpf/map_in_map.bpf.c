/* Maps of maps and program arrays with `values` initializers: an array of maps and a hash of maps
 * with declared inner maps, and a prog array for tail calls, all filled at load time. */
#include "common.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};

struct inner inner_a SEC(".maps");
struct inner inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct inner_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
};

struct inner_hash inner_h SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner_hash);
} outer_hash SEC(".maps") = {
	.values = { [1] = &inner_h },
};

/* An outer map with an inline anonymous inner map definition and no initializer. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_RINGBUF);
		__uint(max_entries, 4096);
	});
} outer_empty SEC(".maps");

__u64 tail_hits[3];

int tail_0(void *ctx);
int tail_2(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, int(void *));
} jump_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_0, [2] = (void *)&tail_2 },
};

SEC("tp/syscalls/sys_enter_write")
int tail_0(void *ctx)
{
	tail_hits[0]++;
	bpf_tail_call(ctx, &jump_table, 2);
	return 0;
}

SEC("tp/syscalls/sys_enter_write")
int tail_2(void *ctx)
{
	tail_hits[2]++;
	return 0;
}

SEC("tp/syscalls/sys_enter_write")
int use_outer(void *ctx)
{
	__u32 slot = 0, key = 1;
	__u64 *v;
	__u32 *h;
	void *m;

	m = bpf_map_lookup_elem(&outer_array, &slot);
	if (m) {
		v = bpf_map_lookup_elem(m, &key);
		if (v)
			*v += 1;
	}
	m = bpf_map_lookup_elem(&outer_hash, &slot);
	if (m) {
		h = bpf_map_lookup_elem(m, &key);
		if (h)
			*h += 1;
	}
	bpf_tail_call(ctx, &jump_table, 0);
	return 0;
}
