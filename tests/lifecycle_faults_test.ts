// Fault injection at every syscall site of a generated skeleton's lifecycle (open, load, attach,
// destroy) and of the uprobe, USDT and netlink (XDP, tc) attach paths with their close. The sites
// are counted in a run that succeeds (every call that reaches the OS through Sys, of any kind), so
// a new call is covered without a change here; then each site fails in turn, with each errno of
// EPERM, EINVAL, ENOMEM, E2BIG, EBADF, EAGAIN and EINTR that the call can return. After each
// failure, and the cleanup a user does (destroy(), close()): no fd is left, none of the maps,
// programs, links and BTF objects the run made is left in the kernel, no bpf mapping
// (/proc/self/map_files) and no pin is left, and the error names the call that failed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import { btfInfo, getNextId, type IdKind, linkInfo, mapInfo, progInfo } from "../ffi/bpf.ts";
import { BpfCmd } from "../ffi/constants.ts";
import { getSys, setSys } from "../ffi/runtime.ts";
import { type Sys, withFaults } from "../ffi/sys.ts";
import type { BpfLink } from "../link/link.ts";
import { attachTcFilter, attachTcx, attachXdp, attachXdpNetlink } from "../link/mod.ts";
import { attachUprobe } from "../link/uprobe.ts";
import { attachUsdt } from "../link/usdt.ts";
import { BpfObject } from "../live/object.ts";
import { importPath, writeTmpSkeleton } from "./_skeleton.ts";
import {
  newFds,
  openFds,
  pinDir,
  requireKernel,
  skipMissing,
  testObject,
  UPROBE_TARGET,
} from "./_util.ts";

const [EPERM, EINVAL, ENOMEM, E2BIG, EBADF, EAGAIN, EINTR, ENODEV] = [1, 22, 12, 7, 9, 11, 4, 19];
const ALL = [EPERM, EINVAL, ENOMEM, E2BIG, EBADF, EAGAIN, EINTR];

/** The errnos of the seven that each call can return (its man page, and bpf(2) for all commands). */
function errnosOf(call: string): number[] {
  if (call.startsWith("bpf(")) return ALL;
  switch (call) {
    case "perf_event_open":
      return [EPERM, EINVAL, ENOMEM, E2BIG, EBADF, EINTR];
    case "ioctl":
      return [EPERM, EINVAL, ENOMEM, EBADF];
    case "mmap":
      return [EPERM, EINVAL, ENOMEM, EBADF, EAGAIN];
    case "munmap":
      return [EINVAL, ENOMEM];
    case "close":
      return [EBADF, EINTR];
    case "socket":
      return [EPERM, EINVAL, ENOMEM];
    case "bind":
      return [EPERM, EINVAL, ENOMEM, EBADF];
    case "write":
    case "read":
      return [EPERM, EINVAL, ENOMEM, EBADF, EAGAIN, EINTR];
    case "if_nametoindex":
      return [ENODEV];
    default:
      return [EPERM, EINVAL, ENOMEM, EBADF, EINTR];
  }
}

const FILE_CALLS = new Set(["openat", "read", "pread64", "fstat", "write", "unlinkat", "statfs"]);
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  22: "EINVAL",
  12: "ENOMEM",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  4: "EINTR",
  19: "ENODEV",
};

/**
 * Whether an error message names the call that failed: by its name; for file access, which the
 * file layer describes by path and errno (as the runtimes' own file APIs do), by the errno's name.
 */
function namesCall(message: string, call: string, errno: number): boolean {
  if (message.includes(call)) return true;
  if (call === "if_nametoindex") return /network interface/.test(message);
  return FILE_CALLS.has(call) && message.includes(ERRNO_NAMES[errno]);
}

/** The kernel objects a bpf() command makes, by command. */
const MAKES: Record<number, IdKind> = {
  [BpfCmd.BPF_MAP_CREATE]: "map",
  [BpfCmd.BPF_PROG_LOAD]: "prog",
  [BpfCmd.BPF_BTF_LOAD]: "btf",
  [BpfCmd.BPF_LINK_CREATE]: "link",
  [BpfCmd.BPF_RAW_TRACEPOINT_OPEN]: "link",
};

/** One run's record: the calls it made, in order, and the kernel objects it made (kind, id). */
interface Run {
  calls: string[];
  made: { kind: IdKind; id: number }[];
}

/**
 * The entry point of one run over `real`: every call that reaches the OS is recorded, call `failAt`
 * (1-based, over all kinds; 0 for none) fails with `errno`, and every kernel object made is
 * recorded by id (asked through `real`, outside the count).
 */
function runSys(real: Sys, failAt: number, errno: number, run: Run): Sys {
  const faulty = withFaults(real, {
    syscall: (call) => (run.calls.push(call) === failAt ? errno : undefined),
  });
  const w: Sys = Object.create(faulty);
  w.bpf = (cmd, attr) => {
    const fd = faulty.bpf(cmd, attr);
    const kind = MAKES[cmd];
    if (kind !== undefined) {
      const cur = setSys(real);
      try {
        const info = { map: mapInfo, prog: progInfo, btf: btfInfo, link: linkInfo }[kind];
        run.made.push({ kind, id: info(fd).id });
      } finally {
        setSys(cur);
      }
    }
    return fd;
  };
  return w;
}

/**
 * The objects of `made` the kernel still has, found by walking its id lists (no fd is opened: the
 * last close of a prog array schedules work that a second close could race with).
 */
function stillAlive(made: Map<string, string>): string[] {
  const out: string[] = [];
  for (const kind of ["prog", "map", "btf", "link"] as const) {
    const ids = [...made.keys()].filter((k) => k.startsWith(`${kind} `)).map((k) =>
      Number(k.split(" ")[1])
    );
    if (ids.length === 0) continue;
    const want = new Set(ids);
    for (let id = getNextId(kind, Math.min(...ids) - 1); id !== 0; id = getNextId(kind, id)) {
      if (want.has(id)) out.push(`${kind} ${id} (made by ${made.get(`${kind} ${id}`)})`);
    }
  }
  return out;
}

/**
 * Waits until none of `made` is left in the kernel (it frees programs after an RCU grace period,
 * and their maps after that), up to 2 s, and fails naming the run that made what is left.
 */
async function assertGone(made: Map<string, string>): Promise<void> {
  let alive = stillAlive(made);
  for (let i = 0; i < 100 && alive.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    alive = stillAlive(made);
  }
  assert.deepEqual(alive, [], "kernel objects left");
}

/**
 * The fds open now that were not in `before`, leaving out sockets other than netlink ones: Bun's
 * spawnSync (the tc and ip checks here) keeps unix sockets of its own a while.
 */
function ourNewFds(before: Map<number, string>): string[] {
  const netlink = new Set(
    readFileSync("/proc/self/net/netlink", "utf8").trim().split("\n").slice(1).map((l) =>
      l.trim().split(/\s+/).at(-1)
    ),
  );
  return newFds(before).filter((f) => {
    const m = / -> socket:\[(\d+)\]$/.exec(f);
    return m === null || netlink.has(m[1]);
  });
}

const bpfMappings = () => readdirSync("/proc/self/map_files").length;

/** What a scenario's cleanup must leave (pins it keeps on purpose are listed by `pinsKept`). */
interface Scenario {
  /** Runs the whole lifecycle; throws the first error after cleaning up as a user would. */
  run(): void;
  /** The pin directory, checked to be empty unless `pinsKept()`. */
  pins?: { path: string; clear(): void; kept(): boolean };
}

/**
 * Runs `scenario` once to warm caches, once counting its calls, then once per (site, errno) with
 * that call failing, and checks what is left after each. Returns the number of faults injected.
 */
async function injectEverywhere(
  name: string,
  scenario: Scenario,
): Promise<{ sites: number; faults: number }> {
  const real = getSys();
  scenario.run(); // warm: feature probes, the kernel's BTF, PMU types are read once per process
  scenario.pins?.clear();
  const counted: Run = { calls: [], made: [] };
  setSys(runSys(real, 0, 0, counted));
  try {
    scenario.run();
  } finally {
    setSys(real);
  }
  scenario.pins?.clear();
  const sites = counted.calls.length;
  assert.ok(sites > 0, `${name}: no syscall counted`);
  const fds = openFds();
  const maps = bpfMappings();
  let faults = 0;
  let failures = 0;
  const made = new Map<string, string>();
  for (let n = 1; n <= sites; n++) {
    const call = counted.calls[n - 1];
    for (const errno of errnosOf(call)) {
      faults++;
      const run: Run = { calls: [], made: [] };
      setSys(runSys(real, n, errno, run));
      let failed: unknown;
      try {
        scenario.run();
      } catch (e) {
        failed = e;
      } finally {
        setSys(real);
      }
      const what = `${name}: ${call} (call ${n} of ${sites}) failing with errno ${errno}`;
      assert.equal(run.calls[n - 1], call, `${what}: the run took another path`);
      if (failed !== undefined) {
        failures++;
        assert.ok(failed instanceof BpfError, `${what}: not a BpfError: ${failed}`);
        assert.ok(
          namesCall((failed as Error).message, call, errno),
          `${what}: the error does not name ${call}: ${(failed as Error).message}`,
        );
      }
      assert.deepEqual(ourNewFds(fds), [], `${what}: fds left`);
      for (const m of run.made) made.set(`${m.kind} ${m.id}`, what);
      assert.equal(bpfMappings(), maps, `${what}: mappings left`);
      if (scenario.pins !== undefined) {
        if (!scenario.pins.kept()) {
          assert.deepEqual(readdirSync(scenario.pins.path), [], `${what}: pins left`);
        }
        scenario.pins.clear();
      }
    }
  }
  await assertGone(made);
  assert.ok(failures > 0, `${name}: none of ${faults} faults failed the run`);
  console.log(`${name}: ${sites} syscall sites, ${faults} faults injected, ${failures} failed it`);
  return { sites, faults };
}

// deno-lint-ignore no-explicit-any
type SkelClass = { open(opts?: Record<string, unknown>): any };

/** The generated skeleton class of a test object, imported from a temporary module. */
async function skeletonOf(name: string): Promise<{ cls: SkelClass; remove(): void }> {
  const tmp = writeTmpSkeleton(testObject(name));
  const mod = await importPath<Record<string, SkelClass>>(tmp.path);
  const cls = Object.entries(mod).find(([k]) => k.endsWith("Skel"))![1];
  return { cls, remove: tmp.remove };
}

for (
  const [name, fromFile] of [
    ["skel_globals", false],
    ["skel_attach", false],
    ["pinned", false],
    ["skel_attach", true],
  ] as const
) {
  test(
    `a generated skeleton of ${name}.bpf.o${
      fromFile ? " opened from its file" : ""
    } failing at each syscall of open, load, attach and destroy leaves nothing behind`,
    {
      timeout: 600_000,
    },
    async (t) => {
      if (!requireKernel(t)) return;
      const { cls, remove } = await skeletonOf(name);
      const dir = pinDir();
      try {
        let loaded = false;
        const opts = fromFile
          ? { pinRoot: dir.path, path: testObject(name) }
          : { pinRoot: dir.path };
        await injectEverywhere(`skeleton ${name}${fromFile ? " (from its file)" : ""}`, {
          // open, load, attach, destroy, as a user writes it: destroy() in a finally.
          run: () => {
            loaded = false;
            const skel = cls.open(opts);
            try {
              skel.load();
              loaded = true;
              skel.attach();
            } finally {
              skel.destroy();
            }
          },
          pins: {
            path: dir.path,
            // A loaded object's by-name pins outlive it, as in libbpf: only a failed load removes them.
            kept: () => loaded,
            clear: () => {
              for (const f of readdirSync(dir.path)) spawnSync("rm", ["-f", `${dir.path}/${f}`]);
            },
          },
        });
      } finally {
        dir.remove();
        remove();
      }
    },
  );
}

/** Loads test object `name` with only `progs`, outside any fault. */
function loaded(name: string, progs?: string[]): BpfObject {
  const obj = BpfObject.open(testObject(name));
  try {
    if (progs) { for (const p of obj.programNames) obj.setAutoload(p, progs.includes(p)); }
    obj.load();
  } catch (e) {
    obj.close();
    throw e;
  }
  return obj;
}

/**
 * Closes a link as a user would: when close() throws (its undo failed, and the link stays open),
 * the user's cleanup calls it again; then the first error is thrown.
 */
function closing(link: BpfLink): void {
  try {
    link.close();
  } catch (e) {
    try {
      link.close();
    } catch {
      // What is left shows in the checks; the first error is the one to name the step.
    }
    throw e;
  }
}

function progRef(obj: BpfObject, name: string) {
  const spec = obj.spec.programs.find((p) => p.name === name)!;
  return { fd: obj.program(name).fd, name, section: spec.section, spec };
}

test(
  "uprobe (PMU and tracefs) and USDT attach and close, failing at each syscall, leave nothing behind",
  {
    timeout: 600_000,
  },
  async (t) => {
    if (!requireKernel(t)) return;
    if (!existsSync(UPROBE_TARGET)) return skipMissing(t, "no test binary; run scripts/setup.sh");
    using tracing = loaded("tracing", ["uprobe_add"]);
    using usdt = loaded("usdt", ["usdt_add"]);
    const up = tracing.program("uprobe_add");
    for (const legacy of [false, true]) {
      await injectEverywhere(`uprobe${legacy ? " (tracefs)" : ""}`, {
        run: () => {
          try {
            closing(attachUprobe(up, { binary: UPROBE_TARGET, func: "tsbpf_add", legacy }));
          } finally {
            // No tracefs probe of this process is left.
            const events = readFileSync("/sys/kernel/tracing/uprobe_events", "utf8");
            assert.ok(!events.includes(`tsbpf_${process.pid}_`), `uprobe_events left: ${events}`);
          }
        },
      });
    }
    await injectEverywhere("usdt", {
      run: () =>
        closing(
          attachUsdt(usdt.program("usdt_add"), {
            binary: UPROBE_TARGET,
            provider: "tsbpf",
            name: "add",
          }),
        ),
    });
  },
);

test(
  "XDP and tc attach over netlink and bpf_link, and their close, failing at each syscall, leave nothing behind",
  {
    timeout: 600_000,
  },
  async (t) => {
    if (!requireKernel(t)) return;
    const host = `tflt${process.pid % 100000}`;
    const r = spawnSync("ip", ["link", "add", host, "type", "veth", "peer", "name", `${host}p`]);
    if (r.status !== 0) return skipMissing(t, `cannot make a veth pair: ${r.stderr}`);
    try {
      using obj = loaded("attach_net");
      const xdp = progRef(obj, "xdp_count_a");
      const tc = progRef(obj, "tcx_count");
      const attached = () =>
        spawnSync("ip", ["link", "show", "dev", host], { encoding: "utf8" }).stdout;
      const filters = () =>
        spawnSync("tc", ["filter", "show", "dev", host, "ingress"], { encoding: "utf8" }).stdout;
      const qdiscs = () =>
        spawnSync("tc", ["qdisc", "show", "dev", host], { encoding: "utf8" }).stdout;
      const nothingOn = (what: string, failed: unknown) => {
        // A netlink answer lost after the request was sent leaves it unknown whether the kernel
        // applied it: the error must say so, and then (only then) the clsact qdisc may be left.
        if (/the kernel may have applied it/.test(String((failed as Error | undefined)?.message))) {
          spawnSync("tc", ["qdisc", "del", "dev", host, "clsact"]);
        }
        assert.doesNotMatch(attached(), /prog\/xdp|xdpgeneric/, `${what}: XDP left on ${host}`);
        assert.equal(filters().trim(), "", `${what}: tc filter left on ${host}`);
        assert.doesNotMatch(qdiscs(), /clsact/, `${what}: clsact qdisc left on ${host}`);
      };
      for (
        const [what, attach] of [
          ["xdp netlink", () => attachXdpNetlink(xdp, host)],
          ["tc filter netlink", () => attachTcFilter(tc, host, "ingress")],
          ["xdp link", () => attachXdp(xdp, host)],
          ["tcx link", () => attachTcx(tc, host)],
        ] as const
      ) {
        await injectEverywhere(what, {
          run: () => {
            let failed: unknown;
            try {
              closing(attach());
            } catch (e) {
              failed = e;
              throw e;
            } finally {
              nothingOn(what, failed);
            }
          },
        });
      }
    } finally {
      spawnSync("ip", ["link", "del", host]);
    }
  },
);
