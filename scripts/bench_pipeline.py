"""Benchmark of the deployed pipeline in LocalStack: API latency and the time an order takes
from `POST /orders` to `CONFIRMED` (two SQS hops, three functions, four tables).

    make bench                      # N=100 orders, CONCURRENCY=4
    N=300 CONCURRENCY=8 make bench

It reports; it asserts nothing. Figures are local (host processes, debug builds, LocalStack's
pollers), useful to compare changes to this repo, not to predict AWS.
"""

import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from orders_client import Stack, wait_for


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def row(name: str, ms: list[float]) -> str:
    return (
        f"| {name} | {len(ms)} | {pct(ms, 50):.1f} | {pct(ms, 90):.1f} | {pct(ms, 99):.1f} | "
        f"{max(ms):.1f} | {statistics.fmean(ms):.1f} |"
    )


def main() -> int:
    n = int(os.environ.get("N", "100"))
    conc = int(os.environ.get("CONCURRENCY", "4"))
    stack = Stack()
    sku = f"BENCH-{uuid.uuid4().hex[:8].upper()}"
    stack.set_stock(sku, n)

    # warm-up: one environment per concurrent caller on every function
    with ThreadPoolExecutor(conc) as pool:
        warm = list(pool.map(lambda _: stack.place("bench", [(sku, 1)]).body["order_id"], range(conc)))
    for o in warm:
        stack.wait_status(o, {"CONFIRMED"}, timeout=60)
    stack.set_stock(sku, n)

    get_ms: list[float] = []
    for _ in range(n):
        t = time.perf_counter()
        stack.product(sku)
        get_ms.append((time.perf_counter() - t) * 1000)
    # one client: the API path alone (the orders still flow through the pipeline meanwhile)
    seq_sku = sku + "-SEQ"
    stack.set_stock(seq_sku, n)
    post_ms: list[float] = []
    for i in range(n):
        t = time.perf_counter()
        r = stack.place(f"bench-seq-{i}", [(seq_sku, 1)])
        post_ms.append((time.perf_counter() - t) * 1000)
        assert r.status == 202, r.text

    def one(i: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        r = stack.place(f"bench-{i}", [(sku, 1)])
        t1 = time.perf_counter()
        assert r.status == 202, r.text
        wait_for(
            lambda: stack.order(r.body["order_id"])["status"],
            lambda s: s == "CONFIRMED",
            120,
            "confirmation",
            interval=0.02,
        )
        return (t1 - t0) * 1000, (time.perf_counter() - t0) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(conc) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - started

    print(f"pipeline benchmark: {n} orders, {conc} concurrent clients, endpoint {stack.endpoint}")
    print("| what | n | p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    print("|---|---|---|---|---|---|---|")
    print(row("GET /products/{sku}, 1 client (API -> Lambda -> DynamoDB)", get_ms))
    print(row("POST /orders -> 202, 1 client (validate, put, publish, clear)", post_ms))
    print(row(f"POST /orders -> 202, {conc} clients", [a for a, _ in results]))
    print(row(f"POST /orders -> CONFIRMED, {conc} clients (polled every 20 ms)", [b for _, b in results]))
    print(f"throughput: {n / wall:.1f} orders/s confirmed end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
