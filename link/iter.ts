/**
 * BPF iterators (`iter/task`, `iter/bpf_map`, `iter/bpf_map_elem`...): a BPF_TRACE_ITER link, and
 * reading it (BPF_ITER_CREATE gives an fd to read the program's output from, to the end).
 *
 * @module
 */
import { type Fd, iterCreate, linkCreate } from "../ffi/bpf.ts";
import { BpfAttachType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import { BpfError } from "../errors.ts";
import { BpfLink, isErrno, progLabel, type ProgramRef } from "./link.ts";

/** Options of {@linkcode attachIter}: what to iterate over (`bpf_iter_link_info`). */
export interface IterOptions {
  /** For `iter/bpf_map_elem`, `iter/bpf_sk_storage_map`: the map's fd. */
  mapFd?: number;
  /** For `iter/task*`: one thread (tid), one process (pid) or a pidfd. */
  task?: { tid?: number; pid?: number; pidFd?: number };
  /** For `iter/cgroup`: the cgroup fd or id and the walk order. */
  cgroup?: { fd?: number; id?: bigint; order?: number };
}

/**
 * Attaches an iterator program (libbpf's `bpf_program__attach_iter`).
 *
 * @param prog a TRACING program of attach type TRACE_ITER.
 * @param opts the iteration target.
 * @returns the link; read it with {@linkcode readIter} or {@linkcode readIterBytes}.
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachIter, readIter } from "./iter.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/iter.bpf.o");
 * obj.load();
 * using link = attachIter(obj.program("dump_task")); // iter/task: one line per task
 * assert.match(readIter(link), /^tgid pid comm\n/);
 * ```
 */
export function attachIter(prog: ProgramRef, opts: IterOptions = {}): BpfLink {
  let info: Uint8Array | undefined;
  if (opts.mapFd !== undefined || opts.task || opts.cgroup) {
    info = new Uint8Array(16);
    const dv = new DataView(info.buffer);
    if (opts.mapFd !== undefined) dv.setUint32(0, opts.mapFd, true);
    else if (opts.task) {
      dv.setUint32(0, opts.task.tid ?? 0, true);
      dv.setUint32(4, opts.task.pid ?? 0, true);
      dv.setUint32(8, opts.task.pidFd ?? 0, true);
    } else if (opts.cgroup) {
      dv.setUint32(0, opts.cgroup.order ?? 0, true);
      dv.setUint32(4, opts.cgroup.fd ?? 0, true);
      dv.setBigUint64(8, opts.cgroup.id ?? 0n, true);
    }
  }
  let fd;
  try {
    fd = linkCreate(prog.fd, 0, BpfAttachType.BPF_TRACE_ITER, { iterInfo: info });
  } catch (e) {
    if (isErrno(e, "EBADF", "EINVAL") && opts.mapFd === undefined) {
      const target = prog.spec?.attachTo ?? "";
      if (/map|sk_storage|sockmap/.test(target) && target !== "bpf_map") {
        throw new BpfError(
          `Iterator ${
            progLabel(prog)
          } walks the elements of one map: attach it with attachIter(prog, { mapFd })`,
          { cause: e },
        );
      }
    }
    throw e;
  }
  return new BpfLink({
    kind: "iter",
    program: prog.name ?? "",
    target: prog.spec?.attachTo || "iter",
    fd,
    bpfLink: true,
  });
}

function readAll(fd: Fd): Uint8Array {
  const sys = getSys();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(65536);
    const n = sys.read(fd.value, buf);
    if (n <= 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Runs the iterator once: BPF_ITER_CREATE, then reads to the end.
 *
 * @param link an iterator link.
 * @returns everything the program wrote.
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attachIter, readIterBytes } from "./iter.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/iter.bpf.o");
 * obj.load();
 * using link = attachIter(obj.program("dump_task"));
 * const bytes = readIterBytes(link);
 * assert(bytes.length > 0);
 * ```
 */
export function readIterBytes(link: BpfLink): Uint8Array {
  const fd = iterCreate(link.fd);
  try {
    return readAll(fd);
  } finally {
    fd.close();
  }
}

/**
 * Runs the iterator once and decodes its output as UTF-8.
 *
 * @param link an iterator link.
 * @returns the text.
 * @throws {SyscallError} the kernel refused.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import process from "node:process";
 * import { attachIter, readIter } from "./iter.ts";
 * import { BpfObject } from "../live/object.ts";
 * using obj = BpfObject.open("tests/bpf/build/iter.bpf.o");
 * obj.load();
 * using link = attachIter(obj.program("dump_task"));
 * assert.match(readIter(link), new RegExp(`^${process.pid} ${process.pid} `, "m"));
 * ```
 */
export function readIter(link: BpfLink): string {
  return new TextDecoder().decode(readIterBytes(link));
}
