/* The layout oracle of tests/skeleton_test.ts (built by the test, not by setup: it needs the
 * generated headers): bpftool's C skeleton of tests/bpf/skel_globals.bpf.o
 * (skel_globals.skel.h, made by `bpftool gen skeleton` at test time) sets the same values the test
 * sets through the TypeScript skeleton, then prints each data section's bytes (before load) as
 * `<section ident> <hex>` lines. Built with skel_globals.types.h from `bpftool btf dump ... format c`. The test compares them with the TypeScript side's bytes. */
/* The object's types, from `bpftool btf dump file skel_globals.bpf.o format c` (it defines bool). */
#include "skel_globals.types.h"
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "skel_globals.skel.h"

static void set_cfg(struct cfg *c)
{
	c->id = 0x1122334455667788ULL;
	c->in.a = 0xbeef;
	c->in.b = -7;
	c->in.f = 2.5f;
	c->fl.lo = 5;
	c->fl.mid = 4000;
	c->fl.neg = -9;
	c->fl.wide = 0xabcdef1234ULL;
	c->fl.flag = true;
	c->col = BLUE;
	c->on = true;
	strcpy(c->name, "hello");
	c->ptr = (void *)0xdeadbeefUL;
	c->grid[1][2] = -300;
	c->list[1].u32v = 77;
	c->list[0].bytes[3] = 0xaa;
	c->u.parts.hi32 = 9;
	c->dbl = 3.25;
	strcpy(c->names[1], "xy");
}

static void dump(const char *ident, struct bpf_map *map)
{
	size_t sz = 0;
	const unsigned char *p = bpf_map__initial_value(map, &sz);
	printf("%s ", ident);
	for (size_t i = 0; p && i < sz; i++)
		printf("%02x", p[i]);
	printf("\n");
}

int main(void)
{
	struct skel_globals_bpf *skel = skel_globals_bpf__open();
	if (!skel) {
		fprintf(stderr, "open failed\n");
		return 1;
	}
	set_cfg(&skel->rodata->rcfg);
	skel->rodata->limits[3] = 44;
	strcpy(skel->rodata->rname, "abc");
	skel->rodata->rflag = true;
	skel->rodata->rcol = GREEN;
	skel->rodata->rwide = WIDE_BIG;
	set_cfg(&skel->data->dcfg);
	skel->data->dval = -21;
	skel->data->dflt = -0.75f;
	skel->data_extra->cd_a = 30;
	skel->data_extra->cd_tail[3] = 12;
	skel->rodata_extra->cr_a = 123;
	skel->bss->out_rname[0] = 'z';
	skel->bss->runs = 0x01020304;
	dump("rodata", skel->maps.rodata);
	dump("data", skel->maps.data);
	dump("data_extra", skel->maps.data_extra);
	dump("rodata_extra", skel->maps.rodata_extra);
	dump("bss", skel->maps.bss);
	skel_globals_bpf__destroy(skel);
	return 0;
}
