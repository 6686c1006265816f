// Shared runtime pieces of the core: raw buffers for the host, the error slot, and the output
// buffer that carries (ptr, len) results back to the host.
//
// Error codes are grouped by range, and the host maps a range to an error class:
//   1..99 general, 100..199 ELF, 200..299 BTF, 300..399 .BTF.ext, 400..499 relocation and CO-RE.
// A failing function calls fail() and returns its result (-1 or 0 as the function documents).

let errCode: i32 = 0;
let errMsg: string = "";
let errOffset: i64 = -1;
let errTypeId: i64 = -1;
let errArg: i64 = -1;

/** Records an error and returns -1 so callers can `return fail(...)`. */
export function fail(code: i32, msg: string, offset: i64 = -1, typeId: i64 = -1, arg: i64 = -1): i32 {
  errCode = code;
  errMsg = msg;
  errOffset = offset;
  errTypeId = typeId;
  errArg = arg;
  return -1;
}

export function clearError(): void {
  errCode = 0;
  errMsg = "";
  errOffset = -1;
  errTypeId = -1;
  errArg = -1;
}

export function hasError(): bool {
  return errCode != 0;
}

// ---- exports read by the host glue -------------------------------------------------------

export function err_code(): i32 {
  return errCode;
}
/** Pointer to the UTF-16 message; its length in code units is err_msg_len(). */
export function err_msg_ptr(): usize {
  return changetype<usize>(errMsg);
}
export function err_msg_len(): i32 {
  return errMsg.length;
}
export function err_offset(): i64 {
  return errOffset;
}
export function err_type_id(): i64 {
  return errTypeId;
}
export function err_arg(): i64 {
  return errArg;
}
export function err_clear(): void {
  clearError();
}

/** Allocates an unmanaged buffer for the host (input files, arguments). Never moved by the GC. */
export function mem_alloc(size: usize): usize {
  return heap.alloc(size);
}
export function mem_free(ptr: usize): void {
  if (ptr != 0) heap.free(ptr);
}

// ---- output buffer -------------------------------------------------------------------------

/**
 * A growable byte buffer in unmanaged memory. Results whose size is not known up front (binary
 * records, text dumps) are written here and handed to the host as (out_ptr(), out_len()).
 */
export class ByteBuf {
  ptr: usize = 0;
  len: usize = 0;
  cap: usize = 0;

  reset(): void {
    this.len = 0;
  }

  ensure(extra: usize): void {
    const need = this.len + extra;
    if (need <= this.cap) return;
    let cap = this.cap == 0 ? <usize>4096 : this.cap;
    while (cap < need) cap <<= 1;
    this.ptr = this.ptr == 0 ? heap.alloc(cap) : heap.realloc(this.ptr, cap);
    this.cap = cap;
  }

  byte(b: u8): void {
    this.ensure(1);
    store<u8>(this.ptr + this.len, b);
    this.len++;
  }

  bytes(src: usize, n: usize): void {
    this.ensure(n);
    memory.copy(this.ptr + this.len, src, n);
    this.len += n;
  }

  /** Appends an ASCII/UTF-16 string as UTF-8. */
  str(s: string): void {
    const n = s.length;
    this.ensure(<usize>n * 3);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        store<u8>(this.ptr + this.len, <u8>c);
        this.len++;
      } else {
        const u = String.UTF8.encode(s.charAt(i));
        this.bytes(changetype<usize>(u), <usize>u.byteLength);
      }
    }
  }

  u64dec(v: u64): void {
    if (v == 0) {
      this.byte(0x30);
      return;
    }
    const tmp = new StaticArray<u8>(20);
    let i = 20;
    while (v > 0) {
      i--;
      tmp[i] = <u8>(0x30 + <u8>(v % 10));
      v /= 10;
    }
    for (; i < 20; i++) this.byte(tmp[i]);
  }

  i64dec(v: i64): void {
    if (v < 0) {
      this.byte(0x2d);
      this.u64dec(<u64>(-v));
    } else {
      this.u64dec(<u64>v);
    }
  }
}

/** The one output buffer; every exported producer resets it, fills it and returns its length. */
export const out = new ByteBuf();

export function out_ptr(): usize {
  return out.ptr;
}
export function out_len(): usize {
  return out.len;
}
