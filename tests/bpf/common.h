/* Shared includes for the tsbpf test objects. */
#ifndef TSBPF_TEST_COMMON_H
#define TSBPF_TEST_COMMON_H
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";
#endif
