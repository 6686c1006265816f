/* Global data in every section: .data, .rodata, .bss, custom .data.* and .rodata.*, static and global,
 * scalars, structs and arrays. */
#include "common.h"

struct config {
	__u32 target_pid;
	__u16 port;
	__u8 enabled;
	char tag[5];
};

struct stats {
	__u64 calls;
	__u64 bytes;
	__s32 last_fd;
	__u32 hist[8];
};

/* .rodata: const volatile, set before load by a skeleton */
const volatile __u32 filter_pid = 0;
const volatile struct config cfg = { .target_pid = 0, .port = 8080, .enabled = 1, .tag = "abcd" };
const volatile __u64 thresholds[4] = { 10, 100, 1000, 10000 };
static const volatile __u32 static_ro = 0xdeadbeef;

/* .data */
__u64 data_counter = 7;
struct stats data_stats = { .calls = 1, .last_fd = -1 };
static __u32 static_data = 12345;
char greeting[16] = "hello, tsbpf";

/* .bss */
__u64 bss_counter;
struct stats bss_stats;
static __u32 static_bss;
__u32 bss_array[32];

/* custom sections */
__u64 custom_data_a SEC(".data.custom") = 99;
__u32 custom_data_b[4] SEC(".data.custom") = { 1, 2, 3, 4 };
__u64 custom_other SEC(".data.other") = 5;
const volatile __u32 custom_ro SEC(".rodata.custom") = 77;
const volatile char custom_ro_str[8] SEC(".rodata.custom") = "ro!";

SEC("tp/syscalls/sys_enter_write")
int use_globals(struct trace_event_raw_sys_enter *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 fd = ctx->args[0];
	__u64 len = ctx->args[2];

	if (filter_pid && pid != filter_pid)
		return 0;
	if (!cfg.enabled)
		return 0;

	data_counter++;
	bss_counter += 1;
	static_data += static_ro & 1;
	static_bss++;
	data_stats.calls++;
	data_stats.bytes += len;
	data_stats.last_fd = (__s32)fd;
	bss_stats.calls++;
	for (int i = 0; i < 4; i++) {
		if (len < thresholds[i]) {
			bss_stats.hist[i & 7]++;
			break;
		}
	}
	bss_array[pid & 31] = pid;
	custom_data_a += custom_ro;
	custom_data_b[fd & 3]++;
	custom_other += custom_ro_str[0];
	if (greeting[0] == 'h')
		bss_stats.bytes += cfg.port;
	return 0;
}
