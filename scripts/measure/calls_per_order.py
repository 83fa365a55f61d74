"""AWS calls per order, measured on the stack `make up` deployed (docs/capacity.md).

Creates a few products through the API, clears the extension's per-role call record
(`DELETE /_hostmode/iam/usage`), places N orders of 1-3 lines over several SKUs (optionally
cancels a share), waits (polling, with a deadline) until every order is terminal, its customer
was told its final status and the consumer queues are empty, then reads `GET /_hostmode/iam/usage`
and prints a markdown table: per function, action and resource, calls per order. The outbox
sweeper runs every minute whatever the load, so its calls are given per minute instead.

What the record counts: every call a function's role made (the event source mappings' SQS calls
included, under the consumer's role), one per (action, resource) a call touched: a
TransactWriteItems with a Put and three Updates on two tables counts once on each table's action
(`PutItem` on one, `UpdateItem` on the other), not once per item. The second table (from
`GET /_hostmode/requests`) gives the API operations themselves, all callers together.

    .venv/tools/bin/python scripts/measure/calls_per_order.py [--orders 50] [--cancel 0.2] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

import local_aws
from orders_client import Stack, wait_for

SEQ = {"CONFIRMED": 2, "REJECTED": 3, "CANCELLED": 3}  # libs/domain/src/order/line.rs OrderStatus::seq
FUNCTIONS = {
    "OrdersApiFunctionName": "orders-api",
    "InventoryFunctionName": "inventory",
    "OrderStatusFunctionName": "order-status",
    "NotificationFunctionName": "notification",
    "OutboxSweeperFunctionName": "outbox-sweeper",
}
CONSUMERS = {"InventoryQueue": "inventory", "OrderStatusQueue": "order-status", "NotificationQueue": "notification"}
CONTROL = f"{local_aws.ENDPOINT}/_hostmode"


def namer(outputs: dict[str, str]):
    """A resource's ARN or URL -> the stack output naming it: `...:table/<t>/index/outbox` ->
    `OrdersTable/index/outbox`, a topic ARN -> `OrderEventsTopic`, a queue -> `InventoryQueue`."""
    names = {v.rsplit("/", 1)[-1].rsplit(":", 1)[-1]: k for k, v in outputs.items()}

    def short(resource: str) -> str:
        base, _, index = resource.rsplit(":", 1)[-1].removeprefix("table/").partition("/index/")
        key = names.get(base, base)
        for suffix in ("Name", "Arn", "Url"):
            key = key.removesuffix(suffix)
        return key + (f"/index/{index}" if index else "")

    return short


def batch_get(stack: Stack, output: str, key: str, ids: list[str]) -> list[dict[str, Any]]:
    ddb = stack.resource("dynamodb")
    table, items = stack.outputs[output], []
    for i in range(0, len(ids), 100):
        keys = [{key: x} for x in ids[i : i + 100]]
        req: dict[str, Any] = {table: {"Keys": keys, "ConsistentRead": True}}
        while req:
            page = ddb.batch_get_item(RequestItems=req)
            items += page["Responses"].get(table, [])
            req = page.get("UnprocessedKeys") or {}
    return items


def unsettled(stack: Stack, ids: list[str]) -> list[str]:
    """Orders not yet terminal with their final status told, and the queues still busy."""
    status = {o["order_id"]: o["status"] for o in batch_get(stack, "OrdersTableName", "order_id", ids)}
    told: set[tuple[str, int]] = set()
    notes = stack.table("NotificationsTableName")
    scan: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = notes.scan(**scan)
        told |= {(n["order_id"], int(n["seq"])) for n in page["Items"] if n.get("state") == "SENT"}
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    waiting = [i for i in ids if status.get(i) not in SEQ or (i, SEQ[status[i]]) not in told]
    busy = [q for q in CONSUMERS if sum(stack.queue_depth(q + "Url"))]
    return waiting + busy


def operations() -> Counter[tuple[str, str]]:
    rows = local_aws.hostmode("requests")["requests"]
    return Counter({(r["service"], r["operation"]): r["count"] for r in rows if not r["internal"]})


def deliveries() -> Counter[tuple[str, str]]:
    """Per queue: messages the mapping delivered and batches (= consumer invocations)."""
    out: Counter[tuple[str, str]] = Counter()
    for m in local_aws.hostmode("mappings")["mappings"]:
        out[(m["queue_arn"], "messages")] += m["messages"]
        out[(m["queue_arn"], "batches")] += m["batches"]
    return out


def product_writes(stack: Stack, skus: list[str]) -> int:
    """Sum of the SKUs' `version`, which every write of a product item bumps (one per item)."""
    return sum(int(p.get("version", 0)) for p in batch_get(stack, "ProductsTableName", "sku", skus))


def sweeper_runs(role: str, timeout: float) -> tuple[Counter[tuple[str, str]], float]:
    """The calls of one whole scheduled run of the sweeper, and the time between two runs: polls
    the usage record until the sweeper's calls change, then until they stop changing, twice."""

    def calls() -> Counter[tuple[str, str]]:
        got = local_aws.hostmode("iam/usage").get(role, [])
        return Counter({(u["action"], u["resource"]): u["count"] for u in got})

    def next_run(before: Counter[tuple[str, str]]) -> tuple[Counter[tuple[str, str]], float]:
        wait_for(calls, lambda c: c != before, timeout, "the sweeper's next run", interval=0.5)
        at, seen = time.monotonic(), [calls()]

        def stable() -> bool:
            seen.append(calls())
            return seen[-1] == seen[-2]

        wait_for(stable, bool, 30, "the run's end", interval=1)
        return seen[-1], at

    first, t1 = next_run(calls())
    second, t2 = next_run(first)
    return second - first, t2 - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--orders", type=int, default=50)
    ap.add_argument("--skus", type=int, default=8)
    ap.add_argument("--cancel", type=float, default=0.0, help="share of orders cancelled after placing")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--no-sweeper", action="store_true", help="skip waiting for two sweeper runs")
    args = ap.parse_args()
    rnd, stack, run, n = random.Random(args.seed), Stack(), uuid.uuid4().hex[:6].upper(), args.orders
    short = namer(stack.outputs)
    skus = [f"CAP-{run}-{i}" for i in range(args.skus)]
    for sku in skus:
        stack.set_stock(sku, 1_000_000)
    lam = stack.client("lambda")
    roles = {
        name: lam.get_function_configuration(FunctionName=stack.outputs[k])["Role"].rsplit("/", 1)[-1]
        for k, name in FUNCTIONS.items()
    }
    ops, maps, versions = operations(), deliveries(), product_writes(stack, skus)
    requests.delete(f"{CONTROL}/iam/usage", timeout=10).raise_for_status()
    ids: list[str] = []
    api_requests = lines = 0
    for i in range(n):
        order = [(s, rnd.randint(1, 3)) for s in rnd.sample(skus, rnd.choice((1, 1, 2, 3)))]
        r = stack.place(f"cap-{run}-{i}", order)
        assert r.status == 202, f"POST /orders: {r.status} {r.text}"
        ids.append(r.body["order_id"])
        api_requests, lines = api_requests + 1, lines + len(order)
    cancelled = rnd.sample(ids, round(n * args.cancel))
    for oid in cancelled:
        r = stack.call("POST", f"/orders/{oid}/cancel", {"reason": "capacity run"})
        assert r.status in (200, 202, 409), f"cancel {oid}: {r.status} {r.text}"
        api_requests += 1
    wait_for(lambda: unsettled(stack, ids), lambda left: not left, args.timeout, "orders settled", interval=1)
    usage = local_aws.hostmode("iam/usage")
    ops, maps = operations() - ops, deliveries() - maps
    versions = product_writes(stack, skus) - versions

    final = Counter(o["status"] for o in batch_get(stack, "OrdersTableName", "order_id", ids))
    print(f"{n} orders, {lines / n:.2f} lines/order, {len(cancelled)} cancel requests; "
          f"ended {dict(sorted(final.items()))}\n")  # fmt: skip
    print("| function | action | resource | per order |\n|---|---|---|---:|")
    print(f"| (client) | API Gateway request | {stack.outputs['ApiId']} | {api_requests / n:.2f} |")
    for fn, role in roles.items():
        if fn == "outbox-sweeper":
            continue
        for u in usage.get(role, []):
            print(f"| {fn} | {u['action'].split(':', 1)[1]} | {short(u['resource'])} | {u['count'] / n:.2f} |")
    for (queue, what), count in sorted(maps.items()):
        print(f"| {CONSUMERS.get(short(queue), '?')} | SQS {what} (mapping) | {short(queue)} | {count / n:.2f} |")
    print(f"| inventory | product items written (sum of `version` bumps) | ProductsTable | {versions / n:.2f} |")
    print("\nAPI operations, every caller (functions, mappings, this script's reads):\n")
    print("| service | operation | per order |\n|---|---|---:|")
    for (service, op), count in sorted(ops.items()):
        print(f"| {service} | {op} | {count / n:.2f} |")
    if not args.no_sweeper:
        calls, interval = sweeper_runs(roles["outbox-sweeper"], timeout=150)
        print(f"\noutbox-sweeper, one scheduled run (runs {interval:.0f} s apart), i.e. calls per minute:\n")
        print("| action | resource | per minute |\n|---|---|---:|")
        for (action, resource), count in sorted(calls.items()):
            print(f"| {action.split(':', 1)[1]} | {short(resource)} | {count} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
