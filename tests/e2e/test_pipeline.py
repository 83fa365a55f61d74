"""End-to-end tests: the deployed stack in LocalStack, driven through its API and AWS APIs.

Every wait polls a condition with a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

import pytest

from conftest import inventory_paused, new_customer, new_sku, status_changed, wait_drained, wait_told
from local_aws import ROOT
from orders_client import wait_for

SETTLED = {"CONFIRMED", "REJECTED", "CANCELLED"}


def place_ok(stack, customer, lines, key=None) -> str:
    r = stack.place_accepted(customer, lines, key=key)
    assert r.status == 202, f"{r.status} {r.text}"
    assert r.body["status"] == "PENDING"
    assert r.headers.get("location", "").endswith(f"/orders/{r.body['order_id']}")
    return r.body["order_id"]


def notification_kinds(stack, order_id) -> list[str]:
    return sorted(n.get("kind") for n in stack.notifications_for(order_id))


# 1 -------------------------------------------------------------------------------------------
@pytest.mark.also_under_faults
def test_happy_path_confirms_reserves_and_notifies(stack, tap):
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 5)

    order_id = place_ok(stack, customer, [(sku, 2)])
    order = stack.wait_status(order_id, SETTLED)

    assert order["status"] == "CONFIRMED"
    assert [h["status"] for h in order["history"]] == ["PENDING", "CONFIRMED"]
    assert order["lines"] == [{"sku": sku, "quantity": 2}]
    product = stack.product(sku)
    assert (product["available"], product["reserved"]) == (3, 2)

    # One message per applied status change, published on the customer-notifications topic.
    told = wait_told(stack, order_id, "order_confirmed", ["order_placed", "order_confirmed"])
    # Published at least once each (a publish whose record was not marked is sent again, with
    # the same event id).
    published = wait_for(
        lambda: list({e["id"]: e for e in tap.events(order_id, "CustomerNotified")}.values()),
        lambda e: len(e) >= len(told),
        60,
        "the CustomerNotified messages",
    )
    # "Received" is told from OrderPlaced (the placement publishes no PENDING status change);
    # delivered after the confirmation (AWS may reorder), it is never told (wait_told).
    source = {"order_placed": "OrderPlaced", "order_confirmed": "OrderStatusChanged"}
    assert sorted(e["data"]["source_type"] for e in published) == sorted(source[k] for k in told)
    assert all(e["data"]["customer_id"] == customer for e in published)
    changes = tap.events(order_id, "OrderStatusChanged")
    assert {(c["data"]["status"], c["data"]["seq"]) for c in changes} == {("CONFIRMED", 2)}


# 2 -------------------------------------------------------------------------------------------
@pytest.mark.also_under_faults
def test_out_of_stock_rejects_naming_the_sku_and_changes_no_stock(stack, tap):
    plenty, short, customer = new_sku(), new_sku(), new_customer()
    stack.set_stock(plenty, 10)
    stack.set_stock(short, 1)

    order_id = place_ok(stack, customer, [(plenty, 3), (short, 2)])
    order = stack.wait_status(order_id, SETTLED)

    assert order["status"] == "REJECTED"
    rejected = tap.wait_event(order_id, "InventoryRejected")
    assert rejected[0]["data"]["short_skus"] == [short]
    assert short in json.dumps(order["history"][-1])
    for sku, stock in ((plenty, 10), (short, 1)):
        product = stack.product(sku)
        assert (product["available"], product["reserved"]) == (stock, 0), sku
    wait_told(stack, order_id, "order_rejected", ["order_placed", "order_rejected"])
    note = next(n for n in stack.notifications_for(order_id) if n["kind"] == "order_rejected")
    # The text travels in CustomerNotified (the table keeps only what stops a duplicate).
    told = wait_for(
        lambda: [
            e for e in tap.events(order_id, "CustomerNotified") if e["data"]["source_event_id"] == note["event_id"]
        ],
        bool,
        60,
        "the rejection's CustomerNotified",
    )
    assert short in told[0]["data"]["message"], told[0]["data"]


@pytest.mark.also_under_faults
def test_an_order_too_large_for_one_reservation_is_rejected_with_its_reason_at_once(stack, tap):
    """13 lines of 8 units, each SKU's 8 units one per shard of 8: reserving needs 104 stock
    items, over DynamoDB's 100 per transaction. Not a retry (five receives, the DLQ, a timeout
    15 minutes later): rejected on its first delivery, saying why."""
    skus, customer = [new_sku() for _ in range(13)], new_customer()
    for sku in skus:
        assert stack.set_stock(sku, 8, shards=8).status in (200, 201)
    order_id = place_ok(stack, customer, [(sku, 8) for sku in skus])
    # Within the usual minute: under the pinned fault rules its 13 snapshot reads and the
    # transaction meet throttles and conflicts, and the record is retried a few times first.
    order = stack.wait_status(order_id, SETTLED)
    assert order["status"] == "REJECTED"
    reason = order["history"][-1].get("reason", "")
    assert "stock items" in reason, order["history"]
    rejected = tap.wait_event(order_id, "InventoryRejected")
    assert rejected[0]["data"]["reason"] == reason
    for sku in skus[:3]:
        product = stack.product(sku)
        assert (product["available"], product["reserved"]) == (8, 0), sku
    wait_told(stack, order_id, "order_rejected", ["order_placed", "order_rejected"])


# 3 -------------------------------------------------------------------------------------------
@pytest.mark.also_under_faults
@pytest.mark.serial  # pauses inventory and waits for queues to drain
def test_cancel_after_confirm_restores_stock_exactly_once(stack, tap):
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 4)
    order_id = place_ok(stack, customer, [(sku, 3)])
    assert stack.wait_status(order_id, SETTLED)["status"] == "CONFIRMED"

    # The OrderCancelled waits in the inventory queue with five redeliveries of itself, so one
    # batch handles all six concurrently while the reservation is still RESERVED: only the
    # release's condition, not a read before it, can keep the stock from coming back 6 times.
    with inventory_paused(stack):
        r = stack.call("POST", f"/orders/{order_id}/cancel")
        assert r.status in (200, 202), r.text
        assert r.body["status"] == "CANCELLED"
        cancelled = tap.wait_event(order_id, "OrderCancelled")[0]
        stack.client("sqs").send_message_batch(
            QueueUrl=stack.outputs["InventoryQueueUrl"],
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(cancelled),
                    "MessageAttributes": {"type": {"DataType": "String", "StringValue": "OrderCancelled"}},
                }
                for i in range(5)
            ],
        )
        wait_for(lambda: stack.queue_depth("InventoryQueueUrl")[0], lambda n: n >= 6, 30, "six OrderCancelled waiting")
    tap.wait_event(order_id, "InventoryReleased")
    wait_drained(stack, "InventoryQueueUrl")
    product = stack.product(sku)
    assert (product["available"], product["reserved"]) == (4, 0)

    again = stack.call("POST", f"/orders/{order_id}/cancel")
    assert again.status in (200, 202), again.text
    assert again.body["status"] == "CANCELLED"
    wait_drained(stack, "InventoryQueueUrl")
    wait_drained(stack, "OrderStatusQueueUrl")
    product = stack.product(sku)
    assert (product["available"], product["reserved"]) == (4, 0)
    assert len({e["id"] for e in tap.events(order_id, "OrderCancelled")}) == 1
    assert len({e["id"] for e in tap.events(order_id, "InventoryReleased")}) == 1
    order = stack.order(order_id)
    assert order["status"] == "CANCELLED"
    assert [h["status"] for h in order["history"]] == ["PENDING", "CONFIRMED", "CANCELLED"]


def test_cancel_of_rejected_order_is_refused(stack):
    sku = new_sku()
    stack.set_stock(sku, 0)
    order_id = place_ok(stack, new_customer(), [(sku, 1)])
    assert stack.wait_status(order_id, SETTLED)["status"] == "REJECTED"
    r = stack.call("POST", f"/orders/{order_id}/cancel")
    assert r.status == 409, r.text
    assert r.body["error"]


# 4 -------------------------------------------------------------------------------------------
@pytest.mark.also_under_faults
@pytest.mark.serial  # waits for the queues to drain
def test_idempotency_key_returns_the_same_order_once(stack, tap):
    sku, customer, key = new_sku(), new_customer(), f"key-{uuid.uuid4()}"
    stack.set_stock(sku, 5)

    first = stack.place(customer, [(sku, 1)], idempotency_key=key)
    second = stack.place(customer, [(sku, 1)], idempotency_key=key)
    assert first.status == 202, first.text
    assert second.status in (200, 202), second.text
    order_id = first.body["order_id"]
    assert second.body["order_id"] == order_id

    assert stack.wait_status(order_id, SETTLED)["status"] == "CONFIRMED"
    wait_drained(stack, "InventoryQueueUrl")
    assert len({e["id"] for e in tap.events(order_id, "OrderPlaced")}) == 1
    assert stack.product(sku)["available"] == 4

    other = stack.place(customer, [(sku, 2)], idempotency_key=key)
    assert other.status == 409, other.text
    assert other.body["error"] == "idempotency_key_reused"


# 5 -------------------------------------------------------------------------------------------
@pytest.mark.also_under_faults
@pytest.mark.serial  # waits for the queues to drain
def test_duplicate_delivery_reserves_and_notifies_once(stack, tap):
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 6)
    order_id = place_ok(stack, customer, [(sku, 2)])
    assert stack.wait_status(order_id, SETTLED)["status"] == "CONFIRMED"
    placed = tap.wait_event(order_id, "OrderPlaced")[0]

    # The same OrderPlaced, delivered twice more, the way SNS/SQS may redeliver it.
    sqs = stack.client("sqs")
    for _ in range(2):
        sqs.send_message(
            QueueUrl=stack.outputs["InventoryQueueUrl"],
            MessageBody=json.dumps(placed),
            MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderPlaced"}},
        )
    wait_drained(stack, "InventoryQueueUrl")
    wait_drained(stack, "NotificationQueueUrl")

    product = stack.product(sku)
    assert (product["available"], product["reserved"]) == (4, 2)
    reservations = stack.table("ReservationsTableName")
    assert reservations.get_item(Key={"order_id": order_id})["Item"]["status"] == "RESERVED"
    # Redelivery may republish the outcome, always under the same event id.
    assert len({e["id"] for e in tap.events(order_id, "InventoryReserved")}) == 1
    told = wait_told(stack, order_id, "order_confirmed", ["order_placed", "order_confirmed"])
    sent = len(tap.events(order_id, "CustomerNotified"))

    # The status change itself, delivered twice more to notification: told once.
    confirmed = [c for c in tap.events(order_id, "OrderStatusChanged") if c["data"]["status"] == "CONFIRMED"]
    for _ in range(2):
        sqs.send_message(
            QueueUrl=stack.outputs["NotificationQueueUrl"],
            MessageBody=json.dumps(confirmed[0]),
            MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderStatusChanged"}},
        )
    wait_drained(stack, "NotificationQueueUrl")
    assert wait_told(stack, order_id, "order_confirmed", ["order_placed", "order_confirmed"]) == told
    assert len(tap.events(order_id, "CustomerNotified")) == sent
    assert stack.queue_depth("InventoryDLQUrl") == (0, 0)


# 6 -------------------------------------------------------------------------------------------
@pytest.mark.serial  # waits for the notification queue to drain
def test_poison_message_reaches_dlq_and_batch_mates_succeed(stack, poison):
    # The batch went out before the other tests (conftest.PoisonBatch); the good ones are
    # handled on their first delivery, while the poison one keeps failing.
    for order_id in (e["order_id"] for e in poison.good):
        wait_for(
            partial(notification_kinds, stack, order_id),
            lambda k: k == ["order_placed"],
            30,
            f"notification for {order_id}",
        )

    # 5 receives x 30 s visibility locally: about 2.5 minutes after the batch was sent.
    wait_for(poison.seen_in_dlq, lambda b: poison.marker in b, 240, "poison message in the notification DLQ")
    wait_drained(stack, "NotificationQueueUrl")  # nothing of the batch still in flight
    good_ids = {e["id"] for e in poison.good}
    assert not [b for b in poison.seen_in_dlq() if any(i in b for i in good_ids)], "a batch-mate reached the DLQ"
    for e in poison.good:
        assert notification_kinds(stack, e["order_id"]) == ["order_placed"]

    # What the operator sees of it (before a later test redrives it): `make dlq` shows the
    # message in its DLQ with the first failure its consumer logged for it.
    out = subprocess.run(["make", "-s", "dlq", "SHOW=10"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = next((i for i, line in enumerate(lines) if poison.marker in line), None)
    assert at is not None, out.stdout
    assert next(x for x in reversed(lines[:at]) if not x.startswith(" ")).split()[:2] == [
        "notification",
        "NotificationDLQ",
    ]
    # (the receive count is the DLQ's own: every peek at it, the session's watcher's too, adds one)
    assert re.search(r"sent \S+ \S+Z, received \d+x$", lines[at - 1]), lines[at - 1]
    assert re.match(r"\s+first failure: \S+ unparseable message body", lines[at + 1]), lines[at + 1]


# 7 -------------------------------------------------------------------------------------------
# Under pinned faults once: one stock item, where injected conflicts meet the real ones.
@pytest.mark.parametrize("shards", [pytest.param(1, marks=pytest.mark.also_under_faults), 8])
def test_no_oversell_under_concurrent_orders(stack, shards):
    sku = new_sku()
    stack.set_stock(sku, 10, shards=shards)

    def one(_):
        return place_ok(stack, new_customer(), [(sku, 1)])

    with ThreadPoolExecutor(max_workers=10) as pool:
        order_ids = list(pool.map(one, range(50)))
    assert len(set(order_ids)) == 50

    final = stack.wait_settled(order_ids, 180, SETTLED)
    assert final.count("CONFIRMED") == 10
    assert final.count("REJECTED") == 40
    product = stack.product(sku)
    assert (product["available"], product["reserved"]) == (0, 10), product
    # Inventory may have spread a contended SKU by itself (never lowering a count).
    assert product["shards"] >= shards, product


# 8 -------------------------------------------------------------------------------------------
# fmt: off
BAD_REQUESTS = [
    # name, method, path, raw body, expected status, expected field (None: no field)
    ("malformed json", "POST", "/orders", '{"customer_id": "c1", "lines": [', 400, "body"),
    ("not an object", "POST", "/orders", "[1, 2]", 400, "body"),
    ("wrong type", "POST", "/orders", '{"customer_id": 7, "lines": [{"sku": "A-1", "quantity": 1}]}', 400, "customer_id"),
    ("another customer", "POST", "/orders", '{"customer_id": "someone-else", "lines": [{"sku": "A-1", "quantity": 1}]}', 400, "customer_id"),
    ("missing lines", "POST", "/orders", '{"customer_id": "CUST"}', 400, "lines"),
    ("no lines", "POST", "/orders", '{"customer_id": "CUST", "lines": []}', 400, "lines"),
    ("quantity 0", "POST", "/orders", '{"customer_id": "CUST", "lines": [{"sku": "A-1", "quantity": 0}]}', 400, "lines[0].quantity"),
    ("negative quantity", "POST", "/orders", '{"customer_id": "CUST", "lines": [{"sku": "A-1", "quantity": -3}]}', 400, "lines[0].quantity"),
    ("huge quantity", "POST", "/orders", '{"customer_id": "CUST", "lines": [{"sku": "A-1", "quantity": 1000000000000}]}', 400, "lines[0].quantity"),
    ("bad sku", "POST", "/orders", '{"customer_id": "CUST", "lines": [{"sku": "no spaces!", "quantity": 1}]}', 400, "lines[0].sku"),
    ("too many lines", "POST", "/orders",
     json.dumps({"customer_id": "CUST", "lines": [{"sku": f"A-{i}", "quantity": 1} for i in range(51)]}), 400, "lines"),
    ("oversize body", "POST", "/orders", json.dumps({"customer_id": "CUST", "lines": [{"sku": "A-1", "quantity": 1}], "pad": "x" * 20000}), 413, None),
    ("unknown route", "GET", "/nope", None, 404, None),
    ("wrong method", "DELETE", "/orders", None, 405, None),
    ("unknown order", "GET", "/orders/does-not-exist", None, 404, None),
    ("bad page size", "GET", "/orders?limit=0", None, 400, "limit"),
    ("forged cursor", "GET", "/orders?cursor=bm90LWEtY3Vyc29y", None, 400, "cursor"),
    ("bad stock", "PUT", "/products/A-1", '{"available": -1}', 400, "available"),
    ("too many shards", "PUT", "/products/A-1", '{"available": 1, "shards": 33}', 400, "shards"),
    ("no shards", "PATCH", "/products/A-1", '{"shards": 0}', 400, "shards"),
    ("delta and shards", "PATCH", "/products/A-1", '{"delta": 1, "shards": 2}', 400, "shards"),
]
# fmt: on


@pytest.mark.parametrize("name,method,path,raw,status,field", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input_gets_a_json_4xx(stack, name, method, path, raw, status, field):
    customer = new_customer()
    raw = raw.replace("CUST", customer) if raw else raw
    # As the customer the body names (stock writes as the operator, who may make them)
    r = stack.call(method, path, raw=raw, user=None if path.startswith("/products") else customer)
    assert r.status == status, f"{name}: {r.status} {r.text}"
    assert isinstance(r.body, dict) and r.body.get("error") and r.body.get("message"), r.text
    if field is not None:
        assert r.body.get("field") == field, r.text


def test_bad_input_stores_and_publishes_nothing(stack, tap):
    customer = new_customer()
    for _, method, path, raw, _, _ in BAD_REQUESTS:
        if method == "POST" and raw is not None:
            stack.call(method, path, raw=raw.replace("CUST", customer))
    # A valid order from the same customer is the fence: once its event is seen, any event of
    # the bad requests, published before it, would have been seen too.
    sku = new_sku()
    stack.set_stock(sku, 1)
    fence = place_ok(stack, customer, [(sku, 1)])
    tap.wait_event(fence, "OrderPlaced")
    placed = [e for e in tap.events(type_="OrderPlaced") if e["data"]["customer_id"] == customer]
    # Publishing is at least once (a republished outbox repeats the same event id).
    assert {(e["order_id"], e["id"]) for e in placed} == {(fence, placed[0]["id"])}
    orders = stack.scan_all("OrdersTableName")
    assert [o["order_id"] for o in orders if o.get("customer_id") == customer] == [fence]


# 9 -------------------------------------------------------------------------------------------
@pytest.mark.serial  # pauses inventory
def test_consumer_outage_lets_orders_wait_and_none_are_lost(stack):
    sku = new_sku()
    stack.set_stock(sku, 10)
    with inventory_paused(stack):
        order_ids = [place_ok(stack, new_customer(), [(sku, 1)]) for _ in range(3)]
        wait_for(
            lambda: stack.queue_depth("InventoryQueueUrl")[0],
            lambda n: n >= 3,
            30,
            "orders waiting in the inventory queue",
        )
        assert all(stack.order(o)["status"] == "PENDING" for o in order_ids)
    for o in order_ids:
        assert stack.wait_status(o, SETTLED, timeout=90)["status"] == "CONFIRMED"
    assert stack.product(sku)["available"] == 7


# 10 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"x-api-key": "not-the-key"}], ids=["no key", "wrong key"])
def test_calls_without_the_api_key_are_forbidden(stack, headers):
    r = stack.call("GET", "/products/A-1", api_key=False, headers=headers)
    assert r.status == 403, r.text
    r = stack.call(
        "POST",
        "/orders",
        {"customer_id": "x", "lines": [{"sku": "A-1", "quantity": 1}]},
        api_key=False,
        headers=headers,
    )
    assert r.status == 403, r.text


# 11 ------------------------------------------------------------------------------------------
@pytest.mark.also_under_faults
@pytest.mark.serial  # sets fault rules
def test_outbox_sweeper_publishes_an_order_left_unpublished_by_a_crash(stack, tap):
    """The API crashed after storing the order and before publishing OrderPlaced: the order's
    item still carries its pending event. The sweeper (scheduled every minute; invoked here so
    the test need not wait for the schedule) publishes it and the order flows on."""
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 3)
    order_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    at = "2026-01-01T00:00:00.000Z"  # long past the grace period
    event = {
        "id": event_id,
        "type": "OrderPlaced",
        "version": 1,
        "occurred_at": at,
        "order_id": order_id,
        "data": {"customer_id": customer, "lines": [{"sku": sku, "quantity": 1}]},
    }
    news = status_changed(order_id, "PENDING", 1, customer)
    stack.table("OrdersTableName").put_item(
        Item={
            "order_id": order_id,
            "customer_id": customer,
            "status": "PENDING",
            "lines": [{"sku": sku, "quantity": 1}],
            "history": [{"status": "PENDING", "at": at}],
            "created_at": at,
            "updated_at": at,
            "outbox_events": [json.dumps(event), json.dumps(news)],
            "outbox_id": event_id,
            "outbox_pending": "1",
            "outbox_since": at,
        }
    )

    lam = stack.client("lambda")
    resp = lam.invoke(FunctionName=stack.outputs["OutboxSweeperFunctionName"], Payload=b"{}")
    assert "FunctionError" not in resp, resp["Payload"].read()
    summary = json.loads(resp["Payload"].read())
    assert summary["failed"] == 0, summary

    assert stack.wait_status(order_id, SETTLED)["status"] == "CONFIRMED"
    # The scheduled sweep may find the item too and publish it again: at-least-once, same id.
    assert {e["id"] for e in tap.wait_event(order_id, "OrderPlaced")} == {event_id}
    wait_told(stack, order_id, "order_confirmed", ["order_placed", "order_confirmed"])

    # Under faults a writer's clear can fail after its publish (the events went out); the
    # sweeper's next pass (every minute, past the grace period) republishes and clears.
    def outbox() -> dict:
        item = stack.table("OrdersTableName").get_item(Key={"order_id": order_id}, ConsistentRead=True)["Item"]
        return {k: item[k] for k in ("outbox_pending", "outbox_events") if k in item}

    wait_for(outbox, lambda o: not o, 150, "the order's outbox to be cleared")


# 12 ------------------------------------------------------------------------------------------
ABANDONED_REASON = "order not found: abandoned reservation released"


def _at(event: dict) -> datetime:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))


@pytest.mark.also_under_faults
@pytest.mark.serial  # waits for the queues to drain
def test_an_abandoned_reservation_is_released(stack, tap):
    """The API's publish of OrderPlaced timed out after SNS took it, so the API deleted the
    order and answered 503: inventory still reserves. Order-status finds no such order and
    publishes OrderCancelled, and inventory gives the stock back."""
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 5)
    order_id = str(uuid.uuid4())  # never in the Orders table
    event = {
        "id": str(uuid.uuid4()),
        "type": "OrderPlaced",
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00.000Z",
        "order_id": order_id,
        "data": {"customer_id": customer, "lines": [{"sku": sku, "quantity": 2}]},
    }
    stack.client("sns").publish(
        TopicArn=stack.outputs["OrderEventsTopicArn"],
        Message=json.dumps(event),
        MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderPlaced"}},
    )

    reserved = tap.wait_event(order_id, "InventoryReserved")[0]
    cancelled = tap.wait_event(order_id, "OrderCancelled")[0]
    released = tap.wait_event(order_id, "InventoryReleased")[0]
    # Each is caused by the one before, so their times are in that order.
    assert _at(reserved) <= _at(cancelled) <= _at(released)
    assert cancelled["version"] == 1
    assert cancelled["data"] == {"customer_id": customer, "reason": ABANDONED_REASON}
    assert released["data"]["lines"] == [{"sku": sku, "quantity": 2}]

    wait_for(lambda: stack.product(sku), lambda p: (p["available"], p["reserved"]) == (5, 0), 60, "stock released")
    reservation = stack.table("ReservationsTableName").get_item(Key={"order_id": order_id})["Item"]
    assert reservation["status"] == "RELEASED"

    wait_drained(stack, "InventoryQueueUrl")
    wait_drained(stack, "OrderStatusQueueUrl")
    assert (stack.product(sku)["available"], stack.product(sku)["reserved"]) == (5, 0)
    assert len({e["id"] for e in tap.events(order_id, "OrderCancelled")}) == 1
    assert len({e["id"] for e in tap.events(order_id, "InventoryReleased")}) == 1
    # No order is created for it, and nothing failed on the way. The id holds only the record
    # of the reservation answered for it (so that an order placed under the id later, by a
    # retry, never applies that event), which is no order to the API.
    item = stack.table("OrdersTableName").get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")
    assert item is not None and "status" not in item and "customer_id" not in item, item
    assert item["applied_events"] == {reserved["id"]}, item
    assert stack.call("GET", f"/orders/{order_id}").status == 404
    for dlq in ("InventoryDLQUrl", "OrderStatusDLQUrl"):
        assert stack.queue_depth(dlq) == (0, 0), dlq


# 12 ------------------------------------------------------------------------------------------
@pytest.mark.serial  # moves a whole DLQ
def test_dlq_redrive_brings_messages_back_to_their_consumer(stack):
    """The operator's path once a failure's cause is fixed: `make redrive QUEUE=notification`
    moves what waits in the notification DLQs back to the notification queue."""
    sqs = stack.client("sqs")
    event = status_changed(str(uuid.uuid4()), "PENDING", 1)
    # As if it had failed its receives earlier, or SNS could not deliver it.
    sqs.send_message(
        QueueUrl=stack.outputs["NotificationDLQUrl"],
        MessageBody=json.dumps(event),
        MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderStatusChanged"}},
    )
    # (other tests' poison messages may wait there too; they are moved along and fail again)
    wait_for(lambda: stack.queue_depth("NotificationDLQUrl")[0], lambda n: n >= 1, 10, "DLQ depth")

    scripts = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "ops")
    out = subprocess.run(
        [sys.executable, "redrive.py", "--queue", "notification"],
        cwd=scripts,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "moving" in out.stdout, out.stdout
    wait_for(
        lambda: notification_kinds(stack, event["order_id"]),
        lambda k: k == ["order_placed"],
        60,
        "the redriven event's notification",
    )


def test_every_consumer_mapping_reports_item_failures_and_has_a_concurrency_cap(stack):
    lam = stack.client("lambda")
    # The cap deployed (2 locally, 10 on AWS by default: scripts/make/deploy-local.sh says why).
    params = stack.client("cloudformation").describe_stacks(StackName=stack.info["stack"])["Stacks"][0]
    cap = int(next(p["ParameterValue"] for p in params["Parameters"] if p["ParameterKey"] == "ConsumerMaxConcurrency"))
    for fn in ("InventoryFunctionName", "OrderStatusFunctionName", "NotificationFunctionName"):
        mappings = lam.list_event_source_mappings(FunctionName=stack.outputs[fn])["EventSourceMappings"]
        assert len(mappings) == 1, (fn, mappings)
        m = mappings[0]
        assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"], fn
        assert m.get("ScalingConfig", {}).get("MaximumConcurrency") == cap, (fn, m.get("ScalingConfig"))


@pytest.mark.also_under_faults
def test_stock_is_never_overwritten_blindly(stack):
    """A restock written as an absolute number over a concurrent reservation would sell units
    twice: an existing product's stock is set only against the version read (If-Match), and a
    relative adjustment composes with reservations."""
    sku, customer = new_sku(), new_customer()
    r = stack.call("PUT", f"/products/{sku}", {"available": 5})
    assert (r.status, r.headers["etag"]) == (201, '"1"'), r.text
    read = stack.call("GET", f"/products/{sku}")
    assert read.body["version"] == 1

    order_id = place_ok(stack, customer, [(sku, 2)])
    assert stack.wait_status(order_id, SETTLED)["status"] == "CONFIRMED"

    r = stack.call("PUT", f"/products/{sku}", {"available": 10})
    assert (r.status, r.body["error"], r.body["field"]) == (428, "precondition_required", "If-Match"), r.text
    r = stack.call("PUT", f"/products/{sku}", {"available": 10}, headers={"If-Match": read.headers["etag"]})
    assert (r.status, r.body["error"]) == (412, "precondition_failed"), r.text
    assert stack.product(sku)["available"] == 3, "the reservation was not overwritten"

    r = stack.adjust_stock(sku, 5)
    assert r.status == 200, r.text
    assert (r.body["available"], r.body["reserved"]) == (8, 2)
    r = stack.adjust_stock(sku, -9)
    assert (r.status, r.body["error"]) == (409, "insufficient_stock"), r.text
    current = stack.call("GET", f"/products/{sku}")
    r = stack.call("PUT", f"/products/{sku}", {"available": 4}, headers={"If-Match": current.headers["etag"]})
    assert (r.status, r.body["available"], r.body["reserved"]) == (200, 4, 2), r.text


def test_idempotency_keys_belong_to_the_signed_in_customer(stack):
    """Two customers who happen to pick the same Idempotency-Key get two orders, and neither
    can reach the other's by replaying the key; one customer's key is theirs through any
    client application (API key)."""
    apigw = stack.client("apigateway")
    key_id = stack.outputs["ApiKeyId"]
    plan = next(p for p in apigw.get_usage_plans(keyId=key_id)["items"])
    other = apigw.create_api_key(name=f"e2e-second-client-{uuid.uuid4().hex[:8]}", enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=other["id"], keyType="API_KEY")
    try:
        sku = new_sku()
        stack.set_stock(sku, 5)
        body = {"lines": [{"sku": sku, "quantity": 1}]}
        alice, bob = new_customer(), new_customer()
        shared = {"Idempotency-Key": f"shared-{uuid.uuid4().hex}"}
        mine = stack.call("POST", "/orders", body, headers=shared, user=alice)
        theirs = stack.call("POST", "/orders", body, headers=shared, user=bob)
        assert (mine.status, theirs.status) == (202, 202), (mine.text, theirs.text)
        assert mine.body["order_id"] != theirs.body["order_id"], "one key, two customers, two orders"
        assert (mine.body["customer_id"], theirs.body["customer_id"]) == (alice, bob)
        again = stack.call("POST", "/orders", body, headers={**shared, "x-api-key": other["value"]}, user=alice)
        assert again.status == 202, again.text
        assert again.body["order_id"] == mine.body["order_id"], "the customer's key, whichever app sends it"
    finally:
        apigw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=other["id"])
        apigw.delete_api_key(apiKey=other["id"])


PENDING_TIMEOUT_REASON = "no stock decision within the pending timeout; nothing is reserved for this order"


@pytest.mark.serial  # pauses inventory
def test_an_order_pending_past_the_timeout_is_rejected_once_and_holds_no_stock(stack, tap):
    """Its OrderPlaced waits (inventory's mapping is off, as if the message sat in a DLQ) past
    the pending timeout: the sweeper (scheduled every minute; invoked here) rejects it with a
    reason, exactly once, and when inventory runs again it holds nothing for it, whichever of
    OrderPlaced and the sweeper's OrderCancelled it meets first."""
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 5)
    lam = stack.client("lambda")

    def sweep() -> dict:
        resp = lam.invoke(FunctionName=stack.outputs["OutboxSweeperFunctionName"], Payload=b"{}")
        assert "FunctionError" not in resp, resp["Payload"].read()
        return json.loads(resp["Payload"].read())

    with inventory_paused(stack):
        order_id = place_ok(stack, customer, [(sku, 2)])
        sweep()
        assert stack.order(order_id)["status"] == "PENDING", "young orders wait"
        # Age it past the timeout (deployed locally as 300 s): the pass reads created_at.
        stack.table("OrdersTableName").update_item(
            Key={"order_id": order_id},
            UpdateExpression="SET created_at = :old",
            ExpressionAttributeValues={":old": "2026-01-01T00:00:00.000Z"},
        )
        # This invocation or a scheduled one running at the same time (every minute) rejects
        # it; the loser finds it decided (`NotApplied`) and reports nothing expired.
        order = wait_for(
            lambda: (sweep(), stack.order(order_id))[1],
            lambda o: o["status"] == "REJECTED",
            30,
            "the timed-out order rejected by a sweep",
        )
        assert order["history"][-1]["reason"] == PENDING_TIMEOUT_REASON
        sweep()
        assert [h["status"] for h in stack.order(order_id)["history"]] == ["PENDING", "REJECTED"], "once"

    cancelled = tap.wait_event(order_id, "OrderCancelled")
    assert cancelled[0]["data"]["reason"] == PENDING_TIMEOUT_REASON
    wait_drained(stack, "InventoryQueueUrl")
    wait_drained(stack, "OrderStatusQueueUrl")
    assert (stack.product(sku)["available"], stack.product(sku)["reserved"]) == (5, 0)
    assert stack.order(order_id)["status"] == "REJECTED"
    assert len({e["id"] for e in tap.events(order_id, "OrderCancelled")}) == 1
