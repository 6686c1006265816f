/**
 * Measures of the typed codecs (`btf/codec.ts`): decoding and encoding a 56-byte event record
 * (`u32 pid, tid; u64 ts; char comm[16]; u64 args[2]; u32 flags`), against C copying the same
 * struct out of (or into) a buffer.
 *
 * @module
 */
import { Btf } from "../../btf/btf.ts";
import { BtfBuilder, member } from "../../btf/builder.ts";
import { type Codec, codecFor } from "../../btf/codec.ts";
import { cref, type Measure, runNumber } from "../_measure.ts";
import { median } from "../_stats.ts";

interface Event {
  pid: number;
  tid: number;
  ts: bigint;
  comm: string;
  args: BigUint64Array;
  flags: number;
}

function eventCodec(): Codec<Event> {
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const u64 = b.int("long long unsigned int", 8);
  const char = b.int("char", 1, { signed: true });
  const ev = b.struct("event", 56, [
    member("pid", u32, 0),
    member("tid", u32, 32),
    member("ts", u64, 64),
    member("comm", b.array(char, 16, u32), 128),
    member("args", b.array(u64, 2, u32), 256),
    member("flags", u32, 384),
  ]);
  return codecFor<Event>(Btf.parse(b.build()), ev);
}

/** Nanoseconds per record over `n` records of a 1024-record buffer, median of 15 runs. */
function nsPerRecord(decode: boolean): number {
  const c = eventCodec();
  const dv = new DataView(new ArrayBuffer(c.size * 1024));
  const v: Event = { pid: 1, tid: 2, ts: 3n, comm: "bash", args: new BigUint64Array(2), flags: 5 };
  for (let i = 0; i < 1024; i++) c.encode({ ...v, pid: i }, dv, i * c.size);
  const n = 200_000;
  const t: number[] = [];
  let sink = 0;
  for (let r = 0; r < 16; r++) {
    const t0 = performance.now();
    if (decode) {
      for (let i = 0; i < n; i++) sink += c.decode(dv, (i & 1023) * c.size).pid;
    } else {
      for (let i = 0; i < n; i++) c.encode(v, dv, (i & 1023) * c.size);
    }
    if (r > 0) t.push((performance.now() - t0) * 1e6 / n);
  }
  return median(t) + (sink === 42 ? 1e-9 : 0);
}

/** The codec measures. */
export const MEASURES: Measure[] = [
  {
    measure: "codec decode of a 56-byte event record",
    unit: "ns",
    run: () => nsPerRecord(true),
    reference: () => runNumber(cref("codec", []), ["decode"]),
  },
  {
    measure: "codec encode of a 56-byte event record",
    unit: "ns",
    run: () => nsPerRecord(false),
    reference: () => runNumber(cref("codec", []), ["encode"]),
  },
];
