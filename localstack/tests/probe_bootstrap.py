#!/usr/bin/env python3
"""The "probe" test function: a Lambda custom-runtime bootstrap (zipped by conftest.probe_zip with
its shebang replaced by the absolute path of .venv/tools/bin/python, so boto3 imports).

It makes one AWS call per invocation with the environment's credentials (the execution role's
session) and AWS_ENDPOINT_URL, both set by the executor:

    {"service": "dynamodb", "op": "get_item", "params": {...}, "max_attempts": 1}

(max_attempts: attempts in all, the SDK's standard retry mode; 1 = no retry)
 -> {"ok": true, "result": {...}, "attempts": 1, "elapsed": 0.004}
 |  {"ok": false, "code": "AccessDeniedException", "status": 400, "message": "...",
    "reasons": [...CancellationReasons, if any], "attempts": 1, "elapsed": 0.003}

SQS event source mapping batches ({"Records": [...]}) are acknowledged and their bodies printed
(`probe records: [...]`), so a test can find them in the function's CloudWatch log.
"""

import json
import os
import sys
import time
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
SESSION = boto3.Session()  # credentials and region from the environment
CLIENTS: dict[tuple[str, int], Any] = {}


def client(service, max_attempts):
    key = (service, max_attempts)
    if key not in CLIENTS:
        CLIENTS[key] = SESSION.client(
            service,
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
            # botocore's "max_attempts" counts retries after the first attempt;
            # "total_max_attempts" counts attempts: 1 = no retry
            config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, read_timeout=30),
        )
    return CLIENTS[key]


def handle(event):
    if "Records" in event:
        print("probe records: {}".format(json.dumps([r.get("body") for r in event["Records"]])), flush=True)
        return {}
    t0 = time.perf_counter()
    try:
        fn = getattr(client(event["service"], int(event.get("max_attempts", 1))), event["op"])
        result = fn(**event.get("params", {}))
        meta = result.pop("ResponseMetadata", {})
        return {
            "ok": True,
            "result": result,
            "attempts": meta.get("RetryAttempts", 0) + 1,
            "elapsed": time.perf_counter() - t0,
        }
    except ClientError as e:
        r = e.response
        meta = r.get("ResponseMetadata", {})
        return {
            "ok": False,
            "code": r.get("Error", {}).get("Code"),
            "status": meta.get("HTTPStatusCode"),
            "message": r.get("Error", {}).get("Message"),
            "reasons": r.get("CancellationReasons"),
            "attempts": meta.get("RetryAttempts", 0) + 1,
            "elapsed": time.perf_counter() - t0,
        }
    except Exception as e:  # parameter validation, connection errors: not an AWS answer
        return {
            "ok": False,
            "code": type(e).__name__,
            "status": None,
            "message": str(e),
            "reasons": None,
            "attempts": None,
            "elapsed": time.perf_counter() - t0,
        }


def main():
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read() or b"{}")
        body = json.dumps(handle(event), default=str).encode()
        req = urllib.request.Request(f"{API}/invocation/{request_id}/response", data=body, method="POST")
        urllib.request.urlopen(req).read()


if __name__ == "__main__":
    sys.exit(main())
