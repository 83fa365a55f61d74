"""Lambda's invocation payload limits (limits.py): 6,291,456 bytes synchronous, 1,048,576 bytes
asynchronous (AWS's figure since it raised it from 256 KB), also through API Gateway."""

import json

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import ENDPOINT, REGION, unique, zip_bootstrap

SYNC_LIMIT = 6_291_456
ASYNC_LIMIT = 1_048_576

# Answers the size of the event it got (as an API Gateway proxy response too).
SIZE_SCRIPT = r"""#!/usr/bin/env python3
import json, os, urllib.request
base = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    with urllib.request.urlopen(base + "/invocation/next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], r.read()
    print("event of %d bytes" % len(event), flush=True)
    body = json.dumps({"statusCode": 200, "body": json.dumps({"size": len(event)})}).encode()
    urllib.request.urlopen(urllib.request.Request(base + "/invocation/%s/response" % rid, data=body)).read()
"""


def payload(size):
    """A JSON string of exactly `size` bytes."""
    return json.dumps("A" * (size - 2)).encode()


@pytest.fixture
def size_function(make_function):
    return make_function(zip_bootstrap(source=SIZE_SCRIPT), prefix="size", timeout=30)


def refused(lam, name, size, **kw):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=payload(size), **kw)
    return e.value.response


def test_synchronous_payload_limit(aws, size_function):
    lam = aws("lambda")
    r = lam.invoke(FunctionName=size_function, Payload=payload(SYNC_LIMIT - 1024))
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert json.loads(json.loads(r["Payload"].read())["body"]) == {"size": SYNC_LIMIT - 1024}

    resp = refused(lam, size_function, SYNC_LIMIT + 1)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert resp["Error"]["Code"] == "RequestEntityTooLargeException"
    assert resp["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_asynchronous_payload_limit(aws, size_function):
    lam = aws("lambda")
    r = lam.invoke(FunctionName=size_function, Payload=payload(ASYNC_LIMIT - 1024), InvocationType="Event")
    assert r["StatusCode"] == 202

    resp = refused(lam, size_function, ASYNC_LIMIT + 1, InvocationType="Event")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert resp["Error"]["Code"] == "RequestEntityTooLargeException"
    assert resp["Error"]["Message"] == (
        f"{ASYNC_LIMIT + 1} byte payload is too large for the Event invocation type (limit {ASYNC_LIMIT} bytes)"
    )


def test_api_gateway_proxy_integration_over_the_limit(aws, size_function):
    """A ~7 MB body through a REST API's Lambda proxy integration: Lambda refuses the invoke and
    LocalStack's API Gateway answers 502 {"message": "Internal server error"}."""
    apigw, lam = aws("apigateway"), aws("lambda")
    fn_arn = lam.get_function(FunctionName=size_function)["Configuration"]["FunctionArn"]
    api_id = apigw.create_rest_api(name=unique("api"))["id"]
    try:
        root = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        res = apigw.create_resource(restApiId=api_id, parentId=root["id"], pathPart="{proxy+}")
        apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="ANY", authorizationType="NONE")
        apigw.put_integration(
            restApiId=api_id,
            resourceId=res["id"],
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
        )
        lam.add_permission(
            FunctionName=size_function,
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{REGION}:000000000000:{api_id}/*/*/*",
        )
        apigw.create_deployment(restApiId=api_id, stageName="test")
        url = f"{ENDPOINT}/_aws/execute-api/{api_id}/test/upload"

        small = requests.post(url, data=b"x" * 1000, timeout=60)
        assert small.status_code == 200, small.text

        big = requests.post(url, data=b"x" * 7_000_000, headers={"Content-Type": "text/plain"}, timeout=60)
        assert big.status_code == 502, big.text
        assert big.json() == {"message": "Internal server error"}
        assert big.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
        assert big.headers["Content-Type"] == "application/json"
    finally:
        apigw.delete_rest_api(restApiId=api_id)
