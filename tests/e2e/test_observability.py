"""What an operator sees of one order (issue "Observable and contract-first"): one trace id from
the API request through every hop, in the events and on the log lines of every function that
handled them."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import defaultdict
from functools import partial

import pytest

from conftest import log_lines, new_customer, new_sku, span_field
from local_aws import ROOT
from orders_client import Stack, wait_for

CONSUMERS = ("InventoryFunctionName", "OrderStatusFunctionName", "NotificationFunctionName")


@pytest.mark.also_under_faults
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

    # The API's lines name the request, its Idempotency-Key's fingerprint (the key a client
    # chose may hold something private: never logged as it is) and the trace.
    fingerprint = "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    api = wait_for(lambda: [x for x in log_lines(stack, "OrdersApiFunctionName", since)
                            if span_field(x, "idempotency_key") == fingerprint],
                   bool, 30, "the API's log lines for the request")  # fmt: skip
    assert {span_field(x, "trace_id") for x in api} == {trace}
    assert all(span_field(x, "request_id") not in (None, "-") for x in api), api[0]
    every_line = json.dumps(log_lines(stack, "OrdersApiFunctionName", since))
    assert key not in every_line, "the Idempotency-Key itself is in a log line"

    # Every consumer's lines about this order's messages carry the trace.
    def about_the_order(fn: str) -> list[dict]:
        return [x for x in log_lines(stack, fn, since) if span_field(x, "order_id") == order_id]

    for fn in CONSUMERS:
        ours = wait_for(partial(about_the_order, fn), bool, 30, f"{fn}'s log lines for the order")
        assert {span_field(x, "trace_id") for x in ours} == {trace}, (fn, ours[0])


FUNCTIONS = ("OrdersApiFunctionName", *CONSUMERS, "OutboxSweeperFunctionName")
NAMESPACE = "OrdersPipeline"


def named_in_template(stack_name: str) -> dict[str, set[tuple[str, ...]]]:
    """Our namespace's metrics that an alarm or the dashboard names, each with the dimension
    name sets they are named with."""
    from cfnlint.decode import decode  # only this test needs cfn-lint's template reader

    template, problems = decode(str(ROOT / "infra" / "template.yaml"))
    assert template is not None and not problems, problems
    named: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::CloudWatch::Alarm":
            metrics = [props] + [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
            for m in metrics:
                if m.get("Namespace") == NAMESPACE:
                    named[m["MetricName"]].add(tuple(sorted(d["Name"] for d in m.get("Dimensions", []))))
        if res["Type"] == "AWS::CloudWatch::Dashboard":
            body = json.loads(re.sub(r"\$\{[^}]+\}", "x", props["DashboardBody"]["Fn::Sub"]))
            for w in body["widgets"]:
                previous: list = []
                for row in w.get("properties", {}).get("metrics", []):
                    strings = [c for c in row if isinstance(c, str)]
                    # "." repeats the cell above
                    strings = [previous[i] if c == "." and i < len(previous) else c for i, c in enumerate(strings)]
                    previous = strings
                    if strings and strings[0] == NAMESPACE:
                        named[strings[1]].add(tuple(sorted(strings[2::2])))
    return named


def emitted(stack: Stack, since_ms: int) -> dict[str, set[tuple[str, ...]]]:
    """The EMF records the functions logged since `since_ms`: metric -> dimension name sets,
    each record checked to carry its dimensions' values (this stack's name for Stack)."""
    seen: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for fn in FUNCTIONS:
        for line in log_lines(stack, fn, since_ms):
            for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
                if directive["Namespace"] != NAMESPACE:
                    continue
                for dims in directive["Dimensions"]:
                    assert all(line.get(d) for d in dims), line
                    assert line.get("Stack", stack.info["stack"]) == stack.info["stack"], line
                    for m in directive["Metrics"]:
                        assert isinstance(line.get(m["Name"]), int | float), line
                        seen[m["Name"]].add(tuple(sorted(dims)))
    return seen


@pytest.mark.serial  # reads what the whole run produced
@pytest.mark.after_all
def test_every_metric_an_alarm_or_the_dashboard_names_was_emitted_by_the_run(stack, session_started_ms):
    """The alarms and the dashboard watch metrics the code really emits, under the dimensions
    they name: read from the EMF records (CloudWatch Embedded Metric Format) of this e2e run's
    function logs, which a test or another provokes each (a conflict, a failed publish, a
    timed-out order...). Run with the whole e2e suite; it runs last."""
    named = named_in_template(stack.info["stack"])
    assert {"OrdersPlaced", "PublishFailures", "OrdersTimedOut"} <= set(named), named
    seen = emitted(stack, session_started_ms)
    missing = {m: dims - seen.get(m, set()) for m, dims in named.items() if dims - seen.get(m, set())}
    assert not missing, f"named by an alarm or the dashboard, never emitted so: {missing}; emitted: {dict(seen)}"
