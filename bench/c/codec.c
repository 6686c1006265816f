// Reference for the codec measures: what a C consumer does with a 56-byte event record, copy it
// out of a buffer of 1024 records (and find the end of its comm) or fill one in and copy it in.
// Prints one JSON number: nanoseconds per record, the median of 15 runs. Usage: codec decode|encode
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct event {
	uint32_t pid;
	uint32_t tid;
	uint64_t ts;
	char comm[16];
	uint64_t args[2];
	uint32_t flags;
};

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

int main(int argc, char **argv)
{
	int decode = argc > 1 && strcmp(argv[1], "decode") == 0;
	static struct event buf[1024];
	volatile uint64_t sink = 0;
	const int n = 2000000, runs = 15;
	double t[15];

	for (int i = 0; i < 1024; i++) {
		buf[i].pid = i;
		strcpy(buf[i].comm, "bash");
	}
	for (int r = 0; r < runs; r++) {
		double t0 = now_ns();

		for (int i = 0; i < n; i++) {
			struct event e;

			if (decode) {
				memcpy(&e, &buf[i & 1023], sizeof(e));
				__asm__ volatile("" : : "r"(&e) : "memory");
				sink += e.pid + strnlen(e.comm, sizeof(e.comm)) + e.args[1];
			} else {
				memset(&e, 0, sizeof(e));
				e.pid = i;
				e.tid = 2;
				e.ts = 3;
				strncpy(e.comm, "bash", sizeof(e.comm));
				e.flags = 5;
				memcpy(&buf[i & 1023], &e, sizeof(e));
				__asm__ volatile("" : : "r"(buf) : "memory");
			}
		}
		t[r] = (now_ns() - t0) / n;
	}
	qsort(t, runs, sizeof(*t), cmp);
	printf("%.4f\n", t[runs / 2] + (sink == 42 ? 1e-9 : 0));
	return 0;
}
