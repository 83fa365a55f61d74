#!/usr/bin/env bash
# `make test` stage: the end-to-end tests marked `also_under_faults` once more, delivered as AWS
# may deliver (standard queues and SNS -> SQS out of order within 200 ms, the template's 1 s batching window for AWS:
# scripts/make/delivery_as_aws.py) and with AWS errors injected into the functions' own calls,
# as AWS gives them under load. The rules are pinned (`every=N`: the Nth, 2Nth, ... call faults,
# and an SDK retry of a faulted call is the same call), so the run is repeatable. It passes when
# the suite stays green, every rule fired, and the SDK retried the errors it should retry
# (SNS's `Throttled` included: libs/aws/src/retry.rs).
#
# Which tests, and why not all: the subset takes once each flow whose outcome rests on a retried or
# reordered call: orders placed, reserved, rejected, cancelled and told (happy path, out of stock,
# too large, cancel after confirm, idempotency keys, duplicate delivery, no oversell on one stock
# item (where injected conflicts meet real ones), the flash sale on 8 shards (takes across shards,
# the count changed mid-sale), the outbox sweeper, an abandoned reservation, blind stock writes, one
# customer's news, the order of one order's messages, the trace id across retries). Left out:
# tests answered before any AWS call (bad input, API keys, tokens and who may do what), tests
# that set their own fault rules (test_aws_failures.py: the pinned rules only blur the counts
# they assert), operator tools and configuration (DLQ redrive, mapping settings, the stack's
# update and delete, metrics names), a mapping outage and the pending timeout (faults change
# nothing they wait for), and the poison message (its failure is its own). The short chaos soak
# that follows runs the same flows under random faults, kills and outages.
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
E2E_MARK=${E2E_MARK:-also_under_faults} scripts/make/e2e.sh "$@" || rc=$?
echo "==> what the rules did"
faults check || rc=1
echo "==> DynamoDB transaction conflicts (the contention model, both e2e runs)"
curl -sf "${LOCALSTACK_ENDPOINT:-http://127.0.0.1:4566}/_hostmode/contention" || true
exit $rc
