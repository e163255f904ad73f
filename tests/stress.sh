#!/usr/bin/env bash
# Runs the README's test command (`cargo test`) N times in a row while two CPU-bound processes load
# the machine, and says how many runs passed, each run's wall time, and the crash trials' seed of any
# run that failed (replay it with CRASH_SEED=n cargo test --test crash).
#
#   tests/stress.sh [N]        N defaults to 20; logs go to target/stress/
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
case $runs in '' | *[!0-9]*) echo "usage: tests/stress.sh [N]" >&2; exit 2 ;; esac
logs=target/stress
mkdir -p "$logs"

# Build first, so that the runs measure the tests and not the compiler.
cargo test --no-run --quiet || exit 1

hogs=()
stop_hogs() { [ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null; }
trap stop_hogs EXIT
for _ in 1 2; do
  (while :; do :; done) &
  hogs+=("$!")
done
echo "load: ${#hogs[@]} CPU-bound processes on $(nproc) cores"

passed=0
failed=()
for i in $(seq 1 "$runs"); do
  log="$logs/run-$i.log"
  start=$EPOCHREALTIME
  # --no-fail-fast: a failure in one test binary does not hide the others'.
  if cargo test --quiet --no-fail-fast >"$log" 2>&1; then
    ok=1
    passed=$((passed + 1))
  else
    ok=0
  fi
  secs=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")
  if [ $ok = 1 ]; then
    echo "run $i/$runs: passed in $secs s"
  else
    # A failed test shows what it printed: the crash trials' seed among it, when they failed.
    tests=$(grep -oE '^[^ ]+ --- FAILED|^test [^ ]+ \.\.\. FAILED' "$log" | sed -E 's/^test //; s/ (--- |\.\.\. )FAILED//' | tr '\n' ' ')
    seed=$(grep -o 'CRASH_SEED=[0-9]*' "$log" | head -n 1)
    echo "run $i/$runs: FAILED in $secs s: ${tests:-see the log}${seed:+($seed)}; log: $log"
    failed+=("run $i: ${tests}${seed}")
  fi
done
echo "$passed passed, $((runs - passed)) failed"
for f in "${failed[@]}"; do echo "failed: $f"; done
[ "$passed" = "$runs" ]
