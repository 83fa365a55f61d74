#!/usr/bin/env bash
# The end-to-end suite in two phases (tests/e2e/conftest.py): the tests that share no mutable
# state side by side in E2E_WORKERS pytest-xdist workers, then the `serial` ones one at a time.
# Both phases count as one run (E2E_STARTED_MS: where the run's logs start). E2E_MARK narrows
# both to a marker expression (scripts/make/e2e-under-faults.sh); E2E_JUNIT=<prefix> writes each
# phase's JUnit report to <prefix>-<phase>.xml (make flake-hunt). Other arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${TOOLS_BIN:=.venv/tools/bin}"
: "${E2E_WORKERS:=2}"
E2E_STARTED_MS=$(($(date +%s%3N) - 1000))
export E2E_STARTED_MS
mark=${E2E_MARK:+ and ($E2E_MARK)}

phase() {
  local name=$1 tag=$2; shift 2
  echo "==> e2e, $name"
  "$TOOLS_BIN/pytest" -q --durations=5 ${E2E_JUNIT:+--junitxml="$E2E_JUNIT-$tag.xml"} "$@"
  local rc=$?
  # 5: the phase selected no test (a narrow E2E_MARK); not a failure.
  [[ $rc == 5 ]] && return 0
  return $rc
}

# The poison scenario's batch goes out first: its minutes to the DLQ overlap the parallel phase.
E2E_POISON=.build/e2e-poison.json
"$TOOLS_BIN/python" tests/e2e/poison_batch.py "$E2E_POISON" || exit 1
export E2E_POISON

# One tap on the topics for both phases and every worker (tests/e2e/tap_process.py).
E2E_TAP=.build/e2e-tap.jsonl
rm -f "$E2E_TAP"
"$TOOLS_BIN/python" tests/e2e/tap_process.py "$E2E_TAP" &
tap_pid=$!
trap 'kill $tap_pid 2>/dev/null; wait $tap_pid 2>/dev/null' EXIT
for _ in $(seq 300); do
  [[ -f $E2E_TAP ]] && break
  kill -0 $tap_pid 2>/dev/null || { echo "the tap process failed to start" >&2; exit 1; }
  sleep 0.1
done
[[ -f $E2E_TAP ]] || { echo "the tap did not subscribe within 30 s" >&2; exit 1; }
export E2E_TAP

rc=0
phase "side by side ($E2E_WORKERS workers)" parallel -n "$E2E_WORKERS" --dist load -m "not serial$mark" tests/e2e "$@" || rc=1
phase "one at a time" serial -m "serial$mark" tests/e2e "$@" || rc=1
exit $rc
