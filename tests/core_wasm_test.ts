// The committed core module: valid WebAssembly, no host imports beyond abort, and traps never
// escape as anything but a BpfError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SOURCE_SHA256, WASM_BASE64, WASM_SIZE } from "../core-wasm/_wasm.gen.ts";
import { Core } from "../core-wasm/mod.ts";
import { BpfError } from "../errors.ts";
import { withTmpDir } from "./_util.ts";

const root = new URL("..", import.meta.url).pathname;

function moduleBytes(): Uint8Array {
  const bin = atob(WASM_BASE64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

test("the committed core module passes wabt's wasm-validate", () => {
  withTmpDir("tsbpf-wasm", (dir) => {
    const file = join(dir, "core.wasm");
    writeFileSync(file, moduleBytes());
    const r = spawnSync(join(root, "node_modules/.bin/wasm-validate"), [file], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `wasm-validate failed:\n${r.stdout}${r.stderr}`);
  });
});

test("the committed core module's header names its source hash and its size", () => {
  assert.match(SOURCE_SHA256, /^[0-9a-f]{64}$/);
  assert.equal(moduleBytes().length, WASM_SIZE);
});

test("the core imports nothing from the host but env.abort", () => {
  const mod = new WebAssembly.Module(moduleBytes() as BufferSource);
  const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`);
  assert.deepEqual(imports, ["env.abort:function"]);
});

test("the core is deterministic: two fresh instances describe the same object byte for byte", () => {
  const obj = readFileSync(join(root, "tests/bpf/build/globals.bpf.o"));
  const outputs = [0, 1].map(() => {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes() as BufferSource), {
      env: { abort: () => {} },
    });
    // deno-lint-ignore no-explicit-any
    const x = inst.exports as any;
    const mem = x.memory as WebAssembly.Memory;
    const ptr = x.mem_alloc(obj.length) as number;
    new Uint8Array(mem.buffer).set(obj, ptr);
    const h = x.elf_open(ptr, obj.length) as number;
    assert.ok(h >= 0, "elf_open failed");
    x.elf_records(h, 1);
    const out = new Uint8Array(mem.buffer).slice(x.out_ptr(), x.out_ptr() + x.out_len());
    x.elf_free(h);
    return out;
  });
  assert.ok(outputs[0].length > 100);
  assert.deepEqual(outputs[0], outputs[1]);
});

test("a trap inside the core surfaces as a BpfError and the next Core.get() is a fresh instance", () => {
  const core = Core.get();
  // Freeing a pointer the allocator never handed out makes the allocator abort (or trap).
  assert.throws(() => core.free(0x7ffffff0), (e: unknown) => {
    assert.ok(e instanceof BpfError, `expected a BpfError, got ${e}`);
    assert.match((e as Error).message, /Internal error in the tsbpf core/);
    return true;
  });
  const fresh = Core.get();
  assert.notEqual(fresh, core);
  const buf = fresh.alloc(16);
  fresh.free(buf);
});

/**
 * A minimal reloc_run input: one function of `insns` (8 bytes each) with one relocation per entry
 * of `relocs` ([insn, kind, a, b, c, d]), and one func_info list (one record at instruction 0).
 */
function relocInput(insns: Uint8Array, relocs: number[][]): Uint8Array {
  const hdr = 9, fnW = 10, relW = 6;
  const fnOff = hdr * 4;
  const relOff = fnOff + fnW * 4;
  const listOff = relOff + relocs.length * relW * 4;
  const recOff = listOff + 12;
  const insnOff = recOff + 8;
  const out = new Uint8Array(insnOff + insns.length);
  const w = new Int32Array(out.buffer, 0, insnOff >> 2);
  w.set([1, 1, 1, 0, relocs.length, 1, fnOff, relOff, listOff]);
  w.set([insnOff, insns.length >> 3, 0, 1, 0, relocs.length, 0, -1, -1, 0], fnOff >> 2);
  relocs.forEach((r, i) => w.set(r, (relOff >> 2) + i * relW));
  w.set([2, 1, recOff], listOff >> 2);
  w.set([0, 7], recOff >> 2);
  out.set(insns, insnOff);
  return out;
}

/** Runs reloc_run on a copy of `input` in `x`; the descriptor's words and the instructions. */
// deno-lint-ignore no-explicit-any
function runReloc(x: any, input: Uint8Array): { words: number[]; insns: number[] } | null {
  const mem = x.memory as WebAssembly.Memory;
  const ptr = x.mem_alloc(input.length) as number;
  new Uint8Array(mem.buffer).set(input, ptr);
  const d = x.reloc_run(ptr, input.length) as number;
  let res = null;
  if (d !== 0) {
    const words = [...new Int32Array(mem.buffer, d, 14)];
    const insns = words[0] === 0 ? [...new Uint8Array(mem.buffer, words[2], words[1] * 8)] : [];
    res = { words: words.map((v, i) => (i % 2 === 0 && i > 0 && i < 11 ? 0 : v)), insns };
  }
  x.mem_free(ptr);
  return res;
}

// A call to itself, a map load (fd 42) and a data load to poison (map index 3), then exit.
const RELOC_INSNS = new Uint8Array([
  0x85,
  0x10,
  0,
  0,
  0xff,
  0xff,
  0xff,
  0xff, // call pc-1 (itself, insn 0)
  0x18,
  0x01,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x18,
  0x02,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x95,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
]);
const RELOC_RELOCS = [[1, 0, 0, 42, 0, 0], [3, 1, 1, 3, 16, 0]];

test("the core's relocation is deterministic: two fresh instances give the same bytes", () => {
  const input = relocInput(RELOC_INSNS, RELOC_RELOCS);
  const outputs = [0, 1].map(() => {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes() as BufferSource), {
      env: { abort: () => {} },
    });
    return runReloc(inst.exports, input);
  });
  assert.ok(outputs[0] !== null && outputs[0].words[0] === 0, "relocated");
  assert.equal(outputs[0].insns.length, RELOC_INSNS.length);
  // The map load became BPF_PSEUDO_MAP_FD 42; the data load is poisoned with map index 3.
  assert.equal(outputs[0].insns[9], 0x11);
  assert.equal(outputs[0].insns[12], 42);
  assert.equal(
    new DataView(new Uint8Array(outputs[0].insns).buffer).getInt32(28, true),
    2001000003,
  );
  assert.deepEqual(outputs[0], outputs[1]);
});

test("reloc_run refuses malformed input with 0 or an error record, never a trap", () => {
  const core = Core.get();
  const x = core.exports;
  const good = relocInput(RELOC_INSNS, RELOC_RELOCS);
  const odd = [0, 1, -1, 2, 3, 7, 0x7fffffff, -0x80000000, 0x10000, 36, 4096];
  let seed = 0x1234567;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed % n;
  };
  let refused = 0;
  let failed = 0;
  for (let i = 0; i < 3000; i++) {
    const input = good.slice(0, i % 10 === 0 ? rand(good.length) & ~3 : good.length);
    const w = new Int32Array(input.buffer, 0, input.length >> 2);
    for (let k = 0; k < 1 + rand(3) && w.length > 0; k++) {
      w[rand(Math.min(w.length, 40))] = rand(2) ? odd[rand(odd.length)] : rand(64) - 8;
    }
    const r = core.call(() => runReloc(x, input));
    if (r === null) refused++;
    else if (r.words[0] !== 0) {
      failed++;
      assert.ok(r.words[0] >= 1 && r.words[0] <= 12, `error code ${r.words[0]}`);
    }
  }
  assert.ok(refused > 0 && failed > 0, `refused ${refused}, failed ${failed}`);
  assert.equal(Core.get(), core, "the instance survived");
});
