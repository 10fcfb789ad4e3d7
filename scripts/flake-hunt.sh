#!/usr/bin/env bash
# Flake hunt (`npm run test:flakes -- [runs] [spec files...]`): runs the suites most exposed to
# timing (the Redis hub, the client, the deploy hand-over and the page in Chromium) several times
# in a row (default 10) while a CPU burner keeps every core busy, as a loaded CI machine does.
# Stops at the first failing run and prints which suite and test failed; its whole output stays in
# the log file it names. The burner is one busy-looping node process per core, bounded in time
# (FLAKE_BURN_S, default 3600 s) and stopped when the hunt ends, however it ends.
# Builds first: the hand-over and page suites start dist/sample/main.js.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-10}"
if [ $# -gt 0 ]; then shift; fi
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "flake-hunt: the number of runs must be a positive integer, got '$runs'" >&2
  exit 2
fi
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=(test/e2e/hub.spec.ts lib/hub/adapters/hub-adapters.spec.ts test/client/client.spec.ts test/client/client-heartbeat-stall.spec.ts test/e2e/handover.spec.ts test/e2e/page.spec.ts)
fi
burn_s="${FLAKE_BURN_S:-3600}"
cores="$(nproc 2>/dev/null || echo 2)"
logs="$(mktemp -d "${TMPDIR:-/tmp}/longlink-flakes-XXXXXX")"

echo "flake-hunt: npm run build"
npm run build >"$logs/build.log" 2>&1 || { echo "flake-hunt: the build failed, see $logs/build.log" >&2; exit 1; }

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
  burners=()
}
trap stop_burners EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$cores"); do
  node -e "const end = Date.now() + $burn_s * 1000; while (Date.now() < end) {}" &
  burners+=("$!")
done
echo "flake-hunt: $cores CPU burners for at most ${burn_s} s (pids ${burners[*]})"
echo "flake-hunt: $runs runs of ${suites[*]}"

started=$(date +%s)
for run in $(seq "$runs"); do
  log="$logs/run-$run.log"
  run_started=$(date +%s)
  if npx vitest run "${suites[@]}" >"$log" 2>&1; then
    echo "flake-hunt: run $run/$runs passed ($(( $(date +%s) - run_started )) s)"
    continue
  fi
  echo "flake-hunt: run $run/$runs FAILED ($(( $(date +%s) - run_started )) s). Failing suites and tests:"
  # vitest's summary lines: "FAIL  <file> > <test>" and the files marked ❯ / × in the report.
  sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ *(FAIL|×) ' | sort -u | head -40 || true
  echo "flake-hunt: full output in $log"
  exit 1
done
echo "flake-hunt: $runs of $runs runs passed in $(( $(date +%s) - started )) s under $cores busy cores (logs in $logs)"
