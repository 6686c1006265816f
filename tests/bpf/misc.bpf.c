/* Less common program kinds: BPF_PROG_TYPE_SYSCALL (run with BPF_PROG_TEST_RUN), sk_lookup,
 * flow_dissector, sk_reuseport, a writable raw tracepoint, lwt, and a .text-only helper shared by
 * programs of different types. */
#include "common.h"

struct args {
	__u64 in;
	__u64 out;
};

__u64 shared_calls;

static __noinline __u64 triple(__u64 x)
{
	shared_calls++;
	return x * 3;
}

SEC("syscall")
int syscall_prog(struct args *ctx)
{
	ctx->out = triple(ctx->in);
	return 0;
}

SEC("sk_lookup")
int sk_lookup_prog(struct bpf_sk_lookup *ctx)
{
	triple(ctx->local_port);
	return SK_PASS;
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	return BPF_OK;
}

SEC("sk_reuseport")
int reuseport(struct sk_reuseport_md *md)
{
	return SK_PASS;
}

SEC("raw_tp.w/bpf_test_finish")
int raw_tp_writable(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}

SEC("lwt_in")
int lwt_in_prog(struct __sk_buff *skb)
{
	return BPF_OK;
}
