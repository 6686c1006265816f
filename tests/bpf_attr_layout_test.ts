// Proves that the named layouts of ffi/bpf_attr.ts and the enums of ffi/constants.ts come from the
// running kernel: every offset, width and enumerator is compared with /sys/kernel/btf/vmlinux, as
// bpftool dumps it (`bpftool -j btf dump file /sys/kernel/btf/vmlinux`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import * as L from "../ffi/bpf_attr.ts";
import * as C from "../ffi/constants.ts";
import { run, skip } from "./_util.ts";

interface BtfMember {
  name: string;
  type_id: number;
  bits_offset: number;
  bitfield_size?: number;
}
interface BtfJsonType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: BtfMember[];
  values?: { name: string; val: number }[];
}

let cached: Map<number, BtfJsonType> | undefined;

function kernelBtf(): Map<number, BtfJsonType> | undefined {
  if (cached) return cached;
  if (!existsSync("/sys/kernel/btf/vmlinux")) return undefined;
  const r = run("bpftool", ["-j", "btf", "dump", "file", "/sys/kernel/btf/vmlinux"]);
  if (r.code !== 0) throw new Error(`bpftool btf dump failed: ${r.stderr}`);
  const types = JSON.parse(r.stdout).types as BtfJsonType[];
  cached = new Map(types.map((t) => [t.id, t]));
  return cached;
}

function needBtf(t: { skip(m: string): void }): Map<number, BtfJsonType> | undefined {
  const btf = kernelBtf();
  if (!btf) {
    if (process.env.CI === "true") throw new Error("No /sys/kernel/btf/vmlinux under CI");
    skip(t, "This kernel exposes no BTF (/sys/kernel/btf/vmlinux)");
  }
  return btf;
}

function skipMods(btf: Map<number, BtfJsonType>, id: number): BtfJsonType {
  let t = btf.get(id)!;
  while (["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"].includes(t.kind)) {
    t = btf.get(t.type_id!)!;
  }
  return t;
}

function sizeOf(btf: Map<number, BtfJsonType>, id: number): number {
  const t = skipMods(btf, id);
  if (t.kind === "ARRAY") return t.nr_elems! * sizeOf(btf, t.type_id!);
  if (t.kind === "PTR") return 8;
  return t.size!;
}

const anon = (m: BtfMember) => m.name === "" || m.name === "(anon)";

/** Finds a member by name in a struct or union, looking through anonymous members. */
function member(
  btf: Map<number, BtfJsonType>,
  id: number,
  name: string,
): { bits: number; type: number; bitfield: number } | undefined {
  const t = skipMods(btf, id);
  for (const m of t.members ?? []) {
    if (m.name === name) {
      return { bits: m.bits_offset, type: m.type_id, bitfield: m.bitfield_size ?? 0 };
    }
  }
  for (const m of t.members ?? []) {
    if (!anon(m)) continue;
    const r = member(btf, m.type_id, name);
    if (r) return { ...r, bits: r.bits + m.bits_offset };
  }
  return undefined;
}

function resolve(btf: Map<number, BtfJsonType>, id: number, path: string) {
  let bits = 0;
  let type = id;
  let bitfield = 0;
  for (const part of path.split(".")) {
    const r = member(btf, type, part);
    if (!r) return undefined;
    bits += r.bits;
    type = r.type;
    bitfield = r.bitfield;
  }
  return { bits, type, bitfield };
}

function structByName(btf: Map<number, BtfJsonType>, name: string): BtfJsonType {
  for (const t of btf.values()) {
    if ((t.kind === "STRUCT" || t.kind === "UNION") && t.name === name) return t;
  }
  throw new Error(`No struct or union ${name} in the kernel's BTF`);
}

/**
 * The struct a layout lives in and its byte offset: a named member of the root, or, for the
 * anonymous structs of `union bpf_attr`, the one anonymous member that has every field.
 */
function home(btf: Map<number, BtfJsonType>, l: L.Layout): { id: number; off: number } {
  const root = structByName(btf, l.btfRoot);
  if (l.btfMember !== "") {
    const r = resolve(btf, root.id, l.btfMember);
    assert.ok(r, `${l.btfRoot}.${l.btfMember} exists`);
    return { id: r.type, off: r.bits / 8 };
  }
  if (l.btfRoot !== "bpf_attr") return { id: root.id, off: 0 };
  const names = Object.keys(l.fields);
  const hits = (root.members ?? []).filter((m) =>
    anon(m) && names.every((n) => resolve(btf, m.type_id, n) !== undefined)
  );
  assert.equal(hits.length, 1, `exactly one anonymous part of bpf_attr has ${names.join(", ")}`);
  return { id: hits[0].type_id, off: hits[0].bits_offset / 8 };
}

const LAYOUTS: [string, L.Layout][] = Object.entries(L).filter(([, v]) =>
  typeof v === "object" && v !== null && "fields" in v && "btfRoot" in v
) as [string, L.Layout][];

// Bitfields have no byte offset of their own: the layout names the word that holds them.
const BITFIELD_WORDS: Record<string, Record<string, { bit: number; width: number }>> = {
  PROG_INFO: { gpl_compatible: { bit: 0, width: 1 } },
  PERF_EVENT_ATTR: { flags: { bit: 0, width: 1 } }, // `disabled`, the first bit of the word
};
const BITFIELD_NAMES: Record<string, Record<string, string>> = {
  PERF_EVENT_ATTR: { flags: "disabled" },
};

test("the layout table covers every bpf_attr part and info struct tsbpf uses", () => {
  const names = LAYOUTS.map(([n]) => n).sort();
  for (
    const want of [
      "BTF_INFO",
      "BTF_LOAD",
      "LINK_CREATE",
      "LINK_INFO",
      "MAP_CREATE",
      "MAP_ELEM",
      "MAP_INFO",
      "PERF_EVENT_ATTR",
      "PROG_INFO",
      "PROG_LOAD",
      "TEST_RUN",
    ]
  ) {
    assert.ok(names.includes(want), `${want} is in the table`);
  }
});

for (const [name, l] of LAYOUTS) {
  test(`every field of ${name} sits where the kernel's BTF puts it (${l.btfRoot}${l.btfMember ? "." + l.btfMember : ""})`, (t) => {
    const btf = needBtf(t);
    if (!btf) return;
    const h = home(btf, l);
    let end = 0;
    for (const [field, f] of Object.entries(l.fields)) {
      const btfName = BITFIELD_NAMES[name]?.[field] ?? field;
      const r = resolve(btf, h.id, btfName);
      assert.ok(r, `${name}.${field} exists in the kernel's ${l.btfRoot}`);
      const bf = BITFIELD_WORDS[name]?.[field];
      if (r.bitfield !== 0 || bf) {
        assert.ok(bf, `${name}.${field} is a bitfield the layout knows about`);
        assert.equal(h.off * 8 + r.bits, f.off * 8 + bf.bit, `${name}.${field} bit offset`);
        assert.equal(r.bitfield, bf.width, `${name}.${field} bit width`);
      } else {
        assert.equal(h.off + r.bits / 8, f.off, `${name}.${field} offset`);
        assert.equal(sizeOf(btf, r.type), f.size, `${name}.${field} size`);
      }
      end = Math.max(end, f.off + f.size);
    }
    assert.ok(l.size >= end, `${name}.size ${l.size} covers its last field (${end})`);
    assert.ok(l.size <= h.off + sizeOf(btf, h.id) || l.btfRoot === "bpf_attr", `${name}.size`);
    if (l.btfRoot === "bpf_attr") {
      assert.ok(
        l.size <= sizeOf(btf, structByName(btf, "bpf_attr").id),
        `${name}.size fits bpf_attr`,
      );
    } else {
      assert.equal(l.size, sizeOf(btf, h.id), `${name}.size is sizeof(struct ${l.btfRoot})`);
    }
  });
}

function enumerators(btf: Map<number, BtfJsonType>): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of btf.values()) {
    if (t.kind !== "ENUM" && t.kind !== "ENUM64") continue;
    for (const v of t.values ?? []) if (!out.has(v.name)) out.set(v.name, Number(v.val));
  }
  return out;
}

const ENUMS: [string, Record<string, number>, string][] = [
  ["BpfCmd", C.BpfCmd, "bpf_cmd"],
  ["BpfMapType", C.BpfMapType, "bpf_map_type"],
  ["BpfProgType", C.BpfProgType, "bpf_prog_type"],
  ["BpfAttachType", C.BpfAttachType, "bpf_attach_type"],
  ["BpfLinkType", C.BpfLinkType, "bpf_link_type"],
  ["BpfStatsType", C.BpfStatsType, "bpf_stats_type"],
];

for (const [tsName, table, btfName] of ENUMS) {
  test(`${tsName} has exactly the enumerators of the kernel's enum ${btfName}`, (t) => {
    const btf = needBtf(t);
    if (!btf) return;
    const e = [...btf.values()].find((x) => x.kind === "ENUM" && x.name === btfName);
    assert.ok(e, `enum ${btfName} exists`);
    const kernel = Object.fromEntries(
      (e.values ?? []).filter((v) => !/^(__)?MAX_|^__/.test(v.name)).map((v) => [v.name, v.val]),
    );
    assert.deepEqual({ ...table }, kernel);
  });
}

test("the BPF_F_* map flags and perf constants match the kernel's enumerators", (t) => {
  const btf = needBtf(t);
  if (!btf) return;
  const all = enumerators(btf);
  for (const [k, v] of Object.entries(C.BpfMapFlags)) {
    assert.equal(all.get(k), v, k);
  }
  for (
    const k of [
      "PERF_TYPE_SOFTWARE",
      "PERF_TYPE_TRACEPOINT",
      "PERF_COUNT_SW_BPF_OUTPUT",
      "PERF_SAMPLE_RAW",
    ]
  ) {
    assert.equal(all.get(k), C.Perf[k as keyof typeof C.Perf], k);
  }
});
