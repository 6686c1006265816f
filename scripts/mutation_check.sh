#!/usr/bin/env bash
# A small mutation check: applies each mutation of a list, one at a time, to a scratch copy of the
# repository, runs the test files named for it on Deno, and reports the mutations no test caught
# ("survived"). Exits non-zero when one survives, when one no longer applies (its original text is
# not found exactly once), or when the named tests fail on the unmutated code.
#
#   bash scripts/mutation_check.sh [LIST] [-k PATTERN]
#
# LIST defaults to scripts/mutations.txt; -k runs only the mutations whose line contains PATTERN.
# Needs root and the real kernel (kernel tests), like the test run; slow (minutes), so it is not
# part of scripts/test.sh. Run scripts/setup.sh first.
#
# The list: one mutation a line, four fields separated by " @@ ":
#   FILE @@ ORIGINAL TEXT @@ REPLACEMENT @@ TEST FILE...
# ORIGINAL and REPLACEMENT are exact texts ("\n" stands for a newline, "\\" for a backslash);
# ORIGINAL must occur exactly once in FILE. Lines starting with "#" and blank lines are ignored.
set -uo pipefail
exec </dev/null

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIST="$ROOT/scripts/mutations.txt"
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    -k) ONLY="${2:-}"; shift 2 ;;
    *) LIST="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift ;;
  esac
done
[ -f "$LIST" ] || { echo "mutation_check: no list $LIST" >&2; exit 2; }
DENO="$ROOT/node_modules/.bin/deno"
[ -x "$DENO" ] || { echo "mutation_check: $DENO is missing; run npm ci / scripts/setup.sh" >&2; exit 2; }
TIMEOUT="${TSBPF_MUTATION_TIMEOUT:-900}" # seconds per test run; a hang counts as killed

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/tsbpf-mutation.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
# The working tree (with its built test objects and oracles), without node_modules (linked) or .git.
tar -C "$ROOT" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$SCRATCH" -xf -
ln -s "$ROOT/node_modules" "$SCRATCH/node_modules"

# apply FILE ORIGINAL REPLACEMENT: exit 0 when replaced, 3 when ORIGINAL is not there exactly once.
apply() {
  node -e '
    const fs = require("fs");
    const unesc = (s) => s.replace(/\\(n|\\)/g, (_, c) => (c === "n" ? "\n" : "\\"));
    const [file, from, to] = process.argv.slice(1);
    const src = fs.readFileSync(file, "utf8");
    const want = unesc(from);
    const n = src.split(want).length - 1;
    if (n !== 1) { console.error(`found ${n} times`); process.exit(3); }
    fs.writeFileSync(file, src.replace(want, () => unesc(to)));
  ' "$@"
}

runtests() { # runtests LOG TEST...: exit status of deno test in the scratch copy
  local log="$1"; shift
  # The subshell's own stderr goes to the log too, so a crash (a signal) is recorded there.
  { (cd "$SCRATCH" && NO_COLOR=1 exec timeout -k 10 "$TIMEOUT" "$DENO" test -A --no-check "$@"); } \
    >"$log" 2>&1
}

mapfile -t LINES < <(grep -vE '^\s*(#|$)' "$LIST" | { if [ -n "$ONLY" ]; then grep -F -- "$ONLY"; else cat; fi; })
[ ${#LINES[@]} -gt 0 ] || { echo "mutation_check: no mutations selected" >&2; exit 2; }

# Every named test must pass before any mutation, or every mutation would look killed.
declare -A ALLTESTS=()
for line in "${LINES[@]}"; do
  for t in ${line##* @@ }; do ALLTESTS["$t"]=1; done
done
start=$(date +%s)
printf 'mutation_check: %d mutations; baseline run of %d test files\n' "${#LINES[@]}" "${#ALLTESTS[@]}"
if ! runtests "$SCRATCH/baseline.log" "${!ALLTESTS[@]}"; then
  tail -40 "$SCRATCH/baseline.log"
  echo "mutation_check: the tests fail without any mutation; fix them first" >&2
  exit 2
fi

killed=0; survived=0; broken=0; i=0
SURVIVORS=()
for line in "${LINES[@]}"; do
  i=$((i + 1))
  rest="$line"
  file="${rest%% @@ *}"; rest="${rest#* @@ }"
  from="${rest%% @@ *}"; rest="${rest#* @@ }"
  to="${rest%% @@ *}"; tests="${rest#* @@ }"
  label="$file: '$from' -> '$to'"
  t0=$(date +%s)
  if ! apply "$SCRATCH/$file" "$from" "$to" 2>"$SCRATCH/apply.err"; then
    printf '[%2d] BROKEN    %s (%s)\n' "$i" "$label" "$(cat "$SCRATCH/apply.err")"
    broken=$((broken + 1)); SURVIVORS+=("does not apply: $label")
    continue
  fi
  # shellcheck disable=SC2086 # the test files are a space-separated list
  runtests "$SCRATCH/run.log" $tests
  rc=$?
  if [ "$rc" = 0 ]; then
    printf '[%2d] SURVIVED  %s (%ss)\n' "$i" "$label" "$(($(date +%s) - t0))"
    survived=$((survived + 1)); SURVIVORS+=("$label")
  else
    first="$(grep -m1 -E '^\S.* => |FAILED|error:' "$SCRATCH/run.log" | head -c 160)"
    [ -n "$first" ] || first="exit status $rc$([ "$rc" -gt 128 ] && echo ", signal $((rc - 128))")"
    printf '[%2d] killed    %s (%ss; %s)\n' "$i" "$label" "$(($(date +%s) - t0))" "$first"
    killed=$((killed + 1))
  fi
  cp "$ROOT/$file" "$SCRATCH/$file"
done

printf '\nmutation_check: %d killed, %d survived, %d did not apply (%ss)\n' \
  "$killed" "$survived" "$broken" "$(($(date +%s) - start))"
for s in "${SURVIVORS[@]}"; do printf '  %s\n' "$s"; done
[ "$survived" = 0 ] && [ "$broken" = 0 ]
