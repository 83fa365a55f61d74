"""`make flash-sale` (N=300 CLIENTS=32 UNITS=100 SHARDS=1 FAULTS=0): a burst of N orders of 1-3
units for one new SKU holding UNITS units on SHARDS stock shards, from CLIENTS clients within
WINDOW seconds, through the API of the stack `make up` deployed. Then it watches every order to
its decision and reports: time to decision, how orders ended and why, units sold against the
stock, DLQ growth per queue, 503s, conflicts, give-ups, deferrals and shard changes, with a plot
(.build/flash-sale/flash-sale.png). FAULTS=f adds f DynamoDB throttling on every call and 3f
transaction conflicts on every TransactWriteItems, for every function.

Exits 1 when an order was decided by the pending timeout or not decided within SETTLE seconds of
the last POST, a message of the run reached a DLQ, a unit was oversold (or a shard went
negative), an order was rejected while stock for it was left, an accepted POST was lost, or more
first attempts answered 503 than a rate of MAX_FIRST_503 gives by chance in 99 runs of 100
(rare.py). Run from scripts/measure/ (`python -m flash_sale`)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import local_aws
from flash_sale import load, observe, report
from flash_sale.rare import most_by_chance
from orders_client import Stack


def faults_rules(share: float) -> str:
    return ",".join(
        [
            f"dynamodb:*:ThrottlingException:{share:g}",
            f"dynamodb:TransactWriteItems:TransactionConflict:{min(1.0, 3 * share):g}",
        ]
    )


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--units", type=int, default=100, help="stock of the SKU")
    ap.add_argument("--shards", type=int, default=1, help="stock shards the SKU is created with")
    ap.add_argument("--max-quantity", type=int, default=3, help="each order wants 1..this many units")
    ap.add_argument("--window", type=float, default=10.0, help="seconds over which the POSTs are spread")
    ap.add_argument("--settle", type=float, default=60.0, help="seconds after the last POST to decide every order")
    ap.add_argument("--faults", type=float, default=0.0)
    ap.add_argument("--max-first-503", type=float, default=0.005, help="share of first attempts allowed to 503")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(local_aws.ROOT / ".build" / "flash-sale"))
    args = ap.parse_args()

    stack = Stack()
    run = uuid.uuid4().hex[:6]
    sku = f"FLASH-{run.upper()}"
    stack.set_stock(sku, args.units, shards=args.shards)
    posts = load.plan(args.orders, run, args.seed, args.max_quantity, customers=args.clients)
    load.sign_in(stack, posts)
    demand = sum(p.quantity for p in posts)
    print(f"flash sale {sku}: {args.orders} orders ({demand} units wanted) from {args.clients} clients "
          f"in {args.window:g} s, {args.units} units on {args.shards} shard(s), faults {args.faults:g}")  # fmt: skip
    dlq_before = observe.dlq_depths(stack)
    conflicts_before = observe.conflicts()
    t0 = time.time()
    if args.faults > 0:
        local_aws.hostmode_put("faults", {"rules": faults_rules(args.faults), "seed": args.seed})
    try:
        load.run(posts, sku, args.clients, args.window)
        last_post = max(p.answered for p in posts)
        accepted = [p for p in posts if p.order_id]
        print(f"posted in {last_post - t0:.1f} s: {len(accepted)} accepted, first answers "
              f"{dict(Counter(p.first_status for p in posts))}")  # fmt: skip
        ids = [p.order_id for p in accepted if p.order_id]
        deadline = last_post + args.settle
        progress: list[tuple[float, int]] = []
        while True:
            ds = observe.decisions(stack, ids)
            pending = sum(d.status not in observe.DECIDED for d in ds)
            progress.append((time.time(), len(ds) - pending))
            if pending == 0 or time.time() > deadline:
                break
            time.sleep(1.0)
        settled_at = time.time()
    finally:
        if args.faults > 0:
            local_aws.hostmode_delete("faults", {"rules": faults_rules(args.faults)})
    undecided = [d for d in ds if d.status not in observe.DECIDED]
    items = observe.stock_items(stack, sku)
    available = sum(int(i["available"]) for i in items)
    reserved = sum(int(i.get("reserved", 0)) for i in items)
    shards_now = int(items[0].get("shards", 1)) if items else 0
    sold = sum(d.quantity for d in ds if d.status == "CONFIRMED")
    dlq_after = observe.dlq_depths(stack)
    dlq_ours = observe.dlq_messages_of(stack, set(ids))
    figures = observe.log_figures(stack, t0)
    conflicts = observe.conflicts() - conflicts_before

    violations: list[str] = []
    by_timeout = [d for d in ds if d.by_timeout]
    if by_timeout:
        violations.append(f"{len(by_timeout)} order(s) decided by the pending timeout")
    if undecided:
        violations.append(f"{len(undecided)} order(s) undecided {args.settle:g} s after the last POST")
    if sum(dlq_ours.values()):
        violations.append(f"messages of this run in DLQs: {dict(dlq_ours)}")
    if sold > args.units or available + reserved != args.units or reserved != sold:
        violations.append(f"stock: {sold} sold, {available} available + {reserved} reserved, of {args.units}")
    if any(int(i["available"]) < 0 for i in items):
        violations.append("a stock shard went negative")
    rejected_for_stock = [d for d in ds if d.status == "REJECTED" and not d.by_timeout]
    servable = [d for d in rejected_for_stock if d.quantity <= available]
    if servable:
        violations.append(f"{len(servable)} order(s) rejected though {available} unit(s) are left")
    lost = [p for p in posts if p.status != 202]
    if lost:
        violations.append(f"{len(lost)} POST(s) never accepted: {Counter(p.status for p in lost)}")
    n_503 = sum(p.first_status == 503 for p in posts)
    first_503 = n_503 / len(posts)
    if n_503 > most_by_chance(len(posts), args.max_first_503):
        violations.append(
            f"{n_503} of {len(posts)} first attempts answered 503 ({first_503:.1%}): more than a rate of "
            f"{args.max_first_503:.1%} gives in 99 runs of 100 ({most_by_chance(len(posts), args.max_first_503)})"
        )

    ttd = [d.decided - d.created for d in ds if d.decided is not None]
    ended = Counter("REJECTED (timeout)" if d.by_timeout else d.status for d in ds)
    summary = {
        "sku": sku,
        "orders": args.orders,
        "clients": args.clients,
        "units": args.units,
        "shards_at_start": args.shards,
        "shards_at_end": shards_now,
        "faults": args.faults,
        "posting_s": round(last_post - t0, 1),
        "first_answers": {str(k): v for k, v in Counter(p.first_status for p in posts).items()},
        "first_503_share": round(first_503, 4),
        "retried_posts": sum(p.attempts > 1 for p in posts),
        "ended": dict(ended),
        "decided_within_s_of_last_post": round(max((d.decided or settled_at) for d in ds) - last_post, 1) if ds else 0,
        "time_to_decision_s": {
            "p50": round(pct(ttd, 50), 2),
            "p90": round(pct(ttd, 90), 2),
            "p99": round(pct(ttd, 99), 2),
            "max": round(max(ttd), 2) if ttd else None,
            "mean": round(statistics.fmean(ttd), 2) if ttd else None,
        },
        "units_sold": sold,
        "available_left": available,
        "dlq_growth": {q: dlq_after[q] - dlq_before[q] for q in observe.DLQS if dlq_after[q] != dlq_before[q]},
        "dlq_messages_of_this_run": dict(dlq_ours),
        "transaction_conflicts": conflicts,
        "log_marks": {f: dict(c) for f, c in figures.marks.items() if c},
        "metrics": {f: dict(c) for f, c in figures.metrics.items() if c},
        "shard_changes": [(round(t - t0, 1), n) for t, n in figures.shard_changes],
        "violations": violations,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "flash-sale.json").write_text(json.dumps(summary, indent=1))
    report.plot(out / "flash-sale.png", t0, posts, ds, progress, figures, summary)
    print(json.dumps(summary, indent=1))
    print(f"plot: {out / 'flash-sale.png'}")
    if violations:
        print("FAIL: " + "; ".join(violations), file=sys.stderr)
        return 1
    print(f"ok: every order decided, {sold} of {args.units} units sold, no DLQ growth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
