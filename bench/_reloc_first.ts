// Prints how long one relocateProgram pass over every program of tests/bpf/build/load_globals.bpf.o
// takes in a fresh process: the first pass (argument "first", JavaScript run for the first time)
// or the second (argument "warm"). The object is opened and the kernel BTF read before the clock.
// With a second argument "index", the core also runs one CO-RE lookup in the kernel's BTF before the
// clock (one raw core_relo_apply call, no relocation JavaScript: the core's first scan of the
// kernel's names), so the first pass shows what remains of the first-call cost once that is done.
import { Btf } from "../btf/btf.ts";
import { Core } from "../core-wasm/mod.ts";
import { relocateProgram } from "../reloc/mod.ts";
import type { ResolvedExtern } from "../reloc/types.ts";
import { open } from "../spec/open.ts";

const g = globalThis as { Deno?: { args: string[] }; process?: { argv: string[] } };
const argv = g.Deno ? g.Deno.args : g.process?.argv.slice(2) ?? [];
const which = argv[0];
const spec = open(new URL("../tests/bpf/build/load_globals.bpf.o", import.meta.url).pathname);
const targetBtf = Btf.kernel();
if (argv[1] === "index") buildCoreIndex();
const mapFds = new Map<string, number>();
const dataMapFds = new Map<string, number>();
let fd = 100;
for (const m of spec.maps) mapFds.set(m.name, fd++);
for (const d of spec.datasecs) dataMapFds.set(d.name, fd++);
const externs = new Map<string, ResolvedExtern>();
const input = { mapFds, dataMapFds, targetBtf, externs };
const pass = (): number => {
  const t0 = performance.now();
  for (const p of spec.programs) relocateProgram(spec, p.name, input);
  return performance.now() - t0;
};
const first = pass();
const warm = pass();
console.log((which === "warm" ? warm : first).toFixed(4));

/** One CO-RE relocation of the object against zeroed instructions: the core scans the target. */
function buildCoreIndex(): void {
  const core = Core.get();
  const x = core.exports;
  const r = [...spec.btfExt!.coreRelos.values()].flat()[0];
  const ctx = x.core_ctx_new(spec.btf!.handle, targetBtf.handle) as number;
  const insns = core.alloc(4096);
  core.u8().fill(0, insns.ptr, insns.ptr + 4096);
  const access = new TextEncoder().encode(r.accessStr);
  const acc = core.copyIn(access);
  x.core_relo_apply(ctx, insns.ptr, 512, 0, r.typeId, r.kind, acc.ptr, access.length);
  x.err_clear();
  core.free(acc);
  core.free(insns);
  x.core_ctx_free(ctx);
}
