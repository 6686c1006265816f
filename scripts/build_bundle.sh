#!/usr/bin/env bash
# Builds the library (mod.ts) as one module per runtime, for programs that start, load and exit:
# importing one file instead of the ~60 modules of the sources is the largest part of what such a
# program spends before its first object (see bench/: on Deno about 3 ms instead of 12).
#   bundle/tsbpf.js          ES module (deno bundle), for Deno (and any ES runtime). Its types are
#                            mod.ts's own, named by the `@ts-self-types` line at its top (deno
#                            bundle's --declaration output keeps relative imports of modules that
#                            are not in it, so it cannot stand alone).
#   bundle/tsbpf.bun.js      CommonJS (bun build --bytecode), for Bun, with its JavaScriptCore
#   bundle/tsbpf.bun.js.jsc  bytecode beside it: Bun skips parsing (about 4 ms instead of 9). The
#                            bytecode is for this Bun version only (package.json pins it); another
#                            Bun ignores it and parses. The file must stay byte for byte as built.
#   bundle/SOURCES           a hash over the library's .ts files and this script, as sha256sum
#                            lists them: a current build is left alone, so this is cheap to run
#                            every time, and tests/bundle_test.ts fails on a stale one.
# Usage: scripts/build_bundle.sh [OUT]   (default OUT: bundle)
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-bundle}"
DENO=./node_modules/.bin/deno
BUN=./node_modules/.bin/bun
for tool in "$DENO" "$BUN"; do
  [ -x "$tool" ] || { echo "build_bundle: $tool is missing; run scripts/setup.sh" >&2; exit 1; }
done

# The library's sources: every .ts file outside tests/, bench/, examples/ and scripts/, sorted,
# then this script.
sources() {
  find . -name '*.ts' -not -path './node_modules/*' -not -path './tests/*' -not -path './bench/*' \
    -not -path './examples/*' -not -path './scripts/*' -not -path './bundle/*' -not -path './dist/*' \
    -not -path './core-wasm/assembly/*' -not -name '*.d.ts' | sed 's|^\./||' | LC_ALL=C sort
  echo scripts/build_bundle.sh
}
HASH="$(sources | tr '\n' '\0' | xargs -0 sha256sum | sha256sum | cut -c1-64)"

if [ -f "$OUT/SOURCES" ] && [ "$(cat "$OUT/SOURCES")" = "$HASH" ] && [ -f "$OUT/tsbpf.js" ] &&
  [ -f "$OUT/tsbpf.bun.js" ] && [ -f "$OUT/tsbpf.bun.js.jsc" ]; then
  echo "build_bundle: $OUT/ is current"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$DENO" bundle --quiet --platform=deno -o "$tmp/tsbpf.js" mod.ts
"$BUN" build mod.ts --target=bun --format=cjs --bytecode --outdir "$tmp" \
  --entry-naming 'tsbpf.bun.[ext]' >/dev/null
for f in tsbpf.js tsbpf.bun.js tsbpf.bun.js.jsc; do
  [ -s "$tmp/$f" ] || { echo "build_bundle: the bundlers wrote no $f" >&2; exit 1; }
done
mkdir -p "$OUT"
rm -f "$OUT/SOURCES"
rel="$(realpath --relative-to="$OUT" "$ROOT/mod.ts")"
{
  printf '// @ts-self-types="%s"\n' "$rel"
  printf '// Built by scripts/build_bundle.sh from mod.ts; do not edit. Rebuild: npm run build:bundle\n'
  cat "$tmp/tsbpf.js"
} > "$OUT/tsbpf.js"
mv "$tmp/tsbpf.bun.js" "$tmp/tsbpf.bun.js.jsc" "$OUT/"
rm -f "$OUT/tsbpf.d.ts"
printf '%s\n' "$HASH" > "$OUT/SOURCES"
echo "build_bundle: wrote $OUT/tsbpf.js, $OUT/tsbpf.bun.js and its bytecode"
