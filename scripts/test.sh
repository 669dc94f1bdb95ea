#!/usr/bin/env bash
# The one command that sets up and runs every test suite of mediagate:
#   1. scripts/setup.sh                       (system packages, Python test tools)
#   2. swift build --build-tests; swift test --skip-build   (unit and in-process tests)
#   3. swift build --product mediagate       (the debug binary the conformance suite drives)
#   4. python3 -m pytest conformance         (black-box S3 conformance with boto3, aws cli, s3cmd,
#                                              rclone, curl and raw SigV4 requests), disk storage
#   5. the same with CONFORMANCE_STORAGE=s3  (every gateway on its own SeaweedFS upstream)
# Exits non-zero when any step fails. Budget: under 60 minutes on 2 cores.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
START=$(date +%s)
declare -a RESULTS=()
FAILED=0

step() {  # step NAME TIMEOUT_SECONDS CMD...
  local name="$1" limit="$2"; shift 2
  local t0=$(date +%s)
  echo "=== $name: $*"
  timeout --kill-after=30 "$limit" "$@"
  local rc=$?
  local dt=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then
    RESULTS+=("ok      $name (${dt}s)")
  else
    [ $rc -eq 124 ] && echo "=== $name: timed out after ${limit}s"
    RESULTS+=("FAILED  $name (exit $rc, ${dt}s)")
    FAILED=1
  fi
  return $rc
}

# The unit tests' output is kept so that the summary, the part of a CI log that is always
# read, names the tests that failed.
TEST_LOG="$(mktemp "${TMPDIR:-/tmp}/mediagate-swift-test.XXXXXX")"
trap 'rm -f "$TEST_LOG"' EXIT

summary() {
  echo
  echo "=== summary ($(( $(date +%s) - START ))s)"
  printf '  %s\n' "${RESULTS[@]}"
  local failed
  failed="$(grep -E "^✘ |' failed \(|error: .*XCT" "$TEST_LOG" | cut -c1-400 | head -n 40)"
  if [ -n "$failed" ]; then
    echo "=== swift test: what failed (first 40 lines)"
    printf '%s\n' "$failed"
  fi
}

if ! step setup 1200 "$ROOT/scripts/setup.sh"; then
  summary; exit 1
fi

# Swift Testing starts every test at once. On two cores each await then queues behind hundreds of
# runnable tests, for minutes in a full run, and the tests that measure a time window (presigned
# URL lifetimes, rate limits, time limits) failed. Eight at a time still keeps both cores busy.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-8}"

BUILD_OK=1
if step "swift build --build-tests" 2400 swift build --build-tests; then
  step "swift test" 1800 bash -c 'set -o pipefail; swift test --skip-build 2>&1 | tee "$0"' "$TEST_LOG" || true
else
  BUILD_OK=0
fi

if [ $BUILD_OK -eq 1 ] && step "swift build --product mediagate" 900 swift build --product mediagate; then
  BIN="$(swift build --show-bin-path 2>/dev/null | tail -n 1)/mediagate"
  [ -x "$BIN" ] || BIN="$ROOT/.build/debug/mediagate"
  export MEDIAGATE_BIN="${MEDIAGATE_BIN:-$BIN}"
  if [ -x "$MEDIAGATE_BIN" ]; then
    # pytest exits 5 when it collected no test: that is a failure too.
    step "conformance (pytest)" 2400 "$PY" -m pytest conformance -q -ra -p no:cacheprovider --durations=10 || true
    # test_upstream.py starts its own upstream and runs once, above.
    step "conformance, --storage s3 (pytest)" 2400 env CONFORMANCE_STORAGE=s3 "$PY" -m pytest conformance -q -ra \
      -p no:cacheprovider --durations=10 --ignore=conformance/test_upstream.py || true
  else
    echo "=== no mediagate binary at $MEDIAGATE_BIN"
    RESULTS+=("FAILED  conformance (no binary at $MEDIAGATE_BIN)")
    FAILED=1
  fi
else
  RESULTS+=("skipped conformance (no binary)")
  FAILED=1
fi

summary
exit $FAILED
