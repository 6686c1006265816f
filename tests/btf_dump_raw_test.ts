import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { dumpRaw } from "../btf/raw_dump.ts";
import { BtfBuilder, member } from "../btf/builder.ts";
import { assertSameText, compileBpfC, runCli, skip, testObjects, withTmpDir } from "./_util.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const hasVmlinux = existsSync(VMLINUX);

function bpftool(args: string[]): string {
  return execFileSync("bpftool", args, {
    encoding: "utf8",
    maxBuffer: 256 << 20,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

const KINDS_C = `
typedef unsigned long long u64;
enum sgn { NEG = -5, POS = 7 };
enum big { B1 = 0xffffffffffULL, B2 = 1 };
enum sbig { SB = -0x1ffffffffLL };
union un { int a; float f; double d; };
struct fwd_only;
union fwd_u;
struct bits { unsigned a:3; unsigned b:5; int c; char arr[7]; _Bool flag; volatile const int * restrict p; };
struct withtag { int x __attribute__((btf_decl_tag("field_tag"))); } __attribute__((btf_decl_tag("struct_tag")));
int __attribute__((btf_type_tag("user"))) *tagged_ptr;
struct fwd_only *fp; union fwd_u *fu;
struct bits gbits; union un gun; enum sgn gs; enum big gb; enum sbig gsb; struct withtag gwt; u64 gu;
static volatile int static_var = 3;
const volatile int rodata_var = 5;
extern int ext_var __attribute__((weak));
__attribute__((noinline)) static int helper(int a __attribute__((btf_decl_tag("arg_tag"))), ...) {
  return a + static_var;
}
__attribute__((section("xdp"), used)) int prog(void *ctx) {
  gbits.c = helper(1);
  return rodata_var + (long)fp + (long)fu + (&ext_var ? ext_var : 0);
}
char _license[] __attribute__((section("license"), used)) = "GPL";
`;

test("dumpRaw() of vmlinux is byte-identical to bpftool btf dump file", (t) => {
  if (!hasVmlinux) return skip(t, "This kernel has no /sys/kernel/btf/vmlinux");
  const want = bpftool(["btf", "dump", "file", VMLINUX]);
  using btf = Btf.load(VMLINUX);
  assertSameText(dumpRaw(btf), want, "vmlinux");
});

test("dumpRaw() of every test object is byte-identical to bpftool btf dump file", () => {
  const objects = testObjects();
  assert.ok(objects.length > 0);
  for (const file of objects) {
    const want = bpftool(["btf", "dump", "file", file, "format", "raw"]);
    using btf = Btf.load(file);
    assertSameText(dumpRaw(btf), want, file);
  }
});

test("dumpRaw() of an object with every kind clang emits matches bpftool", () => {
  withTmpDir("tsbpf-btfdump", (dir) => {
    const obj = compileBpfC(dir, "kinds", KINDS_C);
    using btf = Btf.load(obj);
    const text = dumpRaw(btf);
    assertSameText(text, bpftool(["btf", "dump", "file", obj]), "kinds.bpf.o");
    // The object does hold the unusual cases this test is about.
    for (
      const re of [
        /ENUM64 'sbig' encoding=SIGNED/,
        /val=-8589934591LL/,
        /component_idx=0/,
        /fwd_kind=union/,
        /TYPE_TAG 'user'/,
        /linkage=extern/,
        /bitfield_size=3/,
      ]
    ) {
      assert.match(text, re);
    }
  });
});

test("dumpRaw() prints odd values (unknown encoding and linkage, empty names, void in a DATASEC) as bpftool does", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.raw([b.str("weird"), BtfBuilder.info(1, 0), 4, (8 << 24) | 32]); // an INT with UNKN encoding
  b.int("bool", 1, { bool: true, bits: 1 });
  const empty = b.str("x") + 1; // offset of the empty string after "x"... (the NUL of "x")
  b.raw([empty, BtfBuilder.info(2, 0), int]); // a name offset that is not 0 but names ""
  const proto = b.funcProto(int, [["", int], ["", 0]]);
  b.func("odd_linkage", proto, 3);
  const v = b.var("odd_var", int, 7);
  b.datasec(".data", 8, [[v, 0, 4], [0, 4, 4]]);
  b.enum("neg", 4, [["M", -2147483648], ["N", 2147483647]], { signed: true });
  b.enum("pos", 4, [["U", 0xffffffff]]);
  b.enum64("s64", 8, [["MIN", -(1n << 63n)]], { signed: true });
  b.enum64("u64", 8, [["MAX", (1n << 64n) - 1n]]);
  b.declTag("t", int, -1);
  b.float("long double", 16);
  b.union("", 4, [member("", int, 0)]);
  withTmpDir("tsbpf-btfdump", (dir) => {
    const file = join(dir, "odd.btf");
    writeFileSync(file, b.build());
    using btf = Btf.load(file);
    assertSameText(dumpRaw(btf), bpftool(["btf", "dump", "file", file]), "odd.btf");
  });
});

test("a BTF header longer than 24 bytes with non-zero extra fields is read as bpftool reads it", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.struct("pair", 8, [member("a", int, 0), member("b", int, 32)]);
  const plain = b.build();
  const pdv = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  const typeLen = pdv.getUint32(12, true);
  const strLen = pdv.getUint32(20, true);
  // A 32-byte header whose two extra words describe an 8-byte section between types and strings
  // (the shape of a newer format's kind-layout table): libbpf skips what it does not know.
  const extra = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const out = new Uint8Array(32 + typeLen + extra.length + strLen);
  const dv = new DataView(out.buffer);
  out.set(plain.subarray(0, 24), 0);
  dv.setUint32(4, 32, true);
  dv.setUint32(16, typeLen + extra.length, true);
  dv.setUint32(24, typeLen, true);
  dv.setUint32(28, extra.length, true);
  out.set(plain.subarray(24, 24 + typeLen), 32);
  out.set(extra, 32 + typeLen);
  out.set(plain.subarray(24 + typeLen), 32 + typeLen + extra.length);
  withTmpDir("tsbpf-btfdump", (dir) => {
    const file = join(dir, "long_header.btf");
    writeFileSync(file, out);
    using btf = Btf.load(file);
    assert.equal(btf.typeCount, 3);
    assertSameText(dumpRaw(btf), bpftool(["btf", "dump", "file", file]), "long_header.btf");
    const cli = runCli(["btf", "dump", "file", file, "format", "c"]);
    assert.equal(cli.code, 0, cli.stderr);
    assertSameText(cli.stdout, bpftool(["btf", "dump", "file", file, "format", "c"]), "c");
  });
});

test("dumpRaw() of split BTF matches bpftool btf dump -B base file split", () => {
  const base = new BtfBuilder();
  base.int("int", 4, { signed: true });
  base.struct("pair", 8, [member("a", 1, 0), member("b", 1, 32)]);
  const split = new BtfBuilder({ startId: 3, strBase: base.strLen });
  split.typedef("pair_t", 2);
  split.ptr(3);
  split.union("holder", 8, [member("p", 4, 0), member("int", 1, 0)]);
  withTmpDir("tsbpf-btfdump", (dir) => {
    const bf = join(dir, "base.btf");
    const sf = join(dir, "split.btf");
    writeFileSync(bf, base.build());
    writeFileSync(sf, split.build());
    using b = Btf.load(bf);
    using s = Btf.load(sf, { base: b });
    assertSameText(dumpRaw(s), bpftool(["btf", "dump", "-B", bf, "file", sf]), "split.btf");
    const cli = runCli(["btf", "dump", "-B", bf, "file", sf]);
    assert.equal(cli.code, 0, cli.stderr);
    assertSameText(cli.stdout, bpftool(["btf", "dump", "-B", bf, "file", sf]), "cli split.btf");
  });
});

test("tsbpf btf dump file prints what bpftool prints", () => {
  const file = testObjects()[0];
  const r = runCli(["btf", "dump", "file", file, "format", "raw"]);
  assert.equal(r.code, 0, r.stderr);
  assertSameText(r.stdout, bpftool(["btf", "dump", "file", file]), file);
});

test("tsbpf btf dump reports an unreadable file and a file with no BTF, naming each", () => {
  withTmpDir("tsbpf-btfdump", (dir) => {
    const missing = join(dir, "nope.o");
    let r = runCli(["btf", "dump", "file", missing]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: .*nope\.o/);
    const junk = join(dir, "junk.txt");
    writeFileSync(junk, "this is plainly not BTF data");
    r = runCli(["btf", "dump", "file", junk]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /junk\.txt/);
    assert.match(r.stderr, /Not BTF data/);
    assert.equal(r.stdout, "");
  });
});

test("tsbpf btf dump rejects bad arguments with status 2 and has --help", () => {
  let r = runCli(["btf", "dump", "id", "5"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unrecognized BTF source specifier: 'id'/);
  r = runCli(["btf", "dump", "file", "x", "format", "json"]);
  assert.equal(r.code, 2);
  r = runCli(["btf", "dump", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: tsbpf btf dump file FILE/);
});

test("tsbpf btf dump file FILE format c prints what bpftool prints", () => {
  const file = testObjects()[0];
  const r = runCli(["btf", "dump", "file", file, "format", "c"]);
  assert.equal(r.code, 0, r.stderr);
  assertSameText(r.stdout, bpftool(["btf", "dump", "file", file, "format", "c"]), file);
});
