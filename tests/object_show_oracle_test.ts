// `tsbpf object show --json` against libbpf 1.1's view (tests/oracle/libbpf_oracle info) of every
// compiled test object: programs, maps and data-section maps must agree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { basename } from "node:path";
import { objectShowJson } from "../cli/object_show.ts";
import { open } from "../spec/open.ts";
import { findSectionDef } from "../spec/section_defs.ts";
import { oracleInfo, runCli, testObjects } from "./_util.ts";

// Sections libbpf 1.1 does not know; its oracle reports them as type "unspec".
const NEWER_THAN_LIBBPF_1_1 = new Set([
  "tc/ingress",
  "tc/egress",
  "tcx/ingress",
  "tcx/egress",
  "netkit/primary",
  "netkit/peer",
  "kprobe.session+",
  "uprobe.multi+",
  "uretprobe.multi+",
  "uprobe.multi.s+",
  "uretprobe.multi.s+",
  "netfilter",
]);

for (const file of testObjects()) {
  const name = basename(file);

  test(`object show --json agrees with libbpf on the programs of ${name}`, () => {
    const want = oracleInfo(file);
    const spec = open(file);
    try {
      const got = objectShowJson(spec);
      assert.equal(spec.name, want.name);
      assert.deepEqual(
        got.programs.map((p) => [p.name, p.section, p.insns]),
        // deno-lint-ignore no-explicit-any
        want.programs.map((p: any) => [p.name, p.section, p.insns]),
      );
      got.programs.forEach((p, i) => {
        const w = want.programs[i];
        const pattern = findSectionDef(p.section)?.pattern ?? "";
        if (w.type === "unspec" && NEWER_THAN_LIBBPF_1_1.has(pattern)) return;
        assert.equal(p.type, w.type, `type of ${p.name}`);
        if (p.expectedAttachType === "") {
          assert.equal(w.expectedAttachTypeId, 0, `expected attach type of ${p.name}`);
        } else {
          assert.equal(p.expectedAttachType, w.expectedAttachType, `attach type of ${p.name}`);
        }
      });
    } finally {
      spec.btf?.close();
    }
  });

  test(`object show --json agrees with libbpf on the maps and data sections of ${name}`, () => {
    const want = oracleInfo(file);
    const spec = open(file);
    try {
      const got = objectShowJson(spec);
      // deno-lint-ignore no-explicit-any
      const user = want.maps.filter((m: any) => !m.internal);
      // deno-lint-ignore no-explicit-any
      const internal = want.maps.filter((m: any) => m.internal);
      assert.deepEqual(
        got.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
        // deno-lint-ignore no-explicit-any
        user.map((m: any) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]),
      );
      spec.maps.forEach((m, i) => {
        const w = user[i];
        assert.equal(m.btfKeyTypeId, w.btfKeyTypeId, `btf key of ${m.name}`);
        assert.equal(m.btfValueTypeId, w.btfValueTypeId, `btf value of ${m.name}`);
        assert.equal(m.mapExtra, BigInt(w.mapExtra), `map_extra of ${m.name}`);
        if (w.innerMap === null) assert.equal(m.inner, undefined);
        else {
          assert.deepEqual(
            [
              m.inner?.type.toLowerCase(),
              m.inner?.keySize,
              m.inner?.valueSize,
              m.inner?.maxEntries,
            ],
            [w.innerMap.type, w.innerMap.keySize, w.innerMap.valueSize, w.innerMap.maxEntries],
          );
        }
      });
      assert.deepEqual(
        got.datasecs.map((d) => [d.mapName, d.name, d.size, d.flags]),
        // deno-lint-ignore no-explicit-any
        internal.map((m: any) => [m.name, m.datasec, m.valueSize, m.flags]),
      );
    } finally {
      spec.btf?.close();
    }
  });
}

test("tsbpf object show prints the programs, maps and variables of an object", () => {
  const file = testObjects().find((f) => basename(f) === "globals.bpf.o");
  assert.ok(file, "globals.bpf.o is built");
  const r = runCli(["object", "show", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /use_globals\s+tp\/syscalls\/sys_enter_write\s+tracepoint/);
  assert.match(r.stdout, /\.rodata\s+map globals\.rodata/);
  assert.match(r.stdout, /const volatile __u64\[4\]\s+thresholds/);
});

test("tsbpf object show --json prints one parseable document", () => {
  const file = testObjects().find((f) => basename(f) === "maps.bpf.o");
  assert.ok(file, "maps.bpf.o is built");
  const r = runCli(["object", "show", file, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), ["programs", "maps", "datasecs"]);
  assert.ok(doc.maps.some((m: { type: string }) => m.type === "ringbuf"));
});

test("tsbpf object show fails with a clear error on a file that is not ELF", () => {
  const r = runCli(["object", "show", import.meta.filename ?? new URL(import.meta.url).pathname]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Not an ELF file/);
});
