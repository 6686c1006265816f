/*
 * A uprobe and USDT target for tsbpf's attach tests.
 *
 *   uprobe_target [COUNT] [--wait]
 *
 * Calls tsbpf_add(i, i + 1) COUNT times (default 1), each call passing the USDT probe tsbpf:add
 * with the same two arguments, then prints the sum and exits 0. With --wait it prints "ready\n"
 * and waits for one byte (or EOF) on stdin before the calls, so a test can attach to its pid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sdt.h>

__attribute__((noinline)) int tsbpf_add(int a, int b)
{
	int r = a + b;

	/* keep the call from being folded away */
	__asm__ volatile("" : "+r"(r));
	return r;
}

__attribute__((noinline)) long tsbpf_run(long count)
{
	long sum = 0;

	for (long i = 0; i < count; i++) {
		long a = i, b = i + 1;

		DTRACE_PROBE2(tsbpf, add, a, b);
		sum += tsbpf_add((int)a, (int)b);
	}
	return sum;
}

int main(int argc, char **argv)
{
	long count = 1;
	int wait = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0)
			wait = 1;
		else
			count = strtol(argv[i], NULL, 10);
	}
	if (wait) {
		char c;

		printf("ready\n");
		fflush(stdout);
		if (read(0, &c, 1) < 0)
			return 1;
	}
	printf("%ld\n", tsbpf_run(count));
	return 0;
}
