/* Networking programs for the attach tests: each counts packets into its own slot of `counts`. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

enum { C_XDP_A, C_XDP_B, C_TCX, C_SOCKET, C_CGROUP_EGRESS, C_CGROUP_INGRESS };

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_count_a(struct xdp_md *ctx)
{
	bump(C_XDP_A);
	return XDP_PASS;
}

SEC("xdp")
int xdp_count_b(struct xdp_md *ctx)
{
	bump(C_XDP_B);
	return XDP_PASS;
}

SEC("tcx/ingress")
int tcx_count(struct __sk_buff *skb)
{
	bump(C_TCX);
	return -1; /* TCX_NEXT */
}

SEC("socket")
int socket_count(struct __sk_buff *skb)
{
	bump(C_SOCKET);
	return skb->len;
}

SEC("cgroup_skb/egress")
int cgroup_egress_count(struct __sk_buff *skb)
{
	bump(C_CGROUP_EGRESS);
	return 1;
}

SEC("cgroup_skb/ingress")
int cgroup_ingress_count(struct __sk_buff *skb)
{
	bump(C_CGROUP_INGRESS);
	return 1;
}
