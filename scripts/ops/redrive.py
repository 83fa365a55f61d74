"""Operator's view of the dead-letter queues: their depth and a few of their messages (body,
receives, when it was sent, and the first failure its consumer logged for it), and moving their
messages back to the consumer queue once the cause is fixed, at a set rate (RATE=, default 10
messages/s).

    make dlq                        # every DLQ: depth, then up to 3 messages each
    make redrive QUEUE=inventory    # inventory DLQ + inventory subscription DLQ -> inventory queue
    make dlq PROFILE=prod REGION=eu-west-1 STACK=orders-pipeline   # a stack on AWS (ops_target)

Messages from a subscription DLQ (SNS could not deliver them) go to the same consumer queue:
they are events that never arrived there. How each DLQ is moved:

- a DLQ of an SQS queue (its RedrivePolicy's deadLetterTargetArn; ListDeadLetterSourceQueues
  names that queue): SQS StartMessageMoveTask;
- any other DLQ, e.g. an SNS subscription's: SQS refuses StartMessageMoveTask for it ("Source
  queue must be configured as a Dead Letter Queue": move tasks only redrive DLQs of SQS queues),
  so it is moved by hand: receive, SendMessageBatch to the consumer queue (body and message
  attributes kept), and delete from the DLQ only what was sent. Nothing is lost; a crash between
  send and delete sends a message twice, which the idempotent consumers absorb.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

import ops_target
from local_aws import queue_depth
from orders_client import wait_for

FUNCTIONS = {"inventory": "InventoryFunctionName", "order-status": "OrderStatusFunctionName",
             "notification": "NotificationFunctionName"}  # fmt: skip
CONSUMERS = {
    "inventory": ("InventoryQueueUrl", ["InventoryDLQUrl", "InventorySubscriptionDLQUrl"]),
    "order-status": ("OrderStatusQueueUrl", ["OrderStatusDLQUrl", "OrderStatusSubscriptionDLQUrl"]),
    "notification": ("NotificationQueueUrl", ["NotificationDLQUrl", "NotificationSubscriptionDLQUrl"]),
}


def arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def depth(sqs, url: str) -> int:
    return sum(queue_depth(sqs, url))


def peek(sqs: Any, url: str, n: int) -> list[dict]:
    """Up to `n` messages of a queue, left where they are (a visibility timeout of 0)."""
    resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, VisibilityTimeout=0, AttributeNames=["All"])
    return resp.get("Messages", [])


def first_failure(t: ops_target.Target, function: str, message: dict) -> str:
    """The first error the consumer logged for this message (its JSON log lines name the SQS
    message id), or why there is none to show."""
    sent = int(message["Attributes"]["SentTimestamp"])
    logs = t.client("logs")
    kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function}", "startTime": sent - 60_000,
                              "filterPattern": f'"{message["MessageId"]}"'}  # fmt: skip
    try:
        while True:
            page = logs.filter_log_events(**kwargs)
            for e in page.get("events", []):
                try:
                    line = json.loads(e["message"])
                except ValueError:
                    continue
                if line.get("level") == "ERROR" and (line.get("span") or {}).get("message_id") == message["MessageId"]:
                    at = datetime.fromtimestamp(e["timestamp"] / 1000, UTC).strftime("%H:%M:%S")
                    return f"{at} {line['fields'].get('error', line['fields'].get('message'))}"
            if not page.get("nextToken"):
                return "none logged (the invocation timed out or was killed, or the logs expired)"
            kwargs["nextToken"] = page["nextToken"]
    except logs.exceptions.ResourceNotFoundException:
        return "no logs"


def show(t: ops_target.Target, n: int) -> None:
    sqs = t.client("sqs")
    for name, (_, dlqs) in CONSUMERS.items():
        for key in dlqs:
            url = t.outputs[key]
            print(f"{name:13} {key.removesuffix('Url'):30} {depth(sqs, url)}")
            for m in peek(sqs, url, n) if n else []:
                sent = datetime.fromtimestamp(int(m["Attributes"]["SentTimestamp"]) / 1000, UTC)
                print(f"    {m['MessageId']}  sent {sent:%Y-%m-%d %H:%M:%S}Z, "
                      f"received {m['Attributes'].get('ApproximateReceiveCount', '?')}x")  # fmt: skip
                print(f"      body: {m['Body'][:200]}")
                if "Subscription" not in key:
                    print(f"      first failure: {first_failure(t, t.outputs[FUNCTIONS[name]], m)}")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--queue", choices=sorted(CONSUMERS), help="redrive this consumer's DLQs")
    p.add_argument("--wait", type=float, default=60, help="seconds to wait for a move task beyond its messages/rate")
    p.add_argument("--show", type=int, default=3, help="messages to show per DLQ (make dlq)")
    # A backlog moved back at once meets itself: its orders for one hot SKU conflict on that
    # item, and past the retries the messages land in the DLQ again (seen in the soak: 14 of
    # 119 moved at full speed). A rate the consumer absorbs; raise it for a bigger backlog.
    p.add_argument("--rate", type=int, default=10, help="messages moved per second (1-500)")
    ops_target.add_arguments(p)
    args = p.parse_args()
    if not 1 <= args.rate <= 500:
        p.error("--rate must be between 1 and 500")
    t = ops_target.target(args)

    if not args.queue:
        show(t, min(args.show, 10))
        return 0

    return redrive(t, args.queue, args.rate, args.wait)


def is_sqs_dlq(sqs: Any, url: str) -> bool:
    """Whether some SQS queue's RedrivePolicy names this queue as its DLQ."""
    return bool(sqs.list_dead_letter_source_queues(QueueUrl=url, MaxResults=1).get("queueUrls"))


def redrive(t: ops_target.Target, consumer: str, rate: int, wait: float) -> int:
    sqs = t.client("sqs")
    target_key, dlqs = CONSUMERS[consumer]
    target_url = t.outputs[target_key]
    tasks, rc, found = [], 0, False
    for key in dlqs:
        url = t.outputs[key]
        n = depth(sqs, url)
        if n == 0:
            continue
        found = True
        what = f"{n} message(s) {key.removesuffix('Url')} -> {target_key.removesuffix('Url')}"
        if is_sqs_dlq(sqs, url):
            source = arn(sqs, url)
            sqs.start_message_move_task(
                SourceArn=source, DestinationArn=arn(sqs, target_url), MaxNumberOfMessagesPerSecond=rate
            )
            print(f"moving {what} (move task)")
            tasks.append((source, n))
        else:
            print(f"moving {what} (receive, send, delete: not an SQS queue's DLQ)")
            moved, failures = move_by_hand(sqs, url, target_url, rate)
            print(f"moved {moved} message(s)")
            for f in failures:
                print(f"not moved, left in the DLQ: {f}", file=sys.stderr)
            rc = rc or (1 if failures else 0)
    # Wait for the tasks, not for empty DLQs: a message that still fails comes back to them.
    for source, n in tasks:

        def task(source: str = source) -> dict:
            # Most recent first; AWS shows the handle only while the task runs.
            results = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"]
            return results[0] if results else {"Status": "RUNNING"}

        done = wait_for(
            task, lambda t: t["Status"] in ("COMPLETED", "FAILED", "CANCELLED"), n / rate + wait,
            f"the move task of {source}",
        )  # fmt: skip
        if done["Status"] != "COMPLETED":
            print(f"move task {done['Status']}: {done.get('FailureReason', '')}", file=sys.stderr)
            return 1
        print(f"moved {done.get('ApproximateNumberOfMessagesMoved', '?')} message(s)")
    if not found:
        print("nothing to redrive")
    return rc


# How long a received DLQ message stays hidden while it is sent on (a failed send makes it
# visible again at once).
MOVE_VISIBILITY_S = 60


def move_by_hand(
    sqs: Any, source_url: str, target_url: str, rate: int, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, list[str]]:  # fmt: skip
    """Moves every message of `source_url` to `target_url` at no more than `rate` per second:
    body, message attributes and the X-Ray trace header kept; each deleted from the source only
    once its send succeeded. Stops at the first failed send (those messages are left visible in
    the source). Returns (moved, failures)."""
    moved, failures, start = 0, list[str](), clock()
    while True:
        msgs = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=max(1, min(10, rate)),
            WaitTimeSeconds=1,  # a long poll: a short one may miss messages on AWS
            VisibilityTimeout=MOVE_VISIBILITY_S,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["AWSTraceHeader"],
        ).get("Messages", [])
        if not msgs:
            return moved, failures
        try:
            resp = sqs.send_message_batch(QueueUrl=target_url, Entries=[entry(str(i), m) for i, m in enumerate(msgs)])
        except Exception:
            _show_again(sqs, source_url, list(enumerate(msgs)))
            raise
        sent = {e["Id"] for e in resp.get("Successful", [])}
        done = [(i, m) for i, m in enumerate(msgs) if str(i) in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=source_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in done]
            )
            moved += len(done)
        if resp.get("Failed"):
            failed = [(int(f["Id"]), msgs[int(f["Id"])]) for f in resp["Failed"]]
            _show_again(sqs, source_url, failed)
            failures += [
                f"{msgs[int(f['Id'])]['MessageId']}: {f['Code']} {f.get('Message', '')}" for f in resp["Failed"]
            ]
            return moved, failures
        ahead = moved / rate - (clock() - start)
        if ahead > 0:
            sleep(ahead)


def entry(id_: str, m: dict) -> dict:
    """A SendMessageBatch entry carrying a received message's body and attributes."""
    e: dict[str, Any] = {"Id": id_, "MessageBody": m["Body"]}
    attrs = {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in (m.get("MessageAttributes") or {}).items()
    }
    if attrs:
        e["MessageAttributes"] = attrs
    if trace := (m.get("Attributes") or {}).get("AWSTraceHeader"):
        e["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    return e


def _show_again(sqs: Any, url: str, msgs: list[tuple[int, dict]]) -> None:
    """Messages not moved: visible in their DLQ again now, not after the move's visibility timeout."""
    if msgs:
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in msgs],
        )


if __name__ == "__main__":
    sys.exit(main())
