"""Writes the deployed stack's outputs, its API key and a working local API URL to a JSON file.

LocalStack's execute-api host names do not resolve offline, so the URL uses the path form
http://127.0.0.1:4566/_aws/execute-api/<apiId>/<stage>, which works with no DNS.
"""

import argparse
import json
import os
import sys
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

import local_aws


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", default=os.environ.get("STACK_NAME", "orders-pipeline"))
    parser.add_argument("--out", default=str(local_aws.STACK_FILE))
    args = parser.parse_args()

    endpoint = local_aws.ENDPOINT
    cfn = local_aws.client("cloudformation")
    apigw = local_aws.client("apigateway")

    stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    key = apigw.get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
    info = {
        "stack": args.stack,
        "endpoint": endpoint,
        "api_url": f"{endpoint}/_aws/execute-api/{outputs['ApiId']}/{outputs['StageName']}",
        "api_key": key,
        "outputs": outputs,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(info, f, indent=2)
    print(f"    API     {info['api_url']}")
    print(f"    API key {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
