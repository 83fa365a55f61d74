"""Operator's view of the dead-letter queues: their depth and a few of their messages (body,
receives, when it was sent, and the first failure its consumer logged for it), and moving their
messages back to the consumer queue once the cause is fixed (SQS StartMessageMoveTask, at a set
rate: RATE=, default 10 messages/s).

    make dlq                        # every DLQ: depth, then up to 3 messages each
    make redrive QUEUE=inventory    # inventory DLQ + inventory subscription DLQ -> inventory queue
    make dlq PROFILE=prod REGION=eu-west-1 STACK=orders-pipeline   # a stack on AWS (ops_target)

Messages from a subscription DLQ (SNS could not deliver them) go to the same consumer queue:
they are events that never arrived there.
"""

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

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
    t = ops_target.target(args)
    sqs = t.client("sqs")

    if not args.queue:
        show(t, min(args.show, 10))
        return 0

    target_key, dlqs = CONSUMERS[args.queue]
    target = arn(sqs, t.outputs[target_key])
    tasks = []
    for key in dlqs:
        n = depth(sqs, t.outputs[key])
        if n == 0:
            continue
        source = arn(sqs, t.outputs[key])
        sqs.start_message_move_task(SourceArn=source, DestinationArn=target, MaxNumberOfMessagesPerSecond=args.rate)
        print(f"moving {n} message(s) {key.removesuffix('Url')} -> {target_key.removesuffix('Url')}")
        tasks.append((source, n))
    # Wait for the tasks, not for empty DLQs: a message that still fails comes back to them.
    for source, n in tasks:

        def task(source: str = source) -> dict:
            # Most recent first; AWS shows the handle only while the task runs.
            results = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"]
            return results[0] if results else {"Status": "RUNNING"}

        done = wait_for(
            task,
            lambda t: t["Status"] in ("COMPLETED", "FAILED", "CANCELLED"),
            n / args.rate + args.wait,
            f"the move task of {source}",
        )
        if done["Status"] != "COMPLETED":
            print(f"move task {done['Status']}: {done.get('FailureReason', '')}", file=sys.stderr)
            return 1
        print(f"moved {done.get('ApproximateNumberOfMessagesMoved', '?')} message(s)")
    if not tasks:
        print("nothing to redrive")
    return 0


if __name__ == "__main__":
    sys.exit(main())
