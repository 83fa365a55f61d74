"""The recount after the run, from the tables, the queues and the tap: nothing lost, nothing
sold twice, nobody told twice or told what did not happen, every DLQ message explained."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from orders_client import Stack
from soak.client import Load
from soak.plan import Plan
from tap import Tap

TERMINAL = {"CONFIRMED", "REJECTED", "CANCELLED"}
# consumer -> (its function's output, its DLQs' outputs)
CONSUMERS = {
    "inventory": ("InventoryFunctionName", ["InventoryDLQUrl", "InventorySubscriptionDLQUrl"]),
    "order-status": ("OrderStatusFunctionName", ["OrderStatusDLQUrl", "OrderStatusSubscriptionDLQUrl"]),
    "notification": ("NotificationFunctionName", ["NotificationDLQUrl", "NotificationSubscriptionDLQUrl"]),
}


def ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


@dataclass
class Findings:
    violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    counts: Counter = field(default_factory=Counter)
    terminal_at: float = 0.0  # when the last order became terminal (epoch s)
    longest_to_terminal_s: float = 0.0
    dlq: list[dict] = field(default_factory=list)
    ended: list[float] = field(default_factory=list)  # when each order became terminal
    fault_times: list[float] = field(default_factory=list)
    faults_by_rule: Counter = field(default_factory=Counter)

    def fail(self, kind: str, detail: str) -> None:
        self.violations[kind].append(detail)

    def total(self, kind: str) -> int:
        return len(self.violations.get(kind, []))


def run_orders(stack: Stack, plan: Plan) -> list[dict[str, Any]]:
    """Every order of this run in the table (the client's and any it did not hear about): the
    orders of the run's customers (their ids are their users' subs)."""
    customers = {stack.customer(o.customer) for o in plan.orders}
    table, items = stack.table("OrdersTableName"), []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items += [i for i in page["Items"] if i.get("customer_id") in customers]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def pending_ids(stack: Stack, load: Load) -> list[str]:
    """Accepted orders not terminal yet (polled while the pipeline drains), read from the Orders
    table: the API answers from it too, and a round of GETs of every order would load the
    emulator the pipeline is draining on."""
    ids = [rec.order_id for rec in load.records if rec.order_id]
    statuses = stack.statuses(ids)
    return [o for o in ids if statuses.get(o) not in TERMINAL]


def check_orders(f: Findings, orders: list[dict], load: Load, pending_timeout_s: float) -> None:
    by_id = {o["order_id"]: o for o in orders}
    per_customer = Counter(o["customer_id"] for o in orders)
    for customer, n in per_customer.items():
        if n > 1:
            f.fail("duplicate orders", f"{customer}: {n} orders from one Idempotency-Key")
    for rec in load.records:
        if rec.order_id is None:
            f.counts["no 202 (client gave up or was refused)"] += 1
            continue
        o = by_id.get(rec.order_id)
        if o is None:
            f.fail("lost", f"{rec.order_id} answered 202 but is not in the table")
        elif o["status"] not in TERMINAL:
            f.fail("lost", f"{rec.order_id} is still {o['status']}")
    for o in orders:
        f.counts[f"orders {o['status']}"] += 1
        if o["status"] in TERMINAL:
            end, start = ts(o["history"][-1]["at"]), ts(o["created_at"])
            f.terminal_at = max(f.terminal_at, end)
            f.ended.append(end)
            f.longest_to_terminal_s = max(f.longest_to_terminal_s, end - start)
    # the sweeper runs every minute: an order may wait that long past its timeout
    if f.longest_to_terminal_s > pending_timeout_s + 90:
        f.fail(
            "lost", f"an order took {f.longest_to_terminal_s:.0f} s to end (pending timeout {pending_timeout_s:.0f} s)"
        )


def check_stock(f: Findings, stack: Stack, plan: Plan, orders: list[dict], load: Load) -> None:
    confirmed: Counter = Counter()
    for o in orders:
        if o["status"] == "CONFIRMED":
            for line in o["lines"]:
                confirmed[line["sku"]] += int(line["quantity"])
    restocked: Counter = Counter()
    for r in plan.restocks:
        out = load.restocks.get(r.idx)
        if out is not None and out.status == 200:
            restocked[r.sku] += r.delta
        elif out is not None:
            f.fail("unknown outcome", f"restock {r.key} of {r.sku}: {out.status} {out.error} (stock not checkable)")
    products = stack.table("ProductsTableName")
    for sku, initial in plan.stock.items():
        # From the table, not the API: a corrupt (negative) count on any shard is what this
        # looks for. Shard k > 0 of a SKU is the item `<sku>#shard#<k>`.
        head = products.get_item(Key={"sku": sku}, ConsistentRead=True)["Item"]
        shards = [head] + [
            products.get_item(Key={"sku": f"{sku}#shard#{k}"}, ConsistentRead=True)["Item"]
            for k in range(1, int(head.get("shard_slots", 1)))
        ]
        available = sum(int(p["available"]) for p in shards)
        reserved = sum(int(p.get("reserved", 0)) for p in shards)
        if sku == plan.hot:
            f.counts["hot SKU shards at the end"] = int(head.get("shards", 1))
        for k, p in enumerate(shards):
            if int(p["available"]) < 0 or int(p.get("reserved", 0)) < 0:
                f.fail("oversold", f"{sku} shard {k}: available {p['available']}, reserved {p.get('reserved')}")
        if initial + restocked[sku] != available + confirmed[sku]:
            f.fail("oversold", f"{sku}: {initial} + restocks {restocked[sku]} != available {available} "
                               f"+ confirmed units {confirmed[sku]}")  # fmt: skip
        if reserved != confirmed[sku]:
            f.fail("oversold", f"{sku}: reserved {reserved} != confirmed units {confirmed[sku]}")
    f.counts["units confirmed"] = sum(confirmed.values())


def check_news(f: Findings, tap: Tap, orders: list[dict]) -> None:
    """One notification id per applied transition told; none for a transition that did not
    apply; the last status always told. Superseded news (a newer status told first) is not sent."""
    status_of = {e["id"]: e["data"]["status"] for e in tap.events(type_="OrderStatusChanged")}
    # An order's first news (PENDING) is told from its OrderPlaced.
    status_of |= {e["id"]: "PENDING" for e in tap.events(type_="OrderPlaced")}
    told = defaultdict(list)
    for e in tap.events(type_="CustomerNotified"):
        told[e["order_id"]].append(e)
    for o in orders:
        applied = [h["status"] for h in o["history"]]
        by_source = defaultdict(set)
        for e in told.get(o["order_id"], []):
            by_source[e["data"]["source_event_id"]].add(e["id"])
            f.counts["notification deliveries"] += 1
        statuses = set()
        for source, ids in by_source.items():
            status = status_of.get(source)
            if len(ids) > 1:
                f.fail("duplicate notifications", f"{o['order_id']}: {len(ids)} notifications for {status}")
            if status is None or status not in applied:
                f.fail("wrong notifications", f"{o['order_id']}: told {status or source}, applied {applied}")
            statuses.add(status)
        f.counts["notifications"] += len(by_source)
        f.counts["superseded news (not sent)"] += len(set(applied) - statuses)
        if o["status"] in TERMINAL and o["status"] not in statuses:
            f.fail("missing news", f"{o['order_id']}: {o['status']} never told")
    f.counts["repeated deliveries (same id)"] = f.counts["notification deliveries"] - f.counts["notifications"]


def dlq_messages(stack: Stack, order_ids: set[str]) -> list[dict]:
    """The run's messages in the DLQs (those of `order_ids`; earlier runs' and tests' are left
    alone), read without consuming them: received with a visibility timeout (so the next
    receive returns others), then made visible again."""
    sqs, found = stack.client("sqs"), []
    for consumer, (fn_key, dlqs) in CONSUMERS.items():
        for key in dlqs:
            url, seen, handles = stack.outputs[key], {}, []
            while True:
                resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                           AttributeNames=["All"])  # fmt: skip
                batch = resp.get("Messages", [])
                if not batch:
                    break
                for m in batch:
                    seen[m["MessageId"]] = m
                    handles.append(m["ReceiptHandle"])
            for i in range(0, len(handles), 10):
                entries = [{"Id": str(j), "ReceiptHandle": h, "VisibilityTimeout": 0}
                           for j, h in enumerate(handles[i : i + 10])]  # fmt: skip
                sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
            for m in seen.values():
                try:
                    body = json.loads(m["Body"])
                except ValueError:  # another test's poison message
                    continue
                if not isinstance(body, dict) or body.get("order_id") not in order_ids:
                    continue
                found.append({"consumer": consumer, "function": stack.outputs[fn_key], "queue": key,
                              "sent": int(m["Attributes"]["SentTimestamp"]) / 1000, "order_id": body.get("order_id"),
                              "type": body.get("type"), "id": body.get("id")})  # fmt: skip
    return found


def trace_dlq(f: Findings, messages: list[dict], fault_log: list[dict], chaos_events: list[dict]) -> None:
    """A message in a DLQ is explained by an injected fault, kill or crash that hit its consumer
    while the message was alive; a subscription DLQ message (SNS failing to deliver) never is."""
    for m in messages:
        causes = [e for e in fault_log if m["function"] in e["function"] and e["time"] >= m["sent"] - 1]
        causes += [e for e in chaos_events if e["function"] == m["function"] and e["time"] >= m["sent"] - 1]
        m["traced_to"] = len(causes)
        if "Subscription" in m["queue"] or not causes:
            f.fail("unexplained DLQ messages", f"{m['queue']}: {m['type']} {m['id']} of {m['order_id']}")
    f.dlq = messages


def plain(v: Any) -> Any:
    """DynamoDB numbers (Decimal) as ints, for printing."""
    return int(v) if isinstance(v, Decimal) else v
