// The core's ELF reader on well-formed and malformed input: every malformed file must end in a
// typed ElfError that names the offset at fault, never a trap, a hang or another error class.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BpfError, ElfError } from "../errors.ts";
import { readElf } from "../spec/elf.ts";
import { open } from "../spec/open.ts";
import {
  ROOT,
  run,
  runtimeCommand,
  runtimeName,
  skip,
  testObject,
  testObjects,
  thrown,
  withTmpDir,
} from "./_util.ts";

interface Sec {
  name: string;
  type: number;
  flags?: number;
  data: Uint8Array;
  link?: number;
  info?: number;
  entsize?: number;
  align?: number;
}

/** Builds a little ELF64 BPF object: header, section data, then the section header table. */
function buildElf(secs: Sec[], opts: { shstrndx?: number } = {}): Uint8Array {
  const names: number[] = [];
  let shstr = "\0";
  for (const s of secs) {
    names.push(shstr.length);
    shstr += s.name + "\0";
  }
  const all: Sec[] = [
    { name: "", type: 0, data: new Uint8Array(0) },
    ...secs,
    { name: ".shstrtab", type: 3, data: new TextEncoder().encode(shstr + ".shstrtab\0") },
  ];
  names.unshift(0);
  names.push(shstr.length);
  let off = 64;
  const offsets: number[] = [];
  for (const s of all) {
    off = (off + 7) & ~7;
    offsets.push(off);
    if (s.type !== 8) off += s.data.length;
  }
  const shoff = (off + 7) & ~7;
  const out = new Uint8Array(shoff + 64 * all.length);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  dv.setUint16(16, 1, true); // ET_REL
  dv.setUint16(18, 247, true); // EM_BPF
  dv.setUint32(20, 1, true);
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(58, 64, true);
  dv.setUint16(60, all.length, true);
  dv.setUint16(62, opts.shstrndx ?? all.length - 1, true);
  all.forEach((s, i) => {
    if (s.type !== 8) out.set(s.data, offsets[i]);
    const h = shoff + 64 * i;
    dv.setUint32(h, names[i], true);
    dv.setUint32(h + 4, s.type, true);
    dv.setBigUint64(h + 8, BigInt(s.flags ?? 0), true);
    dv.setBigUint64(h + 24, BigInt(i === 0 ? 0 : offsets[i]), true);
    dv.setBigUint64(h + 32, BigInt(s.data.length), true);
    dv.setUint32(h + 40, s.link ?? 0, true);
    dv.setUint32(h + 44, s.info ?? 0, true);
    dv.setBigUint64(h + 48, BigInt(s.align ?? 1), true);
    dv.setBigUint64(h + 56, BigInt(s.entsize ?? 0), true);
  });
  return out;
}

function sym(name: number, info: number, shndx: number, value: number, size: number): number[] {
  const b = new Uint8Array(24);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, name, true);
  b[4] = info;
  dv.setUint16(6, shndx, true);
  dv.setBigUint64(8, BigInt(value), true);
  dv.setBigUint64(16, BigInt(size), true);
  return [...b];
}

function rel(offset: number, symIdx: number, type: number): number[] {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(offset), true);
  dv.setBigUint64(8, (BigInt(symIdx) << 32n) | BigInt(type), true);
  return [...b];
}

// Section indexes in the default object: 1 xdp, 2 .relxdp, 3 .strtab, 4 .symtab, 5 .shstrtab.
function defaultSecs(
  over: { symEntsize?: number; relOffset?: number; relSym?: number; strtab?: Uint8Array } = {},
): Sec[] {
  const insns = new Uint8Array(4 * 8);
  insns.set([0x18, 0x10, 0, 0, 0, 0, 0, 0], 0); // ld_imm64 r1, 0 (two slots)
  insns.set([0xb7, 0, 0, 0, 2, 0, 0, 0], 16); // r0 = 2
  insns.set([0x95, 0, 0, 0, 0, 0, 0, 0], 24); // exit
  const strtab = over.strtab ?? new TextEncoder().encode("\0prog\0ext\0");
  const symtab = new Uint8Array([
    ...sym(0, 0, 0, 0, 0),
    ...sym(1, 0x12, 1, 0, 32), // global FUNC prog in xdp
    ...sym(6, 0x10, 0, 0, 0), // global NOTYPE undefined: an extern
  ]);
  return [
    { name: "xdp", type: 1, flags: 6, data: insns, align: 8 },
    {
      name: ".relxdp",
      type: 9,
      data: new Uint8Array(rel(over.relOffset ?? 0, over.relSym ?? 2, 1)),
      link: 4,
      info: 1,
      entsize: 16,
      align: 8,
    },
    { name: ".strtab", type: 3, data: strtab },
    { name: ".symtab", type: 2, data: symtab, link: 3, entsize: over.symEntsize ?? 24, align: 8 },
  ];
}

function expectElfError(bytes: Uint8Array, message: RegExp, offset?: number): ElfError {
  let caught: unknown;
  try {
    readElf(bytes);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ElfError, `expected an ElfError, got ${caught}`);
  assert.match(caught.message, message);
  if (offset !== undefined) assert.equal(caught.offset, offset);
  else assert.ok(caught.offset >= 0, "the error names an offset");
  return caught;
}

test("readElf() reads sections, symbols and relocations of a well-formed object", () => {
  const elf = readElf(buildElf(defaultSecs()));
  assert.deepEqual(elf.sections.map((s) => s.name), [
    "",
    "xdp",
    ".relxdp",
    ".strtab",
    ".symtab",
    ".shstrtab",
  ]);
  assert.deepEqual(elf.symbols.map((s) => [s.name, s.bind, s.type, s.shndx]), [
    ["", 0, 0, 0],
    ["prog", 1, 2, 1],
    ["ext", 1, 0, 0],
  ]);
  assert.deepEqual(elf.relocations, [
    { section: 2, target: 1, entries: [{ offset: 0, type: 1, sym: 2 }] },
  ]);
});

test("readElf() decodes names from each string table, UTF-8 or not, and 64-bit values whole", () => {
  // Symbol names in their own .strtab; one with a UTF-8 name and one with an invalid byte, so the
  // table is not ASCII and names decode one by one (invalid bytes become U+FFFD).
  const strtab = new Uint8Array([
    0,
    ...new TextEncoder().encode("prog"),
    0,
    ...new TextEncoder().encode("caf\u00e9"),
    0,
    0x78,
    0xff,
    0x79,
    0,
  ]);
  const secs = defaultSecs({ strtab });
  const symtab = new Uint8Array([
    ...sym(0, 0, 0, 0, 0),
    ...sym(1, 0x12, 1, 0, 32),
    ...sym(6, 0x10, 0, 0, 0),
    ...sym(12, 0x11, 0xfff1, 2 ** 40 + 3, 2 ** 33), // an absolute OBJECT with 64-bit values
  ]);
  secs[3] = { ...secs[3], data: symtab };
  const elf = readElf(buildElf(secs));
  assert.deepEqual(elf.symbols.map((y) => y.name), ["", "prog", "caf\u00e9", "x\ufffdy"]);
  assert.equal(elf.symbols[3].value, 2 ** 40 + 3);
  assert.equal(elf.symbols[3].size, 2 ** 33);
  assert.equal(elf.symbols[3].shndx, 0xfff1);
  // The section names (.shstrtab, ASCII) still come out right beside them.
  assert.equal(elf.sections[3].name, ".strtab");
  assert.equal(elf.sections[5].name, ".shstrtab");
});

test("readElf() of bytes inside a larger buffer reads the same records as of a copy", () => {
  const obj = readFileSync(testObject("globals"));
  const big = new Uint8Array(obj.length + 24);
  big.set(obj, 8);
  const inner = readElf(big.subarray(8, 8 + obj.length));
  const copy = readElf(new Uint8Array(obj));
  assert.ok(inner.relocations.some((r) => r.entries.length > 0), "the object has relocations");
  assert.deepEqual(
    { ...inner, bytes: undefined },
    { ...copy, bytes: undefined },
  );
});

test("readElf() rejects a file shorter than an ELF header", () => {
  expectElfError(buildElf(defaultSecs()).slice(0, 40), /too short/, 40);
  expectElfError(new Uint8Array(0), /too short/, 0);
});

test("readElf() rejects a file with a bad magic", () => {
  const b = buildElf(defaultSecs());
  b[1] = 0x46;
  expectElfError(b, /Not an ELF file/, 0);
});

test("readElf() rejects a 32-bit ELF file", () => {
  const b = buildElf(defaultSecs());
  b[4] = 1;
  expectElfError(b, /32-bit/, 4);
});

test("readElf() rejects a big-endian ELF file", () => {
  const b = buildElf(defaultSecs());
  b[5] = 2;
  expectElfError(b, /Big-endian/, 5);
});

test("readElf() rejects an ELF file for another machine", () => {
  const b = buildElf(defaultSecs());
  new DataView(b.buffer).setUint16(18, 62, true); // EM_X86_64
  expectElfError(b, /EM_BPF/, 18);
});

test("readElf() rejects an executable (not ET_REL)", () => {
  const b = buildElf(defaultSecs());
  new DataView(b.buffer).setUint16(16, 2, true);
  expectElfError(b, /ET_REL/, 16);
});

test("readElf() rejects a truncated section header table", () => {
  const b = buildElf(defaultSecs());
  expectElfError(b.slice(0, b.length - 10), /Section header table out of range/);
});

test("readElf() rejects a section whose data lies outside the file", () => {
  const b = buildElf(defaultSecs());
  const dv = new DataView(b.buffer);
  const shoff = Number(dv.getBigUint64(40, true));
  dv.setBigUint64(shoff + 64 * 1 + 32, 1n << 40n, true); // xdp's sh_size
  expectElfError(b, /Section data out of range/, shoff + 64);
  dv.setBigUint64(shoff + 64 * 1 + 32, 32n, true);
  dv.setBigUint64(shoff + 64 * 1 + 24, 0xffffffffffffff00n, true); // offset + size wraps
  expectElfError(b, /Section data out of range/, shoff + 64);
});

test("readElf() rejects a section name table index out of range", () => {
  expectElfError(buildElf(defaultSecs(), { shstrndx: 77 }), /name table index out of range/, 62);
});

test("readElf() ignores the name of the null section 0, as libbpf does", () => {
  const bytes = buildElf(defaultSecs());
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  dv.setUint32(Number(dv.getBigUint64(40, true)), 0x7fffffff, true); // section 0's sh_name
  const elf = readElf(bytes);
  assert.equal(elf.sections[0].name, "");
  assert.equal(elf.sections[1].name, "xdp");
});

test("readElf() rejects a section name table that is not a string table", () => {
  expectElfError(buildElf(defaultSecs(), { shstrndx: 1 }), /not a string table/);
});

test("readElf() follows the SHN_XINDEX escape for the section name table index", () => {
  const b = buildElf(defaultSecs());
  const dv = new DataView(b.buffer);
  const shoff = Number(dv.getBigUint64(40, true));
  dv.setUint16(62, 0xffff, true);
  dv.setUint32(shoff + 40, 5, true); // section 0's sh_link holds the real index
  assert.equal(readElf(b).sections[1].name, "xdp");
});

test("readElf() reads the section count from section 0 when e_shnum is 0", () => {
  const b = buildElf(defaultSecs());
  const dv = new DataView(b.buffer);
  const shoff = Number(dv.getBigUint64(40, true));
  dv.setUint16(60, 0, true);
  dv.setBigUint64(shoff + 32, 6n, true);
  assert.equal(readElf(b).sections.length, 6);
});

test("readElf() rejects an absurd section count without hanging", () => {
  const b = buildElf(defaultSecs());
  const dv = new DataView(b.buffer);
  const shoff = Number(dv.getBigUint64(40, true));
  dv.setUint16(60, 0, true);
  dv.setBigUint64(shoff + 32, 0xffffffffffffn, true);
  expectElfError(b, /too many sections/, shoff);
  dv.setUint16(60, 0xffff, true);
  expectElfError(b, /too many sections/, shoff);
});

test("readElf() rejects a symbol table with the wrong entry size", () => {
  expectElfError(buildElf(defaultSecs({ symEntsize: 16 })), /entry size is not 24/);
});

test("readElf() rejects a symbol name that is not NUL-terminated", () => {
  const strtab = new TextEncoder().encode("\0prog\0ext");
  expectElfError(buildElf(defaultSecs({ strtab })), /not NUL-terminated/);
});

test("readElf() rejects a relocation that points outside its section", () => {
  expectElfError(buildElf(defaultSecs({ relOffset: 24 })), /outside its target section/);
  expectElfError(buildElf(defaultSecs({ relOffset: 2 ** 40 })), /outside its target section/);
});

test("readElf() rejects a relocation that names a symbol out of range", () => {
  expectElfError(buildElf(defaultSecs({ relSym: 3 })), /symbol out of range/);
});

test("readElf() rejects a relocation of an unknown type", () => {
  const secs = defaultSecs();
  secs[1].data = new Uint8Array(rel(0, 2, 99));
  expectElfError(buildElf(secs), /Unknown BPF relocation type/);
});

test("open() rejects a legacy 'maps' section as libbpf 1.x does", () => {
  const secs = defaultSecs();
  secs.push({ name: "maps", type: 1, flags: 3, data: new Uint8Array(20) });
  assert.throws(
    () => open(buildElf(secs)),
    (e) => e instanceof ElfError && /Legacy 'maps'/.test(e.message),
  );
});

test("open() rejects a static function in a program section", () => {
  const secs = defaultSecs();
  const symtab = secs[3].data;
  symtab[24 + 4] = 0x02; // LOCAL FUNC
  assert.throws(
    () => open(buildElf(secs)),
    (e) => e instanceof ElfError && /is static/.test(e.message),
  );
});

test("readElf() and open() never fail with anything but a BpfError on corrupted objects", () => {
  const good = readFileSync(testObject("maps"));
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const dv = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const shoff = Number(dv.getBigUint64(40, true));
  let failures = 0;
  for (let i = 0; i < 300; i++) {
    const b = new Uint8Array(good);
    // Corrupt the ELF header or the section header table, where the reader must defend itself.
    for (let k = 0; k < 4; k++) {
      const at = rand() % 2 === 0 ? rand() % 64 : shoff + (rand() % (b.length - shoff));
      b[at] = rand() & 0xff;
    }
    try {
      open(b).btf?.close();
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      assert.doesNotMatch(e.message, /Internal error/, `iteration ${i}`);
      failures++;
    }
  }
  assert.ok(failures > 0, "some corrupted objects were rejected");
});

test("readElf() turns a missing file into a BpfError that names the path", () => {
  assert.throws(
    () => readElf("/nonexistent/tsbpf/none.bpf.o"),
    (e) =>
      e instanceof BpfError &&
      /Cannot read "\/nonexistent\/tsbpf\/none\.bpf\.o": ENOENT/.test(e.message),
  );
});

test("readElf() refuses a FIFO, a character device and a directory before reading, naming what each is", () => {
  // In a child with a cap: reading a FIFO would block for ever, /dev/zero would never end.
  const r = withTmpDir("tsbpf-elf-special", (dir) => {
    execFileSync("mkfifo", [join(dir, "fifo")]);
    const script = join(dir, "special.ts");
    writeFileSync(
      script,
      `import { readElf } from "${join(ROOT, "spec", "elf.ts")}";
       for (const p of ["${join(dir, "fifo")}", "/dev/zero", "${dir}"]) {
         for (const native of [false, true]) {
           try { readElf(p, { native }); console.log("read " + p); }
           catch (e) { console.log(e.name + ": " + e.message); }
         }
       }`,
    );
    const [cmd, args] = runtimeCommand(script);
    return run(cmd, args, { timeoutMs: 30_000 });
  });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 6, r.stdout);
  assert.match(lines[0], /^BpfError: Cannot read ".*fifo": it is a fifo, not a regular file/);
  assert.equal(lines[1], lines[0]);
  assert.match(
    lines[2],
    /^BpfError: Cannot read "\/dev\/zero": it is a character device, not a regular file/,
  );
  assert.match(lines[4], /^BpfError: Cannot read ".*": it is a directory, not a regular file/);
});

test("readElf() agrees with llvm-readelf-19 on every test object", () => {
  for (const file of testObjects()) {
    const out = execFileSync("llvm-readelf-19", [
      "--elf-output-style=JSON",
      "-S",
      "-s",
      "-r",
      file,
    ], { encoding: "utf8", maxBuffer: 64 << 20 });
    // deno-lint-ignore no-explicit-any
    const want = JSON.parse(out)[0] as any;
    const elf = readElf(file, { debugRelocations: true });
    assert.deepEqual(
      elf.sections.map((s) => [s.index, s.name, s.type, s.flags, s.offset, s.size, s.link, s.info]),
      // deno-lint-ignore no-explicit-any
      want.Sections.map(({ Section: s }: any) => [
        s.Index,
        s.Name.Name,
        s.Type.Value,
        s.Flags.Value,
        s.Offset,
        s.Size,
        s.Link,
        s.Info,
      ]),
      file,
    );
    const symName = (i: number) => {
      const s = elf.symbols[i];
      return s.name === "" && s.type === 3 ? elf.sections[s.shndx].name : s.name;
    };
    assert.deepEqual(
      elf.symbols.map((s, i) => [symName(i), s.value, s.size, s.bind, s.type, s.shndx]),
      // deno-lint-ignore no-explicit-any
      want.Symbols.map(({ Symbol: s }: any) => [
        s.Name.Name,
        s.Value,
        s.Size,
        s.Binding.Value,
        s.Type.Value,
        s.Section.Value,
      ]),
      file,
    );
    assert.deepEqual(
      elf.relocations.map((
        r,
      ) => [r.section, r.entries.map((e) => [e.offset, e.type, symName(e.sym)])]),
      // deno-lint-ignore no-explicit-any
      want.Relocations.map((r: any) => [
        r.SectionIndex,
        // deno-lint-ignore no-explicit-any
        r.Relocs.map(({ Relocation: e }: any) => [e.Offset, e.Type.Value, e.Symbol.Name]),
      ]),
      file,
    );
  }
});

test("readElf() resolves SHN_XINDEX symbols through SHT_SYMTAB_SHNDX", () => {
  const secs = defaultSecs();
  secs[3].data[24 + 6] = 0xff; // prog's st_shndx = SHN_XINDEX
  secs[3].data[24 + 7] = 0xff;
  const xs = new Uint8Array(12);
  new DataView(xs.buffer).setUint32(4, 1, true); // symbol 1 lives in section 1
  secs.push({ name: ".symtab_shndx", type: 18, data: xs, link: 4, entsize: 4, align: 4 });
  assert.equal(readElf(buildElf(secs)).symbols[1].shndx, 1);
  secs.pop();
  expectElfError(buildElf(secs), /SHN_XINDEX but there is no SHT_SYMTAB_SHNDX/);
});

test("readElf() rejects a symbol whose section index is out of range", () => {
  const secs = defaultSecs();
  secs[3].data[24 + 6] = 40;
  expectElfError(buildElf(secs), /Symbol section index out of range/);
});

test("readElf() rejects a relocation section that does not use the symbol table", () => {
  const secs = defaultSecs();
  secs[1].link = 3;
  expectElfError(buildElf(secs), /does not refer to the symbol table/);
  const secs2 = defaultSecs();
  secs2[1].info = 99;
  expectElfError(buildElf(secs2), /target section index out of range/);
});

test("readElf() rejects an object with two symbol tables", () => {
  const secs = defaultSecs();
  secs.push({ ...secs[3], name: ".symtab2" });
  expectElfError(buildElf(secs), /more than one symbol table/);
});

test("readElf(path) skips DWARF contents: same records as the whole file, zeros only in .debug_*", () => {
  for (const name of ["load_globals", "maps", "core", "subprogs"]) {
    const path = testObject(name);
    const whole = readFileSync(path);
    const fromPath = readElf(path);
    const fromBytes = readElf(new Uint8Array(whole));
    const records = (e: typeof fromPath) => ({ ...e, bytes: undefined });
    assert.deepEqual(records(fromPath), records(fromBytes), name);
    assert.equal(fromPath.bytes.length, whole.length);
    const debug = fromPath.sections.filter((s) =>
      /^\.(rel\.|rela\.)?debug_/.test(s.name) && s.type !== 8 && s.size > 0
    );
    assert.ok(debug.length > 0, `${name} is built with -g`);
    const skipped = new Uint8Array(whole.length);
    for (const s of debug) skipped.fill(1, s.offset, s.offset + s.size);
    for (let i = 0; i < whole.length; i++) {
      if (skipped[i]) assert.equal(fromPath.bytes[i], 0, `${name} byte ${i}`);
      else if (fromPath.bytes[i] !== whole[i]) assert.fail(`${name}: byte ${i} differs`);
    }
    // Asked for, the DWARF sections come whole.
    assert.deepEqual(readElf(path, { debugSections: true }).bytes, new Uint8Array(whole));
  }
});

test("readElf(path) reports a broken file as the whole-file reader does", () => {
  const good = readFileSync(testObject("load_globals"));
  const dv = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shnum = dv.getUint16(0x3c, true);
  const cases: [string, (b: Uint8Array) => Uint8Array][] = [
    ["truncated section headers", (b) => b.slice(0, shoff + 64 * 3)],
    ["truncated in the middle", (b) => b.slice(0, Math.floor(b.length / 2))],
    ["a section past the end", (b) => {
      const c = b.slice();
      new DataView(c.buffer).setBigUint64(shoff + 64 * (shnum - 2) + 24, BigInt(c.length), true);
      return c;
    }],
    ["a bad string table index", (b) => {
      const c = b.slice();
      new DataView(c.buffer).setUint16(0x3e, shnum + 5, true);
      return c;
    }],
    ["a bad magic", (b) => {
      const c = b.slice();
      c[1] = 0x45 ^ 0xff;
      return c;
    }],
  ];
  withTmpDir("tsbpf-elf-", (dir) => {
    for (const [what, broken] of cases) {
      const bytes = broken(good);
      const path = join(dir, "broken.bpf.o");
      writeFileSync(path, bytes);
      const fromBytes = thrown(() => readElf(bytes));
      const fromPath = thrown(() => readElf(path));
      assert.ok(fromBytes instanceof ElfError, `${what}: ${fromBytes}`);
      assert.ok(fromPath instanceof ElfError, `${what}: ${fromPath}`);
      assert.equal((fromPath as Error).message, (fromBytes as Error).message, what);
    }
  });
});

test("through the libc file layer (Deno with only --allow-ffi), readElf() refuses a FIFO without blocking", (t) => {
  if (runtimeName() !== "deno") {
    return skip(t, "the libc file layer is Deno's (Bun reads through node:fs)");
  }
  const r = withTmpDir("tsbpf-elf-fifo-ffi", (dir) => {
    execFileSync("mkfifo", [join(dir, "fifo")]);
    const script = join(dir, "fifo_ffi.ts");
    writeFileSync(
      script,
      `import { getSys } from "${join(ROOT, "mod.ts")}";
       import { readElf } from "${join(ROOT, "spec", "elf.ts")}";
       getSys();
       try { readElf("${join(dir, "fifo")}", { native: true }); console.log("read"); }
       catch (e) { console.log(e.message); }`,
    );
    return run(join(ROOT, "node_modules", ".bin", "deno"), [
      "run",
      "--allow-ffi",
      "--quiet",
      script,
    ], {
      timeoutMs: 30_000,
    });
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Cannot read ".*fifo": it is a fifo, not a regular file/);
});
