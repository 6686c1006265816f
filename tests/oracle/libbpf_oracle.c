// SPDX-License-Identifier: Apache-2.0
/*
 * libbpf_oracle: prints libbpf's view of a BPF object as JSON, for tsbpf's oracle tests.
 *
 *   libbpf_oracle info FILE [--pin-root DIR] [--insns]
 *       open the object (bpf_object__open_file) and print its programs and maps, internal maps
 *       (.data, .rodata, .bss, .kconfig, custom sections) included with "internal": true.
 *   libbpf_oracle load FILE [--pin-root DIR] [--insns] [--no-progs | PROG...]
 *       open and load it (only the named programs when any are given, none with --no-progs: maps
 *       only), print each loaded program's
 *       id, tag, translated length and final instruction count, and each created map's id and
 *       final sizes. On failure prints {"error": ..., "errno": ...} on stdout, libbpf's log on
 *       stderr, and exits 1.
 *   --insns adds "insnList", each program's instructions as [code, dst, src, off, imm] (plus the
 *       map's name for an ld_imm64 of a map fd, whose imm is then 0): after open they are the ELF
 *       section's; after load, what libbpf gave the kernel (relocated, CO-RE applied, subprograms
 *       appended).
 *
 * libbpf's own messages are kept quiet unless LIBBPF_ORACLE_DEBUG is set (then they go to stderr
 * as they happen); on failure the buffered messages are printed to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static char *logbuf;
static size_t loglen, logcap;
static int debug;

static int on_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char tmp[8192];
	int n;

	(void)level;
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	if (debug)
		fputs(tmp, stderr);
	if (loglen + n + 1 > logcap) {
		size_t cap = (logcap ? logcap * 2 : 65536) + n;
		char *p = realloc(logbuf, cap);
		if (!p)
			return 0;
		logbuf = p;
		logcap = cap;
	}
	memcpy(logbuf + loglen, tmp, n);
	loglen += n;
	logbuf[loglen] = 0;
	return n;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static int fail(const char *what, int err)
{
	if (err > 0)
		err = -err;
	printf("{\"error\": ");
	json_str(what);
	printf(", \"errno\": %d, \"message\": ", -err);
	json_str(strerror(-err));
	printf("}\n");
	if (!debug && logbuf)
		fputs(logbuf, stderr);
	fprintf(stderr, "libbpf_oracle: %s: %s\n", what, strerror(-err));
	return 1;
}

static int want_insns;

/* Prints ", \"insnList\": [[code, dst, src, off, imm], ...]" for a program. ld_imm64 instructions that
 * carry a map fd (BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE) get the map's name in place of the fd,
 * as a sixth element, and imm 0, so the output does not depend on fd numbers. */
static void print_insns(struct bpf_object *obj, const struct bpf_program *prog)
{
	const struct bpf_insn *insn = bpf_program__insns(prog);
	size_t n = bpf_program__insn_cnt(prog);

	printf(", \"insnList\": [");
	for (size_t i = 0; i < n; i++) {
		const struct bpf_insn *in = &insn[i];
		const char *map_name = NULL;
		int imm = in->imm;

		if (in->code == (BPF_LD | BPF_IMM | BPF_DW) &&
		    (in->src_reg == BPF_PSEUDO_MAP_FD || in->src_reg == BPF_PSEUDO_MAP_VALUE)) {
			struct bpf_map *map;

			bpf_object__for_each_map(map, obj) {
				if (bpf_map__fd(map) >= 0 && bpf_map__fd(map) == in->imm)
					map_name = bpf_map__name(map);
			}
			if (map_name)
				imm = 0;
		}
		printf("%s[%u, %u, %u, %d, %d", i ? ", " : "", in->code, in->dst_reg, in->src_reg,
		       in->off, imm);
		if (map_name) {
			printf(", ");
			json_str(map_name);
		}
		printf("]");
	}
	printf("]");
}

static void print_map_common(struct bpf_map *map)
{
	size_t init_size = 0;
	const void *init = bpf_map__initial_value(map, &init_size);
	struct bpf_map *inner = bpf_map__inner_map(map);

	printf("{\"name\": ");
	json_str(bpf_map__name(map));
	printf(", \"type\": ");
	json_str(or_empty(libbpf_bpf_map_type_str(bpf_map__type(map))));
	printf(", \"typeId\": %d, \"keySize\": %u, \"valueSize\": %u, \"maxEntries\": %u, \"flags\": %u",
	       (int)bpf_map__type(map), bpf_map__key_size(map), bpf_map__value_size(map),
	       bpf_map__max_entries(map), bpf_map__map_flags(map));
	printf(", \"mapExtra\": %llu, \"numaNode\": %u", (unsigned long long)bpf_map__map_extra(map),
	       bpf_map__numa_node(map));
	printf(", \"btfKeyTypeId\": %u, \"btfValueTypeId\": %u", bpf_map__btf_key_type_id(map),
	       bpf_map__btf_value_type_id(map));
	printf(", \"internal\": %s, \"autocreate\": %s", bpf_map__is_internal(map) ? "true" : "false",
	       bpf_map__autocreate(map) ? "true" : "false");
	printf(", \"initialValueSize\": %zu", init ? init_size : (size_t)0);
	/* libbpf 1.1 names internal maps "<obj prefix>.bss" etc.; the datasec is the part from the dot */
	printf(", \"datasec\": ");
	if (bpf_map__is_internal(map) && strchr(bpf_map__name(map), '.'))
		json_str(strchr(bpf_map__name(map), '.'));
	else
		fputs("null", stdout);
	printf(", \"pinPath\": ");
	if (bpf_map__pin_path(map))
		json_str(bpf_map__pin_path(map));
	else
		fputs("null", stdout);
	printf(", \"innerMap\": ");
	if (inner) {
		printf("{\"type\": ");
		json_str(or_empty(libbpf_bpf_map_type_str(bpf_map__type(inner))));
		printf(", \"keySize\": %u, \"valueSize\": %u, \"maxEntries\": %u, \"flags\": %u}",
		       bpf_map__key_size(inner), bpf_map__value_size(inner),
		       bpf_map__max_entries(inner), bpf_map__map_flags(inner));
	} else {
		fputs("null", stdout);
	}
}

static int cmd_info(struct bpf_object *obj)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int first = 1;

	printf("{\"name\": ");
	json_str(bpf_object__name(obj));
	printf(", \"kernVersion\": %u, \"programs\": [", bpf_object__kversion(obj));
	bpf_object__for_each_program(prog, obj) {
		enum bpf_attach_type eat = bpf_program__expected_attach_type(prog);

		printf("%s\n  {\"name\": ", first ? "" : ",");
		first = 0;
		json_str(bpf_program__name(prog));
		printf(", \"section\": ");
		json_str(bpf_program__section_name(prog));
		printf(", \"type\": ");
		json_str(or_empty(libbpf_bpf_prog_type_str(bpf_program__type(prog))));
		printf(", \"typeId\": %d, \"expectedAttachType\": ", (int)bpf_program__type(prog));
		json_str(or_empty(libbpf_bpf_attach_type_str(eat)));
		printf(", \"expectedAttachTypeId\": %d, \"insns\": %zu, \"autoload\": %s, \"flags\": %u",
		       (int)eat, bpf_program__insn_cnt(prog),
		       bpf_program__autoload(prog) ? "true" : "false", bpf_program__flags(prog));
		if (want_insns)
			print_insns(obj, prog);
		printf("}");
	}
	printf("\n], \"maps\": [");
	first = 1;
	bpf_object__for_each_map(map, obj) {
		printf("%s\n  ", first ? "" : ",");
		first = 0;
		print_map_common(map);
		printf("}");
	}
	printf("\n]}\n");
	return 0;
}

static int cmd_load(struct bpf_object *obj, char **names, int nnames, int no_progs)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err, first = 1;

	if (no_progs) {
		bpf_object__for_each_program(prog, obj)
			bpf_program__set_autoload(prog, 0);
	} else if (nnames > 0) {
		bpf_object__for_each_program(prog, obj) {
			int want = 0;
			for (int i = 0; i < nnames; i++)
				if (strcmp(names[i], bpf_program__name(prog)) == 0)
					want = 1;
			bpf_program__set_autoload(prog, want);
		}
		for (int i = 0; i < nnames; i++)
			if (!bpf_object__find_program_by_name(obj, names[i]))
				return fail("no such program", ENOENT);
	}
	err = bpf_object__load(obj);
	if (err)
		return fail("bpf_object__load failed", err);

	printf("{\"programs\": [");
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (!bpf_program__autoload(prog) || fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		if (err)
			return fail("bpf_obj_get_info_by_fd failed", -errno);
		printf("%s\n  {\"name\": ", first ? "" : ",");
		first = 0;
		json_str(bpf_program__name(prog));
		printf(", \"section\": ");
		json_str(bpf_program__section_name(prog));
		printf(", \"id\": %u, \"tag\": \"", info.id);
		for (int i = 0; i < BPF_TAG_SIZE; i++)
			printf("%02x", info.tag[i]);
		printf("\", \"xlatedInsns\": %u, \"insnCount\": %zu, \"type\": ",
		       info.xlated_prog_len / 8, bpf_program__insn_cnt(prog));
		json_str(or_empty(libbpf_bpf_prog_type_str(info.type)));
		if (want_insns)
			print_insns(obj, prog);
		printf("}");
	}
	printf("\n], \"maps\": [");
	first = 1;
	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		int fd = bpf_map__fd(map);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return fail("bpf_obj_get_info_by_fd failed", -errno);
		printf("%s\n  ", first ? "" : ",");
		first = 0;
		print_map_common(map);
		printf(", \"id\": %u, \"kernelName\": ", info.id);
		json_str(info.name);
		printf(", \"kernelMaxEntries\": %u, \"kernelFlags\": %u, \"kernelMapExtra\": %llu}",
		       info.max_entries, info.map_flags, (unsigned long long)info.map_extra);
	}
	printf("\n]}\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: libbpf_oracle info FILE [--pin-root DIR] [--insns]\n"
			"       libbpf_oracle load FILE [--pin-root DIR] [--insns] [--no-progs | PROG...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct bpf_object *obj;
	char *names[64];
	int nnames = 0, no_progs = 0, rc;
	long err;

	debug = getenv("LIBBPF_ORACLE_DEBUG") != NULL && *getenv("LIBBPF_ORACLE_DEBUG") != 0;
	libbpf_set_print(on_print);
	if (argc < 3)
		return usage();
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--pin-root") == 0 && i + 1 < argc) {
			opts.pin_root_path = argv[++i];
		} else if (strcmp(argv[i], "--insns") == 0) {
			want_insns = 1;
		} else if (strcmp(argv[i], "--no-progs") == 0) {
			no_progs = 1;
		} else if (nnames < 64) {
			names[nnames++] = argv[i];
		} else {
			return usage();
		}
	}
	if (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "load") != 0)
		return usage();
	if ((strcmp(argv[1], "info") == 0 && (nnames > 0 || no_progs)) || (no_progs && nnames > 0))
		return usage();

	obj = bpf_object__open_file(argv[2], &opts);
	err = libbpf_get_error(obj);
	if (err)
		return fail("bpf_object__open_file failed", (int)err);
	rc = strcmp(argv[1], "info") == 0 ? cmd_info(obj) : cmd_load(obj, names, nnames, no_progs);
	fflush(stdout);
	bpf_object__close(obj);
	free(logbuf);
	return rc;
}
