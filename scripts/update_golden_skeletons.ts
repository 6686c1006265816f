// Rewrites tests/golden/*.skel.ts from the test objects (run after a change to gen/skeleton.ts,
// and review the diff): deno run -A scripts/update_golden_skeletons.ts
// (UPDATE_GOLDEN=1 on tests/skeleton_test.ts does the same.) Runs only as the main module, so that
// `deno test --doc` over the repository's files does not rewrite anything.
import { writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { GOLDEN_DIR, goldenText } from "../tests/_skeleton.ts";
import { testObjects } from "../tests/_util.ts";

if (import.meta.main) {
  for (const f of testObjects()) {
    const out = join(GOLDEN_DIR, `${basename(f, ".bpf.o")}.skel.ts`);
    writeFileSync(out, goldenText(f));
    console.log(out);
  }
}
