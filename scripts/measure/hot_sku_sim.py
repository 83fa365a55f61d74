"""Discrete-event simulation of one hot SKU's stock reservations on DynamoDB, stock split over N shards.

Each order is one TransactWriteItems: a Put of its own reservation record (never contended) and an
Update of ONE stock shard item of the SKU, drawn uniformly from its N shards (`available >= q`; stock
never runs out here). Sources and the model's known differences from DynamoDB: docs/hot-sku-sim.md.

Assumptions:
 1. Conflict: an attempt that reaches a shard item while an accepted transaction on that item is in
    progress is cancelled (TransactionCanceledException, reason TransactionConflict). The rejected
    attempt neither holds the item nor cancels the transaction in progress. [AWS transactions guide]
 2. In progress = `tx_ms` from the moment an attempt is accepted (default 10 ms; assumption, see the
    doc for the measured round trips it is bounded by). Every attempt, whatever its outcome, answers
    the client after `tx_ms`.
 3. Throughput: one item lives in one partition, which serves at most 1,000 WCU/s; a transactional
    write of an item <= 1 KB costs 2 WCU (prepare + commit), so <= 500 transactions/s per shard item.
    Modelled as a token bucket per item refilled at 1,000 WCU/s, `burst_s` seconds deep (default 1 s,
    starts empty; assumption: burst capacity does not lift the partition limit). Only accepted
    attempts take tokens (assumption: no source says what a cancelled attempt costs).
 4. An attempt over the limit is throttled. `throttle="sdk"` (default): it comes back as
    ProvisionedThroughputExceededException, which the AWS SDK for Rust retries (standard mode:
    3 attempts, wait U[0,1) x min(1 s x 2^(k-1), 20 s) before attempt k+1; same request, same shard);
    when those are spent the error is not a cancellation, so the consumer fails the message.
    `throttle="cancel"`: it comes back as a cancellation reason (ThrottlingError), which the code
    treats like a conflict.
 5. Conflicts are retried as libs/aws/src/dynamo/mod.rs `retry_conflicts` does: 5 attempts in all,
    wait U[0,1) x 20 ms x 2^(n-1) before attempt n+1; each attempt rebuilds the transaction and so
    draws its shard again (as `reserve_once` in libs/aws/src/dynamo/inventory_store.rs does).
 6. An order whose attempts are spent fails its SQS message, which comes back after the visibility
    timeout (60 s): counted as "redelivered", its second delivery is not simulated.
 7. Open loop: Poisson arrivals at the offered rate, no limit on orders in flight (the deployed
    consumer has one: see the doc). Orders arriving in the first `warmup_s` and after the counted
    `orders` load the items but are not counted; the run ends when every counted order is decided.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ITEM_WCU_PER_S = 1000.0  # one partition's write limit
TX_WCU = 2.0  # a transactional write of an item <= 1 KB
CONFLICT_ATTEMPTS = 5  # libs/aws/src/dynamo/mod.rs CONFLICT_ATTEMPTS
CONFLICT_BACKOFF_S = 0.020  # libs/aws/src/dynamo/mod.rs CONFLICT_BACKOFF
SDK_ATTEMPTS = 3  # aws-smithy-types RetryConfig::standard()
SDK_INITIAL_BACKOFF_S = 1.0
SDK_MAX_BACKOFF_S = 20.0
LOADS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)  # offered orders/s
KNEE_RATIO = 0.99  # goodput below this share of the offered load: past the knee
SENSITIVITY_TX_MS = (1.0, 2.0, 5.0, 10.0, 20.0)
BEGIN, END = "<!-- BEGIN hot_sku_sim.py output -->", "<!-- END hot_sku_sim.py output -->"


@dataclass(frozen=True)
class Params:
    shards: int
    rate: float  # offered orders/s for the hot SKU
    tx_ms: float = 10.0
    orders: int = 20_000  # counted orders
    warmup_s: float = 3.0
    burst_s: float = 1.0
    throttle: str = "sdk"  # or "cancel"
    seed: int = 1


@dataclass(frozen=True)
class Result:
    params: Params
    goodput: float  # reservations/s committed while the counted orders arrived (by any order)
    reserved: float  # share of the counted orders reserved within their delivery
    conflicts: float  # TransactionConflict cancellations per order
    throttles: float  # throttled attempts per order
    retries: float  # attempts after the first, per order (conflict loop and SDK)
    redelivered: float  # share of orders whose message fails and comes back after 60 s
    p50_ms: float  # reservation latency of the orders that got one
    p99_ms: float
    in_flight: float  # mean orders in flight (Little's law: rate x mean time to a decision)
    max_attempts: int


def simulate(p: Params) -> Result:
    """One run at one offered load: deterministic for its parameters."""
    rng = random.Random(f"{p.seed}/{p.shards}/{p.rate}/{p.tx_ms}/{p.burst_s}/{p.throttle}")
    uniform, pick, expo = rng.random, rng.randrange, rng.expovariate
    push, pop = heapq.heappush, heapq.heappop
    tx, cap, sdk_mode = p.tx_ms / 1000.0, p.burst_s * ITEM_WCU_PER_S, p.throttle == "sdk"
    busy_until, tokens, refilled = [0.0] * p.shards, [0.0] * p.shards, [0.0] * p.shards  # buckets start empty
    arrival: list[float] = []  # per order
    attempt_n: list[int] = []  # conflict-loop attempt (1..5)
    attempt_k: list[int] = []  # SDK attempt within it (1..3)
    tries: list[int] = []  # attempts so far
    shard: list[int] = []
    first = int(p.warmup_s * p.rate)  # orders first .. last-1 are counted
    last = first + p.orders
    heap: list[tuple[float, int]] = []  # (time, order) of each order's next attempt
    next_arrival = expo(p.rate)
    pending = p.orders
    conflicts = throttles = attempts = redelivered = max_attempts = commits = 0
    decided_s = 0.0
    latencies: list[float] = []
    while pending or len(arrival) <= last:  # every counted order decided, the window over
        if heap and heap[0][0] < next_arrival:
            t, o = pop(heap)
        else:  # a new order's first attempt
            t, o = next_arrival, len(arrival)
            arrival.append(t)
            attempt_n.append(1)
            attempt_k.append(1)
            tries.append(0)
            shard.append(0)
            next_arrival = t + expo(p.rate)
        if attempt_k[o] == 1:  # a new transaction draws its shard; an SDK retry resends it
            shard[o] = pick(p.shards)
        i = shard[o]
        tries[o] += 1
        tok = min(cap, tokens[i] + (t - refilled[i]) * ITEM_WCU_PER_S)
        refilled[i] = t
        counted = first <= o < last
        done_at = -1.0  # set when the order is decided
        if busy_until[i] > t:  # another transaction holds the item: TransactionConflict
            tokens[i] = tok
            conflicts += counted
            outcome = "retry_conflict"
        elif tok < TX_WCU:  # over the partition's WCU/s
            tokens[i] = tok
            throttles += counted
            outcome = "retry_sdk" if sdk_mode else "retry_conflict"
        else:
            tokens[i] = tok - TX_WCU
            busy_until[i] = t + tx
            outcome = "ok"
            done_at = t + tx
            commits += first < len(arrival) <= last  # any order's commit inside the counted window
            if counted:
                latencies.append(done_at - arrival[o])
        if outcome == "retry_sdk":
            k = attempt_k[o]
            if k < SDK_ATTEMPTS:
                attempt_k[o] = k + 1
                push(heap, (t + tx + uniform() * min(SDK_INITIAL_BACKOFF_S * 2 ** (k - 1), SDK_MAX_BACKOFF_S), o))
            else:  # not a cancellation: StoreError::Backend, the message fails
                done_at = t + tx
                redelivered += counted
        elif outcome == "retry_conflict":
            n = attempt_n[o]
            if n < CONFLICT_ATTEMPTS:
                attempt_n[o], attempt_k[o] = n + 1, 1
                push(heap, (t + tx + uniform() * CONFLICT_BACKOFF_S * 2 ** (n - 1), o))
            else:
                done_at = t + tx
                redelivered += counted
        if counted:
            attempts += 1
            if done_at >= 0.0:
                pending -= 1
                decided_s += done_at - arrival[o]
                max_attempts = max(max_attempts, tries[o])
    end = arrival[last] if len(arrival) > last else next_arrival
    span = end - arrival[first]
    latencies.sort()
    n_ok = len(latencies)

    def pct(q: float) -> float:
        return 1000.0 * latencies[min(n_ok - 1, int(q * n_ok))] if n_ok else math.nan

    return Result(
        params=p,
        goodput=commits / span,
        reserved=n_ok / p.orders,
        conflicts=conflicts / p.orders,
        throttles=throttles / p.orders,
        retries=(attempts - p.orders) / p.orders,
        redelivered=redelivered / p.orders,
        p50_ms=pct(0.50),
        p99_ms=pct(0.99),
        in_flight=p.rate * decided_s / p.orders,
        max_attempts=max_attempts,
    )


def sweep(shards: list[int], loads: tuple[float, ...] = LOADS, **kw: Any) -> dict[int, list[Result]]:
    """`simulate` at every offered load for every shard count (keywords go to Params)."""
    return {n: [simulate(Params(shards=n, rate=r, **kw)) for r in loads] for n in shards}


def knee(results: list[Result]) -> float:
    """The offered load where the share of orders reserved within their delivery falls below
    KNEE_RATIO, so goodput stops following the offered load (log-interpolated between points); inf
    when it never does in the sweep."""
    prev = None
    for r in results:
        ratio = r.reserved
        if ratio < KNEE_RATIO:
            if prev is None:
                return r.params.rate
            (x0, y0), (x1, y1) = prev, (math.log(r.params.rate), ratio)
            return math.exp(x0 + (KNEE_RATIO - y0) * (x1 - x0) / (y1 - y0)) if y0 != y1 else math.exp(x1)
        prev = (math.log(r.params.rate), ratio)
    return math.inf


def plot(main: dict[int, list[Result]], sens: dict[float, dict[int, list[Result]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: render to a file
    import matplotlib.pyplot as plt

    tx_ms = next(iter(main.values()))[0].params.tx_ms
    fig, ax = plt.subplots(2, 3, figsize=(16, 9.5))
    palette = ("tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple", "tab:brown")
    colors = {n: palette[j % len(palette)] for j, n in enumerate(sorted(main))}
    x_all = [r.params.rate for r in next(iter(main.values()))]
    a, b, c, d, e, f = ax.flat
    a.plot(x_all, x_all, color="grey", lw=1, ls=":", label="y = x (every order reserved)")
    for n, rs in main.items():
        x = [r.params.rate for r in rs]
        col = colors[n]
        a.plot(x, [r.goodput for r in rs], "o-", color=col, label=f"{n} shard{'s' * (n > 1)}")
        a.axhline(n * 1000 / tx_ms, color=col, lw=0.8, ls="--")
        a.axhline(n * ITEM_WCU_PER_S / TX_WCU, color=col, lw=0.8, ls="-.")
        b.plot(x, [r.conflicts for r in rs], "o-", color=col, label=f"{n}: conflicts/order")
        b.plot(x, [r.retries for r in rs], "s--", color=col, mfc="none", label=f"{n}: retries/order")
        c.plot(x, [r.p99_ms for r in rs], "o-", color=col, label=f"{n}: p99")
        c.plot(x, [r.p50_ms for r in rs], ".:", color=col, label=f"{n}: p50")
        d.plot(x, [100 * r.redelivered for r in rs], "o-", color=col, label=f"{n} shard{'s' * (n > 1)}")
    a.set(title=f"(a) Reservations/s vs offered (tx in progress {tx_ms:g} ms)", ylabel="completed reservations/s")
    a.text(x_all[0], 1000 / tx_ms * 1.08, "dashed: N / tx time (one transaction per shard at a time)", fontsize=8)
    a.text(x_all[0], 500 * 1.08, "dash-dot: N x 500/s (1,000 WCU/s per item, 2 WCU per write)", fontsize=8)
    a.set_yscale("log")
    b.set(title="(b) Conflicts and retries per order", ylabel="per order")
    c.set(title="(c) Reservation latency, orders that got one", ylabel="ms (arrival to commit)", yscale="log")
    d.set(title="(d) Orders redelivered (SQS retry after 60 s)", ylabel="% of orders")
    for axis in (a, b, c, d):
        axis.set(xscale="log", xlabel="offered orders/s for the SKU")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, ncol=2 if axis in (b, c) else 1)
    windows = sorted(sens)
    for n in sorted(main):
        col = colors[n]
        e.plot(windows, [sens[w][n][-1].goodput for w in windows], "o-", color=col, label=f"{n} shard{'s' * (n > 1)}")
        ceiling = [min(n * 1000 / w, n * ITEM_WCU_PER_S / TX_WCU) for w in windows]
        e.plot(windows, ceiling, ":", color=col, label=f"{n}: min(N / tx time, N x 500/s)")
        f.plot(windows, [knee(sens[w][n]) for w in windows], "o-", color=col, label=f"{n} shard{'s' * (n > 1)}")
    top = sens[windows[0]][min(main)][-1].params.rate
    e.set(title=f"(e) Reservations/s at {top:,.0f} orders/s offered vs tx time", ylabel="reservations/s")
    f.set(
        title=f"(f) Knee (< {KNEE_RATIO:.0%} reserved in their delivery) vs tx time",
        ylabel="offered orders/s at the knee",
    )
    for axis in (e, f):
        axis.set(xscale="log", yscale="log", xlabel="time a transaction holds the item (ms)")
        axis.set_xticks(windows, [f"{w:g}" for w in windows])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    counts = ", ".join(str(n) for n in sorted(main))
    fig.suptitle(f"One hot SKU on DynamoDB: stock reservations, stock split over {counts} items", fontsize=13)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


POINT_HEAD = (
    "| shards | tx ms | throttle | offered/s | reserved/s | conflicts/order | throttles/order | retries/order "
    "| redelivered | p50 ms | p99 ms | in flight |\n" + "| ---: " * 12 + "|"
)


def point_row(r: Result) -> str:
    p = r.params
    return (
        f"| {p.shards} | {p.tx_ms:g} | {p.throttle} | {p.rate:,.0f} | {r.goodput:,.0f} | {r.conflicts:.3f} "
        f"| {r.throttles:.3f} | {r.retries:.3f} | {100 * r.redelivered:.1f}% | {r.p50_ms:.0f} | {r.p99_ms:.0f} "
        f"| {r.in_flight:,.0f} |"
    )


def table(main: dict[int, list[Result]], sens: dict[float, dict[int, list[Result]]], extra: list[Result]) -> str:
    """The figures as markdown tables."""
    p0 = next(iter(main.values()))[0].params
    at = (100, 1000, 5000)
    rows = [
        f"Transaction in progress {p0.tx_ms:g} ms, throttling `{p0.throttle}`, seed {p0.seed}, "
        f"{p0.orders:,} counted orders per point. Conflicts / retries per order at three loads:",
        "",
        f"| shards | knee (orders/s) | reserved/s at {next(iter(main.values()))[-1].params.rate:,.0f} offered "
        "| ceiling min(N/tx, N x 500) | " + " | ".join(f"at {x:,}/s" for x in at) + " |",
        "| ---: " * (4 + len(at)) + "|",
    ]
    for n, rs in main.items():
        ceiling = min(n * 1000 / p0.tx_ms, n * ITEM_WCU_PER_S / TX_WCU)
        by_rate = {r.params.rate: r for r in rs}
        cells = [f"{by_rate[x].conflicts:.2f} / {by_rate[x].retries:.2f}" if x in by_rate else "-" for x in at]
        rows.append(f"| {n} | {knee(rs):,.0f} | {rs[-1].goodput:,.0f} | {ceiling:,.0f} | " + " | ".join(cells) + " |")
    rows += ["", "Every point of the sweep:", "", POINT_HEAD]
    rows += [point_row(r) for rs in main.values() for r in rs]
    rows += ["", "Sensitivity to the time a transaction holds the item: knee / reserved/s at the top load", ""]
    rows.append("| tx ms | " + " | ".join(f"{n} shard{'s' * (n > 1)}" for n in main) + " |")
    rows.append("| ---: " * (1 + len(main)) + "|")
    for w, by_n in sorted(sens.items()):
        cells = [f"{knee(rs):,.0f} / {rs[-1].goodput:,.0f}" for rs in by_n.values()]
        rows.append(f"| {w:g} | " + " | ".join(cells) + " |")
    if extra:
        rows += ["", "Throttling at 1 ms, retried by the SDK (`sdk`) or returned as a cancellation (`cancel`):", ""]
        rows += [POINT_HEAD] + [point_row(r) for r in extra]
    return "\n".join(rows) + "\n"


def write_table(path: Path, text: str, begin: str = BEGIN, end: str = END) -> None:
    """Replaces the generated section of `path` (between `begin` and `end`), or appends one."""
    doc = path.read_text() if path.exists() else "# Hot-SKU reservation simulation\n"
    block = f"{begin}\n{text}{end}"
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--shards", default="1,4,16", help="shard counts, comma-separated")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tx-ms", type=float, default=10.0, help="time a transaction holds the item (ms)")
    ap.add_argument("--throttle", choices=("sdk", "cancel"), default="sdk", help="how throttling reaches the code")
    ap.add_argument("--orders", type=int, default=20_000, help="counted orders per point")
    ap.add_argument("--sens-orders", type=int, default=4_000, help="counted orders per sensitivity point")
    ap.add_argument("--out", type=Path, default=Path("docs/hot-sku-sim.png"))
    ap.add_argument("--table", type=Path, default=Path("docs/hot-sku-sim.md"))
    args = ap.parse_args()
    shards = [int(s) for s in args.shards.split(",")]
    cpu = time.process_time()
    main_runs = sweep(shards, tx_ms=args.tx_ms, orders=args.orders, seed=args.seed, throttle=args.throttle)
    windows = [w for w in SENSITIVITY_TX_MS if w != args.tx_ms]
    sens = {w: sweep(shards, tx_ms=w, orders=args.sens_orders, seed=args.seed, throttle=args.throttle) for w in windows}
    sens[args.tx_ms] = main_runs
    extra = [
        simulate(Params(shards=n, rate=r, tx_ms=1.0, orders=args.sens_orders, seed=args.seed, throttle=mode))
        for n in (1, 4)
        for mode in ("sdk", "cancel")
        for r in (1000, 5000)
    ]
    plot(main_runs, sens, args.out)
    write_table(args.table, table(main_runs, sens, extra))
    for n, rs in main_runs.items():
        top = f"{rs[-1].goodput:7,.0f} reservations/s at {rs[-1].params.rate:,.0f} offered"
        print(f"{n:>3} shards: knee {knee(rs):8,.0f} orders/s, {top}")
    print(f"wrote {args.out} and {args.table} in {time.process_time() - cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
