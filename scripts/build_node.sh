#!/usr/bin/env bash
# Builds the Node 20 bundle of tsbpf's offline parts with `bun build --target=node` (no network):
#   OUT/cli.js  the command line (offline verbs: object show, btf dump); the npm package's bin
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
# cli.js is also the `tsbpf` command of the npm package (package.json `bin`): node runs it through
# the node_modules/.bin symlink, so it starts with a shebang.
{ printf '#!/usr/bin/env node\n'; cat "$OUT/cli.js"; } > "$OUT/cli.js.tmp"
mv "$OUT/cli.js.tmp" "$OUT/cli.js"
chmod +x "$OUT/cli.js"
echo "build_node: wrote $(cd "$OUT" && ls *.js | tr '\n' ' ')to $OUT/"
