// Prints how long the first Core.get() takes in a fresh process: base64 decode, compile, instantiate.
import { Core } from "../core-wasm/mod.ts";

const t0 = performance.now();
Core.get();
console.log((performance.now() - t0).toFixed(4));
