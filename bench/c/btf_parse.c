// Reference for the "btf parse vmlinux" measure: libbpf's btf__parse of the kernel's BTF, file read
// included, as the median over many runs. Prints one JSON number (milliseconds).
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	int runs = argc > 2 ? atoi(argv[2]) : 40;
	double *t = calloc(runs, sizeof(*t));

	for (int i = -5; i < runs; i++) {
		double t0 = now_ms();
		struct btf *btf = btf__parse(path, NULL);

		if (!btf) {
			fprintf(stderr, "btf__parse(%s) failed\n", path);
			return 1;
		}
		/* Touch the index the way a lookup would, so lazy work is not left out. */
		btf__type_cnt(btf);
		double dt = now_ms() - t0;

		btf__free(btf);
		if (i >= 0)
			t[i] = dt;
	}
	qsort(t, runs, sizeof(*t), cmp);
	printf("%.4f\n", t[runs / 2]);
	return 0;
}
