"""What an operator sees of one order (issue "Observable and contract-first"): one trace id from
the API request through every hop, in the events and on the log lines of every function that
handled them."""

from __future__ import annotations

import contextlib
import json
import time
from functools import partial

from conftest import new_customer, new_sku
from orders_client import Stack, wait_for

CONSUMERS = ("InventoryFunctionName", "OrderStatusFunctionName", "NotificationFunctionName")


def log_lines(stack: Stack, function_output: str, since_ms: int) -> list[dict]:
    """The function's JSON log lines since `since_ms` (its CloudWatch log group)."""
    logs, out = stack.client("logs"), list[dict]()
    kwargs = {"logGroupName": f"/aws/lambda/{stack.outputs[function_output]}", "startTime": since_ms}
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return out
        for e in page.get("events", []):
            with contextlib.suppress(ValueError):  # the runtime's plain-text lines
                out.append(json.loads(e["message"]))
        if not page.get("nextToken"):
            return out
        kwargs["nextToken"] = page["nextToken"]


def span_field(line: dict, name: str) -> str | None:
    """A field of the innermost span that has it (tracing's JSON: `span`, then `spans`)."""
    for span in [line.get("span") or {}, *reversed(line.get("spans") or [])]:
        if name in span:
            return span[name]
    return None


def test_one_trace_id_follows_an_order_through_every_hop(stack, tap):
    since = int(time.time() * 1000) - 1000
    sku = new_sku()
    stack.set_stock(sku, 5)
    key = f"trace-{sku}"
    r = stack.place(new_customer(), [(sku, 1)], idempotency_key=key)
    assert r.status == 202, r.text
    trace, order_id = r.headers["x-trace-id"], r.body["order_id"]
    assert trace.startswith("1-"), trace

    tap.wait_event(order_id, "CustomerNotified")
    wait_for(lambda: {e["data"].get("status") for e in tap.events(order_id, "OrderStatusChanged")},
             lambda s: "CONFIRMED" in s, 60, "CONFIRMED published")  # fmt: skip
    events = tap.events(order_id)
    assert {"OrderPlaced", "InventoryReserved", "OrderStatusChanged", "CustomerNotified"} <= {e["type"] for e in events}
    assert {e.get("trace_id") for e in events} == {trace}, events

    # The API's lines name the request, its Idempotency-Key and the trace.
    api = wait_for(lambda: [x for x in log_lines(stack, "OrdersApiFunctionName", since)
                            if span_field(x, "idempotency_key") == key],
                   bool, 30, "the API's log lines for the request")  # fmt: skip
    assert {span_field(x, "trace_id") for x in api} == {trace}
    assert all(span_field(x, "request_id") not in (None, "-") for x in api), api[0]

    # Every consumer's lines about this order's messages carry the trace.
    def about_the_order(fn: str) -> list[dict]:
        return [x for x in log_lines(stack, fn, since) if span_field(x, "order_id") == order_id]

    for fn in CONSUMERS:
        ours = wait_for(partial(about_the_order, fn), bool, 30, f"{fn}'s log lines for the order")
        assert {span_field(x, "trace_id") for x in ours} == {trace}, (fn, ours[0])
