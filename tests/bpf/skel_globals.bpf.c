/* Every kind of global variable a skeleton exposes, for tests/skeleton_test.ts: nested structs,
 * bitfields, unions (named and anonymous), arrays (of scalars, structs, arrays), enums (signed,
 * 64-bit), bool, char arrays, pointers, doubles, custom .data.* and .rodata.* sections, a kconfig
 * extern, a string literal (.rodata.str1.1), and static and hidden variables the skeleton must
 * leave out. skel_copy (run with BPF_PROG_TEST_RUN) copies what user space wrote into .bss, where
 * user space reads it back. */
#include "common.h"

enum color { RED = 1, GREEN = 2, BLUE = -3 };
enum wide { WIDE_SMALL = 1, WIDE_BIG = 0x100000000ULL };

struct inner {
	__u16 a;
	__s8 b;
	union {
		__u32 u32v;
		float f;
		__u8 bytes[4];
	};
};

struct bits {
	__u32 lo : 3;
	__u32 mid : 13;
	__s32 neg : 5;
	__u64 wide : 40;
	bool flag : 1;
};

union word {
	__u64 whole;
	struct {
		__u32 lo32;
		__u32 hi32;
	} parts;
};

struct cfg {
	__u64 id;
	struct inner in;
	struct bits fl;
	enum color col;
	bool on;
	char name[12];
	void *ptr;
	__s16 grid[2][3];
	struct inner list[2];
	union word u;
	double dbl;
	char names[2][6];
};

/* .rodata: written by user space before load, read by the program */
const volatile struct cfg rcfg = { .id = 1, .name = "init", .col = GREEN };
const volatile __u64 limits[4] = { 1, 2, 3, 4 };
const volatile char rname[8] = "ro";
const volatile bool rflag = false;
const volatile enum color rcol = RED;
const volatile enum wide rwide = WIDE_SMALL;

/* .data: written by user space after load (mmapped), read by the program */
struct cfg dcfg = { .id = 2 };
__s64 dval = -5;
float dflt = 1.5f;

/* .bss: written by the program, read by user space */
struct cfg out_rcfg;
struct cfg out_dcfg;
__u64 out_limits[4];
char out_rname[8];
bool out_rflag;
enum color out_rcol;
enum wide out_rwide;
__s64 out_dval;
float out_dflt;
__u32 out_cr_a;
__u64 out_cd_a;
__u32 out_hz;
__u32 runs;
char out_lit[16];

/* custom sections; the last array of .data.extra can grow when the section is resized */
__u64 cd_a SEC(".data.extra") = 3;
__u32 cd_tail[4] SEC(".data.extra") = { 1, 2, 3, 4 };
const volatile __u32 cr_a SEC(".rodata.extra") = 11;

/* kconfig */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* left out of the skeleton: static, and hidden */
static __u32 hidden_static = 5;
__attribute__((visibility("hidden"))) __u32 hidden_global = 6;

SEC("syscall")
int skel_copy(void *ctx)
{
	__builtin_memcpy(&out_rcfg, (const void *)&rcfg, sizeof(out_rcfg));
	__builtin_memcpy(&out_dcfg, &dcfg, sizeof(out_dcfg));
	for (int i = 0; i < 4; i++)
		out_limits[i] = limits[i];
	for (int i = 0; i < 8; i++)
		out_rname[i] = rname[i];
	out_rflag = rflag;
	out_rcol = rcol;
	out_rwide = rwide;
	out_dval = dval * 2;
	out_dflt = dflt;
	out_cr_a = cr_a;
	out_cd_a = cd_a + cd_tail[3];
	out_hz = CONFIG_HZ;
	hidden_static++;
	hidden_global++;
	/* a string literal: .rodata.str1.1, a data map with no variable (no accessor, as bpftool) */
	bpf_probe_read_kernel_str(out_lit, sizeof(out_lit), "literal!");
	runs++;
	return 0;
}
