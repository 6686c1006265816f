/* Subprograms: static __noinline and global functions in .text, calls between them and from several
 * programs, a bpf_loop callback and a bpf_for_each_map_elem callback. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

__u64 loop_sum;
__u64 map_sum;
__u64 global_result;

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static __noinline __u64 sum_of_squares(__u64 a, __u64 b)
{
	return square(a) + square(b);
}

/* A global function: verified on its own, called with a scalar argument. */
__noinline int clamp_global(int v, int lo, int hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

__noinline int add_to_map(__u32 key, __u64 delta)
{
	__u64 *v = bpf_map_lookup_elem(&values, &key);

	if (!v)
		return -1;
	*v += delta;
	return 0;
}

static int loop_cb(__u32 index, void *ctx)
{
	__u64 *acc = ctx;

	*acc += sum_of_squares(index, 1);
	return index >= 9 ? 1 : 0;
}

static __u64 for_each_cb(struct bpf_map *map, __u32 *key, __u64 *val, void *ctx)
{
	__u64 *acc = ctx;

	*acc += *val + *key;
	return 0;
}

SEC("tp/syscalls/sys_enter_write")
int call_subprogs(void *ctx)
{
	__u64 acc = 0;

	bpf_loop(16, loop_cb, &acc, 0);
	loop_sum = acc;
	add_to_map(clamp_global((int)acc, 0, 7), 1);
	acc = 0;
	bpf_for_each_map_elem(&values, for_each_cb, &acc, 0);
	map_sum = acc;
	return 0;
}

SEC("raw_tp/sys_enter")
int call_subprogs_too(void *ctx)
{
	global_result = sum_of_squares(3, 4) + clamp_global(100, 0, 50);
	add_to_map(1, square(2));
	return 0;
}
