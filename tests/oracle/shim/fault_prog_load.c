// SPDX-License-Identifier: Apache-2.0
/*
 * fault_prog_load.so: an LD_PRELOAD shim for libbpf_oracle that makes the kernel's answer to
 * BPF_PROG_LOAD of one program type a chosen errno, as tsbpf's withFaults() does inside tsbpf, so
 * that an oracle-driven test can tell libbpf what tsbpf was told.
 *
 *   TSBPF_FAULT_PROG_TYPE=N  the bpf_prog_type to refuse (BPF_PROG_TYPE_XDP is 6)
 *   TSBPF_FAULT_ERRNO=E      the errno to refuse it with (EPERM is 1)
 *
 * Every other call goes to libc's syscall() unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

typedef long (*syscall_fn)(long, long, long, long, long, long, long);

long syscall(long number, ...)
{
	static syscall_fn next;
	va_list ap;
	long a[6];

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (number == __NR_bpf && a[0] == BPF_PROG_LOAD && a[1] != 0) {
		const char *type = getenv("TSBPF_FAULT_PROG_TYPE");
		const char *err = getenv("TSBPF_FAULT_ERRNO");
		__u32 prog_type;

		memcpy(&prog_type, (const void *)a[1], sizeof(prog_type));
		if (type && err && (long)prog_type == strtol(type, NULL, 10)) {
			errno = (int)strtol(err, NULL, 10);
			return -1;
		}
	}
	if (!next)
		next = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	return next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
