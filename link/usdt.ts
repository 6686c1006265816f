/**
 * USDT probes (`usdt/<binary>:<provider>:<name>`), as libbpf's `usdt.bpf.h` expects them: one
 * uprobe per call site whose BPF cookie is a spec id, and the spec (how to fetch each argument)
 * written into the object's `__bpf_usdt_specs` map at that id.
 *
 * @module
 */
import { BpfError } from "../errors.ts";
import { type Fd, getFdById, mapInfo, mapUpdate, progInfo } from "../ffi/bpf.ts";
import { BpfMapType } from "../ffi/constants.ts";
import { readElf } from "../spec/elf.ts";
import { resolveBinaryPath } from "./elf_target.ts";
import { BpfLink, progLabel, type ProgramRef } from "./link.ts";
import { attachUprobeAt } from "./uprobe.ts";
import { encodeUsdtSpec, USDT_SPEC_SIZE, usdtNotes } from "./usdt_notes.ts";

/** Options of {@linkcode attachUsdt}. */
export interface UsdtOptions {
  /** The binary or library holding the probe. */
  binary: string;
  /** The provider (`tsbpf`). */
  provider: string;
  /** The probe name (`add`). */
  name: string;
  /** Only this process (default -1: every process). */
  pid?: number;
  /** The value `bpf_usdt_cookie()` returns. Default 0. */
  cookie?: bigint;
  /** The object's `__bpf_usdt_specs` map fd; found through the program's maps when absent. */
  specsMapFd?: number;
}

/** Spec ids in use, per specs map (by kernel map id). */
const usedIds = new Map<number, Set<number>>();

function findSpecsMap(prog: ProgramRef): { fd: Fd; owned: boolean } {
  for (const id of progInfo(prog.fd).mapIds) {
    const fd = getFdById("map", id);
    let info;
    try {
      info = mapInfo(fd);
    } catch (e) {
      fd.close();
      throw e;
    }
    if (
      info.type === BpfMapType.BPF_MAP_TYPE_ARRAY && "__bpf_usdt_specs".startsWith(info.name) &&
      info.name.startsWith("__bpf_usdt_spec")
    ) {
      return { fd, owned: true };
    }
    fd.close();
  }
  throw new BpfError(
    `USDT program ${
      progLabel(prog)
    } uses no __bpf_usdt_specs map; write it with BPF_USDT() from <bpf/usdt.bpf.h>`,
  );
}

/**
 * Attaches a USDT program at every call site of `provider:name` in a binary (libbpf's
 * `bpf_program__attach_usdt`). The returned link holds one uprobe link per call site and frees the
 * spec ids when closed.
 *
 * @param prog a KPROBE program written with BPF_USDT().
 * @param opts the binary, probe, pid and cookie.
 * @returns the link.
 * @throws {BpfError} the binary has no such probe, an argument form is not supported, or the
 *   object has no USDT spec map.
 * @throws {SyscallError} the kernel refused a uprobe (nothing stays attached).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachUsdt } from "./usdt.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/usdt.bpf.o");
 * obj.load();
 * using link = attachUsdt(obj.program("usdt_add"), {
 *   binary: "tests/bin/build/uprobe_target",
 *   provider: "tsbpf",
 *   name: "add",
 * });
 * assert.equal(link.kind, "usdt");
 * ```
 */
export function attachUsdt(prog: ProgramRef, opts: UsdtOptions): BpfLink {
  const path = resolveBinaryPath(opts.binary);
  const elf = readElf(path, { native: true });
  const arch = elf.machine === 183 ? "aarch64" : "x86_64";
  const sites = usdtNotes(elf).filter((n) => n.provider === opts.provider && n.name === opts.name);
  if (sites.length === 0) {
    throw new BpfError(`${path} has no USDT probe ${opts.provider}:${opts.name}`);
  }
  const specsFd = opts.specsMapFd !== undefined
    ? { fd: undefined, value: opts.specsMapFd }
    : (() => {
      const f = findSpecsMap(prog).fd;
      return { fd: f, value: f.value };
    })();
  const children: BpfLink[] = [];
  const ids: number[] = [];
  let used: Set<number> | undefined;
  let mapKernelId = -1;
  const release = () => {
    for (const id of ids.splice(0)) {
      try {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, id, true);
        mapUpdate(specsFd.value, key, new Uint8Array(USDT_SPEC_SIZE));
      } catch {
        // The map may be gone with its object; the id is free either way.
      }
      used?.delete(id);
    }
    specsFd.fd?.close();
  };
  try {
    const info = mapInfo(specsFd.value);
    if (info.valueSize !== USDT_SPEC_SIZE) {
      throw new BpfError(
        `The __bpf_usdt_specs map's value is ${info.valueSize} bytes, not the ${USDT_SPEC_SIZE} of the usdt.bpf.h tsbpf knows`,
      );
    }
    mapKernelId = info.id;
    used = usedIds.get(mapKernelId) ?? new Set();
    usedIds.set(mapKernelId, used);
    // One spec per distinct argument string, as libbpf does.
    const byArgs = new Map<string, number>();
    for (const site of sites) {
      let id = byArgs.get(site.args);
      if (id === undefined) {
        id = 0;
        while (used.has(id)) id++;
        if (id >= info.maxEntries) {
          throw new BpfError(
            `The __bpf_usdt_specs map is full (${info.maxEntries} specs); raise BPF_USDT_MAX_SPEC_CNT`,
          );
        }
        used.add(id);
        ids.push(id);
        byArgs.set(site.args, id);
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, id, true);
        mapUpdate(specsFd.value, key, encodeUsdtSpec(site.args, arch, opts.cookie ?? 0n));
      }
      children.push(
        attachUprobeAt(prog, path, site.fileOffset, {
          pid: opts.pid,
          cookie: BigInt(id),
          refCtrOffset: site.semaOffset || undefined,
          kind: "usdt",
          what: `usdt ${path}:${opts.provider}:${opts.name} at 0x${site.addr.toString(16)}`,
        }),
      );
    }
  } catch (e) {
    try {
      closeEvery(children, release);
    } catch {
      // The attach's error is the one to report.
    }
    throw e;
  }
  return new BpfLink({
    kind: "usdt",
    program: prog.name ?? "",
    target: `${path}:${opts.provider}:${opts.name} (${sites.length} sites)`,
    bpfLink: false,
    children,
    undo: () => closeEvery(children, release),
  });
}

/** Closes every link, then runs `release`, even when some throw; then throws the first error. */
function closeEvery(links: BpfLink[], release: () => void): void {
  let first: unknown;
  for (const step of [...links.map((l) => () => l.close()), release]) {
    try {
      step();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Parses a USDT section target, `binary:provider:name`.
 *
 * @param target what follows `usdt/`.
 * @returns the parts.
 * @throws {BpfError} the target does not have three parts.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUsdtTarget } from "./usdt.ts";
 * assert(parseUsdtTarget("./app:prov:probe").provider === "prov");
 * ```
 */
export function parseUsdtTarget(
  target: string,
): { binary: string; provider: string; name: string } {
  const j = target.lastIndexOf(":");
  const i = j > 0 ? target.lastIndexOf(":", j - 1) : -1;
  if (i <= 0 || j === target.length - 1) {
    throw new BpfError(
      `USDT section target '${target}' is not 'binary:provider:name' (SEC("usdt/./app:tsbpf:add"))`,
    );
  }
  return {
    binary: target.slice(0, i),
    provider: target.slice(i + 1, j),
    name: target.slice(j + 1),
  };
}
