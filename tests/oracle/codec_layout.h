/*
 * The types tests/codec_test.ts pins btf/codec.ts against: compiled with clang-19 -g -target bpf
 * for the BTF, and with gcc into codec_layout.c, which prints C's bytes and offsets.
 */
#ifndef CODEC_LAYOUT_H
#define CODEC_LAYOUT_H
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef _Bool flag_t;

enum color { RED = 0, GREEN = 1, BLUE = 7 };
enum big { BIG_A = 0x100000000ULL, BIG_B = 1 };
enum neg { NEG_M = -5, NEG_P = 5 };

struct inner { u16 a; u8 b; u32 c; };
struct __attribute__((packed)) packed { u8 a; u32 b; u16 c; };
struct bits {
  u32 a : 3;
  s32 b : 5;
  u32 c : 12;
  u64 d : 40;
  s64 e : 33;
  u8 f : 1;
  _Bool g : 1;
  u16 : 0;
  u16 h : 9;
  enum neg en : 4;
};
union num { u32 u; s32 s; float f; u8 b[4]; };
struct all {
  u8 u8v; s8 s8v; u16 u16v; s16 s16v; u32 u32v; s32 s32v; u64 u64v; s64 s64v;
  flag_t flag;
  char ch;
  float f32;
  double f64;
  void *ptr;
  enum color color; enum big big; enum neg neg;
  char name[12];
  s32 ints[3];
  u16 grid[2][3];
  char names[2][5];
  struct inner in;
  struct inner ins[2];
  struct packed pk;
  struct bits bits;
  union num num;
  union { u32 anon_u; u16 anon_h[2]; };
  struct { u8 x; u8 y; union { u8 z; s8 zs; }; };
  unsigned __int128 u128;
  u64 tail[0];
};

#endif
