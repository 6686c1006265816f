// SPDX-License-Identifier: Apache-2.0
/*
 * attach_oracle: what libbpf's skeleton attach (bpf_object__attach_skeleton) attaches in an
 * object, for tests/skeleton_test.ts.
 *
 *   attach_oracle FILE
 *       builds a bpf_object_skeleton for FILE at run time (its bytes, every program by name),
 *       opens, loads and attaches it with libbpf's skeleton functions, and prints one JSON line per
 *       program, {"name": ..., "attached": true|false}, then {"error": 0 | -errno} for the
 *       attach. Exits 1 when the open or the load fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: attach_oracle FILE\n");
		return 2;
	}
	libbpf_set_print(quiet);
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror("fopen");
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *data = malloc(sz);
	if (fread(data, 1, sz, f) != (size_t)sz) {
		perror("fread");
		return 1;
	}
	fclose(f);

	/* The program names, from a first open. */
	struct bpf_object *probe = bpf_object__open_mem(data, sz, NULL);
	if (!probe) {
		printf("{\"error\": \"open\", \"errno\": %d}\n", errno);
		return 1;
	}
	int n = 0;
	struct bpf_program *p;
	bpf_object__for_each_program(p, probe) n++;
	char **names = calloc(n + 1, sizeof(*names));
	int i = 0;
	bpf_object__for_each_program(p, probe) names[i++] = strdup(bpf_program__name(p));
	bpf_object__close(probe);

	struct bpf_object *obj = NULL;
	struct bpf_program **progs = calloc(n + 1, sizeof(*progs));
	struct bpf_link **links = calloc(n + 1, sizeof(*links));
	struct bpf_prog_skeleton *ps = calloc(n + 1, sizeof(*ps));
	for (i = 0; i < n; i++) {
		ps[i].name = names[i];
		ps[i].prog = &progs[i];
		ps[i].link = &links[i];
	}
	/* bpf_object__destroy_skeleton frees the skeleton and its arrays, as generated code allocates them. */
	struct bpf_object_skeleton *s = calloc(1, sizeof(*s));
	s->sz = sizeof(*s);
	s->name = "oracle";
	s->data = data;
	s->data_sz = sz;
	s->obj = &obj;
	s->prog_cnt = n;
	s->prog_skel_sz = sizeof(*ps);
	s->progs = ps;
	if (bpf_object__open_skeleton(s, NULL)) {
		printf("{\"error\": \"open\", \"errno\": %d}\n", errno);
		return 1;
	}
	if (bpf_object__load_skeleton(s)) {
		printf("{\"error\": \"load\", \"errno\": %d}\n", errno);
		bpf_object__destroy_skeleton(s);
		return 1;
	}
	int err = bpf_object__attach_skeleton(s);
	for (i = 0; i < n; i++)
		printf("{\"name\": \"%s\", \"attached\": %s}\n", names[i], links[i] ? "true" : "false");
	printf("{\"error\": %d}\n", err);
	fflush(stdout);
	bpf_object__destroy_skeleton(s);
	return 0;
}
