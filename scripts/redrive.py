"""Operator's view of the dead-letter queues: their depth, and moving their messages back to the
consumer queue once the cause is fixed (SQS StartMessageMoveTask, at most 50 messages/s).

    make dlq                        # depth of every DLQ
    make redrive QUEUE=inventory    # inventory DLQ + inventory subscription DLQ -> inventory queue

Messages from a subscription DLQ (SNS could not deliver them) go to the same consumer queue:
they are events that never arrived there.
"""

import argparse
import sys

from local_aws import queue_depth
from orders_client import Stack, wait_for

CONSUMERS = {
    "inventory": ("InventoryQueueUrl", ["InventoryDLQUrl", "InventorySubscriptionDLQUrl"]),
    "order-status": ("OrderStatusQueueUrl", ["OrderStatusDLQUrl", "OrderStatusSubscriptionDLQUrl"]),
    "notification": ("NotificationQueueUrl", ["NotificationDLQUrl", "NotificationSubscriptionDLQUrl"]),
}


def arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def depth(sqs, url: str) -> int:
    return sum(queue_depth(sqs, url))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--queue", choices=sorted(CONSUMERS), help="redrive this consumer's DLQs")
    p.add_argument("--wait", type=float, default=120, help="seconds to wait for the move tasks")
    args = p.parse_args()
    stack = Stack()
    sqs = stack.client("sqs")

    if not args.queue:
        for name, (_, dlqs) in CONSUMERS.items():
            for key in dlqs:
                print(f"{name:13} {key.removesuffix('Url'):30} {depth(sqs, stack.outputs[key])}")
        return 0

    target_key, dlqs = CONSUMERS[args.queue]
    target = arn(sqs, stack.outputs[target_key])
    tasks = []
    for key in dlqs:
        n = depth(sqs, stack.outputs[key])
        if n == 0:
            continue
        source = arn(sqs, stack.outputs[key])
        sqs.start_message_move_task(SourceArn=source, DestinationArn=target)
        print(f"moving {n} message(s) {key.removesuffix('Url')} -> {target_key.removesuffix('Url')}")
        tasks.append(source)
    # Wait for the tasks, not for empty DLQs: a message that still fails comes back to them.
    for source in tasks:

        def task(source: str = source) -> dict:
            # Most recent first; AWS shows the handle only while the task runs.
            results = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"]
            return results[0] if results else {"Status": "RUNNING"}

        done = wait_for(
            task, lambda t: t["Status"] in ("COMPLETED", "FAILED", "CANCELLED"), args.wait, f"the move task of {source}"
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
