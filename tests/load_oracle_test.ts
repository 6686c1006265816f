// The loader against libbpf 1.1: for every program of every test object, the kernel's tag of the
// program tsbpf loads equals the tag of the program libbpf loads. Programs libbpf cannot load on
// this kernel must be refused for tsbpf too, with the same errno, naming the program and its section.
// What this kernel refuses is asked of libbpf at run time (tests/_util.ts libbpfLoad), never listed.
import assert from "node:assert/strict";
import { basename } from "node:path";
import { test } from "node:test";
import { BpfError, VerifierError } from "../errors.ts";
import { mapInfo } from "../ffi/bpf.ts";
import { BpfObject } from "../live/object.ts";
import {
  expectLikeLibbpf,
  LIBBPF_UNKNOWN_SECTIONS,
  libbpfLoad,
  NEEDS_PIN_ROOT,
  oracle,
  oracleInfo,
  pinDir,
  requireKernel,
  skip,
  testObjects,
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

for (const file of testObjects()) {
  const name = basename(file, ".bpf.o");
  test(`load(): every program of ${name}.bpf.o gets libbpf's tag, or is refused as libbpf is`, (t) => {
    if (!requireKernel(t)) return;
    const pins = NEEDS_PIN_ROOT.has(name) ? [pinDir(), pinDir()] : [];
    try {
      // Programs whose section libbpf 1.1 does not know (tcx/*...) cannot be compared.
      const known: string[] = oracleInfo(file).programs
        .filter((p: { type: string }) => p.type !== "unspec")
        .map((p: { name: string }) => p.name);
      const all = BpfObject.open(file);
      const names = all.programNames;
      all.close();
      if (known.length === 0) {
        assert.ok(name in LIBBPF_UNKNOWN_SECTIONS, `libbpf knows no section of ${name}`);
        skip(t, LIBBPF_UNKNOWN_SECTIONS[name]);
        return;
      }
      // The whole object first; then each program alone when libbpf cannot load all of it here.
      const groups: string[][] = [];
      if (known.length === names.length) {
        const whole = libbpfLoad(file, [], { pinRoot: pins[0]?.path });
        const got = ours(file, [], pins[1]?.path);
        const verdict = expectLikeLibbpf(got, whole, `${name}.bpf.o`);
        if (verdict === "loaded") {
          assert.deepEqual(
            (got as Loaded[]).map((p) => [p.name, p.section, p.xlatedInsns]),
            whole.ok && whole.programs.map((p: Loaded) => [p.name, p.section, p.xlatedInsns]),
          );
        } else {
          assert.ok(got instanceof BpfError, `not a BpfError: ${got}`);
          groups.push(...known.map((n) => [n]));
        }
      } else {
        groups.push(...known.map((n) => [n]));
      }
      for (const group of groups) {
        const want = libbpfLoad(file, group, { pinRoot: pins[0]?.path });
        const got = ours(file, group, pins[1]?.path);
        const what = `${name}.bpf.o program ${group[0]}`;
        if (expectLikeLibbpf(got, want, what) === "refused") {
          assert.ok(got instanceof BpfError, `not a BpfError: ${got}`);
          if (got instanceof VerifierError) {
            assert.equal(got.program, group[0]);
            assert.match(got.message, new RegExp(`'${group[0]}' \\(section `));
          }
        } else {
          assert.deepEqual(
            (got as Loaded[]).map((p) => [p.name, p.section, p.xlatedInsns]),
            want.ok && want.programs.map((p: Loaded) => [p.name, p.section, p.xlatedInsns]),
          );
        }
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
