"""The three scenarios `make calls-per-order` measures, each on fresh counters: orders placed
through the API as their customers, then polled (with a deadline) until every order is terminal,
its customer was told that final status, and the consumer queues are empty.

- `confirmed`: placed and confirmed (stock enough);
- `rejected`: placed on SKUs with no stock, so rejected;
- `cancelled`: placed and confirmed, then (once the customer was told so) cancelled by the customer.

Every scenario's orders have 1.64 lines on average (tally.line_counts) over 8 SKUs of its own,
each one stock shard, 1 to 3 units a line."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from order_cost import tally
from order_cost.live import CONSUMERS, Probe
from orders_client import Stack, notification_records, wait_for

# libs/domain/src/order/line.rs OrderStatus::seq: the notification a status is told with.
SEQ = {"CONFIRMED": 2, "REJECTED": 3, "CANCELLED": 3}


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    stock: int  # units per SKU
    placed_status: str  # what every order reaches once placed
    cancel: bool = False

    @property
    def final_status(self) -> str:
        return "CANCELLED" if self.cancel else self.placed_status


SCENARIOS = {
    s.name: s
    for s in (
        Spec("confirmed", "placed and confirmed", 1_000_000, "CONFIRMED"),
        Spec("rejected", "rejected (out of stock)", 0, "REJECTED"),
        Spec("cancelled", "confirmed, then cancelled by the customer", 1_000_000, "CONFIRMED", cancel=True),
    )
}


def batch_get(stack: Stack, output: str, key: str, ids: list[str]) -> list[dict[str, Any]]:
    ddb = stack.resource("dynamodb")
    table, items = stack.outputs[output], []
    for i in range(0, len(ids), 100):
        req: dict[str, Any] = {table: {"Keys": [{key: x} for x in ids[i : i + 100]], "ConsistentRead": True}}
        while req:
            page = ddb.batch_get_item(RequestItems=req)
            items += page["Responses"].get(table, [])
            req = page.get("UnprocessedKeys") or {}
    return items


def statuses(stack: Stack, ids: list[str]) -> dict[str, str]:
    return {o["order_id"]: o["status"] for o in batch_get(stack, "OrdersTableName", "order_id", ids)}


def busy_queues(stack: Stack) -> list[str]:
    return [q for q in CONSUMERS if sum(stack.queue_depth(q + "Url"))]


def unsettled(stack: Stack, ids: list[str], status: str) -> list[str]:
    """Orders not yet in `status` with their customer told so, and the consumer queues still busy."""
    now = statuses(stack, ids)
    told: set[tuple[str, int]] = set()
    notes = stack.table("NotificationsTableName")
    scan: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = notes.scan(**scan)
        told |= {
            (n["order_id"], n["seq"])
            for i in page["Items"]
            for n in notification_records(i)
            if n.get("state") == "SENT"
        }
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    waiting = [i for i in ids if now.get(i) != status or (i, SEQ[status]) not in told]
    return waiting + busy_queues(stack)


def customers(stack: Stack, run: str, n: int) -> list[str]:
    """n customers, created and signed in now, so no scenario counts Cognito's calls."""
    names = [f"cap-{run}-{i}" for i in range(n)]
    for name in names:
        stack.users.token(name)
    return names


def run(
    stack: Stack, probe: Probe, spec: Spec, who: list[str], run_id: str, rnd: random.Random, skus: int, timeout: float
) -> dict[str, Any]:
    """One scenario measured: its raw counts (tally's shape) with its name, orders and outcome."""
    n = len(who)
    names = [f"CAP-{run_id}-{spec.name[:3].upper()}-{i}" for i in range(skus)]
    for sku in names:
        stack.set_stock(sku, spec.stock)
    counts = tally.line_counts(n)
    rnd.shuffle(counts)
    wait_for(lambda: busy_queues(stack), lambda busy: not busy, timeout, "the consumer queues empty", interval=1)
    mark = probe.start()
    ids: list[str] = []
    for customer, k in zip(who, counts, strict=True):
        r = stack.place(customer, [(sku, rnd.randint(1, 3)) for sku in rnd.sample(names, k)])
        assert r.status == 202, f"POST /orders: {r.status} {r.text}"
        ids.append(r.body["order_id"])
    api_requests = n
    settle = f"{n} orders {spec.placed_status} and told, queues empty"
    wait_for(lambda: unsettled(stack, ids, spec.placed_status), lambda x: not x, timeout, settle, interval=1)
    if spec.cancel:
        for oid in ids:
            r = stack.call("POST", f"/orders/{oid}/cancel", {"reason": "capacity run"})
            assert r.status in (200, 202), f"cancel {oid}: {r.status} {r.text}"
        api_requests += n
        settle = f"{n} orders CANCELLED and told, queues empty"
        wait_for(lambda: unsettled(stack, ids, "CANCELLED"), lambda x: not x, timeout, settle, interval=1)
    measured = probe.read(mark, api_requests)
    final = Counter(statuses(stack, ids).values())
    return {
        "name": spec.name,
        "title": spec.title,
        "orders": n,
        "lines": sum(counts),
        "skus": skus,
        "final": dict(sorted(final.items())),
        **measured,
    }
