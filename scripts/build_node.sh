#!/usr/bin/env bash
# Builds the Node 20 bundle of tsbpf's offline parts with `bun build --target=node` (no network):
#   OUT/cli.js  the command line (offline verbs: object show, btf dump)
#   OUT/mod.js  the library entry, when mod.ts exists
# Usage: scripts/build_node.sh [OUT]   (default OUT: dist). Live verbs stay in split chunks that load
# only when used (and then say they need Deno or Bun).
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-dist}"
BUN=./node_modules/.bin/bun
[ -x "$BUN" ] || { echo "build_node: node_modules/.bin/bun is missing; run scripts/setup.sh" >&2; exit 1; }

entries=(cli.ts)
if [ -f mod.ts ]; then entries+=(mod.ts); else echo "build_node: note: mod.ts does not exist yet; building cli.js only"; fi

# Verb modules that cli.ts names but that are not written yet are left external (they would fail only
# when that verb is run), so the rest of the CLI still builds.
externals=()
while IFS= read -r mod; do
  [ -f "$mod" ] || { echo "build_node: note: $mod is missing; left out of the bundle"; externals+=(--external "./$mod"); }
done < <(grep -o 'import("\./cli/[a-z_]*\.ts")' cli.ts | sed 's/import("\.\/\(.*\)")/\1/' | sort -u)

rm -rf "$OUT"
mkdir -p "$OUT"
"$BUN" build "${entries[@]}" --target=node --format=esm --splitting --outdir "$OUT" \
  ${externals[@]+"${externals[@]}"} >/dev/null
# ESM regardless of where OUT lives
printf '{ "type": "module" }\n' > "$OUT/package.json"
echo "build_node: wrote $(cd "$OUT" && ls *.js | tr '\n' ' ')to $OUT/"
