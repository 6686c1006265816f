/* cgroup program kinds beyond cgroup_skb: socket creation, connect/bind hooks, sockopt, sysctl,
 * device access, sock_ops. Each needs a cgroup fd to attach; all load without one. */
#include "common.h"

__u64 counts[8];

SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *sk)
{
	counts[0]++;
	return 1;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	counts[1]++;
	return 1;
}

SEC("cgroup/bind6")
int bind6(struct bpf_sock_addr *ctx)
{
	counts[2]++;
	return 1;
}

SEC("cgroup/getsockopt")
int getsockopt(struct bpf_sockopt *ctx)
{
	counts[3]++;
	return 1;
}

SEC("cgroup/sysctl")
int sysctl(struct bpf_sysctl *ctx)
{
	counts[4] += ctx->write;
	return 1;
}

SEC("cgroup/dev")
int dev(struct bpf_cgroup_dev_ctx *ctx)
{
	counts[5]++;
	return 1;
}

SEC("sockops")
int sock_ops(struct bpf_sock_ops *skops)
{
	if (skops->op == BPF_SOCK_OPS_TCP_CONNECT_CB)
		counts[6]++;
	return 1;
}
