/**
 * A minimal rtnetlink client over `Sys`: builds one request (header, a fixed family struct,
 * attributes), sends it on a fresh NETLINK_ROUTE socket and returns the kernel's errno from the
 * ACK. Used by the tc filter and netlink XDP attachments.
 *
 * @module
 */
import { Fd } from "../ffi/bpf.ts";
import { SyscallError } from "../errors.ts";
import { getSys } from "../ffi/runtime.ts";
import { syscallError } from "../ffi/sys.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const NLMSG_ERROR = 2;

/** `NLM_F_*` request flags. */
export const NLM_F = { REQUEST: 1, ACK: 4, EXCL: 0x200, CREATE: 0x400 } as const;

/** One attribute (`struct rtattr` and its payload, not padded). */
export function nlAttr(type: number, payload: Uint8Array): Uint8Array {
  const a = new Uint8Array(4 + payload.length);
  const dv = new DataView(a.buffer);
  dv.setUint16(0, 4 + payload.length, true);
  dv.setUint16(2, type, true);
  a.set(payload, 4);
  return a;
}

/** Pads to a multiple of 4 bytes. */
export function nlPad(b: Uint8Array): Uint8Array {
  const p = new Uint8Array((b.length + 3) & ~3);
  p.set(b);
  return p;
}

/** Concatenates attributes, each padded (the payload of a nested attribute). */
export function nlNest(...attrs: Uint8Array[]): Uint8Array {
  const parts = attrs.map(nlPad);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A little-endian u32 payload. */
export function nlU32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** A little-endian s32 payload. */
export function nlS32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

/** A NUL-terminated string payload. */
export function nlStr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/**
 * Builds a request: `nlmsghdr` (type, flags, seq 1), the family struct, then attributes.
 *
 * @param type `RTM_*`.
 * @param flags `NLM_F_*`.
 * @param family the fixed struct (`tcmsg`, `ifinfomsg`), a multiple of 4 bytes.
 * @param attrs the attributes.
 * @returns the message.
 */
export function nlMessage(
  type: number,
  flags: number,
  family: Uint8Array,
  ...attrs: Uint8Array[]
): Uint8Array {
  const body = nlNest(family, ...attrs);
  const out = new Uint8Array(16 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, out.length, true);
  dv.setUint16(4, type, true);
  dv.setUint16(6, flags, true);
  dv.setUint32(8, 1, true);
  out.set(body, 16);
  return out;
}

/** Runs a socket call again while it fails with EINTR or EAGAIN, as libbpf's netlink calls do. */
function retrying(call: () => number): number {
  for (;;) {
    try {
      return call();
    } catch (e) {
      const code = (e as { code?: string } | undefined)?.code;
      if (code !== "EINTR" && code !== "EAGAIN") throw e;
    }
  }
}

/**
 * Sends one request with NLM_F_ACK on a fresh NETLINK_ROUTE socket.
 *
 * @param msg the request.
 * @returns 0 when the kernel acknowledged it, else the errno it answered.
 * @throws {SyscallError} the socket calls failed (EINTR and EAGAIN are retried). A failure after the
 *   request was sent (reading the answer) leaves it unknown whether the kernel applied it.
 */
export function nlTalk(msg: Uint8Array): number {
  const sys = getSys();
  const sock = new Fd(sys.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "netlink");
  try {
    const addr = new Uint8Array(12);
    new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
    sys.bind(sock.value, addr);
    retrying(() => sys.write(sock.value, msg));
    const buf = new Uint8Array(16384);
    for (;;) {
      let n: number;
      try {
        n = retrying(() => sys.read(sock.value, buf));
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        throw syscallError(
          e.call,
          e.errno,
          "the request was sent before the answer was lost: the kernel may have applied it",
        );
      }
      if (n <= 0) return 0;
      const dv = new DataView(buf.buffer, 0, n);
      for (let off = 0; off + 16 <= n;) {
        const len = dv.getUint32(off, true);
        const type = dv.getUint16(off + 4, true);
        if (type === NLMSG_ERROR && off + 20 <= n) return -dv.getInt32(off + 16, true);
        if (len < 16) break;
        off += (len + 3) & ~3;
      }
    }
  } finally {
    try {
      sock.close();
    } catch {
      // Linux releases the fd whatever close reports, and the answer is what counts.
    }
  }
}
