/**
 * Loads, attaches and reads maps with nothing but what `deno run --allow-ffi` grants
 * (tests/permissions_test.ts runs it): the tracepoint demo object (kernel BTF, tracefs, CPU lists)
 * and the libc uprobes of attach_uprobe.bpf.o (library search, an ELF read of libc). Prints one
 * JSON line.
 *
 * @module
 */
import { BpfObject } from "../../mod.ts";

const root = new URL("../../", import.meta.url).pathname;
const g = globalThis as { Deno?: { pid: number }; process?: { pid: number } };
const self = g.process?.pid ?? g.Deno!.pid;

using obj = BpfObject.open(`${root}examples/build/trace_write.bpf.o`);
obj.load();
const links = obj.attach();
for (let i = 0; i < 20; i++) console.log(`own write ${i}`);
let ownWrites = 0n;
let rows = 0;
for (const [k, v] of obj.map("writers").entries()) {
  rows++;
  const pid = new DataView(k.buffer, k.byteOffset, k.byteLength).getUint32(0, true);
  if (pid === self) {
    ownWrites = new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(0, true);
  }
}
obj.detach();

using up = BpfObject.open(`${root}tests/bpf/build/attach_uprobe.bpf.o`);
up.load();
const uprobes = [...up.attach().values()].map((l) => `${l.kind} ${l.target}`);
up.detach();

console.log(JSON.stringify({
  links: [...links.values()].map((l) => `${l.kind} ${l.target}`),
  rows,
  ownWrites: ownWrites.toString(),
  uprobes,
}));
