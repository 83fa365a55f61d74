"""`make redrive` for both kinds of DLQ a consumer has, in ways that work on AWS: its queue's
redrive DLQ with StartMessageMoveTask, its SNS subscription's DLQ by receive, send and delete
(SQS refuses a move task from a DLQ that no SQS queue names, as on AWS; the strict local stack
refuses it too, so the old way fails here as it would there)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import new_customer, new_sku
from local_aws import ROOT
from orders_client import wait_for

# It moves whole DLQs: one at a time (conftest.py).
pytestmark = pytest.mark.serial

SAMPLE = os.path.join(ROOT, "events", "samples", "OrderPlaced.json")
ORDER_PLACED = {"type": {"DataType": "String", "StringValue": "OrderPlaced"}}


def order_placed(sku: str, customer: str) -> dict:
    """The sample OrderPlaced (events/samples) for a new order of one unit of `sku`."""
    with open(SAMPLE) as f:
        event = json.load(f)
    event.update(id=str(uuid.uuid4()), order_id=str(uuid.uuid4()))
    event.pop("trace_id", None)
    event["data"] = {"customer_id": customer, "lines": [{"sku": sku, "quantity": 1}]}
    return event


def queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_redrive_moves_both_dlqs_back_to_the_consumer(stack, tap):
    sqs = stack.client("sqs")
    sku = new_sku()
    stack.set_stock(sku, 5)
    # An event SNS could not deliver (in the subscription DLQ, as a raw delivery leaves it), and
    # one the consumer kept failing (in its queue's DLQ).
    undelivered, failed = order_placed(sku, new_customer()), order_placed(sku, new_customer())
    sub_dlq, dlq = stack.outputs["InventorySubscriptionDLQUrl"], stack.outputs["InventoryDLQUrl"]
    sqs.send_message(QueueUrl=sub_dlq, MessageBody=json.dumps(undelivered), MessageAttributes=ORDER_PLACED)
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(failed), MessageAttributes=ORDER_PLACED)
    wait_for(lambda: stack.queue_depth("InventorySubscriptionDLQUrl")[0], lambda n: n >= 1, 10, "the DLQ message")

    # The old way: a move task from the subscription DLQ, refused as AWS refuses it.
    with pytest.raises(ClientError) as refused:
        sqs.start_message_move_task(
            SourceArn=queue_arn(sqs, sub_dlq), DestinationArn=queue_arn(sqs, stack.outputs["InventoryQueueUrl"])
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert stack.queue_depth("InventorySubscriptionDLQUrl")[0] >= 1

    out = subprocess.run(
        [sys.executable, "redrive.py", "--queue", "inventory", "--rate", "50"],
        cwd=os.path.join(ROOT, "scripts", "ops"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"moving \d+ message\(s\) InventorySubscriptionDLQ -> InventoryQueue \(receive", out.stdout)
    assert re.search(r"moving \d+ message\(s\) InventoryDLQ -> InventoryQueue \(move task\)", out.stdout)
    moved = [int(n) for n in re.findall(r"moved (\d+) message\(s\)", out.stdout)]
    assert len(moved) == 2 and all(n >= 1 for n in moved), out.stdout

    # The consumer got both: it reserved each order's unit.
    for event in (undelivered, failed):
        tap.wait_event(event["order_id"], "InventoryReserved")
    assert stack.queue_depth("InventorySubscriptionDLQUrl") == (0, 0)
