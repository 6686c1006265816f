// libbpf_insns FILE [TARGET_BTF]: loads a BPF object with libbpf and prints, per program, the instructions
// libbpf loaded (bpf_program__insns after bpf_object__load) as JSON, so tsbpf's relocation engine
// can be compared with libbpf's byte for byte. Map fds in ld_imm64 instructions
// (BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE) are printed as "@<map name>" instead of a number, and
// module BTF fds of BPF_PSEUDO_BTF_ID as "@btf", so the output does not depend on fd numbers.
// It also prints the func_info and line_info libbpf passed to BPF_PROG_LOAD (caught by defining
// syscall() here, which libbpf's sys_bpf() calls through the PLT), and for loaded programs the tag.
//
// When loading the whole object fails (one program the kernel refuses), each program is loaded
// on its own (the others with autoload off); a program that still fails to load is printed with
// "loaded": false and its relocated instructions. With TARGET_BTF (raw BTF or an ELF with .BTF),
// CO-RE relocates against it instead of the kernel's BTF (libbpf's btf_custom_path).
//
// Output: {"programs":[{"name":..,"alone":bool (loaded without the others),"loaded":bool,"insns":[".."],"attr":bool,
//          "relocated":bool,"func_info":[[off,type],..],"line_info":[[off,file,line,col],..],"tag":".."}]}
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct capture {
	char name[BPF_OBJ_NAME_LEN + 1];
	__u32 insn_cnt;
	__u32 fi_cnt, fi_rec;
	__u32 li_cnt, li_rec;
	unsigned char *insns, *fi, *li;
	int used;
};
#define MAX_CAPS 4096
/* A map or an extern failed before libbpf relocated anything: the instructions are raw. */
static int early_fail;
static struct capture caps[MAX_CAPS];
static int ncaps;

static unsigned char *dup_mem(__u64 ptr, size_t len)
{
	unsigned char *p = malloc(len + 1);

	if (p && len)
		memcpy(p, (const void *)(unsigned long)ptr, len);
	return p;
}

long syscall(long n, ...)
{
	static long (*real)(long, ...);
	va_list ap;
	long a1, a2, a3, a4, a5, a6;

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
	if (n == __NR_bpf && a1 == BPF_PROG_LOAD && ncaps < MAX_CAPS) {
		const union bpf_attr *attr = (const union bpf_attr *)a2;
		struct capture *c = &caps[ncaps++];

		memset(c, 0, sizeof(*c));
		memcpy(c->name, attr->prog_name, BPF_OBJ_NAME_LEN);
		c->insn_cnt = attr->insn_cnt;
		if (attr->insns && c->insn_cnt)
			c->insns = dup_mem(attr->insns, (size_t)c->insn_cnt * sizeof(struct bpf_insn));
		c->fi_cnt = attr->func_info_cnt;
		c->fi_rec = attr->func_info_rec_size;
		c->li_cnt = attr->line_info_cnt;
		c->li_rec = attr->line_info_rec_size;
		if (attr->func_info && c->fi_cnt)
			c->fi = dup_mem(attr->func_info, (size_t)c->fi_cnt * c->fi_rec);
		if (attr->line_info && c->li_cnt)
			c->li = dup_mem(attr->line_info, (size_t)c->li_cnt * c->li_rec);
	}
	return real(n, a1, a2, a3, a4, a5, a6);
}

static void print_load_attr(const struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);
	__u32 cnt = bpf_program__insn_cnt(prog);
	struct capture *c = NULL;

	/* The first unused load with this program's name prefix and exact instructions; programs
	 * are printed in the order libbpf loads them, so identical programs pair up in order. */
	for (int i = 0; i < ncaps; i++) {
		if (caps[i].used || caps[i].insn_cnt != cnt || !caps[i].insns ||
		    strncmp(caps[i].name, name, BPF_OBJ_NAME_LEN - 1) != 0 ||
		    memcmp(caps[i].insns, bpf_program__insns(prog), cnt * sizeof(struct bpf_insn)) != 0)
			continue;
		c = &caps[i];
		c->used = 1;
		break;
	}
	if (!c) {
		printf(",\"attr\":false,\"relocated\":%s", early_fail ? "false" : "true");
		return;
	}
	printf(",\"attr\":true,\"relocated\":true,\"func_info\":[");
	for (__u32 i = 0; i < c->fi_cnt; i++) {
		const __u32 *r = (const __u32 *)(c->fi + (size_t)i * c->fi_rec);
		printf("%s[%u,%u]", i ? "," : "", r[0], r[1]);
	}
	printf("],\"line_info\":[");
	for (__u32 i = 0; i < c->li_cnt; i++) {
		const __u32 *r = (const __u32 *)(c->li + (size_t)i * c->li_rec);
		printf("%s[%u,%u,%u,%u]", i ? "," : "", r[0], r[1], r[2], r[3]);
	}
	printf("]");
}

#define MAX_FDS 4096
static char *fd_names[MAX_FDS];


static void reset_fd_names(void)
{
	for (int i = 0; i < MAX_FDS; i++) {
		free(fd_names[i]);
		fd_names[i] = NULL;
	}
}

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char buf[1024];
	char name[512];
	int fd;

	vsnprintf(buf, sizeof(buf), fmt, args);
	const char *m = strstr(buf, "map '");
	if (m && sscanf(m, "map '%511[^']': created successfully, fd=%d", name, &fd) == 2) {
		if (fd >= 0 && fd < MAX_FDS) {
			free(fd_names[fd]);
			fd_names[fd] = strdup(name);
		}
	}
	/* Failures of the steps before relocation (externs, maps) and of relocation itself; later
	 * ones ("failed to prepare load attributes", "failed to load") leave relocated code. */
	if (level == LIBBPF_WARN &&
	    (strstr(buf, "libbpf: extern ") || strstr(buf, "failed to create") ||
	     strstr(buf, "failed to perform CO-RE relocations") ||
	     strstr(buf, "failed to relocate")))
		early_fail = 1;
	if (level == LIBBPF_WARN && getenv("LIBBPF_INSNS_VERBOSE"))
		fputs(buf, stderr);
	return 0;
}

/* Sizes user space normally sets before load (libbpf-tools style objects leave them 0). */
static void fix_map_sizes(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		enum bpf_map_type t = bpf_map__type(map);

		/* Local storage maps must have 0; perf event arrays get the CPU count from libbpf. */
		if (t == BPF_MAP_TYPE_SK_STORAGE || t == BPF_MAP_TYPE_INODE_STORAGE ||
		    t == BPF_MAP_TYPE_TASK_STORAGE || t == 32 /* CGRP_STORAGE */ ||
		    t == BPF_MAP_TYPE_PERF_EVENT_ARRAY || t == BPF_MAP_TYPE_STRUCT_OPS)
			continue;
		if (bpf_map__max_entries(map) == 0)
			bpf_map__set_max_entries(map, t == BPF_MAP_TYPE_RINGBUF ? 4096 : 1);
		if (bpf_map__value_size(map) == 0 && t == BPF_MAP_TYPE_STACK_TRACE)
			bpf_map__set_value_size(map, 8);
	}
}

static void print_insns(const struct bpf_program *prog)
{
	const struct bpf_insn *insns = bpf_program__insns(prog);
	size_t n = bpf_program__insn_cnt(prog);
	int pending_btf_fd = 0;

	printf("\"insns\":[");
	for (size_t i = 0; i < n; i++) {
		const unsigned char *b = (const unsigned char *)&insns[i];
		const struct bpf_insn *in = &insns[i];
		const char *sub = NULL;
		int hide_imm = 0;

		if (in->code == (BPF_LD | BPF_IMM | BPF_DW) &&
		    (in->src_reg == BPF_PSEUDO_MAP_FD || in->src_reg == BPF_PSEUDO_MAP_VALUE)) {
			hide_imm = 1;
			if (in->imm >= 0 && in->imm < MAX_FDS && fd_names[in->imm])
				sub = fd_names[in->imm];
			else
				sub = "?";
		}
		if (pending_btf_fd) {
			pending_btf_fd = 0;
			if (in->imm != 0) {
				hide_imm = 1;
				sub = "btf";
			}
		}
		if (in->code == (BPF_LD | BPF_IMM | BPF_DW) && in->src_reg == BPF_PSEUDO_BTF_ID)
			pending_btf_fd = 1;

		printf("%s\"", i ? "," : "");
		for (int j = 0; j < 8; j++) {
			if (hide_imm && j >= 4)
				printf("00");
			else
				printf("%02x", b[j]);
		}
		if (hide_imm)
			printf("@%s", sub);
		printf("\"");
	}
	printf("]");
}

static void print_tag(int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		printf(",\"info_error\":%d", errno);
		return;
	}
	printf(",\"tag\":\"");
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		printf("%02x", info.tag[i]);
	printf("\"");
}

static int alone;

static void print_prog(const struct bpf_program *prog, int *first)
{
	int fd = bpf_program__fd(prog);

	printf("%s{\"name\":\"%s\",\"alone\":%s,\"loaded\":%s,", *first ? "" : ",",
	       bpf_program__name(prog), alone ? "true" : "false", fd >= 0 ? "true" : "false");
	*first = 0;
	print_insns(prog);
	print_load_attr(prog);
	if (fd >= 0)
		print_tag(fd);
	printf("}");
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	int err, first = 1;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s FILE.bpf.o [TARGET_BTF]\n", argv[0]);
		return 2;
	}
	libbpf_set_print(print_fn);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = argc == 3 ? argv[2] : NULL);

	obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fix_map_sizes(obj);
	err = bpf_object__load(obj);
	printf("{\"programs\":[");
	if (!err) {
		bpf_object__for_each_program(prog, obj) {
			if (bpf_program__autoload(prog))
				print_prog(prog, &first);
		}
		bpf_object__close(obj);
		printf("]}\n");
		return 0;
	}
	// Load each program on its own.
	int n = 0;
	bpf_object__for_each_program(prog, obj) n++;
	char **names = calloc(n + 1, sizeof(char *));
	int *autoload = calloc(n + 1, sizeof(int));
	int k = 0;
	bpf_object__for_each_program(prog, obj) {
		names[k] = strdup(bpf_program__name(prog));
		autoload[k] = bpf_program__autoload(prog);
		k++;
	}
	bpf_object__close(obj);
	alone = 1;
	for (int i = 0; i < n; i++) {
		if (!autoload[i])
			continue;
		reset_fd_names();
		ncaps = 0;
		obj = bpf_object__open_file(argv[1], &opts);
		if (!obj)
			return 1;
		struct bpf_program *want = NULL;
		bpf_object__for_each_program(prog, obj) {
			int me = strcmp(bpf_program__name(prog), names[i]) == 0;
			bpf_program__set_autoload(prog, me);
			if (me)
				want = prog;
		}
		early_fail = 0;
		fix_map_sizes(obj);
		bpf_object__load(obj);
		if (want)
			print_prog(want, &first);
		bpf_object__close(obj);
	}
	printf("]}\n");
	return 0;
}
