/* A global function with hidden visibility: libbpf marks its BTF FUNC static, so the verifier checks
 * it in its caller's context (here: a stack pointer it reads without a NULL check, which a global
 * function verified on its own could not do). */
#include "common.h"

__attribute__((visibility("hidden"))) __noinline int read_first(char *p)
{
	return *p;
}

SEC("xdp")
int hidden_caller(struct xdp_md *ctx)
{
	char buf[8] = { 1 };

	return read_first(buf) ? XDP_PASS : XDP_DROP;
}
