#!/usr/bin/env bash
# `make up`: the whole system running locally in one command, each step timed.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TOOLS_BIN:=.venv/tools/bin}"
export TOOLS_BIN

t0=$SECONDS
step() { printf '\n\033[1m[%3ds] %s\033[0m\n' "$((SECONDS - t0))" "$*"; }

step "1/5 tools: pinned Python venvs for LocalStack and the project's tools"
make -s tools
step "2/5 LocalStack on 127.0.0.1 (host mode: Lambda executor + DynamoDB plugins), or the one at LOCALSTACK_ENDPOINT"
make -s localstack
step "3/5 build the functions for this host"
scripts/make/build-functions.sh
step "4/5 package and deploy infra/template.yaml"
scripts/make/deploy-local.sh
step "5/5 seed stock, place an order through the API, follow it to the end"
"$TOOLS_BIN/python" scripts/ops/demo.py
printf '\n\033[1mup in %ds.\033[0m  make logs FN=inventory | make test | make down\n' "$((SECONDS - t0))"
