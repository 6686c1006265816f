/* Networking programs (xdp, tc, socket filter, cgroup_skb, sk_skb, sk_msg) and the maps they use. */
#include "common.h"

#define ETH_P_IP 0x0800

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} dev_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} dev_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pkt_count SEC(".maps");

static __always_inline void count(__u32 slot, __u64 bytes)
{
	__u64 *v = bpf_map_lookup_elem(&pkt_count, &slot);
	if (v)
		*v += bytes;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	count(0, end - data);
	if (eth->h_proto == bpf_htons(0x86dd))
		return bpf_redirect_map(&dev_map, 0, XDP_PASS);
	if (eth->h_proto == bpf_htons(0x0806))
		return bpf_redirect_map(&cpu_map, 0, XDP_PASS);
	return XDP_PASS;
}

SEC("xdp/devmap")
int xdp_devmap_prog(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	count(1, skb->len);
	if (skb->protocol == bpf_htons(ETH_P_IP))
		skb->mark = 42;
	return 0; /* TC_ACT_OK */
}

SEC("socket")
int socket_filter(struct __sk_buff *skb)
{
	count(2, skb->len);
	return skb->len;
}

SEC("cgroup_skb/ingress")
int cgroup_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	__u64 *v;

	count(3, skb->len);
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	v = bpf_sk_storage_get(&sk_store, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (v)
		*v += 1;
	return 1;
}

SEC("cgroup_skb/egress")
int cgroup_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("sk_skb/stream_verdict")
int sk_verdict(struct __sk_buff *skb)
{
	return bpf_sk_redirect_map(skb, &sock_map, 0, 0);
}

SEC("sk_msg")
int sk_msg_prog(struct sk_msg_md *msg)
{
	__u32 key = 0;
	return bpf_msg_redirect_hash(msg, &sock_hash, &key, 0);
}
