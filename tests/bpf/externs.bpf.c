/* Externs: .kconfig values, a typeless __ksym, a __weak one that is missing, and kfunc calls
 * (bpf_task_acquire/bpf_task_release) from an iterator. Typed ksym variables are in ksym_typed.bpf.c:
 * they need CONFIG_KALLSYMS_ALL, which this kernel lacks. */
#include "common.h"

extern int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern int CONFIG_TSBPF_DOES_NOT_EXIST __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_LSM __kconfig __weak;

extern const void _stext __ksym;                    /* typeless ksym (from kallsyms) */
extern const void tsbpf_missing_symbol __ksym __weak; /* weak, resolves to 0 */

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

__u64 seen_version;
__u64 seen_hz;
__u64 seen_flags;
__u64 seen_init_task;
__s32 seen_cpu;
__u64 acquired;

SEC("tp/syscalls/sys_enter_getpid")
int read_externs(void *ctx)
{
	seen_version = LINUX_KERNEL_VERSION;
	seen_hz = CONFIG_HZ;
	seen_flags = (CONFIG_BPF_SYSCALL ? 1 : 0) | (CONFIG_TSBPF_DOES_NOT_EXIST ? 2 : 0) |
		     (CONFIG_BPF_LSM == TRI_YES ? 4 : 0) | (CONFIG_DEFAULT_HOSTNAME[0] ? 8 : 0);
	seen_init_task = (__u64)&_stext;
	if (&tsbpf_missing_symbol)
		seen_flags |= 16;
	return 0;
}

SEC("iter/task")
int acquire_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task, *ref;

	if (!task)
		return 0;
	ref = bpf_task_acquire(task);
	if (!ref)
		return 0;
	acquired++;
	bpf_task_release(ref);
	return 0;
}
