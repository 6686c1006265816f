/* C reference of "skeleton global read and write": bpftool's skeleton of
 * tests/bpf/build/skel_globals.bpf.o (skel_globals.skel.h and skel_globals.types.h, generated into
 * bench/build/ by the measure), loaded, then N rounds of one read and one write of a .bss variable
 * through the skeleton's pointer (volatile, so that each access happens). Prints ns per access. */
#include "skel_globals.types.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "skel_globals.skel.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000;
	struct skel_globals_bpf *skel = skel_globals_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "open_and_load failed\n");
		return 1;
	}
	volatile __u32 *runs = &skel->bss->runs;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		*runs = *runs + 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	skel_globals_bpf__destroy(skel);
	printf("%f\n", ns / (2.0 * n));
	return 0;
}
