/* Programs attached to a network namespace (sk_lookup, flow_dissector), to a sockmap (sk_msg),
 * and a kprobe.multi program for the missing-kprobes error. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} ns_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} ns_sock_hash SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&ns_counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("sk_lookup")
int lookup_count(struct bpf_sk_lookup *ctx)
{
	bump(0);
	return SK_PASS;
}

SEC("flow_dissector")
int dissect_count(struct __sk_buff *skb)
{
	bump(1);
	return BPF_FLOW_DISSECTOR_CONTINUE;
}

SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg)
{
	return SK_PASS;
}

SEC("kprobe.multi/do_nanosleep*")
int kmulti(void *ctx)
{
	bump(2);
	return 0;
}
