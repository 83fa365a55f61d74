#!/usr/bin/env bash
# `make api-watch`: the API function on your machine, rebuilt on every save, served as plain
# HTTP by `cargo lambda watch` on http://127.0.0.1:9000, against the tables and topic that
# `make up` deployed in LocalStack. Iterate on the API without a deploy:
#   curl -s -X POST http://127.0.0.1:9000/lambda-url/orders-api/orders -H 'x-api-key: any' \
#        -H "Authorization: Bearer $(make -s token)" \
#        -H 'content-type: application/json' -d '{"lines":[{"sku":"SKU-RED-MUG","quantity":1}]}'
# The function runs with your shell's long-term test keys, so IAM is not enforced here; the
# deployed function (make deploy) is the one the local stack holds to its policy.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TOOLS_BIN:=.venv/tools/bin}"
stack=.build/stack.json
[ -f "$stack" ] || { echo "no $stack: run 'make up' (or 'make deploy') first" >&2; exit 1; }
env_file=.build/api-watch.env
python3 - "$stack" >"$env_file" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
o = s["outputs"]
print(f"ORDERS_TABLE={o['OrdersTableName']}")
print(f"PRODUCTS_TABLE={o['ProductsTableName']}")
print(f"ORDER_EVENTS_TOPIC_ARN={o['OrderEventsTopicArn']}")
print(f"USER_POOL_ISSUER=https://cognito-idp.us-east-1.amazonaws.com/{o['UserPoolId']}")
print(f"USER_POOL_CLIENT_IDS={o['UserPoolClientId']}")
print(f"AWS_ENDPOINT_URL={s['endpoint']}")
print("AWS_REGION=us-east-1")
print("AWS_ACCESS_KEY_ID=test")
print("AWS_SECRET_ACCESS_KEY=test")
print("FUNCTION_TIMEOUT_SECONDS=10")
PY
echo "==> serving orders-api on http://127.0.0.1:${API_WATCH_PORT:-9000}/lambda-url/orders-api/ (Ctrl-C stops)"
export PATH="$PWD/$TOOLS_BIN:$PATH"
exec cargo lambda watch -p orders-api --timeout 10 -A 127.0.0.1 -P "${API_WATCH_PORT:-9000}" --env-file "$env_file" "$@"
