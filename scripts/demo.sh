#!/usr/bin/env bash
# `npm run demo`: runs setup, then the live demo (examples/trace_write.ts traces every write() on
# the running kernel for 3 seconds, on Deno), then a short offline part: what tsbpf sees in the
# demo's object file and a summary of the kernel's BTF. Needs root for the live part; no tty or
# stdin. Exits non-zero when the live demo fails (the offline part still runs).
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DENO=./node_modules/.bin/deno

bash scripts/setup.sh

# Deno needs -A: it lets a program read /sys (the kernel's BTF, tracefs) only with all permissions.
printf '\n$ deno run -A examples/trace_write.ts --seconds 3\n'
live=0
"$DENO" run -A --quiet examples/trace_write.ts --seconds 3 || live=$?

printf '\nThe same on Bun: ./node_modules/.bin/bun examples/trace_write.ts (or as one file: bun build --compile examples/trace_write.ts --outfile dist/trace_write)\n'

OBJ=examples/build/trace_write.bpf.o
printf '\n$ deno run -A cli.ts object show %s\n' "$OBJ"
"$DENO" run -A --quiet cli.ts object show "$OBJ"

printf '\n$ deno run -A examples/btf_summary.ts\n'
"$DENO" run -A --quiet examples/btf_summary.ts

exit "$live"
