/* C reference of "ring buffer drain" and "perf buffer drain" (libbpf).
 *   ringbuf_drain ring OBJ COUNT ROUNDS: loads OBJ with its ring "rb" at 256 MiB, then ROUNDS times
 *     fills it with COUNT 16-byte records (the "fill" program, bpf_prog_test_run_opts) and times
 *     ring_buffer__consume with a callback summing one field. Prints ns per record, one per round.
 *   ringbuf_drain perf OBJ COUNT ROUNDS PAGES: attaches "on_getpid" for this process, ROUNDS times
 *     calls getpid COUNT times (one sample each into the perf rings of PAGES pages per CPU) and
 *     times perf_buffer__consume with a callback summing one field. Prints ns per sample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

static double sum;
static long seen;

static int on_rec(void *ctx, void *data, size_t size)
{
	sum += ((unsigned int *)data)[0];
	seen++;
	return 0;
}

static void on_sample(void *ctx, int cpu, void *data, unsigned int size)
{
	sum += ((unsigned int *)data)[0];
	seen++;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int set_tgid(struct bpf_object *obj)
{
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t l = strlen(n);
		if (l >= 7 && !strcmp(n + l - 7, ".rodata")) {
			size_t sz;
			unsigned int *v = (unsigned int *)bpf_map__initial_value(m, &sz);
			if (!v || sz < 4)
				return -1;
			v[0] = getpid(); /* target_tgid is the only .rodata variable */
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	int perf = !strcmp(argv[1], "perf");
	long count = atol(argv[3]);
	int rounds = atoi(argv[4]);
	struct bpf_object *obj = bpf_object__open_file(argv[2], NULL);
	if (!obj || set_tgid(obj)) {
		fprintf(stderr, "open failed\n");
		return 1;
	}
	if (!perf)
		bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "rb"), 256 << 20);
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load failed\n");
		return 1;
	}
	if (!perf) {
		struct ring_buffer *rb = ring_buffer__new(
			bpf_map__fd(bpf_object__find_map_by_name(obj, "rb")), on_rec, NULL, NULL);
		int pfd = bpf_program__fd(bpf_object__find_program_by_name(obj, "fill"));
		for (int r = 0; r < rounds; r++) {
			unsigned long long args[4] = { count, 0, 0, 0 };
			LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args, .ctx_size_in = sizeof(args));
			if (bpf_prog_test_run_opts(pfd, &o)) {
				fprintf(stderr, "test run failed\n");
				return 1;
			}
			seen = 0;
			double t0 = now_ns();
			ring_buffer__consume(rb);
			double dt = now_ns() - t0;
			if (seen < count * 9 / 10) {
				fprintf(stderr, "only %ld records\n", seen);
				return 1;
			}
			printf("%f\n", dt / seen);
		}
		ring_buffer__free(rb);
	} else {
		struct bpf_link *link = bpf_program__attach(
			bpf_object__find_program_by_name(obj, "on_getpid"));
		struct perf_buffer *pb = perf_buffer__new(
			bpf_map__fd(bpf_object__find_map_by_name(obj, "pb")), atoi(argv[5]),
			on_sample, NULL, NULL, NULL);
		if (!link || !pb) {
			fprintf(stderr, "attach or perf_buffer__new failed\n");
			return 1;
		}
		for (int r = 0; r < rounds; r++) {
			for (long i = 0; i < count; i++)
				syscall(SYS_getpid);
			seen = 0;
			double t0 = now_ns();
			perf_buffer__consume(pb);
			double dt = now_ns() - t0;
			if (seen < count / 2) {
				fprintf(stderr, "only %ld samples\n", seen);
				return 1;
			}
			printf("%f\n", dt / seen);
		}
		perf_buffer__free(pb);
		bpf_link__destroy(link);
	}
	fprintf(stderr, "sum %f\n", sum);
	bpf_object__close(obj);
	return 0;
}
