#!/usr/bin/env bash
# Packages infra/template.yaml and deploys it to LocalStack, then writes .build/stack.json
# (outputs, API key, a loopback API URL) for the demo, the tests and you.
# The template is the one AWS gets; only parameter values differ (docs/local-vs-aws.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${LOCALSTACK_ENDPOINT:=http://127.0.0.1:4566}"
: "${STACK_NAME:=orders-pipeline}"
: "${TOOLS_BIN:=.venv/tools/bin}"
export AWS_ENDPOINT_URL=$LOCALSTACK_ENDPOINT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_PAGER=""
aws() { "$TOOLS_BIN/aws" "$@"; }

case "$(uname -m)" in
  aarch64 | arm64) arch=arm64 ;;
  *) arch=x86_64 ;;
esac
bucket=orders-pipeline-artifacts
# Shorter timeouts than AWS's defaults keep "poison message reaches its DLQ" (5 x visibility
# timeout) quick; the 6:1 visibility-to-timeout ratio AWS recommends is kept. Not shorter than
# 5 s: under a burst the emulator answers a call in ~0.7 s, and a 2 s consumer gave up most of
# its batch at the deadline.
params=(
  "Architecture=$arch"
  "ConsumerTimeoutSeconds=${CONSUMER_TIMEOUT:-5}"
  "QueueVisibilityTimeoutSeconds=${QUEUE_VISIBILITY_TIMEOUT:-30}"
  "BatchingWindowSeconds=0"
  "ConsumerMaxConcurrency=${CONSUMER_MAX_CONCURRENCY:-2}"
  "OutboxGraceSeconds=${OUTBOX_GRACE_SECONDS:-30}"
  "PendingTimeoutSeconds=${PENDING_TIMEOUT_SECONDS:-300}"
  "StockShards=${STOCK_SHARDS:-1}"
  # the emulator serializes DynamoDB: one container meets fewer conflicts per hot SKU than on
  # AWS (at 4, two fresh-clone runs of a 300-order burst never spread the SKU)
  "HotSkuConflicts=${HOT_SKU_CONFLICTS:-2}"
  "AutoShardMax=${AUTO_SHARD_MAX:-8}"
  "PointInTimeRecovery=false"
  "LogLevel=${LOG_LEVEL:-info}"
)

# Parameters that must agree with each other (CloudFormation cannot check them).
"$TOOLS_BIN/python" scripts/make/check_params.py infra/template.yaml "${params[@]}"

mkdir -p .build

# Upload progress goes to a log, shown only when packaging fails.
package() {
  aws s3api head-bucket --bucket "$bucket" >/dev/null 2>&1 || aws s3 mb "s3://$bucket" >/dev/null
  aws cloudformation package --template-file infra/template.yaml --s3-bucket "$bucket" \
    --output-template-file .build/packaged.yaml >.build/package.log 2>&1 || {
    cat .build/package.log >&2
    return 1
  }
}
deploy() {
  "$TOOLS_BIN/python" scripts/make/cfn_deploy.py --local --stack "$STACK_NAME" --bucket "$bucket" \
    --template .build/packaged.yaml "${params[@]}"
}

# Skip packaging and deploying when the template, the API definition, the parameters and the
# staged binaries (their source stamps) are what the running stack was deployed from. When only
# binaries changed, update the functions' code in place (as `sam sync --code` does): LocalStack
# cannot apply every stack update (see below), and a code change must not need a new stack.
stamp=.build/deploy.stamp
infra=$( { cat infra/template.yaml infra/openapi.yaml; printf '%s\n' "${params[@]}" "$STACK_NAME" "$LOCALSTACK_ENDPOINT"; } | sha256sum | cut -d' ' -f1)
code=$(cat .build/lambda/*.source | sha256sum | cut -d' ' -f1)
want="$infra $code"
status=$(aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
  --query 'Stacks[0].StackStatus' --output text 2>/dev/null || echo NONE)
deployed=$(cat "$stamp" 2>/dev/null || true)
if [[ $deployed == "$want" && $status =~ ^(CREATE|UPDATE)_COMPLETE$ ]]; then
  echo "    stack unchanged ($status), deploy skipped"
elif [[ ${deployed%% *} == "$infra" && $status =~ ^(CREATE|UPDATE)_COMPLETE$ ]]; then
  echo "==> only the functions' code changed: updating it in place ($STACK_NAME)"
  "$TOOLS_BIN/python" scripts/make/update_code.py --stack "$STACK_NAME"
  echo "$want" >"$stamp"
else
  rm -f "$stamp"
  echo "==> package and deploy ($STACK_NAME: $status -> ...)"
  package
  rc=0
  deploy || rc=$?
  if [[ $rc == 3 ]]; then
    # LocalStack cannot update the API's stage, key or usage plan and leaves such a stack stuck.
    # The emulator's state (every local stack and order) is not ours to wipe, nor is the
    # emulator ours to stop: say what happened and what the user may do, and stop here.
    cat >&2 <<EOF
error: the emulator at $LOCALSTACK_ENDPOINT cannot update stack $STACK_NAME in place (the
  reason is above) and the stack is now stuck. Nothing was stopped or deleted. Either
  - delete this stack alone, then deploy again (LocalStack may fail to delete it too):
      $TOOLS_BIN/aws --endpoint-url $LOCALSTACK_ENDPOINT cloudformation delete-stack --stack-name $STACK_NAME
  - or start from an empty local state, which erases every local stack and order:
      make down && make up      (make clean && make up also removes the build outputs)
    (an emulator you run yourself at LOCALSTACK_ENDPOINT: restart it your way, then make deploy)
EOF
    exit 3
  elif [[ $rc != 0 ]]; then
    exit "$rc"
  fi
  "$TOOLS_BIN/python" scripts/make/update_code.py --stack "$STACK_NAME" --record
  echo "$want" >"$stamp"
fi

"$TOOLS_BIN/python" scripts/make/stack_info.py --stack "$STACK_NAME" --out .build/stack.json
