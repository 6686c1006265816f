/* Event streams for tests/ringbuf_test.ts and the bench: a syscall program that produces a known
 * sequence into a ring buffer with bpf_loop (records of several sizes, some discarded, failed
 * reservations counted), a tracepoint that sends one record (ring and perf buffer) per getpid of
 * the test process, and a syscall program that drains a user ring buffer. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 64 * 1024);
} urb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");

/* The record every producer writes: 16 bytes, then (size - 16) bytes of pattern. */
struct event {
	__u32 seq;
	__u32 size;
	__u64 tag;
};

/* 64-bit fields: a u32 loaded as half of a u64 reaches bpf_loop with the other half in the
 * upper bits of R1, and the kernel's inlined bpf_loop compares all 64 bits with its limit. */
/* Puts struct event into the object's BTF, for typed records. */
struct event *event_type_anchor;

struct produce_args {
	__u64 count;	/* records to try */
	__u64 sizes;	/* cycle of sizes: 16 + 8 * (seq % sizes) */
	__u64 discard_every; /* discard each Nth (0: none) */
	__u64 start;	/* first seq */
};

const volatile __u32 target_tgid = 0;

__u64 produced;		/* records submitted */
__u64 discarded;	/* records discarded */
__u64 failed;		/* reservations that failed (ring full) */
__u64 tp_sent;		/* tracepoint records sent to each stream */
__u64 tp_failed;	/* tracepoint ring records that did not fit */
__u64 drained;		/* user ring records the drain saw */
__u64 drained_sum;	/* the sum of their u64 values */

static long produce_one(__u32 i, struct produce_args *a)
{
	__u64 rec[9] = {};	/* up to 72 bytes: struct event, then pattern words */
	struct event *e = (struct event *)rec;
	__u32 seq = a->start + i;
	__u32 words = seq % (a->sizes ? a->sizes : 1);
	__u32 size;

	if (words > 7)
		words = 7;
	size = 16 + 8 * words;
	e->seq = seq;
	e->size = size;
	e->tag = ((__u64)seq << 32) | 0xabcd;
	for (int k = 2; k < 9; k++)
		rec[k] = ((__u64)seq << 8) | k;
	if (a->discard_every && seq % a->discard_every == a->discard_every - 1) {
		/* A discarded record takes its room in the ring until the consumer passes it. */
		void *r = bpf_ringbuf_reserve(&rb, 72, 0);

		if (!r) {
			failed++;
			return 0;
		}
		bpf_ringbuf_discard(r, 0);
		discarded++;
		return 0;
	}
	if (bpf_ringbuf_output(&rb, rec, size, 0)) {
		failed++;
		return 0;
	}
	produced++;
	return 0;
}

SEC("syscall")
int produce(struct produce_args *a)
{
	struct produce_args args = *a; /* bpf_loop's context lives on the stack */

	bpf_loop(args.count, produce_one, &args, 0);
	return 0;
}

/* Records of exactly 16 bytes, as fast as bpf_loop goes: the drain benchmark's filler. */
static long fill_one(__u32 i, void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e) {
		failed++;
		return 1;
	}
	e->seq = i;
	e->size = sizeof(*e);
	e->tag = i;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	produced++;
	return 0;
}

SEC("syscall")
int fill(struct produce_args *a)
{
	__u32 count = a->count;

	bpf_loop(count, fill_one, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	struct event e = {};

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	e.seq = tp_sent;
	e.size = sizeof(e);
	e.tag = 0x5eed;
	if (bpf_ringbuf_output(&rb, &e, sizeof(e), 0))
		tp_failed++;
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e));
	tp_sent++;
	return 0;
}

static long drain_one(struct bpf_dynptr *dynptr, void *ctx)
{
	__u64 v = 0;

	if (bpf_dynptr_read(&v, sizeof(v), dynptr, 0, 0))
		return 1;
	drained++;
	drained_sum += v;
	return 0;
}

SEC("syscall")
int drain_user(void *ctx)
{
	bpf_user_ringbuf_drain(&urb, drain_one, 0, 0);
	return 0;
}
