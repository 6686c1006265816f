/**
 * Picks the process's {@linkcode Sys} once: the Deno adapter on Deno, the Bun adapter on Bun. Other
 * runtimes (Node) get a {@linkcode NotSupportedError}: live features need Deno or Bun.
 *
 * @module
 */
import { BpfError, NotSupportedError } from "../errors.ts";
import { bunSys } from "./_bun.ts";
import { denoSys } from "./_deno.ts";
import type { Sys } from "./sys.ts";
import { provideSysHost, runtimeName } from "../_host.ts";
import { libcHost } from "./_libc_host.ts";

let current: Sys | undefined;

// File access on Deno goes through libc once FFI is granted: then --allow-ffi is all tsbpf needs.
// It follows setSys(), so that faults a test injects reach file access too.
const following = new Proxy({} as Sys, {
  get(_target, key) {
    const sys = getSys();
    const v = (sys as unknown as Record<PropertyKey, unknown>)[key];
    return typeof v === "function" ? v.bind(sys) : v;
  },
});
provideSysHost((gunzip) => libcHost(following, gunzip));

export { runtimeName };

/**
 * The process's syscall entry point, made on first use and then cached.
 *
 * @returns the {@linkcode Sys} of this runtime.
 * @throws {BpfError} on Deno without the FFI permission: run with `--allow-ffi`.
 * @throws {NotSupportedError} on a runtime other than Deno or Bun.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import process from "node:process";
 * import { getSys } from "./runtime.ts";
 * assert.equal(getSys().getpid(), process.pid);
 * ```
 */
export function getSys(): Sys {
  if (current !== undefined) return current;
  const rt = runtimeName();
  if (rt === "bun") {
    current = bunSys();
  } else if (rt === "deno") {
    const state = Deno.permissions.querySync({ name: "ffi" }).state;
    if (state !== "granted") {
      throw new BpfError(
        "Deno denied FFI access, which tsbpf needs to call bpf() and to read /sys and /proc: run with --allow-ffi (tsbpf needs no other permission)",
      );
    }
    try {
      current = denoSys();
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new BpfError(
          "Deno denied FFI access, which tsbpf needs to call bpf() and to read /sys and /proc: run with --allow-ffi (tsbpf needs no other permission)",
          { cause: e },
        );
      }
      throw new BpfError(`Opening libc.so.6 failed: ${(e as Error).message}`, { cause: e });
    }
  } else {
    throw new NotSupportedError(
      "FFI",
      "This runtime cannot call bpf(): live features need Deno or Bun (offline verbs work on Node)",
    );
  }
  return current;
}

/**
 * Replaces the process's entry point (tests wrap the real one with `withFaults`), or restores the
 * real one when called with `undefined`.
 *
 * @param sys the entry point to use from now on.
 * @returns the one it replaced.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getSys, setSys } from "./runtime.ts";
 * import { withFaults } from "./sys.ts";
 * const real = getSys();
 * const old = setSys(withFaults(real, {}));
 * try {
 *   assert.match(getSys().runtime, /^faulty\(/);
 * } finally {
 *   setSys(old);
 * }
 * assert.equal(getSys(), real);
 * ```
 */
export function setSys(sys: Sys | undefined): Sys | undefined {
  const old = current;
  current = sys;
  return old;
}
