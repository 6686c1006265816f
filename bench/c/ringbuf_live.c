/* C reference of "ring buffer live" (libbpf), and the producer both sides use.
 *   ringbuf_live produce N: waits for a byte on stdin, then calls getpid N times.
 *   ringbuf_live consume OBJ N: forks that producer, loads OBJ with target_tgid set to it and the
 *     ring "rb" at 256 KiB, attaches "on_getpid", starts the producer and consumes with
 *     ring_buffer__poll until it has exited. Prints "received dropped sent" (dropped: tp_failed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

static long received;

static int on_rec(void *ctx, void *data, size_t size)
{
	received++;
	return 0;
}

static void *section(struct bpf_object *obj, const char *suffix)
{
	struct bpf_map *m;
	size_t l = strlen(suffix), sz;
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t k = strlen(n);
		if (k >= l && !strcmp(n + k - l, suffix))
			return (void *)bpf_map__initial_value(m, &sz);
	}
	return NULL;
}

static void produce(long n)
{
	char c;
	if (read(0, &c, 1) != 1)
		exit(1);
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "produce"))
		produce(atol(argv[2]));
	if (argc != 4 || strcmp(argv[1], "consume"))
		return 2;
	long n = atol(argv[3]);
	int go[2];
	if (pipe(go))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		dup2(go[0], 0);
		close(go[1]);
		produce(n);
	}
	close(go[0]);
	struct bpf_object *obj = bpf_object__open_file(argv[2], NULL);
	unsigned int *tgid = obj ? section(obj, ".rodata") : NULL;
	if (!tgid) {
		fprintf(stderr, "open failed\n");
		return 1;
	}
	*tgid = child; /* target_tgid is the only .rodata variable */
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "rb"), 256 << 10);
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load failed\n");
		return 1;
	}
	struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, "on_getpid"));
	struct ring_buffer *rb = ring_buffer__new(
		bpf_map__fd(bpf_object__find_map_by_name(obj, "rb")), on_rec, NULL, NULL);
	if (!link || !rb) {
		fprintf(stderr, "attach failed\n");
		return 1;
	}
	if (write(go[1], "g", 1) != 1)
		return 1;
	int status;
	while (waitpid(child, &status, WNOHANG) == 0)
		ring_buffer__poll(rb, 100);
	ring_buffer__consume(rb);
	/* .bss starts with tp_sent, tp_failed (u64 each; the object's BTF datasec has that order) */
	unsigned long long bss[16] = {};
	struct bpf_map *m;
	int key = 0;
	bpf_object__for_each_map(m, obj) {
		const char *nm = bpf_map__name(m);
		size_t k = strlen(nm);
		if (k >= 4 && !strcmp(nm + k - 4, ".bss") && bpf_map__value_size(m) <= sizeof(bss))
			bpf_map_lookup_elem(bpf_map__fd(m), &key, bss);
	}
	if (received + bss[1] != bss[0]) {
		fprintf(stderr, "received %ld + failed %llu != sent %llu\n", received, bss[1], bss[0]);
		return 1;
	}
	printf("%ld %llu %llu\n", received, bss[1], bss[0]);
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
