#!/usr/bin/env bash
# `npm run demo`: runs setup, then shows what tsbpf sees in a bundled BPF object (`tsbpf object show`)
# and a summary of the running kernel's BTF, on Deno. Needs no tty or stdin.
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DENO=./node_modules/.bin/deno

bash scripts/setup.sh
OBJ=tests/bpf/build/maps.bpf.o

printf '\n$ deno run -A cli.ts object show %s\n' "$OBJ"
"$DENO" run -A --quiet cli.ts object show "$OBJ"

printf '\n$ deno run -A examples/btf_summary.ts\n'
"$DENO" run -A --quiet examples/btf_summary.ts
