import { test } from "node:test";
import assert from "node:assert/strict";
import { execSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { btfToC } from "../gen/c_dump.ts";
import { BtfBuilder, member } from "../btf/builder.ts";
import {
  assertSameText,
  compileBpfC,
  ROOT,
  runCli,
  skip,
  skipMissing,
  testObjects,
  withTmpDir,
} from "./_util.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const hasVmlinux = existsSync(VMLINUX);
const hasBpftool = spawnSync("bpftool", ["version"]).status === 0;

function bpftoolC(file: string): string {
  const r = spawnSync("bpftool", ["btf", "dump", "file", file, "format", "c"], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  assert.equal(r.status, 0, `bpftool failed on ${file}: ${r.stderr}`);
  return r.stdout;
}

/** C with the layouts and declarators the dumper must get right, compiled by the test itself. */
const KINDS_C = `
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;
enum sgn { NEG = -5, POS = 7 };
enum big { B1 = 0xffffffffffULL, B2 = 1 };
enum sbig { SB = -0x1ffffffffLL };
enum __attribute__((packed)) small { S1, S2 };
union un { int a; float f; double d; };
struct fwd_only;
struct __attribute__((packed)) pk { u8 c; u32 i; u64 l; };
struct __attribute__((aligned(16))) al { int x; };
struct bits { unsigned a:3; unsigned b:5; int c; char arr[7]; _Bool flag; volatile const int * restrict p; u64 big:40; u64 rest:24; u8 tail:1; };
struct nest {
  int kind;
  union { struct { int x, y; } pt; struct { long lo, hi; }; u8 raw[16]; };
  struct { int inner; } named_anon;
  enum { NA_ONE = 1, NA_TWO } e;
  int (*handlers[4])(void *);
  int * (*(*getter)(int))(char);
  void (*cb)(void);
  int matrix[2][3];
  int (*pm)[3];
  const char *names[2];
  __int128 wide;
  long double ld;
  struct fwd_only *fo;
  char flex[];
};
typedef struct { int a; } anon_t;
typedef union { int a; float b; } anon_u;
typedef enum { AE_X } anon_e;
typedef int (*fnptr_t)(int, ...);
struct gap { char c; long l; char d; };
struct holes { char c; int __attribute__((aligned(32))) i; };
struct withtag { int x __attribute__((btf_decl_tag("field_tag"))); int __attribute__((btf_type_tag("user"))) *up; };
struct list { struct list *next, *prev; struct nest *n; };
struct nest gnest; struct pk gpk; struct al gal; struct bits gbits; union un gun; enum sgn gs; enum big gb;
enum sbig gsb; enum small gsm; anon_t gat; anon_u gau; anon_e gae; fnptr_t gfp; struct gap ggap; struct holes gholes;
struct withtag gwt; struct list glist; u64 gu;
__attribute__((section("xdp"), used)) int prog(void *ctx) { return gnest.kind; }
char _license[] __attribute__((section("license"), used)) = "GPL";
`;

test("btfToC() of an object with unusual layouts and declarators matches bpftool", (t) => {
  if (!hasBpftool) return skipMissing(t, "bpftool is not installed");
  if (spawnSync("clang-19", ["--version"]).status !== 0) {
    return skipMissing(t, "clang-19 is not installed");
  }
  withTmpDir("tsbpf-cdump-kinds", (dir) => {
    const obj = compileBpfC(dir, "kinds", KINDS_C);
    using btf = Btf.load(obj);
    const c = btfToC(btf);
    assertSameText(c, bpftoolC(obj), "kinds.bpf.o");
    // The object does hold the cases this test is about.
    for (
      const want of [
        "} __attribute__((packed));",
        "\tint * (* (*getter)(int))(char);",
        "\tint (*handlers[4])(void *);",
        "\tu64 big: 40;",
        "\tSB = -8589934591LL,",
        "typedef int (*fnptr_t)(int, ...);",
        'btf_type_tag("user")',
        "\tlong: 64;",
      ]
    ) {
      assert.ok(c.includes(want), `missing ${JSON.stringify(want)}`);
    }
  });
});

test("btfToC() of vmlinux is byte-identical to bpftool btf dump format c", {
  timeout: 120_000,
}, (t) => {
  if (!hasVmlinux) return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  if (!hasBpftool) return skipMissing(t, "bpftool is not installed");
  const want = bpftoolC(VMLINUX);
  using btf = Btf.load(VMLINUX);
  assertSameText(btfToC(btf), want, VMLINUX);
});

test("btfToC() of every test object is byte-identical to bpftool btf dump format c", (t) => {
  if (!hasBpftool) return skipMissing(t, "bpftool is not installed");
  const objects = testObjects();
  assert.ok(objects.length > 0);
  for (const file of objects) {
    using btf = Btf.load(file);
    assertSameText(btfToC(btf), bpftoolC(file), file);
  }
});

test("btfToC() wraps bit offsets of 2^31 and more as bpftool does instead of padding to them", (t) => {
  if (!hasBpftool) return skipMissing(t, "bpftool is not installed");
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  // A union member at bit 2^31 and a struct of 2^28 + 8 bytes (2^31 + 64 bits) whose one member
  // sits at bit 2^31: libbpf's C ints wrap both negative, so it prints no padding at all.
  b.union("far_union", 4, [member("a", int, 0), member("b", int, 0x80000000)]);
  b.struct("far_struct", 0x10000008, [member("c", int, 0x80000000)]);
  withTmpDir("tsbpf-cdump", (dir) => {
    const file = join(dir, "far.btf");
    writeFileSync(file, b.build());
    using btf = Btf.load(file);
    assertSameText(btfToC(btf), bpftoolC(file), "far.btf");
  });
});

test("tsbpf btf dump file OBJECT format c prints what bpftool prints", (t) => {
  if (!hasBpftool) return skipMissing(t, "bpftool is not installed");
  const file = testObjects()[0];
  const r = runCli(["btf", "dump", "file", file, "format", "c"]);
  assert.equal(r.code, 0, r.stderr);
  assertSameText(r.stdout, bpftoolC(file), file);
});

test("every test program compiles with clang-19 against tsbpf's own vmlinux.h", {
  timeout: 300_000,
}, (t) => {
  if (!hasVmlinux) return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  if (spawnSync("clang-19", ["--version"]).status !== 0) {
    return skipMissing(t, "clang-19 is not installed");
  }
  const bpfDir = join(ROOT, "tests", "bpf");
  const sources = readdirSync(bpfDir).filter((f) => f.endsWith(".bpf.c")).map((f) =>
    join(bpfDir, f)
  );
  assert.ok(sources.length > 0);
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-vmlinux-h-"));
  try {
    {
      using btf = Btf.load(VMLINUX);
      writeFileSync(join(dir, "vmlinux.h"), btfToC(btf));
    }
    const triple = execSync("gcc -dumpmachine", { encoding: "utf8" }).trim();
    // One clang run checks every file (a syntax and type check: what the header decides).
    const r = spawnSync("clang-19", [
      "-g",
      "-O2",
      "-target",
      "bpf",
      "-D__TARGET_ARCH_x86",
      "-fsyntax-only",
      "-I",
      dir,
      "-I",
      bpfDir,
      "-idirafter",
      `/usr/include/${triple}`,
      ...sources,
    ], { encoding: "utf8", maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr.split("\n").slice(0, 20).join("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
