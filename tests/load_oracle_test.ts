// The loader against libbpf 1.1: for every program of every test object, the kernel's tag of the
// program tsbpf loads equals the tag of the program libbpf loads. Programs libbpf cannot load on
// this kernel must fail for tsbpf too, with an error naming the program and its section.
import assert from "node:assert/strict";
import { basename } from "node:path";
import { test } from "node:test";
import { BpfError, VerifierError } from "../errors.ts";
import { mapInfo } from "../ffi/bpf.ts";
import { BpfObject } from "../live/object.ts";
import {
  oracle,
  oracleInfo,
  pinDir,
  requireKernel,
  testObjects,
  UNLOADABLE_OBJECTS,
} from "./_util.ts";

interface Loaded {
  name: string;
  section: string;
  tag: string;
  xlatedInsns: number;
}

function ours(file: string, progs: string[], pinRoot?: string): Loaded[] | Error {
  const obj = BpfObject.open(file, { pinRoot });
  try {
    if (progs.length > 0) {
      for (const n of obj.programNames) obj.setAutoload(n, progs.includes(n));
    }
    obj.load();
    return [...obj.programs.values()].map((p) => {
      const i = p.info();
      return { name: p.name, section: p.section, tag: i.tag, xlatedInsns: i.insnCount };
    });
  } catch (e) {
    return e as Error;
  } finally {
    obj.close();
  }
}

function theirs(file: string, progs: string[], pinRoot?: string): Loaded[] | string {
  const r = oracle(["load", file, ...(pinRoot ? ["--pin-root", pinRoot] : []), ...progs]);
  if (r.code !== 0 || r.json === undefined) {
    return r.stderr.trim().split("\n").slice(-3).join(" | ");
  }
  return r.json.programs as Loaded[];
}

for (const file of testObjects()) {
  const name = basename(file, ".bpf.o");
  test(`load(): every program of ${name}.bpf.o gets libbpf's tag, or fails where libbpf fails`, (t) => {
    if (!requireKernel(t)) return;
    const pins = name === "pinned" ? [pinDir(), pinDir()] : [];
    try {
      // Programs whose section libbpf 1.1 does not know (tcx/*...) cannot be compared.
      const known: string[] = oracleInfo(file).programs
        .filter((p: { type: string }) => p.type !== "unspec")
        .map((p: { name: string }) => p.name);
      const all = BpfObject.open(file);
      const names = all.programNames;
      all.close();
      if (known.length === 0) {
        t.skip("libbpf 1.1 knows none of its sections");
        return;
      }
      // Whole object first; per program when libbpf cannot load all of it.
      const whole = known.length === names.length
        ? theirs(file, [], pins[0]?.path)
        : "some sections unknown to libbpf";
      const groups = typeof whole === "string" ? known.map((n) => [n]) : [[]];
      let compared = 0;
      for (const group of groups) {
        const want = group.length === 0 ? whole : theirs(file, group, pins[0]?.path);
        const got = ours(file, group, pins[1]?.path);
        if (typeof want === "string") {
          assert.ok(
            got instanceof Error,
            `libbpf fails on ${group.join(",")} (${want}), tsbpf loaded it`,
          );
          assert.ok(got instanceof BpfError, `not a BpfError: ${got}`);
          if (got instanceof VerifierError) {
            assert.equal(got.program, group[0]);
            assert.match(got.message, new RegExp(`'${group[0]}' \\(section `));
          }
          compared++;
          continue;
        }
        if (got instanceof Error) throw got;
        assert.deepEqual(
          got.map((p) => [p.name, p.section, p.tag, p.xlatedInsns]),
          want.map((p) => [p.name, p.section, p.tag, p.xlatedInsns]),
        );
        compared += want.length;
      }
      assert.ok(compared > 0);
      if (name in UNLOADABLE_OBJECTS && name !== "pinned" && known.length === names.length) {
        assert.equal(
          typeof whole,
          "string",
          `${name} is listed as unloadable but libbpf loaded it`,
        );
      }
    } finally {
      for (const p of pins) p.remove();
    }
  });
}

interface KernelMap {
  name: string;
  kernelName: string;
  typeId: number;
  keySize: number;
  valueSize: number;
  kernelMaxEntries: number;
  kernelFlags: number;
  kernelMapExtra: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

for (const file of testObjects()) {
  const name = basename(file, ".bpf.o");
  test(`load(): ${name}.bpf.o's maps reach the kernel as libbpf makes them`, (t) => {
    if (!requireKernel(t)) return;
    const pins = name === "pinned" ? [pinDir(), pinDir()] : [];
    try {
      const pinArgs = pins[0] ? ["--pin-root", pins[0].path] : [];
      // The whole object; when libbpf cannot load all its programs, its maps alone (libbpf
      // creates every map before it loads any program, so they are the same maps).
      let noProgs = false;
      let r = oracle(["load", file, ...pinArgs]);
      if (r.code !== 0 || r.json === undefined) {
        noProgs = true;
        r = oracle(["load", file, ...pinArgs, "--no-progs"]);
      }
      using obj = BpfObject.open(file, { pinRoot: pins[1]?.path });
      if (noProgs) { for (const n of obj.programNames) obj.setAutoload(n, false); }
      if (r.code !== 0 || r.json === undefined) {
        // libbpf creates no maps at all: tsbpf must refuse the object too.
        const why = r.stderr.trim().split("\n").slice(-3).join(" | ");
        assert.throws(() => obj.load(), BpfError, `libbpf fails (${why}), tsbpf loaded it`);
        return;
      }
      const want: KernelMap[] = r.json.maps;
      obj.load();
      assert.deepEqual([...obj.maps.keys()].sort(), want.map((m) => m.name).sort());
      for (const w of want) {
        const m = obj.maps.get(w.name)!;
        const info = mapInfo(m.fd);
        assert.deepEqual(
          [
            info.name,
            info.type,
            info.keySize,
            info.valueSize,
            info.maxEntries,
            info.flags,
            info.mapExtra,
          ],
          [
            w.kernelName,
            w.typeId,
            w.keySize,
            w.valueSize,
            w.kernelMaxEntries,
            w.kernelFlags,
            BigInt(w.kernelMapExtra),
          ],
          `${w.name}: name, type, key size, value size, max entries, flags, map_extra`,
        );
        assert.deepEqual(
          [info.btfKeyTypeId, info.btfValueTypeId],
          [w.btfKeyTypeId, w.btfValueTypeId],
          `${w.name}: BTF key/value type ids`,
        );
      }
    } finally {
      for (const p of pins) p.remove();
    }
  });
}
