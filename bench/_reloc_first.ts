// Prints how long one relocateProgram pass over every program of tests/bpf/build/load_globals.bpf.o
// takes in a fresh process: the first pass (argument "first", JavaScript run for the first time)
// or the second (argument "warm"). The object is opened and the kernel BTF read before the clock.
import { Btf } from "../btf/btf.ts";
import { relocateProgram } from "../reloc/mod.ts";
import type { ResolvedExtern } from "../reloc/types.ts";
import { open } from "../spec/open.ts";

const g = globalThis as { Deno?: { args: string[] }; process?: { argv: string[] } };
const which = g.Deno ? g.Deno.args[0] : g.process?.argv[2];
const spec = open(new URL("../tests/bpf/build/load_globals.bpf.o", import.meta.url).pathname);
const targetBtf = Btf.kernel();
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
