#!/usr/bin/env bash
# The full lifecycle soak: `scripts/soak.sh [CYCLES] [GROWTH_CYCLES]` (default 1000) cycles of open, load, attach,
# use and destroy (tests/_soak.ts) on Deno and on Bun, each printing fds, mappings, RSS and the
# kernel objects left. Needs root; exits non-zero when either runtime leaks.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TSBPF_SOAK_CYCLES="${1:-1000}"
# The growth checks (sync open() loop, sync open + load + close loop): `scripts/soak.sh N M`.
export TSBPF_SOAK_GROWTH_CYCLES="${2:-3000}"
rc=0
./node_modules/.bin/deno test -A --v8-flags=--expose-gc tests/soak_test.ts || rc=1
./node_modules/.bin/bun test --timeout 3600000 tests/soak_test.ts || rc=1
exit $rc
