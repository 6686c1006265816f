#!/usr/bin/env bash
# The benchmark run (`npm run bench` / `deno task bench`): setup, then bench/main.ts, which takes
# every measure on Deno and on Bun beside its C reference and writes bench/results.json.
set -euo pipefail
exec </dev/null
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
exec ./node_modules/.bin/deno run -A bench/main.ts "$@"
