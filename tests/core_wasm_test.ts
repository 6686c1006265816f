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
