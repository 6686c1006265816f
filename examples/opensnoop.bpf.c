/* opensnoop's BPF side (examples/opensnoop.ts), in the style of libbpf-tools' opensnoop: traces
 * openat() (and openat2() where the kernel has it) through the syscalls tracepoints.
 *
 * - on entry: the filters that need no result (pid, comm), then the filename pointer, the flags and
 *   the time, kept per thread in `start` (HASH, keyed by thread id),
 * - on exit: the filter on the result (failed only), then one `struct event` into the ring buffer
 *   `events`, a count per process in `counts` (HASH, keyed by tgid) and the latency's log2 slot in
 *   `.bss` `latency_slots` (microseconds; slot s holds [2^s, 2^(s+1)), slot 0 also holds 0),
 * - `.rodata`: filters that user space sets between open and load (0 or "" = no filter); the
 *   verifier sees them as constants and drops the dead branches.
 *
 * Built by scripts/setup.sh into examples/build/opensnoop.bpf.o. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define TASK_COMM_LEN 16
#define NAME_MAX 255
#define MAX_SLOTS 32

/* The record user space reads from the ring buffer (decoded field by field in opensnoop.ts). */
struct event {
	__u64 latency_ns; /* from sys_enter to sys_exit */
	__s64 ret;        /* the fd, or -errno */
	__u64 flags;      /* open flags (openat2: open_how.flags) */
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 syscall;    /* 0: openat, 1: openat2 */
	char comm[TASK_COMM_LEN];
	char fname[NAME_MAX + 1];
};

/* Puts struct event in the object's BTF, where user space finds its layout (clang emits the types of
 * globals, not of locals). */
struct event *unused_event __attribute__((unused));

struct args {
	__u64 ts;
	__u64 flags;
	const char *fname;
	__u32 syscall;
};

/* Per-process totals. */
struct counts {
	__u64 opens;
	__u64 fails;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct counts);
} counts SEC(".maps");

/* Filters, set by user space before load. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[TASK_COMM_LEN] = {};
const volatile bool targ_failed = false;

/* Totals and the latency histogram, read by user space from the mmapped .bss. */
__u64 latency_slots[MAX_SLOTS] = {};
__u64 total_events = 0;
__u64 dropped_events = 0; /* the ring buffer was full */

static __always_inline bool comm_allowed(const char *comm)
{
	int i;

	if (targ_comm[0] == '\0')
		return true;
	for (i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			return true;
	}
	return true;
}

static __always_inline int on_enter(const char *fname, __u64 flags, __u32 syscall)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = (__u32)id;
	char comm[TASK_COMM_LEN];
	struct args a = {};

	if (targ_tgid && targ_tgid != tgid)
		return 0;
	if (targ_comm[0] != '\0') {
		bpf_get_current_comm(comm, sizeof(comm));
		if (!comm_allowed(comm))
			return 0;
	}
	a.ts = bpf_ktime_get_ns();
	a.flags = flags;
	a.fname = fname;
	a.syscall = syscall;
	bpf_map_update_elem(&start, &tid, &a, BPF_ANY);
	return 0;
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 s = 0;

	/* floor(log2(v)) for v >= 1; 0 for 0 */
	if (v >> 32) { v >>= 32; s += 32; }
	if (v >> 16) { v >>= 16; s += 16; }
	if (v >> 8) { v >>= 8; s += 8; }
	if (v >> 4) { v >>= 4; s += 4; }
	if (v >> 2) { v >>= 2; s += 2; }
	if (v >> 1) { s += 1; }
	return s;
}

static __always_inline void count_process(__u32 tgid, bool failed)
{
	struct counts *c = bpf_map_lookup_elem(&counts, &tgid);

	if (!c) {
		struct counts fresh = {};

		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		bpf_map_update_elem(&counts, &tgid, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counts, &tgid);
		if (!c)
			return; /* the map is full */
	}
	__sync_fetch_and_add(&c->opens, 1);
	if (failed)
		__sync_fetch_and_add(&c->fails, 1);
}

static __always_inline int on_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *a;
	struct event *e;
	__u64 now, lat;
	__u32 slot;

	a = bpf_map_lookup_elem(&start, &tid);
	if (!a)
		return 0; /* filtered out on entry, or the entry came before attach */
	if (targ_failed && ret >= 0)
		goto cleanup;

	now = bpf_ktime_get_ns();
	lat = now - a->ts;
	slot = log2_slot(lat / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&latency_slots[slot], 1);
	__sync_fetch_and_add(&total_events, 1);
	count_process(id >> 32, ret < 0);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped_events, 1);
		goto cleanup;
	}
	e->latency_ns = lat;
	e->ret = ret;
	e->flags = a->flags;
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->syscall = a->syscall;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->fname, sizeof(e->fname), a->fname) < 0)
		e->fname[0] = '\0';
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter((const char *)ctx->args[1], (__u32)ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

/* openat2(dfd, filename, how, size): the flags are in user memory, struct open_how. */
SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return on_enter((const char *)ctx->args[1], how.flags, 1);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}
