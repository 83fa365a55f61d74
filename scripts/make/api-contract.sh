#!/usr/bin/env bash
# The deployed API against its contract, infra/openapi.yaml, with schemathesis (coverage,
# fuzzing and stateful phases, following the document's links): a fixed seed and example
# count, faults off. It fails on a 5xx the document does not list, an undocumented status, and
# a content type, header or body the document does not allow. JUnit report under
# .build/api-contract/. Env: SEED (1), EXAMPLES (25).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TOOLS_BIN:=.venv/tools/bin}"
read -r url key < <("$TOOLS_BIN/python" -c '
import json; s = json.load(open(".build/stack.json")); print(s["api_url"], s["api_key"])')
# Signed in as the operator (a customer who may also write stock), as a real client would be.
token=$("$TOOLS_BIN/python" scripts/ops/user_token.py operator)
exec "$TOOLS_BIN/st" run infra/openapi.yaml --url "$url" --header "x-api-key: $key" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --seed "${SEED:-1}" --max-examples "${EXAMPLES:-25}" --workers 1 --rate-limit 40/s \
  --report junit --report-dir .build/api-contract
