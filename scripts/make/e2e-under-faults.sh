#!/usr/bin/env bash
# `make test` stage: the end-to-end suite once more, delivered as AWS may deliver (standard
# queues and SNS -> SQS out of order within 200 ms, the template's 1 s batching window for AWS:
# scripts/make/delivery_as_aws.py) and with AWS errors injected into the functions' own calls,
# as AWS gives them under load. The rules are pinned (`every=N`: the Nth, 2Nth, ... call faults,
# and an SDK retry of a faulted call is the same call), so the run is repeatable. It passes when
# the suite stays green, every rule fired, and the SDK retried the errors it should retry
# (SNS's `Throttled` included: libs/aws/src/retry.rs).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TOOLS_BIN:=.venv/tools/bin}"
faults() { python3 localstack/bin/faults "$@"; }

RULES=${E2E_FAULT_RULES:-$(
  IFS=,
  rules=(
    "dynamodb:*:ThrottlingException:1:every=7"
    "dynamodb:*:ProvisionedThroughputExceededException:1:every=11"
    "dynamodb:*:InternalServerError:1:every=13"
    "dynamodb:TransactWriteItems:TransactionConflict:1:every=4"
    "sns:Publish:Throttled:1:every=5"
    "sns:Publish:InternalError:1:every=9"
  )
  echo "${rules[*]}"
)}

faults set "$RULES" >/dev/null
"$TOOLS_BIN/python" scripts/make/delivery_as_aws.py on
trap 'faults clear >/dev/null; "$TOOLS_BIN/python" scripts/make/delivery_as_aws.py off' EXIT
echo "==> fault rules: $RULES"
rc=0
"$TOOLS_BIN/pytest" -q --durations=5 tests/e2e "$@" || rc=$?
echo "==> what the rules did"
faults check || rc=1
echo "==> DynamoDB transaction conflicts (the contention model, both e2e runs)"
curl -sf "${LOCALSTACK_ENDPOINT:-http://127.0.0.1:4566}/_hostmode/contention" || true
exit $rc
