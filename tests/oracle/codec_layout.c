/*
 * The C side of tests/codec_test.ts: fills a struct all (codec_layout.h) with known values and
 * prints its size, alignment, bytes (hex) and the offset of each member the test names.
 * Build: gcc -o codec_layout codec_layout.c (the test does).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "codec_layout.h"

static void offsets(void) {
#define O(m) printf("off %s %zu\n", #m, offsetof(struct all, m));
  O(u8v) O(s8v) O(u16v) O(s16v) O(u32v) O(s32v) O(u64v) O(s64v) O(flag) O(ch) O(f32) O(f64)
  O(ptr) O(color) O(big) O(neg) O(name) O(ints) O(grid) O(names) O(in) O(ins) O(pk) O(bits)
  O(num) O(anon_u) O(anon_h) O(x) O(y) O(z) O(zs) O(u128) O(tail)
#undef O
}

int main(void) {
  struct all v;
  /* Member by member after a memset, so that padding stays zero. */
  memset(&v, 0, sizeof v);
  v.u8v = 200;
  v.s8v = -100;
  v.u16v = 60000;
  v.s16v = -30000;
  v.u32v = 4000000000u;
  v.s32v = -2000000000;
  v.u64v = 18000000000000000000ull;
  v.s64v = -9000000000000000000ll;
  v.flag = 1;
  v.ch = 'A';
  v.f32 = 1.5f;
  v.f64 = -2.25;
  v.ptr = (void *)0x1122334455667788ull;
  v.color = BLUE;
  v.big = BIG_A;
  v.neg = NEG_M;
  strcpy(v.name, "h\xc3\xa9llo");
  v.ints[0] = -1;
  v.ints[1] = 2;
  v.ints[2] = -3;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++) v.grid[i][j] = (u16)(i * 10 + j + 1);
  strcpy(v.names[0], "abcd");
  strcpy(v.names[1], "xy");
  v.in.a = 0xbeef;
  v.in.b = 0x12;
  v.in.c = 0xdeadbeef;
  for (int i = 0; i < 2; i++) {
    v.ins[i].a = (u16)(3 * i + 1);
    v.ins[i].b = (u8)(3 * i + 2);
    v.ins[i].c = (u32)(3 * i + 3);
  }
  v.pk.a = 7;
  v.pk.b = 0x01020304;
  v.pk.c = 0x0506;
  v.bits.a = 5;
  v.bits.b = -9;
  v.bits.c = 0xabc;
  v.bits.d = 0xfedcba9876ull;
  v.bits.e = -4294967296ll;
  v.bits.f = 1;
  v.bits.g = 1;
  v.bits.h = 0x155;
  v.bits.en = NEG_M;
  v.num.u = 0x40490fdb;
  v.anon_u = 0x01020304;
  v.x = 9;
  v.y = 10;
  v.z = 0xf0;
  v.u128 = ((unsigned __int128)0x0102030405060708ull << 64) | 0x090a0b0c0d0e0f10ull;

  printf("size %zu\nalign %zu\nbytes ", sizeof v, _Alignof(struct all));
  for (size_t i = 0; i < sizeof v; i++) printf("%02x", ((unsigned char *)&v)[i]);
  printf("\n");
  offsets();
  return 0;
}
