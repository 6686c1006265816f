#!/usr/bin/env bash
# A long fuzzing run of the offline path (tests/_fuzz.ts): `scripts/fuzz.sh [N] [SEED]`, N inputs
# (default 1,000,000) from SEED (default: random, printed). Each crasher is saved under
# tests/fuzz/crashers/ (kept as a regression fixture that tests/fuzz_test.ts replays); the run
# exits 1 when it found any.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-1000000}"
SEED="${2:-$(( (RANDOM << 15) | RANDOM ))}"
echo "fuzz: $N inputs, seed $SEED"
exec ./node_modules/.bin/deno run -A --quiet tests/fuzz_main.ts "$N" "$SEED"
