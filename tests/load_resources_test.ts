// Resources: after close(), and after a load() that fails at any bpf() or mmap() call, the process
// holds no new fds, no mappings of ours stay, the kernel keeps none of the object's maps or
// programs, and no pins of the failed load remain.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import { btfInfo, getNextId, mapInfo, progInfo } from "../ffi/bpf.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { type Sys, withFaults } from "../ffi/sys.ts";
import { BpfObject } from "../live/object.ts";
import { newFds, openFds, pinDir, requireKernel, testObject } from "./_util.ts";

const EINVAL = 22;
const ENOMEM = 12;

type Kind = "prog" | "map" | "btf";
const MADE: Record<number, Kind> = { 0: "map", 5: "prog", 18: "btf" }; // MAP_CREATE, PROG_LOAD, BTF_LOAD

/**
 * Wraps a Sys so that every map, program and BTF object it makes is recorded by kernel id (so the
 * test can check those very objects are gone, whatever other processes load meanwhile).
 */
function tracking(sys: Sys, real: Sys, made: { kind: Kind; id: number }[]): Sys {
  const w: Sys = Object.create(sys);
  w.bpf = (cmd, attr) => {
    const fd = sys.bpf(cmd, attr);
    const kind = MADE[cmd];
    if (kind !== undefined) {
      const cur = setSys(real);
      try {
        const id = kind === "map"
          ? mapInfo(fd).id
          : kind === "prog"
          ? progInfo(fd).id
          : btfInfo(fd).id;
        made.push({ kind, id });
      } finally {
        setSys(cur);
      }
    }
    return fd;
  };
  return w;
}

/**
 * The recorded objects that still exist, found by walking the kernel's id lists. (No fd is
 * opened: closing a prog array's last fd schedules work that a second close can race with.)
 */
function stillAlive(made: { kind: Kind; id: number }[]): string[] {
  const out: string[] = [];
  for (const kind of ["prog", "map", "btf"] as const) {
    const want = new Set(made.filter((m) => m.kind === kind).map((m) => m.id));
    if (want.size === 0) continue;
    let id = Math.min(...want) - 1;
    for (;;) {
      id = getNextId(kind, id);
      if (id === 0) break;
      if (want.has(id)) out.push(`${kind} ${id}`);
    }
  }
  return out;
}

function mappings(): number {
  // Anonymous and bpf-map mappings of this process, counted by /proc/self/maps lines.
  return readdirSync("/proc/self/map_files").length;
}

const OBJECTS = ["load_globals", "map_in_map", "externs", "pinned", "load_struct_ops"];

for (const file of OBJECTS) {
  test(`load() of ${file}.bpf.o that fails at the Nth bpf() call releases everything, for every N`, async (t) => {
    if (!requireKernel(t)) return;
    const real = getSys();
    const pins = pinDir();
    try {
      // Warm the per-process caches (probes, kernel BTF, kallsyms, config) outside the faults.
      {
        using warm = BpfObject.open(testObject(file), { name: "lkres", pinRoot: pins.path });
        warm.load();
      }
      const made: { kind: Kind; id: number }[] = [];
      const fdsBefore = openFds();
      const mapsBefore = mappings();
      // Count the calls of a load that succeeds, then fail each one in turn.
      let total = 0;
      setSys(withFaults(real, { bpf: () => void total++ }));
      try {
        const pinRoot = pinDir();
        try {
          using counted = BpfObject.open(testObject(file), {
            name: "lkres",
            pinRoot: pinRoot.path,
          });
          counted.load();
        } finally {
          pinRoot.remove();
        }
      } finally {
        setSys(real);
      }
      assert.ok(total > 3, `the load made only ${total} bpf() calls`);
      let failures = 0;
      for (let n = 1; n <= total; n++) {
        let calls = 0;
        const faulty = withFaults(real, {
          bpf: () => (++calls === n ? (n % 2 ? EINVAL : ENOMEM) : undefined),
        });
        setSys(tracking(faulty, real, made));
        let failed: unknown;
        const pinRoot = pinDir();
        try {
          const obj = BpfObject.open(testObject(file), { name: "lkres", pinRoot: pinRoot.path });
          try {
            obj.load();
          } catch (e) {
            failed = e;
          } finally {
            setSys(real);
            if (failed !== undefined) {
              assert.deepEqual(
                readdirSync(pinRoot.path),
                [],
                `pins left after failing at call ${n}`,
              );
            }
            obj.close();
          }
        } finally {
          setSys(real);
          pinRoot.remove();
        }
        if (failed !== undefined) {
          failures++;
          assert.ok(failed instanceof BpfError, `call ${n}: ${failed}`);
        }
        assert.deepEqual(newFds(fdsBefore), [], `fds left after failing at call ${n}`);
        assert.equal(mappings(), mapsBefore, `mappings left after failing at call ${n}`);
      }
      // Some calls fail without failing the load, as in libbpf (BTF is optional, a map is retried
      // without BTF, a program again with a log, a rodata bind is best effort).
      assert.ok(failures > 0, `none of ${total} faults failed the load`);
      // The kernel frees programs after an RCU grace period, and their maps after that: wait.
      assert.ok(made.length > 0);
      let alive = stillAlive(made);
      for (let i = 0; i < 100 && alive.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        alive = stillAlive(made);
      }
      assert.deepEqual(alive, [], "kernel objects left");
    } finally {
      setSys(real);
      pins.remove();
    }
  });
}

test("BpfObject releases its fds and mappings after close(), and after a failed mmap() at load", (t) => {
  if (!requireKernel(t)) return;
  const real = getSys();
  {
    using warm = BpfObject.open(testObject("load_globals"));
    warm.load();
  }
  const fdsBefore = openFds();
  const mapsBefore = mappings();
  const obj = BpfObject.open(testObject("load_globals"));
  obj.load();
  assert.ok(mappings() > mapsBefore);
  obj.close();
  obj.close();
  assert.deepEqual(newFds(fdsBefore), []);
  assert.equal(mappings(), mapsBefore);
  // mmap calls at open (one per data section) then at load (the remaps): fail each in turn, until
  // the Nth call is past the last one and the load succeeds.
  let faults = 0;
  let succeeded = false;
  for (let n = 1; n < 20; n++) {
    let calls = 0;
    setSys(withFaults(real, {
      mmap: () => {
        if (++calls !== n) return undefined;
        faults++;
        return ENOMEM;
      },
    }));
    let failed: unknown;
    try {
      const o2 = BpfObject.open(testObject("load_globals"));
      try {
        o2.load();
      } catch (e) {
        failed = e;
      } finally {
        setSys(real);
        o2.close();
      }
    } catch (e) {
      failed = e; // open() itself failed
    } finally {
      setSys(real);
    }
    assert.deepEqual(newFds(fdsBefore), [], `fds left after mmap ${n} failed`);
    assert.equal(mappings(), mapsBefore, `mappings left after mmap ${n} failed`);
    if (failed === undefined) {
      assert.equal(calls, n - 1, `mmap ${n} failed and the load still succeeded`);
      succeeded = true;
      break;
    }
    assert.ok(failed instanceof BpfError, String(failed));
  }
  // Every mmap of a load was failed once (open's and load's), then a load without a fault passed.
  assert.ok(faults >= 2, `only ${faults} mmap faults fired`);
  assert.ok(succeeded, "no load succeeded once the faults ran out");
});
