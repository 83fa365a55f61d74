"""The emulator's own ceiling: the pipeline's shape with nothing of ours in it.

One SNS topic fans out (raw delivery, a filter on `type` per queue, as the stack's
subscriptions) to three SQS queues with redrive DLQs, each mapped (batch 10, window 0,
ReportBatchItemFailures, MaximumConcurrency as the stack's) to `ls-hello`, a Rust
`lambda_runtime` function that only acknowledges and logs which records it handled and when.
An API Gateway REST API proxies to the same function. Everything is created on the running
LocalStack, with IAM enforced, and deleted afterwards."""

from __future__ import annotations

import contextlib
import io
import json
import re
import stat
import subprocess
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

import local_aws

SQS_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
BATCH_LINE = re.compile(r"sqs batch of \d+ with \d+ failures, pid \d+, at (\d+): (.*)")
CONSUMERS = ("q0", "q1", "q2")


def hello_zip() -> bytes:
    """ls-hello built as the stack's functions are locally (debug, host), zipped as bootstrap."""
    out = subprocess.run(
        ["cargo", "build", "-q", "-p", "ls-hello", "--message-format=json"],
        cwd=local_aws.ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    exe = next(
        json.loads(line)["executable"]
        for line in out.splitlines()
        if '"compiler-artifact"' in line and json.loads(line)["target"]["name"] == "ls-hello"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        with open(exe, "rb") as f:
            z.writestr(info, f.read())
    return buf.getvalue()


@dataclass
class Bare:
    concurrency: int
    name: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:6]}")
    queues: dict[str, str] = field(default_factory=dict)  # consumer -> queue url
    mappings: dict[str, str] = field(default_factory=dict)  # consumer -> mapping uuid
    api_url: str = ""
    _cleanup: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sns, self.sqs, self.lam = local_aws.client("sns"), local_aws.client("sqs"), local_aws.client("lambda")
        self.logs, self.iam, self.apigw = (
            local_aws.client("logs"),
            local_aws.client("iam"),
            local_aws.client("apigateway"),
        )

    # -- set-up ---------------------------------------------------------------------------------
    def create(self) -> Bare:
        role = self.iam.create_role(RoleName=self.name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        self.iam.attach_role_policy(RoleName=self.name, PolicyArn=SQS_EXECUTION_POLICY)
        self._cleanup.append(self._delete_role)
        self.function = self.name
        self.lam.create_function(
            FunctionName=self.function,
            Runtime="provided.al2023",
            Role=role,
            Handler="bootstrap",
            Code={"ZipFile": hello_zip()},
            Timeout=10,
            MemorySize=128,
        )
        self._cleanup.append(lambda: self.lam.delete_function(FunctionName=self.function))
        _wait(lambda: self.lam.get_function_configuration(FunctionName=self.function)["State"] == "Active")
        self.topic = self.sns.create_topic(Name=self.name)["TopicArn"]
        self._cleanup.append(lambda: self.sns.delete_topic(TopicArn=self.topic))
        for consumer in CONSUMERS:
            self._consumer(consumer)
        self._api()
        return self

    def _queue(self, name: str, attributes: dict[str, str]) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self._cleanup.append(lambda: self.sqs.delete_queue(QueueUrl=url))
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _consumer(self, consumer: str) -> None:
        _, dlq_arn = self._queue(f"{self.name}-{consumer}-dlq", {})
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        url, arn = self._queue(f"{self.name}-{consumer}", {"VisibilityTimeout": "60", "RedrivePolicy": redrive})
        self.queues[consumer] = url
        self.sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "sns.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": arn,
                                "Condition": {"ArnEquals": {"aws:SourceArn": self.topic}},
                            }
                        ],
                    }
                )
            },
        )
        self.sns.subscribe(
            TopicArn=self.topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"type": [consumer]})},
        )
        uuid_ = self.lam.create_event_source_mapping(
            EventSourceArn=arn,
            FunctionName=self.function,
            BatchSize=10,
            MaximumBatchingWindowInSeconds=0,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            ScalingConfig={"MaximumConcurrency": self.concurrency},
        )["UUID"]
        self.mappings[consumer] = uuid_
        self._cleanup.append(lambda: self.lam.delete_event_source_mapping(UUID=uuid_))
        _wait(lambda: self.lam.get_event_source_mapping(UUID=uuid_)["State"] == "Enabled")

    def _api(self) -> None:
        api = self.apigw.create_rest_api(name=self.name)["id"]
        self._cleanup.append(lambda: self.apigw.delete_rest_api(restApiId=api))
        root = next(r["id"] for r in self.apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
        res = self.apigw.create_resource(restApiId=api, parentId=root, pathPart="ping")["id"]
        self.apigw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType="NONE")
        fn_arn = self.lam.get_function(FunctionName=self.function)["Configuration"]["FunctionArn"]
        self.apigw.put_integration(
            restApiId=api,
            resourceId=res,
            httpMethod="GET",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{local_aws.REGION}:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
        )
        self.apigw.create_deployment(restApiId=api, stageName="bench")
        self.api_url = f"{local_aws.ENDPOINT}/restapis/{api}/bench/_user_request_/ping"

    def _delete_role(self) -> None:
        self.iam.detach_role_policy(RoleName=self.name, PolicyArn=SQS_EXECUTION_POLICY)
        self.iam.delete_role(RoleName=self.name)

    def delete(self) -> None:
        for undo in reversed(self._cleanup):
            with contextlib.suppress(Exception):
                undo()

    # -- use ------------------------------------------------------------------------------------
    def publish(self, consumer: str, tag: str) -> None:
        self.sns.publish(
            TopicArn=self.topic,
            Message=json.dumps({"tag": tag}),
            MessageAttributes={"type": {"DataType": "String", "StringValue": consumer}},
        )

    def fill(self, consumer: str, n: int) -> None:
        """n messages straight into a consumer's queue (a backlog, as after an outage)."""
        url = self.queues[consumer]
        for start in range(0, n, 10):
            entries = [{"Id": str(i), "MessageBody": "{}"} for i in range(start, min(n, start + 10))]
            self.sqs.send_message_batch(QueueUrl=url, Entries=entries)

    def set_enabled(self, consumers: tuple[str, ...], enabled: bool) -> None:
        want = "Enabled" if enabled else "Disabled"
        for c in consumers:
            self.lam.update_event_source_mapping(UUID=self.mappings[c], Enabled=enabled)
        for c in consumers:
            _wait(lambda c=c: self.lam.get_event_source_mapping(UUID=self.mappings[c])["State"] == want)

    def depth(self, consumer: str) -> int:
        return sum(local_aws.queue_depth(self.sqs, self.queues[consumer]))

    def handled(self) -> dict[str, int]:
        """tag -> epoch ms at which the function handled the record (from its log lines)."""
        found: dict[str, int] = {}
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{self.function}"}
        while True:
            page = self.logs.filter_log_events(**kwargs)
            for e in page["events"]:
                if m := BATCH_LINE.search(e["message"]):
                    for item in m.group(2).split():
                        if "=" in item:
                            found[item.split("=", 1)[1]] = int(m.group(1))
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]


def _wait(ok, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise TimeoutError("bench set-up: timed out")
        time.sleep(0.05)
