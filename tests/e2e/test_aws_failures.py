"""AWS calls that fail, hang or lose their answer, provoked with the extension's fault rules on
one function's calls (localstack/README.md "Fault rules").

When SNS refuses a publish for good (every attempt of the SDK fails), nothing is half done: the
API takes its order back and answers 503, and notification releases its claim so the
redelivery sends the message (these are also the paths that use the `DeleteItem` grants of both
functions, see scripts/make/iam_audit.py). A throttled publish is retried; a write whose answer is
lost is recognised as the request's own; a hung call is cut short by the SDK's timeouts."""

from __future__ import annotations

import time
import uuid

import pytest
from boto3.dynamodb.conditions import Attr

from conftest import inventory_paused, log_lines, new_customer, new_sku, span_field, wait_drained, wait_told
from orders_client import Response, wait_for

# Each test sets fault rules and counts what they did: one at a time (conftest.py).
pytestmark = pytest.mark.serial


def order_under(stack, faults, rule: str, quantity: int = 1, key: str | None = None) -> tuple[str, str, Response]:
    """A new SKU with 5 in stock, then `rule` added, then one order of a new customer for
    `quantity` units placed: (sku, customer, the API's answer)."""
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 5)
    faults.add(rule)
    return sku, customer, stack.place(customer, [(sku, quantity)], idempotency_key=key)


def rule_on(stack, rule: str, function_output: str) -> str:
    return f"{rule}:function={stack.outputs[function_output]}"


def orders_of(stack, customer: str) -> list[dict]:
    return stack.scan_all("OrdersTableName", FilterExpression=Attr("customer_id").eq(customer))


def test_a_publish_that_keeps_failing_stores_no_order_and_answers_503(stack, tap, faults):
    key = f"key-{uuid.uuid4().hex}"
    rule = rule_on(stack, "sns:Publish:InternalError:1", "OrdersApiFunctionName")
    sku, customer, r = order_under(stack, faults, rule, quantity=2, key=key)
    assert r.status == 503, r.text
    assert r.body["error"] == "unavailable"
    assert faults.rule(rule)["retried"] >= 2, "the SDK retried the 500 before giving up"
    assert orders_of(stack, customer) == [], "the order was taken back"

    faults.remove(rule)
    r = stack.place(customer, [(sku, 2)], idempotency_key=key)
    assert r.status == 202, r.text
    order_id = r.body["order_id"]
    assert stack.wait_status(order_id, {"CONFIRMED"})["status"] == "CONFIRMED"
    assert [o["order_id"] for o in orders_of(stack, customer)] == [order_id]
    assert stack.product(sku)["available"] == 3


def test_a_notification_whose_publish_fails_is_sent_on_redelivery(stack, tap, faults):
    rule = rule_on(stack, "sns:Publish:InternalError:1", "NotificationFunctionName")
    _, _, r = order_under(stack, faults, rule)
    assert r.status == 202, r.text
    order_id = r.body["order_id"]
    stack.wait_status(order_id, {"CONFIRMED"})
    wait_for(lambda: faults.rule(rule)["faulted"], lambda n: n >= 2, 60, "notification publishes to fail")

    # Each publish gives up before the invocation's deadline and its claim is released (not
    # left to expire): the claimed records go away while the rule still fails every attempt.
    # A claim below the order's high-water mark may stay (its worker cut off by the deadline
    # under the pinned fault rules): that message is superseded and can never be sent.
    def sendable_claims():
        hwm = int((stack.notification_item(order_id) or {}).get("hwm", 0))
        return [r for r in stack.notifications_for(order_id) if int(r["seq"]) >= hwm]

    wait_for(sendable_claims, lambda recs: recs == [], 30, "the claims that can still be sent to be released")
    assert all(r["state"] == "CLAIMED" for r in stack.notifications_for(order_id))
    assert tap.events(order_id, "CustomerNotified") == []

    faults.remove(rule)
    # Both failed; whichever redelivery comes first decides whether "received" still goes
    # out: never after "confirmed".
    told = wait_told(stack, order_id, "order_confirmed", ["order_placed", "order_confirmed"], timeout=90)
    wait_drained(stack, "NotificationQueueUrl")
    sent = tap.events(order_id, "CustomerNotified")
    # One message per kind told, each under the id of the status change it tells. Publishing
    # is at least once: under the pinned fault rules a publish whose answer was lost (SNS took
    # it, the SDK gave up) is released and sent again by the redelivery, under the same id.
    sent_records = {r["event_id"] for r in stack.notifications_for(order_id) if r["state"] == "SENT"}
    assert {e["data"]["source_event_id"] for e in sent} == sent_records, sent
    assert len({e["id"] for e in sent}) == len(told), "each told once (one id per message)"


def test_a_throttled_publish_is_retried_by_the_sdk(stack, faults):
    # SNS throttles with 429 `Throttled`, which the Rust SDK does not retry on its own
    # (libs/aws/src/retry.rs). every=1: the first attempt of every publish fails, its retry not.
    rule = rule_on(stack, "sns:Publish:Throttled:1:every=1", "OrdersApiFunctionName")
    _, _, r = order_under(stack, faults, rule)
    assert r.status == 202, r.text
    counts = faults.rule(rule)
    # One publish (OrderPlaced, also the customer's first news): throttled once, retried.
    assert (counts["faulted"], counts["retried"]) == (1, 1), counts


def test_a_write_whose_answer_was_lost_is_not_a_500_nor_a_second_order(stack, tap, faults):
    # The PutItem commits, then its answer is an error (`applied`); the SDK retries the 500 and
    # its retry meets the attribute_not_exists condition of its own write.
    rule = rule_on(stack, "dynamodb:PutItem:InternalServerError:1:every=1:applied", "OrdersApiFunctionName")
    _, customer, r = order_under(stack, faults, rule)  # no Idempotency-Key: a random order id
    assert r.status == 202, r.text
    assert faults.rule(rule)["faulted"] == 1
    order_id = r.body["order_id"]
    assert [o["order_id"] for o in orders_of(stack, customer)] == [order_id]
    assert stack.wait_status(order_id, {"CONFIRMED"})["status"] == "CONFIRMED"
    # one event (publishing is at least once: under the pinned fault rules a failed outbox clear
    # lets the sweeper send the same event again, under the same id)
    assert len({e["id"] for e in tap.wait_event(order_id, "OrderPlaced")}) == 1


def test_a_write_that_failed_after_committing_is_settled_not_a_503(stack, tap, faults):
    # Every attempt of the PutItem commits (the first) or meets its own condition (the SDK's
    # retries) and answers a 500: the insert fails. A 503 "safe to retry" would make the
    # client's retry a second order; one consistent read finds it stored and carries on.
    rule = rule_on(stack, "dynamodb:PutItem:InternalServerError:1:applied", "OrdersApiFunctionName")
    _, customer, r = order_under(stack, faults, rule)  # no Idempotency-Key: a random order id
    assert r.status == 202, r.text
    assert faults.rule(rule)["faulted"] >= 2, "every attempt failed"
    order_id = r.body["order_id"]
    assert [o["order_id"] for o in orders_of(stack, customer)] == [order_id]
    assert stack.wait_status(order_id, {"CONFIRMED"})["status"] == "CONFIRMED"


def test_an_answer_that_may_have_stored_the_order_names_it(stack, faults):
    # As above, and the read that would settle it fails too: the answer cannot know, so it
    # names the order to look up instead of inviting a retry.
    fn = stack.outputs["OrdersApiFunctionName"]
    get_rule = f"dynamodb:GetItem:InternalServerError:1:function={fn}"
    faults.add(get_rule)
    put_rule = rule_on(stack, "dynamodb:PutItem:InternalServerError:1:applied", "OrdersApiFunctionName")
    sku, customer, r = order_under(stack, faults, put_rule)
    faults.remove(put_rule)
    faults.remove(get_rule)
    assert r.status == 503, r.text
    assert r.body["error"] == "order_may_exist", r.body
    order_id = r.body["order_id"]
    assert r.headers.get("location") == f"/orders/{order_id}"
    assert [o["order_id"] for o in orders_of(stack, customer)] == [order_id], "stored once, and it is the one named"
    # The client looks it up as told: it exists, so it does not retry. The sweeper publishes
    # it once past its grace period (aged here instead of waited for).
    assert stack.order(order_id)["status"] == "PENDING"
    stack.table("OrdersTableName").update_item(
        Key={"order_id": order_id},
        UpdateExpression="SET outbox_since = :old",
        ExpressionAttributeValues={":old": "2026-01-01T00:00:00.000Z"},
    )
    lam = stack.client("lambda")
    resp = lam.invoke(FunctionName=stack.outputs["OutboxSweeperFunctionName"], Payload=b"{}")
    assert "FunctionError" not in resp, resp["Payload"].read()
    assert stack.wait_status(order_id, {"CONFIRMED"})["status"] == "CONFIRMED"
    assert stack.product(sku)["available"] == 4


def test_a_hung_dynamodb_call_becomes_a_prompt_json_503(stack, faults):
    sku, customer = new_sku(), new_customer()
    stack.set_stock(sku, 5)
    r = stack.place(customer, [(sku, 1)])
    assert r.status == 202, r.text
    order_id = r.body["order_id"]

    # Every attempt of the API's GetItem takes 3 s, longer than one attempt may (1.5 s).
    rule = f"dynamodb:GetItem:none:1:latency=3s:function={stack.outputs['OrdersApiFunctionName']}"
    faults.add(rule)
    t0 = time.monotonic()
    r = stack.call("GET", f"/orders/{order_id}")
    elapsed = time.monotonic() - t0
    assert r.status == 503, r.text
    assert r.body["error"] == "unavailable", r.body
    assert elapsed < 8, f"answered after {elapsed:.1f} s; the function's timeout is 10 s"
    assert faults.rule(rule)["retried"] >= 1, "the timed-out attempt was retried"

    faults.remove(rule)
    assert stack.call("GET", f"/orders/{order_id}").status == 200


def test_a_request_dynamodb_refuses_is_a_500_not_an_invitation_to_retry(stack, faults, session_started_ms):
    # A ValidationException (an item over 400 KB, say) meets the same request again: neither the
    # SDK nor the client should retry it, and the cause is logged as an error.
    rule = rule_on(stack, "dynamodb:PutItem:ValidationException:1", "OrdersApiFunctionName")
    _, customer, r = order_under(stack, faults, rule)
    assert r.status == 500, r.text
    assert r.body["error"] == "internal", r.body
    assert (faults.rule(rule)["faulted"], faults.rule(rule)["retried"]) == (1, 0), "not retried"
    assert orders_of(stack, customer) == []
    wait_for(
        lambda: [
            x
            for x in log_lines(stack, "OrdersApiFunctionName", session_started_ms)
            if x.get("level") == "ERROR" and "ValidationException" in x.get("fields", {}).get("detail", "")
        ],
        bool,
        30,
        "the refusal logged as an error, with DynamoDB's code",
    )
    faults.remove(rule)

    # The same on a read: GET /orders/{id}.
    order_id = stack.place_accepted(customer, [(new_sku(), 1)]).body["order_id"]
    rule = rule_on(stack, "dynamodb:GetItem:ValidationException:1", "OrdersApiFunctionName")
    faults.add(rule)
    r = stack.call("GET", f"/orders/{order_id}")
    assert (r.status, r.body["error"]) == (500, "internal"), r.text


def test_a_restock_whose_answer_was_lost_is_applied_once(stack, faults):
    # The adjustment's transaction commits, then its answer is an error (`applied`); the SDK's
    # retry finds the adjustment's record and adds nothing; so does the client's own retry.
    sku, key = new_sku(), f"restock-{uuid.uuid4().hex}"
    stack.set_stock(sku, 5)
    rule = rule_on(stack, "dynamodb:TransactWriteItems:InternalServerError:1:every=1:applied", "OrdersApiFunctionName")
    faults.add(rule)
    r = stack.call("PATCH", f"/products/{sku}", {"delta": 3}, headers={"Idempotency-Key": key})
    assert r.status == 200, r.text
    assert faults.rule(rule)["faulted"] == 1
    faults.remove(rule)
    assert r.body["available"] == 8
    again = stack.call("PATCH", f"/products/{sku}", {"delta": 3}, headers={"Idempotency-Key": key})
    assert (again.status, again.body["available"]) == (200, 8), again.text
    reused = stack.call("PATCH", f"/products/{sku}", {"delta": 4}, headers={"Idempotency-Key": key})
    assert (reused.status, reused.body["error"]) == (409, "idempotency_key_reused"), reused.text
    assert stack.product(sku)["available"] == 8


def test_a_reservation_conflict_is_retried_within_the_delivery(stack, faults, session_started_ms):
    """A stock transaction cancelled by a concurrent writer (`TransactionConflict`, which the
    SDK does not retry) is run again by inventory itself, with jittered backoff, before the
    record would fail: both orders confirm, one of them after a logged retry. every=2: the
    second transaction of the two orders conflicts, its retry (the third) does not."""
    sku = new_sku()
    stack.set_stock(sku, 5)
    with inventory_paused(stack):
        ids = []
        for _ in range(2):
            r = stack.place(new_customer(), [(sku, 1)])
            assert r.status == 202, r.text
            ids.append(r.body["order_id"])
        rule = rule_on(stack, "dynamodb:TransactWriteItems:TransactionConflict:1:every=2", "InventoryFunctionName")
        faults.add(rule)
    for order_id in ids:
        assert stack.wait_status(order_id, {"CONFIRMED", "REJECTED"})["status"] == "CONFIRMED"
    assert faults.rule(rule)["faulted"] >= 1
    retried = wait_for(
        lambda: [x for x in log_lines(stack, "InventoryFunctionName", session_started_ms)
                 if x.get("fields", {}).get("message") == "transaction conflict, retrying"
                 and span_field(x, "order_id") in ids],
        bool, 30, "inventory's log of the retried conflict")  # fmt: skip
    assert retried[0]["fields"]["op"] == "reserve"
    assert stack.product(sku)["available"] == 3
