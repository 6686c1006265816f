import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Btf } from "../btf/btf.ts";
import { BpfError, BtfError } from "../errors.ts";
import { btfToC, btfToCBytes, CDumper, writeBtfAsC } from "../gen/c_dump.ts";
import { BtfBuilder } from "../btf/builder.ts";
import { skipMissing } from "./_util.ts";

const HEAD = "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n" +
  "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
  "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
  "#endif\n\n";
const TAIL = "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n" +
  "#endif /* __VMLINUX_H__ */\n";

/** Hand-built BTF blobs, each with the C that bpftool 7.1 prints for it (between the frame). */
const CASES: Record<string, { build(b: BtfBuilder): void; c: string }> = {
  "a cycle through pointers gets a forward declaration": {
    build(b) {
      const a = b.struct("a", 8);
      const bb = b.struct("b", 8);
      const pa = b.ptr(a), pb = b.ptr(bb);
      b.setMembers(a, [{ name: "b", type: pb, bitOffset: 0 }]);
      b.setMembers(bb, [{ name: "a", type: pa, bitOffset: 0 }]);
    },
    c: `struct b;

struct a {
	struct b *b;
};

struct b {
	struct a *a;
};

`,
  },
  "anonymous unions, structs and enums are inlined; a top-level anonymous enum stays": {
    build(b) {
      const i = b.int("int", 4, { signed: true });
      const c = b.int("char", 1, { signed: true, char: true });
      const inner = b.struct("", 8, [
        { name: "x", type: i, bitOffset: 0 },
        { name: "y", type: i, bitOffset: 32 },
      ]);
      const u = b.union("", 8, [
        { name: "", type: inner, bitOffset: 0 },
        { name: "raw", type: b.array(c, 8, i), bitOffset: 0 },
      ]);
      const e = b.enum("", 4, [["A", 0], ["B", 1]]);
      b.struct("outer", 16, [
        { name: "", type: u, bitOffset: 0 },
        { name: "kind", type: e, bitOffset: 64 },
        { name: "tail", type: i, bitOffset: 96 },
      ]);
      b.enum("", 4, [["TOP_LEVEL", 7]]);
    },
    c: `struct outer {
	union {
		struct {
			int x;
			int y;
		};
		char raw[8];
	};
	enum {
		A = 0,
		B = 1,
	} kind;
	int tail;
};

enum {
	TOP_LEVEL = 7,
};

`,
  },
  "packed structs, padding holes, tail padding and empty structs follow the layout": {
    build(b) {
      const c = b.int("char", 1, { signed: true, char: true });
      const i = b.int("int", 4, { signed: true });
      const l = b.int("long int", 8, { signed: true });
      b.struct("pk", 5, [{ name: "c", type: c, bitOffset: 0 }, {
        name: "i",
        type: i,
        bitOffset: 8,
      }]);
      b.struct("pad", 16, [
        { name: "c", type: c, bitOffset: 0 },
        { name: "l", type: l, bitOffset: 64 },
      ]);
      b.struct("tailpad", 24, [
        { name: "l", type: l, bitOffset: 0 },
        { name: "c", type: c, bitOffset: 64 },
      ]);
      b.struct("holes", 32, [
        { name: "c", type: c, bitOffset: 0 },
        { name: "i", type: i, bitOffset: 128 },
      ]);
      b.struct("empty", 0, []);
    },
    c: `struct pk {
	char c;
	int i;
} __attribute__((packed));

struct pad {
	char c;
	long int l;
};

struct tailpad {
	long int l;
	char c;
	long: 64;
};

struct holes {
	char c;
	long: 64;
	int i;
	long: 64;
};

struct empty {};

`,
  },
  "enum and enum64 values print with their signedness": {
    build(b) {
      b.enum64("big_u", 8, [["BU_A", 1n], ["BU_B", 0xffffffffffffffffn]]);
      b.enum64("big_s", 8, [["BS_A", -1n], ["BS_B", 1n << 40n]], { signed: true });
      b.enum64("small64", 8, [["S64", 5n]]);
      b.enum("neg", 4, [["N_MINUS", -5], ["N_PLUS", 3]], { signed: true });
      b.enum("uns", 4, [["U_MAX", 0xffffffff]]);
      b.enum("byte", 1, [["BYTE_A", 1]]);
      b.enum("fwd_enum", 4, []);
    },
    c: `enum big_u {
	BU_A = 1ULL,
	BU_B = 18446744073709551615ULL,
};

enum big_s {
	BS_A = -1LL,
	BS_B = 1099511627776LL,
};

enum small64 {
	S64 = 5ULL,
};

enum neg {
	N_MINUS = -5,
	N_PLUS = 3,
};

enum uns {
	U_MAX = 4294967295,
};

enum byte {
	BYTE_A = 1,
};

enum fwd_enum;

`,
  },
  "function pointers, arrays of them, varargs and const-volatile pointers print as C declarators": {
    build(b) {
      const i = b.int("int", 4, { signed: true });
      const fp = b.funcProto(i, [["", b.ptr(0)]]);
      b.struct("ops", 32, [{ name: "handlers", type: b.array(b.ptr(fp), 4, i), bitOffset: 0 }]);
      const c = b.int("char", 1, { signed: true, char: true });
      const pcc = b.ptr(b.const(c));
      b.typedef("cvp_t", b.volatile(b.const(pcc)));
      b.typedef("noargs_t", b.ptr(b.funcProto(i, [])));
      b.typedef("printf_t", b.ptr(b.funcProto(i, [["fmt", pcc], ["", 0]])));
      b.typedef("getter_t", b.ptr(b.funcProto(b.ptr(fp), [["x", i]])));
      b.typedef("matrix_t", b.array(b.array(i, 3, i), 2, i));
      b.func("main_fn", fp);
    },
    c: `struct ops {
	int (*handlers[4])(void *);
};

typedef const char * const volatile cvp_t;

typedef int (*noargs_t)(void);

typedef int (*printf_t)(const char *fmt, ...);

typedef int (* (*getter_t)(int x))(void *);

typedef int matrix_t[2][3];

`,
  },
  "a typedef of an anonymous struct or enum holds its definition": {
    build(b) {
      const i = b.int("unsigned int", 4);
      b.typedef("anon_t", b.struct("", 4, [{ name: "v", type: i, bitOffset: 0 }]));
      b.typedef("anon_e", b.enum("", 4, [["E_ONE", 1]]));
    },
    c: `typedef struct {
	unsigned int v;
} anon_t;

typedef enum {
	E_ONE = 1,
} anon_e;

`,
  },
  "bitfields keep their widths and the gaps between them": {
    build(b) {
      const u = b.int("unsigned int", 4);
      const u8 = b.int("unsigned char", 1);
      b.struct("bf", 8, [
        { name: "a", type: u, bitOffset: 0, bitSize: 3 },
        { name: "b", type: u, bitOffset: 3, bitSize: 5 },
        { name: "c", type: u, bitOffset: 16, bitSize: 4 },
        { name: "d", type: u8, bitOffset: 40 },
      ]);
    },
    c: `struct bf {
	unsigned int a: 3;
	unsigned int b: 5;
	short: 8;
	unsigned int c: 4;
	int: 0;
	char: 8;
	unsigned char d;
};

`,
  },
  "colliding names get ___2 suffixes in their namespace": {
    build(b) {
      const i = b.int("int", 4, { signed: true });
      b.struct("dup", 4, [{ name: "x", type: i, bitOffset: 0 }]);
      b.struct("dup", 8, [
        { name: "x", type: i, bitOffset: 0 },
        { name: "y", type: i, bitOffset: 32 },
      ]);
      b.enum("color", 4, [["RED", 0]]);
      b.enum("colour", 4, [["RED", 1]]);
      b.typedef("dup_t", i);
      b.typedef("dup_t", b.ptr(i));
    },
    c: `struct dup {
	int x;
};

struct dup___2 {
	int x;
	int y;
};

enum color {
	RED = 0,
};

enum colour {
	RED___2 = 1,
};

typedef int dup_t;

typedef int *dup_t___2;

`,
  },
  "compiler built-ins: __builtin_va_list is not redefined, GCC's __Poly types get aliases": {
    build(b) {
      const p8 = b.int("__Poly8_t", 1);
      const tag = b.struct("__va_list_tag", 24, []);
      const va = b.typedef("__builtin_va_list", b.array(tag, 1, p8));
      b.typedef("__gnuc_va_list", 0);
      b.typedef("va_list", va);
      b.struct("uses", 1, [{ name: "p", type: p8, bitOffset: 0 }]);
    },
    c: `struct __va_list_tag {
	long: 64;
	long: 64;
	long: 64;
};

typedef __builtin_va_list __gnuc_va_list;

typedef __builtin_va_list va_list;

typedef unsigned char __Poly8_t;

struct uses {
	__Poly8_t p;
};

`,
  },
  "type tags print as attributes, decl tags and floats print nothing": {
    build(b) {
      const i = b.int("int", 4, { signed: true });
      const s = b.struct("tg", 8, [{ name: "p", type: b.ptr(b.typeTag("user", i)), bitOffset: 0 }]);
      b.declTag("dtag", s, 0);
      b.float("double", 8);
    },
    c: `struct tg {
	int __attribute__((btf_type_tag("user"))) *p;
};

`,
  },
};

function blob(build: (b: BtfBuilder) => void): Uint8Array {
  const b = new BtfBuilder();
  build(b);
  return b.build();
}

for (const [name, { build, c }] of Object.entries(CASES)) {
  test(`btfToC(): ${name}`, () => {
    using btf = Btf.parse(blob(build));
    assert.equal(btfToC(btf), HEAD + c + TAIL);
  });
}

test("btfToC() of every hand-built blob matches bpftool btf dump format c", (t) => {
  if (spawnSync("bpftool", ["version"]).status !== 0) {
    return skipMissing(t, "bpftool is not installed");
  }
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cdump-"));
  try {
    for (const [name, { build }] of Object.entries(CASES)) {
      const bytes = blob(build);
      const file = join(dir, "case.btf");
      writeFileSync(file, bytes);
      const r = spawnSync("bpftool", ["btf", "dump", "file", file, "format", "c"], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      using btf = Btf.parse(bytes);
      assert.equal(btfToC(btf), r.stdout, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("btfToC() rejects structs that embed each other with a BtfError", () => {
  const bytes = blob((b) => {
    const a = b.struct("a", 4);
    const c = b.struct("c", 4, [{ name: "a", type: a, bitOffset: 0 }]);
    b.setMembers(a, [{ name: "c", type: c, bitOffset: 0 }]);
  });
  using btf = Btf.parse(bytes);
  assert.throws(() => btfToC(btf), (e) => e instanceof BtfError && /cycle/.test(e.message));
});

test("CDumper rejects a blob with a bad magic or a truncated record with a BtfError", () => {
  const good = blob((b) => void b.int("int", 4, { signed: true }));
  const badMagic = good.slice();
  badMagic[0] = 0;
  assert.throws(() => new CDumper({ rawBytes: () => badMagic }), BtfError);
  const truncated = good.slice();
  new DataView(truncated.buffer).setUint32(12, 8, true); // type_len cuts the INT record short
  assert.throws(() => new CDumper({ rawBytes: () => truncated }), BtfError);
});

/** A blob for the declaration tests; returns the ids by name. */
function declBlob() {
  const b = new BtfBuilder();
  const ids: Record<string, number> = {};
  ids.int = b.int("int", 4, { signed: true });
  const foo = b.struct("foo", 4, [{ name: "x", type: ids.int, bitOffset: 0 }]);
  ids.foo = foo;
  // const volatile struct foo *const
  ids.cvFooPtrConst = b.const(b.ptr(b.volatile(b.const(foo))));
  const fp = b.funcProto(ids.int, [["", b.ptr(0)]]);
  ids.handlers = b.array(b.ptr(fp), 4, ids.int);
  ids.anon = b.struct("", 8, [
    { name: "a", type: ids.int, bitOffset: 0 },
    { name: "b", type: ids.int, bitOffset: 32 },
  ]);
  ids.constInt = b.const(ids.int);
  ids.charArr = b.array(b.int("char", 1, { signed: true, char: true }), 16, ids.int);
  ids.u32 = b.typedef("u32", b.int("unsigned int", 4));
  ids.ptrArr = b.ptr(b.array(ids.int, 3, ids.int));
  ids.dup1 = b.struct("dup", 4, [{ name: "x", type: ids.int, bitOffset: 0 }]);
  ids.dup2 = b.struct("dup", 4, [{ name: "x", type: ids.int, bitOffset: 0 }]);
  return { btf: Btf.parse(b.build()), ids };
}

test("emitTypeDecl() writes C declarators like btf_dump__emit_type_decl", () => {
  const { btf, ids } = declBlob();
  using _ = btf;
  const d = new CDumper(btf);
  assert.equal(d.emitTypeDecl(ids.cvFooPtrConst, "p"), "const volatile struct foo * const p");
  assert.equal(d.emitTypeDecl(ids.handlers, "handlers"), "int (*handlers[4])(void *)");
  assert.equal(d.emitTypeDecl(ids.constInt, "x"), "const int x");
  assert.equal(d.emitTypeDecl(ids.charArr, "name"), "char name[16]");
  assert.equal(d.emitTypeDecl(ids.u32, "n"), "u32 n");
  assert.equal(d.emitTypeDecl(ids.ptrArr, "rows"), "int (*rows)[3]");
  assert.equal(d.emitTypeDecl(ids.int, ""), "int");
  assert.equal(d.emitTypeDecl(0, "v"), "void v");
});

test("emitTypeDecl() inlines anonymous structs at the given indent and can strip modifiers", () => {
  const { btf, ids } = declBlob();
  using _ = btf;
  const d = new CDumper(btf);
  assert.equal(d.emitTypeDecl(ids.anon, "s"), "struct {\n\tint a;\n\tint b;\n} s");
  assert.equal(
    d.emitTypeDecl(ids.anon, "s", { indentLevel: 1 }),
    "struct {\n\t\tint a;\n\t\tint b;\n\t} s",
  );
  assert.equal(
    d.emitTypeDecl(ids.cvFooPtrConst, "p", { stripMods: true }),
    "struct foo *p",
  );
  // Stripping applies to that call only.
  assert.equal(d.emitTypeDecl(ids.constInt, "x"), "const int x");
});

test("emitTypeDecl() names colliding types in the order they are first printed", () => {
  const { btf, ids } = declBlob();
  using _ = btf;
  const d = new CDumper(btf);
  assert.equal(d.emitTypeDecl(ids.dup2, "a"), "struct dup a");
  assert.equal(d.emitTypeDecl(ids.dup1, "b"), "struct dup___2 b");
  assert.equal(d.emitTypeDecl(ids.dup2, "c"), "struct dup c");
});

test("emitTypeDecl() rejects an id out of range with a BtfError", () => {
  const { btf } = declBlob();
  using _ = btf;
  const d = new CDumper(btf);
  assert.throws(() => d.emitTypeDecl(d.typeCount, "x"), BtfError);
  assert.throws(() => d.emitTypeDecl(-1, "x"), BtfError);
});

test("dumpType() prints a type with what it needs once, then nothing", () => {
  const { btf, ids } = declBlob();
  using _ = btf;
  const d = new CDumper(btf);
  assert.equal(d.dumpType(ids.foo), "struct foo {\n\tint x;\n};\n\n");
  assert.equal(d.dumpType(ids.foo), "");
  assert.equal(d.dumpType(ids.u32), "typedef unsigned int u32;\n\n");
});

test("CDumper turns cycles in malformed BTF into BtfErrors instead of hanging", () => {
  // [2] is a const of itself.
  const selfConst = blob((b) => {
    b.int("int", 4, { signed: true });
    b.const(2);
  });
  const src = { rawBytes: () => selfConst };
  assert.throws(() => new CDumper(src).dumpAll(), BtfError);
  assert.throws(() => new CDumper(src).emitTypeDecl(2, "x"), BtfError);
  // [1] is an anonymous struct holding a pointer to itself: no C spelling.
  const anonLoop = blob((b) => {
    b.struct("", 8, [{ name: "self", type: 2, bitOffset: 0 }]);
    b.ptr(1);
  });
  const src2 = { rawBytes: () => anonLoop };
  assert.throws(() => new CDumper(src2).dumpAll(), /cycle/);
  assert.throws(() => new CDumper(src2).emitTypeDecl(1, "x"), BtfError);
});

test("btfToC() of split BTF prints the base's types and its own, as bpftool -B does", (t) => {
  if (spawnSync("bpftool", ["version"]).status !== 0) {
    return skipMissing(t, "bpftool is not installed");
  }
  const base = new BtfBuilder();
  const int = base.int("int", 4, { signed: true });
  const pair = base.struct("pair", 8, [
    { name: "a", type: int, bitOffset: 0 },
    { name: "b", type: int, bitOffset: 32 },
  ]);
  const baseBytes = base.build();
  const split = new BtfBuilder({ startId: 3, strBase: base.strLen });
  const pairT = split.typedef("pair_t", pair);
  split.struct("holder", 16, [
    { name: "p", type: split.ptr(pairT), bitOffset: 0 },
    { name: "pair", type: pair, bitOffset: 64 },
  ]);
  split.struct("pair", 4, [{ name: "only", type: int, bitOffset: 0 }]);
  const splitBytes = split.build();
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-cdump-"));
  try {
    writeFileSync(join(dir, "base.btf"), baseBytes);
    writeFileSync(join(dir, "split.btf"), splitBytes);
    const r = spawnSync("bpftool", [
      "btf",
      "dump",
      "-B",
      join(dir, "base.btf"),
      "file",
      join(dir, "split.btf"),
      "format",
      "c",
    ], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    using b = Btf.parse(baseBytes);
    using s = Btf.parse(splitBytes, { base: b });
    const c = btfToC(s);
    assert.equal(c, r.stdout);
    assert.match(c, /struct pair___2 \{\n\tint only;\n\};/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("btfToCBytes() gives the UTF-8 bytes of btfToC()'s text", () => {
  const { btf } = declBlob();
  using _ = btf;
  const bytes = btfToCBytes(btf);
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual(bytes, new TextEncoder().encode(btfToC(btf)));
});

test("CDumper turns a prototype that returns a pointer to itself into a BtfError", () => {
  // [2] is a prototype returning [3], a pointer to [2]: ordering and printing would never end.
  const bytes = blob((b) => {
    b.int("int", 4, { signed: true });
    b.funcProto(3, [["x", 1]]);
    b.ptr(2);
    b.typedef("fn_t", 3);
  });
  using btf = Btf.parse(bytes);
  assert.throws(() => btfToC(btf), BtfError);
  assert.throws(() => new CDumper(btf).emitTypeDecl(3, "f"), BtfError);
  // The core is still usable after the failure.
  assert.equal(new CDumper(btf).emitTypeDecl(1, "n"), "int n");
});

test("CDumper rejects member type ids past the end of BTF parsed without record checks", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.struct("s", 4, [{ name: "x", type: int + 40, bitOffset: 0 }]);
  using btf = Btf.parse(b.build(), { validate: "records" });
  assert.throws(() => new CDumper(btf), BtfError);
});

test("CDumper.close() is safe twice and a closed dumper or closed Btf refuses to print", () => {
  const { btf, ids } = declBlob();
  const d = new CDumper(btf);
  assert.equal(d.emitTypeDecl(ids.int, "x"), "int x");
  d.close();
  d.close();
  assert.throws(() => d.emitTypeDecl(ids.int, "x"), BpfError);
  const d2 = new CDumper(btf);
  btf.close();
  assert.throws(() => d2.dumpAll(), BtfError);
  d2.close();
});

test("emitTypeDecl() keeps names with non-ASCII bytes intact", () => {
  const { btf, ids } = declBlob();
  using _ = btf;
  const d = new CDumper(btf);
  assert.equal(d.emitTypeDecl(ids.handlers, "h\u00e9"), "int (*h\u00e9[4])(void *)");
});

/** A blob with `depth` anonymous structs nested in each other inside `struct top`. */
function nestedBlob(depth: number): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  let t = b.struct("", 4, [{ name: "x", type: int, bitOffset: 0 }]);
  for (let i = 0; i < depth; i++) t = b.struct("", 4, [{ name: `s${i}`, type: t, bitOffset: 0 }]);
  b.struct("top", 4, [{ name: "a", type: t, bitOffset: 0 }]);
  return b.build();
}

test("btfToC() prints deeply nested anonymous structs, and rejects absurd nesting with a BtfError", () => {
  using ok = Btf.parse(nestedBlob(200));
  const c = btfToC(ok);
  // Indentation stops growing at 13 tabs, as in libbpf.
  assert.match(c, /\n\t{13}int x;\n/);
  assert.match(c, /\n\t\} a;\n\};\n/);
  assert.equal(c.split("struct {").length - 1, 201);
  using deep = Btf.parse(nestedBlob(5000));
  assert.throws(
    () => btfToC(deep),
    (e) => e instanceof BtfError && /nest too deeply/.test(e.message),
  );
  // The core survived: the same process still prints.
  assert.match(btfToC(ok), /^struct top \{$/m);
});

test("emitTypeDecl() prints a declaration the same way on every call, with or without a name", () => {
  const { btf, ids } = declBlob();
  using _ = btf;
  const d = new CDumper(btf);
  for (let i = 0; i < 2; i++) {
    assert.equal(d.emitTypeDecl(ids.cvFooPtrConst, "p"), "const volatile struct foo * const p");
    assert.equal(d.emitTypeDecl(ids.cvFooPtrConst, ""), "const volatile struct foo * const");
    assert.equal(d.emitTypeDecl(ids.u32, ""), "u32");
    assert.equal(d.emitTypeDecl(ids.u32, "v"), "u32 v");
    assert.equal(d.emitTypeDecl(ids.charArr, ""), "char[16]");
  }
  const ptr = ids.cvFooPtrConst - 1; // the pointer under the outer const
  assert.equal(d.emitTypeDecl(ptr, "q"), "const volatile struct foo *q");
  assert.equal(d.emitTypeDecl(ptr, ""), "const volatile struct foo *");
});

test("writeBtfAsC() hands over the same bytes as btfToCBytes(), valid while the sink runs", async () => {
  const { btf } = declBlob();
  using _ = btf;
  let got: Uint8Array | undefined;
  await writeBtfAsC(btf, async (bytes) => {
    await new Promise((r) => setTimeout(r, 1));
    got = bytes.slice();
  });
  assert.deepEqual(got, btfToCBytes(btf));
});

test("CDumper fails fast with a BtfError on BTF whose C text would be absurdly large", () => {
  // A 256 MiB struct would print 33 million padding lines (bpftool prints 352 MiB of C). Its size
  // in bits still fits a C int: libbpf wraps a 4 GiB struct's size negative and pads nothing.
  const big = new BtfBuilder();
  big.int("long", 8, { signed: true });
  big.struct("big", 0x0fffffff, []);
  using huge = Btf.parse(big.build());
  assert.throws(() => btfToC(huge), (e) => e instanceof BtfError && /size limit/.test(e.message));
  // Anonymous structs holding two of the next one, 40 deep: 2^40 inlined copies.
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  let t = b.struct("", 8, [{ name: "x", type: int, bitOffset: 0 }]);
  for (let i = 0; i < 40; i++) {
    t = b.struct("", 8, [
      { name: "a", type: t, bitOffset: 0 },
      { name: "b", type: t, bitOffset: 0 },
    ]);
  }
  b.struct("top", 8, [{ name: "t", type: t, bitOffset: 0 }]);
  using exp = Btf.parse(b.build());
  assert.throws(
    () => btfToC(exp),
    (e) => e instanceof BtfError && /too many steps/.test(e.message),
  );
  assert.throws(() => new CDumper(exp).emitTypeDecl(t, "x"), BtfError);
});

test("CDumper takes a chain of thousands of modifiers for a cycle (the kernel allows 32)", () => {
  const b = new BtfBuilder();
  let c = b.int("int", 4, { signed: true });
  for (let i = 0; i < 3000; i++) c = b.const(c);
  b.struct("s", 4, [{ name: "x", type: c, bitOffset: 0 }]);
  using btf = Btf.parse(b.build());
  assert.throws(() => btfToC(btf), (e) => e instanceof BtfError && /chain/.test(e.message));
  assert.throws(() => new CDumper(btf).emitTypeDecl(c, "x"), BtfError);
});

test("btfToC() with maxBytes stops at that much text with a BtfError, and prints what fits", () => {
  // 1 MiB of padding is 131072 'long: 64;' lines, about 1.5 MiB of C.
  const b = new BtfBuilder();
  b.int("long", 8, { signed: true });
  b.struct("padded", 1 << 20, []);
  using btf = Btf.parse(b.build());
  assert.ok(btfToC(btf).length > 1 << 20);
  assert.ok(btfToC(btf, { maxBytes: 4 << 20 }).includes("struct padded {"));
  assert.throws(
    () => btfToC(btf, { maxBytes: 256 << 10 }),
    (e) => e instanceof BtfError && /size limit/.test(e.message),
  );
  // The limit belongs to one dumper: the next one has the default again.
  assert.ok(btfToC(btf).length > 1 << 20);
});
