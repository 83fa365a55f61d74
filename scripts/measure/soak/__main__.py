"""`make soak` (N=1000 FAULTS=0.1 SEED=1): N orders through the stack deployed in LocalStack
while AWS errors, process kills, a consumer outage and an API crash hit it; then a recount of
every invariant, a redrive of what reached a DLQ, and the recount again. Exits 1 on any
violation; writes .build/soak/report.html. Run from scripts/measure/ (`python -m soak --help`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import local_aws
from orders_client import Stack, wait_for
from soak import audit, report
from soak.chaos import Chaos
from soak.client import Load
from soak.plan import Plan, make_plan
from tap import Tap

T0 = time.time()


def note(kind: str, detail: str) -> None:
    print(f"[{time.time() - T0:6.1f}s] {kind:9} {detail}", flush=True)


def parameter(stack: Stack, name: str) -> str:
    cfn = stack.client("cloudformation").describe_stacks(StackName=stack.info["stack"])["Stacks"][0]
    return next(p["ParameterValue"] for p in cfn["Parameters"] if p["ParameterKey"] == name)


QUEUES = ("InventoryQueueUrl", "OrderStatusQueueUrl", "NotificationQueueUrl")


def queues_empty(stack: Stack, timeout: float) -> None:
    def busy() -> list[str]:
        return [q for q in QUEUES if stack.queue_depth(q) != (0, 0)]

    wait_for(busy, lambda q: not q, timeout, "the consumer queues to empty", 2)


def settle(stack: Stack, plan: Plan, load: Load, chaos: Chaos, pending_timeout: float) -> tuple[audit.Findings, int]:
    """Drains the pipeline; explains and redrives what reached a DLQ; waits for every accepted
    order to end. Returns the findings so far and how many messages were redriven."""
    f = audit.Findings()
    note("drain", "waiting for the consumer queues to empty")
    queues_empty(stack, pending_timeout + 150)
    faults_log = [e for e in chaos.fault_log if e["time"] >= T0]
    f.fault_times = [e["time"] for e in faults_log]
    f.faults_by_rule = Counter(e["rule"] for e in faults_log)
    ours = {o["order_id"] for o in audit.run_orders(stack, plan)}
    audit.trace_dlq(f, audit.dlq_messages(stack, ours), faults_log, chaos.events)
    for consumer in sorted({m["consumer"] for m in f.dlq}):
        note("redrive", f"make redrive QUEUE={consumer} ({sum(m['consumer'] == consumer for m in f.dlq)} messages)")
        subprocess.run(["make", "-s", "redrive", f"QUEUE={consumer}"], cwd=local_aws.ROOT, check=True)
    if f.dlq:
        queues_empty(stack, pending_timeout + 150)
        for m in audit.dlq_messages(stack, ours):
            f.fail("back in a DLQ after the redrive", f"{m['queue']}: {m['type']} {m['id']} of {m['order_id']}")
    note("drain", "waiting for every accepted order to end")
    wait_for(lambda: audit.pending_ids(stack, load), lambda p: not p, pending_timeout + 150,
             "every accepted order to end", 3)  # fmt: skip
    return f, len(f.dlq)


def recount(f: audit.Findings, stack: Stack, plan, load: Load, tap: Tap, pending_timeout: float) -> None:
    orders = audit.run_orders(stack, plan)
    audit.check_orders(f, orders, load, pending_timeout)
    audit.check_stock(f, stack, plan, orders, load)
    audit.check_news(f, tap, orders)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000, help="orders")
    ap.add_argument("--faults", type=float, default=0.1, help="least share of the functions' calls that fail")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument("--kills", type=int, default=4, help="SIGKILLs of inventory / order-status mid-batch")
    ap.add_argument("--outage", type=float, default=60, help="seconds order-status's mapping stays disabled")
    ap.add_argument("--dependency-outage", type=float, default=75,
                    help="seconds inventory's DynamoDB calls fail (5 receives: DLQ, redrive)")  # fmt: skip
    ap.add_argument(
        "--hot-shards",
        type=int,
        default=1,
        help="stock shards of the hot SKU at the start (the others have one; inventory may raise any)",
    )
    ap.add_argument("--out", default=str(local_aws.ROOT / ".build" / "soak"))
    args = ap.parse_args()

    stack = Stack()
    pending_timeout = float(parameter(stack, "PendingTimeoutSeconds"))
    plan = make_plan(args.n, args.seed)
    note("plan", f"run {plan.run}: {args.n} orders, {len(plan.stock)} SKUs (hot {plan.hot}: {plan.stock[plan.hot]} "
                 f"units on {args.hot_shards} shards), {len(plan.restocks)} restocks, faults {args.faults}, "
                 f"seed {args.seed}")  # fmt: skip
    for sku, units in plan.stock.items():
        stack.set_stock(sku, units, shards=args.hot_shards if sku == plan.hot else 1)
    tap = Tap(stack, ("OrderEventsTopicArn", "CustomerNotificationsTopicArn"), prefix="soak-tap")
    chaos = Chaos(stack, args.faults, args.seed, args.kills, args.outage, lambda: load.placed / args.n, note,
                  dependency_outage_s=args.dependency_outage)  # fmt: skip
    load = Load(plan, args.clients, note, before_victim=chaos.api_crash)
    rules: list[dict] = []
    try:
        start = time.time()
        chaos.start()
        load.run()
        load_end = time.time()
        note("load", f"done: {sum(1 for r in load.records if r.order_id)} of {args.n} accepted")
        rules = chaos.finish()
        if chaos.error:
            note("chaos", f"a step failed: {chaos.error!r}")
        f, redriven = settle(stack, plan, load, chaos, pending_timeout)
        recount(f, stack, plan, load, tap, pending_timeout)
    except BaseException:
        rules = rules or chaos.stop()  # never leave the fault rules on
        raise
    finally:
        tap.close()
    if chaos.error:
        f.fail("chaos not applied", repr(chaos.error))
    return summarize(args, plan, load, f, rules, chaos, start, load_end, redriven)


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (max(times) - min(times)) if len(times) > 1 and max(times) > min(times) else 0.0


def share(rules: list[dict], service: str, logged: Counter) -> str:
    """Faulted attempts / attempts of a service's calls that the rate rules could fault (the
    widest rule matched them all). The attempts an outage rule failed first are left out: the
    rate rules counted them but could not fire."""
    of_service = [r for r in rules if r["service"] == service and not r["function"]]
    if not of_service:
        return "-"
    everything = max(of_service, key=lambda r: r["calls"] + r["retried"])
    rate_rules = {r["rule"] for r in rules}
    outage = sum(n for rule, n in logged.items() if rule not in rate_rules and rule.startswith(f"{service}:"))
    attempts = everything["calls"] + everything["retried"] - outage
    faulted = sum(r["faulted"] for r in rules if r["service"] == service)
    return f"{faulted} of {attempts} ({faulted / max(1, attempts):.1%})"


def summarize(args, plan, load, f: audit.Findings, rules: list[dict], chaos: Chaos, start: float, load_end: float,
              redriven: int) -> int:  # fmt: skip
    faults = len(f.fault_times)  # every injected error, the DynamoDB outage's too
    sdk_retries = sum(
        max((r["retried"] for r in rules if r["service"] == svc), default=0) for svc in ("dynamodb", "sns")
    )
    client_retries = sum(r.placed.attempts - 1 for r in load.records)
    accepted = [r.placed.at for r in load.records if r.order_id]
    ended_in = f.terminal_at - start
    summary = [
        ("command", f"make soak N={args.n} FAULTS={args.faults} SEED={args.seed}"),
        ("orders accepted", f"{len(accepted)} of {args.n} ({rate(accepted):.1f} orders/s while placing)"),
        ("faults injected", f"{faults}"),
        *[
            (f"{svc} calls failed by the rate rules", share(rules, svc, f.faults_by_rule))
            for svc in ("dynamodb", "sns")
        ],
        ("SDK retries seen after faults", f"{sdk_retries}"),
        ("client retries", f"{client_retries}"),
        ("kills / outage / API crash", ", ".join(f"{e['kind']} {e['function']}" for e in chaos.events)),
        ("time to drain after the load", f"{f.terminal_at - load_end:.0f} s"),
        ("longest order to terminal", f"{f.longest_to_terminal_s:.0f} s"),
        ("DLQ messages (explained, redriven)", f"{len(f.dlq)} ({redriven} redriven)"),
        *[(k, str(v)) for k, v in sorted(f.counts.items())],
    ]
    for k, v in summary:
        print(f"  {k:40} {v}")
    rule_rows = [["rule", "calls", "SDK retries", "faulted", "delayed", "fault rate"]] + [
        [r["rule"], str(r["calls"]), str(r["retried"]), str(r["faulted"]), str(r["delayed"]),
         f"{r['faulted'] / max(1, r['calls'] + r['retried']):.3f}"]
        for r in rules
    ]  # fmt: skip
    for row in rule_rows:
        print("  " + " ".join(f"{c:>11}" for c in row[1:]) + "  " + row[0])
    png = report.timeline_png(start, accepted, f.ended, f.fault_times, chaos.events)
    out = Path(args.out) / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "timeline.png").write_bytes(png)
    report.write(out, f"Soak {plan.run}", summary, png, f.violations, {"fault rules": rule_rows,
                 "DLQ messages": [["queue", "type", "order", "faults/kills on its consumer"]] +
                 [[m["queue"], m["type"], str(m["order_id"]), str(m["traced_to"])] for m in f.dlq]})  # fmt: skip
    bad = {k: v for k, v in f.violations.items() if v}
    for kind, items in bad.items():
        print(f"VIOLATION {kind}: {len(items)}")
        for i in items[:10]:
            print(f"    {i}")
    print(f"report: {out}")
    lost = sum(len(v) for k, v in bad.items() if "lost" in k)
    oversold = sum(len(v) for k, v in bad.items() if "oversold" in k)
    dup = sum(len(v) for k, v in bad.items() if "duplicate notifications" in k)
    print(f"soak: {args.n} orders, {faults} faults injected, {lost} lost, {oversold} oversold, "
          f"{dup} duplicate notifications, all terminal in {ended_in:.0f} s")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
