#!/usr/bin/env bash
# `npm run demo`: runs setup, builds opensnoop (examples/opensnoop.ts) as one file per runtime (a
# `bun build --compile` binary and a `deno bundle` script, each with the BPF object and the
# WebAssembly core inside), then runs it on Deno for 3 seconds: it traces every openat()/openat2()
# on the running kernel while it opens files of its own (--demo), prints each open live, then a
# per-process summary and a latency histogram. Then a short offline part: what tsbpf sees in the
# object file and a summary of the kernel's BTF. Needs root for the live part; no tty or stdin.
# Exits non-zero when a build or the live run fails (the offline part still runs).
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DENO=./node_modules/.bin/deno
BUN=./node_modules/.bin/bun

bash scripts/setup.sh

mkdir -p dist
status=0
printf '\n$ bun build --compile examples/opensnoop.ts --outfile dist/opensnoop\n'
"$BUN" build --compile examples/opensnoop.ts --outfile dist/opensnoop >/dev/null || status=$?
printf '$ deno bundle --platform deno -o dist/opensnoop.js examples/opensnoop.ts\n'
"$DENO" bundle --quiet --platform deno -o dist/opensnoop.js examples/opensnoop.ts || status=$?
if [ "$status" = 0 ]; then
  printf 'one file each (the BPF object and the wasm core inside): dist/opensnoop (%s MB), dist/opensnoop.js (%s KB)\n' \
    "$(( $(stat -c %s dist/opensnoop) / 1000000 ))" "$(( $(stat -c %s dist/opensnoop.js) / 1000 ))"
fi

# --allow-ffi is all tsbpf needs on Deno: it reaches the kernel's files through libc.
printf '\n$ deno run --allow-ffi dist/opensnoop.js --seconds 3 --demo\n'
if [ -s dist/opensnoop.js ]; then
  "$DENO" run --allow-ffi --quiet dist/opensnoop.js --seconds 3 --demo || status=$?
else
  status=1
fi

printf '\nThe same as one binary: dist/opensnoop --seconds 3 --demo (also --pid PID, --comm COMM, --failed, --json)\n'

OBJ=examples/build/opensnoop.bpf.o
printf '\n$ deno run --allow-read=%s cli.ts object show %s\n' "$OBJ" "$OBJ"
"$DENO" run --allow-read="$OBJ" --quiet cli.ts object show "$OBJ"

printf '\n$ deno run -A examples/btf_summary.ts\n'
"$DENO" run -A --quiet examples/btf_summary.ts

exit "$status"
