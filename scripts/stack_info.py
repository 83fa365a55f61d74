"""Writes the deployed stack's outputs, its API key and a working local API URL to a JSON file.

LocalStack's execute-api host names do not resolve offline, so the URL uses the path form
http://127.0.0.1:4566/_aws/execute-api/<apiId>/<stage>, which works with no DNS.
"""

import argparse
import json
import os
import sys

import boto3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", default=os.environ.get("STACK_NAME", "orders-pipeline"))
    parser.add_argument("--out", default=".build/stack.json")
    args = parser.parse_args()

    endpoint = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    )
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    apigw = session.client("apigateway", endpoint_url=endpoint)

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
