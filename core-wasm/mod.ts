/**
 * The host side of the tsbpf core: instantiates the WebAssembly module once, synchronously, and
 * gives the rest of the library views over its memory, buffers inside it, and the mapping of the
 * core's numeric error codes onto tsbpf's error classes.
 *
 * Pure: no FFI, no syscalls beyond reading files (through `../_host.ts`).
 *
 * @module
 */
import { BpfError, BtfError, ElfError, RelocationError } from "../errors.ts";
import { WASM_BASE64 } from "./_wasm.gen.ts";
import { host } from "../_host.ts";

/** The functions the core module exports. Files of the core add theirs here. */
export interface CoreExports {
  memory: WebAssembly.Memory;
  core_abi(): number;
  err_code(): number;
  err_msg_ptr(): number;
  err_msg_len(): number;
  err_offset(): bigint;
  err_type_id(): bigint;
  err_arg(): bigint;
  err_clear(): void;
  mem_alloc(size: number): number;
  mem_free(ptr: number): void;
  out_ptr(): number;
  out_len(): number;
  /** Relocates one program from a flat input (`assembly/reloc.ts`); a result descriptor, or 0. */
  reloc_run(ptr: number, len: number): number;
  // deno-lint-ignore no-explicit-any
  [name: string]: any;
}

/** A buffer inside the core's memory: an offset and a length in bytes. */
export interface CoreBuf {
  /** Offset of the first byte in the core's memory. */
  ptr: number;
  /** Length in bytes. */
  len: number;
}

const CORE_ABI = 1;

function decodeBase64(b64: string): Uint8Array {
  // Native decoders first: Uint8Array.fromBase64 (V8 and JSC have it), then Node's Buffer; the
  // byte loop is the slow path (several milliseconds for the core module on a cold start).
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  if (typeof native === "function") return native(b64);
  const buffer = (globalThis as {
    Buffer?: { from(s: string, enc: string): Uint8Array };
  }).Buffer;
  if (buffer !== undefined) return buffer.from(b64, "base64");
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let compiled: WebAssembly.Module | undefined;
let current: Core | undefined;

/**
 * One instance of the core. Get it with {@linkcode Core.get}; the instance lives for the process,
 * unless a trap broke it, in which case the next `get()` makes a new one.
 */
export class Core {
  /** The module's exports. */
  readonly exports: CoreExports;
  #buffer: ArrayBufferLike | undefined;
  #u8: Uint8Array = new Uint8Array(0);
  #dv: DataView = new DataView(new ArrayBuffer(0));
  #broken = false;
  #dec = new TextDecoder();

  private constructor() {
    compiled ??= new WebAssembly.Module(decodeBase64(WASM_BASE64) as BufferSource);
    const instance = new WebAssembly.Instance(compiled, {
      env: {
        abort: (msg: number, file: number, line: number, col: number) => {
          this.#broken = true;
          throw new BpfError(
            `Internal error in the tsbpf core: ${this.#asString(msg)} at ${
              this.#asString(file)
            }:${line}:${col}`,
          );
        },
      },
    });
    this.exports = instance.exports as unknown as CoreExports;
    const abi = this.exports.core_abi();
    if (abi !== CORE_ABI) {
      throw new BpfError(
        `The core module speaks ABI ${abi} but this glue expects ${CORE_ABI}; rebuild it with node core-wasm/build.mjs`,
      );
    }
  }

  /** The process's core instance, instantiated on first use. */
  static get(): Core {
    if (current === undefined || current.#broken) current = new Core();
    return current;
  }

  /** A byte view of the whole memory, rebuilt when the memory has grown. */
  u8(): Uint8Array {
    this.#refresh();
    return this.#u8;
  }

  /** A DataView of the whole memory, rebuilt when the memory has grown. */
  dv(): DataView {
    this.#refresh();
    return this.#dv;
  }

  #refresh(): void {
    // memory.grow detaches the old buffer, and a view over a detached buffer has length 0. Checking
    // that is much cheaper than reading `memory.buffer` on every access (a slow getter in V8).
    if (this.#u8.length !== 0) return;
    const buf = this.exports.memory.buffer;
    if (buf !== this.#buffer) {
      this.#buffer = buf;
      this.#u8 = new Uint8Array(buf);
      this.#dv = new DataView(buf);
    }
  }

  /** Allocates `len` bytes of unmanaged memory in the core. Free with {@linkcode Core.free}. */
  alloc(len: number): CoreBuf {
    const ptr = this.call(() => this.exports.mem_alloc(Math.max(len, 1)));
    if (ptr === 0) throw new BpfError(`The tsbpf core could not allocate ${len} bytes`);
    return { ptr, len };
  }

  /** Frees a buffer from {@linkcode Core.alloc}. Freeing twice is a bug of the caller. */
  free(buf: CoreBuf | number): void {
    const ptr = typeof buf === "number" ? buf : buf.ptr;
    if (ptr !== 0) this.call(() => this.exports.mem_free(ptr));
  }

  /** Copies bytes into a new core buffer. */
  copyIn(bytes: Uint8Array): CoreBuf {
    const buf = this.alloc(bytes.length);
    this.u8().set(bytes, buf.ptr);
    return buf;
  }

  /**
   * Reads a whole file straight into a new core buffer, with no second copy. Files whose size the
   * kernel does not report (procfs) are read in growing chunks.
   */
  readFile(path: string): CoreBuf {
    const f = host().open(path);
    try {
      const size = f.size;
      let cap = size > 0 ? size : 65536;
      let buf = this.alloc(cap);
      let len = 0;
      try {
        for (;;) {
          if (len === cap) {
            const bigger = this.alloc(cap * 2);
            const u8 = this.u8();
            u8.copyWithin(bigger.ptr, buf.ptr, buf.ptr + len);
            this.free(buf);
            buf = bigger;
            cap *= 2;
          }
          const n = f.read(this.u8().subarray(buf.ptr + len, buf.ptr + cap));
          if (n === 0) break;
          len += n;
          if (size > 0 && len === size) {
            // One more read only if the file may be longer than stat said (rare, procfs).
            break;
          }
        }
      } catch (e) {
        this.free(buf);
        throw e;
      }
      return { ptr: buf.ptr, len };
    } finally {
      f.close();
    }
  }

  /**
   * Runs a call into the core, turning a trap into a {@linkcode BpfError}. A trapped instance is
   * thrown away and the next {@linkcode Core.get} makes a fresh one.
   */
  call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof BpfError) throw e;
      this.#broken = true;
      throw new BpfError(`Internal error in the tsbpf core: ${(e as Error)?.message ?? e}`, {
        cause: e,
      });
    }
  }

  /**
   * Throws the core's pending error as the class its code range names, if `ret` is negative (or
   * the core holds an error). Returns `ret` otherwise.
   */
  check(ret: number, context = ""): number {
    const code = this.exports.err_code();
    if (ret >= 0 && code === 0) return ret;
    throw this.takeError(context);
  }

  /** Builds the error the core holds, and clears it. */
  takeError(context = ""): BpfError {
    const x = this.exports;
    const code = x.err_code();
    const msg = this.#utf16(x.err_msg_ptr(), x.err_msg_len());
    const offset = Number(x.err_offset());
    const typeId = Number(x.err_type_id());
    const arg = Number(x.err_arg());
    x.err_clear();
    const where: string[] = [];
    if (typeId >= 0) where.push(`type id ${typeId}`);
    if (offset >= 0) where.push(`offset ${offset} (0x${offset.toString(16)})`);
    if (arg >= 0 && code >= 400) where.push(`instruction ${arg}`);
    // The place goes after what went wrong and before the hint ("...; pass the .o clang wrote").
    const body = msg || `core error ${code}`;
    const cut = body.indexOf("; ");
    const [what, hint] = cut < 0 ? [body, ""] : [body.slice(0, cut), body.slice(cut)];
    const text = (context ? `${context}: ` : "") + what +
      (where.length ? ` at ${where.join(", ")}` : "") + hint;
    if (code >= 100 && code < 200) return new ElfError(text, { offset });
    if (code >= 200 && code < 400) return new BtfError(text, { typeId, offset });
    if (code >= 400 && code < 500) return new RelocationError(text, { insn: arg });
    return new BpfError(text);
  }

  /** The bytes of the output buffer, copied out. */
  outBytes(): Uint8Array {
    const p = this.exports.out_ptr();
    const n = this.exports.out_len();
    return this.u8().slice(p, p + n);
  }

  /** The output buffer as UTF-8 text. */
  outText(): string {
    const p = this.exports.out_ptr();
    const n = this.exports.out_len();
    return this.#dec.decode(this.u8().subarray(p, p + n));
  }

  /** Decodes UTF-8 bytes at a core offset. */
  utf8(ptr: number, len: number): string {
    return this.#dec.decode(this.u8().subarray(ptr, ptr + len));
  }

  #utf16(ptr: number, len: number): string {
    if (ptr === 0 || len === 0) return "";
    const u8 = this.u8();
    let s = "";
    for (let i = 0; i < len; i++) {
      s += String.fromCharCode(u8[ptr + 2 * i] | (u8[ptr + 2 * i + 1] << 8));
    }
    return s;
  }

  #asString(ptr: number): string {
    if (ptr === 0) return "";
    const len = this.dv().getUint32(ptr - 4, true) >>> 1;
    return this.#utf16(ptr, len);
  }
}
