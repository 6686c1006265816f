/**
 * Relocation: turns one program of an `ObjectSpec` into the instructions BPF_PROG_LOAD
 * takes, given the live map fds, resolved externs and the target BTF for CO-RE. Pure: no syscalls.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relocateProgram } from "./mod.ts";
 * assert(typeof relocateProgram === "function");
 * ```
 *
 * @module
 */
export { applyCoreRelocations, relocateProgram } from "./relocate.ts";
export type { CoreRelo } from "./relocate.ts";
export type { RelocatedProgram, RelocInput, ResolvedExtern } from "./types.ts";
