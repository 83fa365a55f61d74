#!/usr/bin/env bash
# Builds every function for Lambda on arm64 (cargo lambda, cross-compiling with zig) and deploys
# infra/template.yaml to the AWS account of your current credentials. Not run by the tests: the
# template is checked offline by cfn-lint instead.
#
#   ARTIFACT_BUCKET=<an S3 bucket you own> STACK_NAME=orders-pipeline make deploy-aws
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TOOLS_BIN:=.venv/tools/bin}"
: "${STACK_NAME:=orders-pipeline}"
: "${ARTIFACT_BUCKET:?set ARTIFACT_BUCKET to an S3 bucket in your account for the code zips}"
unset AWS_ENDPOINT_URL  # this one goes to AWS
FUNCTIONS=(orders-api inventory order-status notification outbox-sweeper)

# Parameters that must agree with each other (CloudFormation cannot check them), before the build.
# shellcheck disable=SC2086
"$TOOLS_BIN/python" scripts/make/check_params.py infra/template.yaml Architecture=arm64 ${PARAMETERS:-}

export PATH="$PWD/$TOOLS_BIN:$PATH"  # cargo-lambda and zig come from the tools venv
pkgs=()
for f in "${FUNCTIONS[@]}"; do pkgs+=(--bin "$f"); done
cargo lambda build --release --arm64 "${pkgs[@]}"
for f in "${FUNCTIONS[@]}"; do
  install -D "${CARGO_TARGET_DIR:-target}"/lambda/"$f"/bootstrap .build/lambda/"$f"/bootstrap
done

aws cloudformation package --template-file infra/template.yaml --s3-bucket "$ARTIFACT_BUCKET" \
  --output-template-file .build/packaged-aws.yaml
aws cloudformation deploy --template-file .build/packaged-aws.yaml --stack-name "$STACK_NAME" \
  --s3-bucket "$ARTIFACT_BUCKET" \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
  --parameter-overrides Architecture=arm64 ${PARAMETERS:-}
aws cloudformation describe-stacks --stack-name "$STACK_NAME" --query 'Stacks[0].Outputs' --output table
