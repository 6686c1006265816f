/**
 * Pins, USDT and kconfig/ksym externs with nothing but what `deno run --allow-ffi` grants
 * (tests/permissions_test.ts runs it). Arguments: a pin root that does not exist yet (load()
 * makes it on bpffs) and the USDT target binary. Prints one JSON line.
 *
 * @module
 */
import { attachUsdt, BpfObject } from "../../mod.ts";
import { host } from "../../_host.ts";

const root = new URL("../../", import.meta.url).pathname;
const g = globalThis as { Deno?: { args: string[] }; process?: { argv: string[] } };
const [pinRoot, target] = g.Deno ? g.Deno.args : g.process!.argv.slice(2);

// Pins: load() makes the root, checks it is on bpffs and pins there; unpin() removes one pin.
let pinned: string;
{
  using obj = BpfObject.open(`${root}tests/bpf/build/pinned.bpf.o`, { pinRoot });
  obj.load();
  obj.map("tsbpf_pinned_array").unpin();
  pinned = obj.map("tsbpf_pinned_hash").pinPath;
}

// kconfig and ksym externs: the kernel config and kallsyms are read through libc.
using ext = BpfObject.open(`${root}tests/bpf/build/externs.bpf.o`);
ext.load();

// USDT: the target's notes are read through libc.
using u = BpfObject.open(`${root}tests/bpf/build/usdt.bpf.o`);
u.load();
using l = attachUsdt({ fd: u.program("usdt_add").fd, name: "usdt_add" }, {
  binary: target,
  provider: "tsbpf",
  name: "add",
});

console.log(JSON.stringify({
  pinned,
  externs: [ext.state, ...[...ext.programs.keys()].sort()],
  usdt: `${l.kind} ${l.target}`,
  env: host().env("TSBPF_PERM_PROBE") ?? null,
}));
