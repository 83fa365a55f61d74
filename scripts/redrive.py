"""Operator's view of the dead-letter queues: their depth, and moving their messages back to the
consumer queue once the cause is fixed (SQS StartMessageMoveTask, at most 50 messages/s).

    make dlq                        # depth of every DLQ
    make redrive QUEUE=inventory    # inventory DLQ + inventory subscription DLQ -> inventory queue

Messages from a subscription DLQ (SNS could not deliver them) go to the same consumer queue:
they are events that never arrived there.
"""

import argparse
import sys

from orders_client import Stack, wait_for

CONSUMERS = {
    "inventory": ("InventoryQueueUrl", ["InventoryDLQUrl", "InventorySubscriptionDLQUrl"]),
    "order-status": ("OrderStatusQueueUrl", ["OrderStatusDLQUrl", "OrderStatusSubscriptionDLQUrl"]),
    "notification": ("NotificationQueueUrl", ["NotificationDLQUrl", "NotificationSubscriptionDLQUrl"]),
}


def arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--queue", choices=sorted(CONSUMERS), help="redrive this consumer's DLQs")
    p.add_argument("--wait", type=float, default=60, help="seconds to wait for the DLQs to empty")
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
    moved = []
    for key in dlqs:
        url = stack.outputs[key]
        n = depth(sqs, url)
        if n == 0:
            continue
        task = sqs.start_message_move_task(SourceArn=arn(sqs, url), DestinationArn=target)
        print(f"moving {n} message(s) {key.removesuffix('Url')} -> {target_key.removesuffix('Url')} (task {task['TaskHandle'][:16]}...)")
        moved.append(url)
    for url in moved:
        wait_for(lambda: depth(sqs, url), lambda d: d == 0, args.wait, f"{url} to empty")
    print("done" if moved else "nothing to redrive")
    return 0


if __name__ == "__main__":
    sys.exit(main())
