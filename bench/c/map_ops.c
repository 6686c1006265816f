// Reference for the "map lookup" and "map batch dump" measures, with libbpf's thin syscall wrappers.
//
// Usage: map_ops lookup N    -> ns per BPF_MAP_LOOKUP_ELEM on a 1-entry hash (median of 5 loops
//                               of N lookups, after one warm-up loop)
//        map_ops dump ENTRIES -> ms to read a hash of ENTRIES u32 -> u64 elements with
//                               bpf_map_lookup_batch, 4096 per call (median of 7 dumps)
// Prints the number on its last line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <bpf/bpf.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int lookup(long n)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench", 4, 8, 16, NULL);
	unsigned int key = 1;
	unsigned long long value = 11;
	double t[5];

	if (fd < 0 || bpf_map_update_elem(fd, &key, &value, BPF_ANY))
		return perror("map"), 1;
	for (long i = 0; i < n; i++)
		bpf_map_lookup_elem(fd, &key, &value);
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();

		for (long i = 0; i < n; i++)
			if (bpf_map_lookup_elem(fd, &key, &value))
				return perror("lookup"), 1;
		t[r] = (now_ns() - t0) / n;
	}
	printf("%.1f\n", median(t, 5));
	return 0;
}

static int dump(unsigned int entries)
{
	const unsigned int chunk = 4096;
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench", 4, 8, entries, NULL);
	unsigned int *keys = calloc(entries, 4), *kb = calloc(chunk, 4), out_batch;
	unsigned long long *values = calloc(entries, 8), *vb = calloc(chunk, 8);
	double t[7];

	if (fd < 0)
		return perror("map"), 1;
	for (unsigned int i = 0; i < entries; i++)
		keys[i] = i, values[i] = i * 3ULL;
	__u32 count = entries;
	if (bpf_map_update_batch(fd, keys, values, &count, NULL))
		return perror("update batch"), 1;
	for (int r = 0; r < 8; r++) {
		double t0 = now_ns();
		unsigned long total = 0;
		void *in = NULL;

		for (;;) {
			__u32 n = chunk;
			int err = bpf_map_lookup_batch(fd, in, &out_batch, kb, vb, &n, NULL);

			total += n;
			if (err && errno == ENOENT)
				break;
			if (err)
				return perror("lookup batch"), 1;
			in = &out_batch;
		}
		if (total != entries)
			return fprintf(stderr, "dumped %lu of %u\n", total, entries), 1;
		if (r > 0)
			t[r - 1] = (now_ns() - t0) / 1e6;
	}
	printf("%.3f\n", median(t, 7));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "lookup"))
		return lookup(atol(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return dump(atoi(argv[2]));
	fprintf(stderr, "usage: map_ops lookup N | map_ops dump ENTRIES\n");
	return 2;
}
