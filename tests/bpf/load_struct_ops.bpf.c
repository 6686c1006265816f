/* struct_ops for the loader's tests: a bpf_dummy_ops map (its test_1 runs with BPF_PROG_TEST_RUN)
 * and a TCP congestion control with data members (name) besides its function pointers. */
#include "common.h"

SEC("struct_ops/test_1")
int BPF_PROG(dummy_test_1, struct bpf_dummy_ops_state *state)
{
	return 7;
}

SEC(".struct_ops")
struct bpf_dummy_ops tsbpf_dummy = {
	.test_1 = (void *)dummy_test_1,
};

SEC("struct_ops/tsbpf_ssthresh")
__u32 BPF_PROG(tsbpf_ssthresh, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/tsbpf_cong_avoid")
void BPF_PROG(tsbpf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/tsbpf_undo_cwnd")
__u32 BPF_PROG(tsbpf_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC(".struct_ops")
struct tcp_congestion_ops tsbpf_cc = {
	.ssthresh = (void *)tsbpf_ssthresh,
	.cong_avoid = (void *)tsbpf_cong_avoid,
	.undo_cwnd = (void *)tsbpf_undo_cwnd,
	.name = "tsbpf_cc",
};
