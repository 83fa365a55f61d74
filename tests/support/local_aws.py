"""The one place that knows how to reach the local stack: LocalStack's endpoint, the credentials
it accepts, the stack file `make deploy` writes, and queue depth as an operator reads it.

LocalStack accepts any key; `test` maps to its default account 000000000000. Nothing here is a
secret, and nothing here is used against AWS (scripts that run there take the caller's own
credentials from the environment)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3
import requests

ROOT = Path(__file__).resolve().parents[2]  # tests/support/ -> the repository
ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
# Written by scripts/make/deploy-local.sh (stack outputs, API URL and key).
STACK_FILE = Path(os.environ.get("STACK_FILE", ROOT / ".build" / "stack.json"))


def session() -> boto3.session.Session:
    return boto3.session.Session(**CREDENTIALS, region_name=REGION)


def client(service: str, endpoint: str = ENDPOINT) -> Any:
    return session().client(service, endpoint_url=endpoint)


def cli_env(endpoint: str = ENDPOINT) -> dict[str, str]:
    """The environment for a child process (AWS CLI, boto3 script) aimed at LocalStack."""
    return dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_DEFAULT_REGION=REGION,
    )


def hostmode(path: str) -> Any:
    """JSON of the localstack-hostmode extension's `GET /_hostmode/<path>` (requests served,
    mapping counters, IAM usage and denials, ...)."""
    r = requests.get(f"{ENDPOINT}/_hostmode/{path}", timeout=10)
    r.raise_for_status()
    return r.json()


def queue_depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight or delayed) messages of a queue: SQS's approximate counts. Delayed ones
    count as not done: a consumer defers a record it could not do for load as a delayed copy."""
    names = [f"ApproximateNumberOfMessages{k}" for k in ("", "NotVisible", "Delayed")]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    visible, in_flight, delayed = (int(attrs.get(n, 0)) for n in names)
    return visible, in_flight + delayed


def hostmode_put(path: str, body: Any) -> Any:
    """`PUT /_hostmode/<path>` with a JSON body (fault rules, contention window)."""
    r = requests.put(f"{ENDPOINT}/_hostmode/{path}", json=body, timeout=10)
    r.raise_for_status()
    return r.json()


def hostmode_delete(path: str, body: Any = None) -> None:
    """`DELETE /_hostmode/<path>`; with a body, only what it names (fault rules)."""
    requests.delete(f"{ENDPOINT}/_hostmode/{path}", json=body, timeout=10).raise_for_status()
