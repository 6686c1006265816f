// Rewrites tests/golden/*.skel.ts from the test objects (run after a change to gen/skeleton.ts,
// and review the diff): deno run -A scripts/update_golden_skeletons.ts
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { GOLDEN_DIR, goldenText } from "../tests/_skeleton.ts";
import { testObjects } from "../tests/_util.ts";

for (const f of testObjects()) {
  const out = join(GOLDEN_DIR, `${basename(f, ".bpf.o")}.skel.ts`);
  writeFileSync(out, goldenText(f));
  console.log(out);
}
