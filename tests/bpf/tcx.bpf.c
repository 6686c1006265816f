/* Section names newer than libbpf 1.1: tcx/ingress, tcx/egress, netkit. */
#include "common.h"

SEC("tcx/ingress")
int tcx_in(struct __sk_buff *skb)
{
	return skb->len > 0 ? -1 /* TCX_NEXT */ : 0;
}

SEC("tcx/egress")
int tcx_out(struct __sk_buff *skb)
{
	return -1;
}
