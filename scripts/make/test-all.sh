#!/usr/bin/env bash
# `make test`: every test, in the order that fails fastest. Starts LocalStack if it is not
# running and stops it again at the end (also on failure), so nothing is left running.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${TOOLS_BIN:=.venv/tools/bin}"
: "${LOCALSTACK_ENDPOINT:=http://127.0.0.1:4566}"
export TOOLS_BIN LOCALSTACK_ENDPOINT

logdir=.build/test-logs
rm -rf "$logdir" && mkdir -p "$logdir"
t0=$SECONDS
results=()
stages=()
failed=0

healthy() { curl -sf -m 2 "$LOCALSTACK_ENDPOINT/_localstack/health" >/dev/null 2>&1; }
we_started=0
healthy || we_started=1
cleanup() {
  if [[ $we_started == 1 ]]; then
    echo "==> make down (this run started LocalStack)"
    make -s down
  fi
}
trap cleanup EXIT

run() {
  local name=$1; shift
  local s=$SECONDS
  stages+=("$name")
  printf '\n\033[1m[%4ds] %s\033[0m\n' "$((SECONDS - t0))" "$name"
  if "$@" 2>&1 | tee "$logdir/$name.log"; then
    results+=("ok    $(printf '%4ds' $((SECONDS - s)))  $name")
  else
    results+=("FAIL  $(printf '%4ds' $((SECONDS - s)))  $name")
    failed=1
    summary
    exit 1
  fi
}

# Counts every test the runners reported, for one closing line.
summary() {
  local passed=0 fails=0 n
  for n in $(grep -hoE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$logdir"/*.log 2>/dev/null \
    | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed/\1:\2/'); do
    passed=$((passed + ${n%%:*})); fails=$((fails + ${n##*:}))
  done
  for n in $(grep -hE '^(=+ )?[0-9]+ (passed|failed|errors?)\b.* in [0-9.]+s' "$logdir"/*.log 2>/dev/null \
    | sed -E 's/^=+ //; s/ in [0-9.]+s.*//' | tr ',' '\n' | sed -nE 's/^ *([0-9]+) (passed|failed|error|errors).*/\1:\2/p'); do
    case ${n##*:} in passed) passed=$((passed + ${n%%:*})) ;; *) fails=$((fails + ${n%%:*})) ;; esac
  done
  echo
  printf '%s\n' "${results[@]}"
  echo "total $((SECONDS - t0))s"
  # The three slowest tests of each pytest stage (from its --durations report).
  local stage slow
  for stage in "${stages[@]}"; do
    slow=$(grep -hE '^[0-9]+\.[0-9]+s (call|setup|teardown) ' "$logdir/$stage.log" 2>/dev/null | sort -rn | head -3)
    [[ -n $slow ]] && printf '%s slowest:\n%s\n' "$stage" "$(sed 's/^/  /' <<<"$slow")"
  done
  echo "tests: $passed passed, $fails failed"
  tests_passed=$passed
}

# RECORD=1: a green run appends its figures to docs/measurements.md (date, commit, stage times).
record() {
  [[ ${RECORD:-0} == 1 ]] || return 0
  local total=$((SECONDS - t0)) stages_s
  stages_s=$(printf '%s\n' "${results[@]}" | awk '{printf "%s%s %s", (NR>1 ? ", " : ""), $3, $2}')
  "$TOOLS_BIN/python" scripts/measure/record.py \
    --command "\`make test\`${CI:+, as CI runs it (\`.ci/run\`)}" \
    --figure "$((total / 60)) min $((total % 60)) s, $tests_passed tests ($stages_s)" \
    --how "${CI:+git clone … /tmp/fresh && cd /tmp/fresh && }RECORD=1 ${CI:+CI=true }make test"
}

run tools make -s tools
run fmt cargo fmt --all -- --check
run python-lint scripts/make/lint-python.sh
run clippy cargo clippy --locked --workspace --all-targets -- -D warnings
run unit cargo test --locked --workspace
run template-lint "$TOOLS_BIN/cfn-lint" infra/template.yaml
# The functions are built once, as `make deploy-aws` builds them: cargo lambda (zig as the
# linker), here for the host target (the arm64 standard library is not installable offline).
# Every later stage that deploys (`make up` in deploy-checks, `make deploy`) stages these.
export BUILDER=cargo-lambda
run cargo-lambda scripts/make/build-functions.sh
run deploy-checks "$TOOLS_BIN/pytest" -q --durations=3 tests/tools
run localstack make -s localstack
run localstack-extension make -s localstack-test
run adapters cargo test --locked -p orders-aws --features localstack-tests
run deploy make -s deploy
# What an order costs, measured (scripts/measure/calls_per_order.py): fails if a confirmed order
# writes more DynamoDB units than docs/cost-budget.json allows, naming the table and function.
# Before the IAM evidence is cleared below, and before any fault rule or other load.
run cost-budget "$TOOLS_BIN/python" scripts/measure/calls_per_order.py --scenarios confirmed --no-sweeper --check-budget
# This run's IAM evidence starts empty (LocalStack may have served earlier runs).
curl -sf -X DELETE "$LOCALSTACK_ENDPOINT/_hostmode/iam/usage" >/dev/null
curl -sf -X DELETE "$LOCALSTACK_ENDPOINT/_hostmode/iam/denials" >/dev/null
run e2e scripts/make/e2e.sh
# The API against infra/openapi.yaml (schemathesis), before the fault rules go on.
run api-contract scripts/make/api-contract.sh
# A burst past the cliff the suite's other scenarios stay under (150 orders from 16 clients on
# one unsharded SKU of 60 units put 101 OrderPlaced in the inventory DLQ before flow control):
# every order decided within 60 s of the last POST, no DLQ growth, no unit oversold.
run flash-sale make -s flash-sale N=150 CLIENTS=16 UNITS=60
run e2e-under-faults scripts/make/e2e-under-faults.sh
# A short chaos soak (make soak N=1000 is the full one): 150 orders, one kill, a 10 s outage.
run soak-short env -C scripts/measure "../../$TOOLS_BIN/python" -m soak --n 150 --kills 1 --outage 10
run iam-audit "$TOOLS_BIN/python" scripts/make/iam_audit.py
summary
record
