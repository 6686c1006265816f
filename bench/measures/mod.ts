/**
 * Every measure, in table order. Each area keeps its measures (and their C references) in its own
 * file here.
 *
 * @module
 */
import type { Measure } from "../_measure.ts";
import { MEASURES as BTF } from "./btf.ts";
import { MEASURES as C_DUMP } from "./c_dump.ts";
import { MEASURES as CODEC } from "./codec.ts";
import { MEASURES as LOAD } from "./load.ts";
import { MEASURES as RINGBUF } from "./ringbuf.ts";
import { MEASURES as SKELETON } from "./skeleton.ts";
import { MEASURES as MAPS } from "./maps.ts";
import { MEASURES as RELOC } from "./reloc.ts";

/** Every measure, in the order of the table. */
export const ALL_MEASURES: Measure[] = [
  ...BTF,
  ...C_DUMP,
  ...LOAD,
  ...RELOC,
  ...CODEC,
  ...MAPS,
  ...SKELETON,
  ...RINGBUF,
];
