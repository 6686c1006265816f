// Reference for the "open+load" measures: libbpf's bpf_object__open_file + bpf_object__load +
// bpf_object__close of one object, first in the process (timed from the start of main, so libbpf's
// reading of the kernel's BTF and its feature probes are in) and then N more in the same process.
// The time spent inside bpf() is caught by defining syscall() here: libbpf's sys_bpf() calls it
// through the PLT, so this definition takes the calls and times them around the real one.
//
// Usage: open_load FILE N. Prints one JSON object: first (ms), firstBpf (ms inside bpf()),
// firstCalls (bpf() calls), firstSys (system CPU ms, rusage), and the medians over the N later
// objects: next, nextBpf, nextCalls, nextSys.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double sys_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static double in_bpf;
static int bpf_calls;

long syscall(long n, ...)
{
	static long (*real)(long, ...);
	va_list ap;
	long a1, a2, a3, a4, a5, a6, ret;
	double t0;

	va_start(ap, n);
	a1 = va_arg(ap, long);
	a2 = va_arg(ap, long);
	a3 = va_arg(ap, long);
	a4 = va_arg(ap, long);
	a5 = va_arg(ap, long);
	a6 = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	if (n != __NR_bpf)
		return real(n, a1, a2, a3, a4, a5, a6);
	t0 = now_ms();
	ret = real(n, a1, a2, a3, a4, a5, a6);
	in_bpf += now_ms() - t0;
	bpf_calls++;
	return ret;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double open_load(const char *path, double *bpf_ms, int *calls, double *sys_ms)
{
	double s0 = sys_cpu_ms(), t0 = now_ms();
	struct bpf_object *obj;

	in_bpf = 0;
	bpf_calls = 0;
	obj = bpf_object__open_file(path, NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "open_load: loading %s failed\n", path);
		exit(1);
	}
	bpf_object__close(obj);
	*bpf_ms = in_bpf;
	*calls = bpf_calls;
	*sys_ms = sys_cpu_ms() - s0;
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	double start_sys = sys_cpu_ms(), start = now_ms();
	const char *path = argc > 1 ? argv[1] : "tests/bpf/build/load_globals.bpf.o";
	int n = argc > 2 ? atoi(argv[2]) : 0;
	double first, first_bpf, first_sys, *wall, *bpf, *calls, *sys, ignored;
	int first_calls;

	libbpf_set_print(silent);
	open_load(path, &first_bpf, &first_calls, &ignored);
	first = now_ms() - start;
	first_sys = sys_cpu_ms() - start_sys;
	wall = calloc(n + 1, sizeof(*wall));
	bpf = calloc(n + 1, sizeof(*bpf));
	calls = calloc(n + 1, sizeof(*calls));
	sys = calloc(n + 1, sizeof(*sys));
	for (int i = 0; i < n; i++) {
		int c;

		wall[i] = open_load(path, &bpf[i], &c, &sys[i]);
		calls[i] = c;
	}
	/* main() starts with libbpf already linked: "library already imported" is the same clock */
	printf("{\"first\":%.4f,\"firstImported\":%.4f,\"firstBpf\":%.4f,\"firstCalls\":%d,\"firstSys\":%.4f,"
	       "\"next\":%.4f,\"nextBpf\":%.4f,\"nextCalls\":%.0f,\"nextSys\":%.4f}\n",
	       first, first, first_bpf, first_calls, first_sys, median(wall, n), median(bpf, n),
	       median(calls, n), median(sys, n));
	return 0;
}
