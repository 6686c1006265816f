#!/usr/bin/env bash
# The whole test run (`npm test`): setup, the stale-wasm check, fmt/lint/type checks, then every test
# on Deno and on Bun. The last line is exactly `N passed, N failed, N skipped`, summed over everything; the exit
# status is non-zero when anything failed. Needs no tty or stdin. CI=true turns kernel-test skips into
# failures (see tests/_util.ts).
set -uo pipefail
exec </dev/null

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export NO_COLOR=1
DENO=./node_modules/.bin/deno
BUN=./node_modules/.bin/bun
RUN_TIMEOUT="${TSBPF_TEST_TIMEOUT:-1800}" # seconds per runtime; a hung test fails the run
OUT="$(mktemp -d "${TMPDIR:-/tmp}/tsbpf-test.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

PASSED=0
FAILED=0
FAILURES=()
SUMMARIES=()

check() { # check NAME CMD... : one test that passes when CMD exits 0
  local name="$1"; shift
  printf '== %s\n' "$name"
  if "$@"; then
    PASSED=$((PASSED + 1)); SUMMARIES+=("ok    $name")
  else
    FAILED=$((FAILED + 1)); FAILURES+=("$name"); SUMMARIES+=("FAIL  $name")
  fi
}

clean_pins() { # test pins live in /sys/fs/bpf/tsbpf-test-*; pinned.bpf.c's default names too
  [ -d /sys/fs/bpf ] || return 0
  rm -rf /sys/fs/bpf/tsbpf-test-* /sys/fs/bpf/tsbpf_pinned_* 2>/dev/null || true
}

# Every test that skips at run time says why in this log (tests/_util.ts skip()): deno reports such
# a test as passed, so junit_count.mjs counts it from here.
export TSBPF_SKIP_LOG="$OUT/skips.log"
: >"$TSBPF_SKIP_LOG"
SKIPPED=0

# junit FILE RC LABEL [RUNTIME]: adds the counts of a junit report (with RUNTIME, the skips that
# runtime logged); a non-zero exit with no failure in the report (a crash, a type error, a file that
# failed to import) counts as one more failure.
junit() {
  local file="$1" rc="$2" label="$3" runtime="${4:-}" counts p f s
  if [ -n "$runtime" ]; then
    counts="$(node scripts/junit_count.mjs "$file" "$TSBPF_SKIP_LOG" "$runtime")"
  else
    counts="$(node scripts/junit_count.mjs "$file")"
  fi
  read -r p f s <<<"$counts"
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    f=1; FAILURES+=("$label exited $rc")
  fi
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
  SUMMARIES+=("$label: $p passed, $f failed, $s skipped")
}

# --- setup --------------------------------------------------------------------------------------
printf '== setup\n'
if ! bash scripts/setup.sh; then
  FAILED=$((FAILED + 1)); FAILURES+=("scripts/setup.sh"); SUMMARIES+=("FAIL  scripts/setup.sh")
fi
clean_pins

# --- static checks ------------------------------------------------------------------------------
check "wasm is up to date (node core-wasm/build.mjs --check)" node core-wasm/build.mjs --check
check "deno fmt --check" "$DENO" fmt --check
check "deno lint" "$DENO" lint
check "deno check mod.ts cli.ts" "$DENO" check mod.ts cli.ts
check "deno doc --lint mod.ts" "$DENO" doc --lint mod.ts
# JSR is not reachable from the test machines: a dry run checks the package (license, exports, slow
# types, publish.include) without it. --allow-dirty: a working tree with edits is tested as it is.
check "deno publish --dry-run" "$DENO" publish --dry-run --allow-dirty

# --- tests on Deno ------------------------------------------------------------------------------
printf '== deno test\n'
timeout -k 10 "$RUN_TIMEOUT" "$DENO" test -A --junit-path="$OUT/deno.xml" tests/ 2>&1
junit "$OUT/deno.xml" $? "deno" deno

# The @example blocks of the library's JSDoc run as tests too (Deno only: bun has no doc tests). Each
# asserts (tests/doc_examples_test.ts checks that); most load tests/bpf/build objects into the
# kernel, so like the kernel tests they need root, and they run one at a time (-A: FFI and /sys).
printf '== deno test --doc
'
mapfile -t DOC_FILES < <(git ls-files '*.ts' | grep -vE '^(tests|bench|examples)/|^core-wasm/(assembly/|_wasm)')
timeout -k 10 "$RUN_TIMEOUT" "$DENO" test --doc -A --junit-path="$OUT/deno-doc.xml" \
  "${DOC_FILES[@]}" 2>&1
junit "$OUT/deno-doc.xml" $? "deno doc examples"
clean_pins

# --- tests on Bun -------------------------------------------------------------------------------
printf '== bun test\n'
timeout -k 10 "$RUN_TIMEOUT" "$BUN" test --timeout 300000 --reporter=junit \
  --reporter-outfile="$OUT/bun.xml" tests/ 2>&1
junit "$OUT/bun.xml" $? "bun" bun

# --- no leaked pins -----------------------------------------------------------------------------
leaked="$(ls -d /sys/fs/bpf/tsbpf-test-* /sys/fs/bpf/tsbpf_pinned_* 2>/dev/null || true)"
if [ -n "$leaked" ]; then
  printf 'leaked bpffs pins:\n%s\n' "$leaked"
  FAILED=$((FAILED + 1)); FAILURES+=("bpffs pins leaked"); SUMMARIES+=("FAIL  no bpffs pins leaked")
  clean_pins
fi

printf '\n== summary\n'
for s in "${SUMMARIES[@]}"; do printf '%s\n' "$s"; done
if [ ${#FAILURES[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${FAILURES[@]}"
fi
if [ -s "$TSBPF_SKIP_LOG" ]; then
  printf 'skipped at run time (runtime, test, why):\n'
  sed 's/^/  /' "$TSBPF_SKIP_LOG"
fi
printf '%d passed, %d failed, %d skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
[ "$FAILED" = 0 ]
