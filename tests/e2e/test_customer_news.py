"""What customers are told: one message per status change that applied to their order, and
never a message older than one already sent for that order (issue "Every order ends right",
item 1). Driven through the API, with consumer outages and AWS faults to force the races."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

import pytest

from conftest import LIFE, inventory_paused, mapping_paused, new_customer, new_sku, wait_drained, wait_told
from orders_client import wait_for

# Each test pauses a mapping or sets fault rules to force its race: one at a time (conftest.py).
pytestmark = [pytest.mark.serial, pytest.mark.also_under_faults]


def test_orders_cancelled_while_pending_are_never_told_confirmed(stack, tap, faults):
    """Ten orders placed, then cancelled, while inventory is down: inventory then reserves (the
    OrderPlaced events are ahead of the cancels in its queue, so they come in the first batch)
    and releases each. Order-status cannot confirm a cancelled order, so no customer hears
    "confirmed"; each hears "cancelled". The mapping runs batches side by side, so a cancel can
    overtake its placement and leave a tombstone (a conditional PutItem) before the reservation
    (a transaction): inventory's PutItem calls are slowed by a fault rule meanwhile, so the
    placements come first and the race this is about happens."""
    skus = [new_sku() for _ in range(10)]
    for sku in skus:
        stack.set_stock(sku, 100)
    with inventory_paused(stack):

        def place(i: int) -> str:
            r = stack.place_accepted(new_customer(), [(skus[i], 1 + i % 3)])
            assert r.status == 202, r.text
            return r.body["order_id"]

        def cancel(order_id: str) -> None:
            path = f"/orders/{order_id}/cancel"
            c = stack.as_client(lambda: stack.call("POST", path, {"reason": "changed my mind"}))
            assert c.status == 202, c.text

        with ThreadPoolExecutor(10) as pool:
            ids = list(pool.map(place, range(10)))
            list(pool.map(cancel, ids))
        faults.add(f"dynamodb:PutItem:none:1:latency=500ms:function={stack.outputs['InventoryFunctionName']}")
    for order_id in ids:
        assert stack.wait_status(order_id, {"CANCELLED"})["status"] == "CANCELLED"
        wait_told(stack, order_id, "order_cancelled", ["order_placed", "order_cancelled"])
    # Inventory has had its say (reserved and released), order-status has ignored the late
    # reservations, and the notification queue is empty: nothing more can be told.
    for queue in ("InventoryQueueUrl", "OrderStatusQueueUrl", "NotificationQueueUrl"):
        wait_drained(stack, queue)
    for sku in skus:
        wait_for(
            partial(stack.product, sku), lambda p: (p["available"], p["reserved"]) == (100, 0), 60, "all stock released"
        )
    # The race this is about: inventory reserved for orders already cancelled. (Under fault
    # rules a delayed OrderPlaced may meet its cancel's tombstone instead; not all must.)
    assert any(tap.events(o, "InventoryReserved") for o in ids), "no reservation to ignore"
    for order_id in ids:
        kinds = {n["kind"] for n in stack.notifications_for(order_id)}
        assert "order_confirmed" not in kinds, (order_id, kinds)
        changes = {c["data"]["status"] for c in tap.events(order_id, "OrderStatusChanged")}
        assert changes == {"CANCELLED"}, changes


def test_a_received_message_delayed_past_cancelled_is_never_sent(stack, tap):
    """SQS does not keep order: the customer's "received" is held back (taken off the queue
    while notification is down, as a slow redelivery would) until the order is cancelled and
    "cancelled" has been sent. Delivered then, "received" is older than what the customer has
    heard: it is dropped, not sent."""
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 5)
    sqs = stack.client("sqs")
    queue = stack.outputs["NotificationQueueUrl"]
    with inventory_paused(stack):
        with mapping_paused(stack, "NotificationFunctionName"):
            r = stack.place(customer, [(sku, 1)])
            assert r.status == 202, r.text
            order_id = r.body["order_id"]

            def held():
                msgs = sqs.receive_message(
                    QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
                ).get("Messages", [])
                mine = [m for m in msgs if order_id in m["Body"]]
                for m in msgs:  # others go back at once
                    if m not in mine:
                        sqs.change_message_visibility(
                            QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                        )
                return mine

            received = wait_for(held, bool, 30, "the 'received' message in the notification queue")[0]
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=received["ReceiptHandle"])
        c = stack.call("POST", f"/orders/{order_id}/cancel", {})
        assert c.status == 202, c.text
        assert wait_told(stack, order_id, "order_cancelled", ["order_cancelled"]) == ["order_cancelled"]
        # Now the held message arrives, the way a late redelivery would.
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=received["Body"],
            MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderPlaced"}},
        )
        wait_drained(stack, "NotificationQueueUrl")
    assert '"type":"OrderPlaced"' in received["Body"], received["Body"]  # "received" is told from it
    assert [n["kind"] for n in stack.notifications_for(order_id)] == ["order_cancelled"]
    sent = tap.events(order_id, "CustomerNotified")
    assert len(sent) == 1 and "cancelled" in sent[0]["data"]["subject"], sent


def _ms(at: str) -> int:
    """Epoch ms of an RFC 3339 UTC time as the store writes it (`...T12:00:00.123Z`)."""
    return int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)


def test_one_orders_news_goes_out_one_message_at_a_time(stack, faults):
    """Thirty orders' PENDING and CONFIRMED wait in the notification queue together, then the
    mapping runs them in batches side by side (in the stage that delivers as AWS may, out of
    order and in 1 s batching windows). Two messages of one order published at once could reach
    SNS in either order, so a newer one is claimed only once the older one is out: for every
    order, each message's publish started (`publish_started`) after the previous one's ended
    (`sent_at`). (The claim's own time is no proof: it is taken before the claim's attempts.)"""
    sku = new_sku()
    stack.set_stock(sku, 1000)
    # Publishes that take a while (300 ms each) give two workers time to overlap.
    faults.add(f"sns:Publish:none:1:latency=300ms:function={stack.outputs['NotificationFunctionName']}")
    with mapping_paused(stack, "NotificationFunctionName"):
        with ThreadPoolExecutor(10) as pool:
            ids = list(pool.map(lambda _: stack.place_accepted(new_customer(), [(sku, 1)]).body["order_id"], range(30)))
        # Confirmed, or (a placement whose publish failed ambiguously and was retried) cancelled
        # by the release of its first reservation: either way the order has news to tell.
        ended = [stack.wait_status(order_id, {"CONFIRMED", "CANCELLED"})["status"] for order_id in ids]
    assert ended.count("CONFIRMED") >= len(ids) - 3, ended
    for queue in ("InventoryQueueUrl", "OrderStatusQueueUrl", "NotificationQueueUrl"):
        wait_drained(stack, queue)
    overlaps = []
    for order_id in ids:
        wait_told(stack, order_id, LIFE[stack.order(order_id)["status"]], list(LIFE.values()))
        sent = sorted(
            (r for r in stack.notifications_for(order_id) if r["state"] == "SENT"), key=lambda r: int(r["seq"])
        )
        for older, newer in itertools.pairwise(sent):
            if _ms(newer["publish_started"]) < _ms(older["sent_at"]):
                overlaps.append((order_id, older["kind"], newer["kind"]))
    assert not overlaps, f"a newer message was published while an older one was still going out: {overlaps}"
