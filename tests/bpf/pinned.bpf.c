/* Maps pinned by name (LIBBPF_PIN_BY_NAME): on load they are pinned as <pin root>/<map name>
 * (default root /sys/fs/bpf), or reused when a compatible pin exists. Load it with a pin root. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tsbpf_pinned_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tsbpf_pinned_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} not_pinned SEC(".maps");

SEC("tp/syscalls/sys_enter_write")
int use_pinned(void *ctx)
{
	__u32 k = 0;
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(&tsbpf_pinned_hash, &k);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&tsbpf_pinned_hash, &k, &one, BPF_ANY);
	v = bpf_map_lookup_elem(&not_pinned, &k);
	if (v)
		*v += 1;
	return 0;
}
