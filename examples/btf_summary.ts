/**
 * Prints a summary of the running kernel's BTF (/sys/kernel/btf/vmlinux) with tsbpf's pure BTF
 * reader: how many types of each kind, and the sizes of a few well-known structs. Needs no root.
 *
 * Run: `deno run -A examples/btf_summary.ts` or `bun examples/btf_summary.ts`.
 *
 * @module
 */
import { Btf, BTF_KIND_NAMES, BtfKind } from "../btf/mod.ts";

const start = performance.now();
const btf = Btf.kernel();
const parsed = performance.now() - start;

const counts = new Map<number, number>();
for (let id = 1; id < btf.typeCount; id++) {
  const k = btf.kind(id);
  counts.set(k, (counts.get(k) ?? 0) + 1);
}

console.log(`kernel BTF: ${btf.typeCount - 1} types, parsed in ${parsed.toFixed(1)} ms`);
const rows = [...counts].sort((a, b) => b[1] - a[1]);
for (const [kind, n] of rows) {
  console.log(`  ${(BTF_KIND_NAMES[kind] ?? `kind ${kind}`).padEnd(10)} ${String(n).padStart(7)}`);
}
for (const name of ["task_struct", "mm_struct", "sk_buff", "bpf_map"]) {
  const id = btf.findByName(name, BtfKind.Struct);
  if (id > 0) console.log(`  struct ${name}: id ${id}, ${btf.resolveSize(id)} bytes`);
}
