"""Calls and cost per order, measured on the stack `make up` deployed (docs/capacity.md).

Three scenarios, each on fresh counters (scripts/measure/order_cost/scenarios.py): placed and
confirmed; rejected (out of stock); confirmed, then cancelled by the customer. For each, per
order: DynamoDB write and read request units per function and per table/index (the extension
prices every request as on-demand DynamoDB bills it: `GET /_hostmode/capacity`), SNS publishes,
SQS requests (SNS's deliveries, the mappings' receives and deletes under the consumer's role, the
functions' own sends), Lambda invocations and log bytes (the functions' log groups over the
scenario's window), emulator requests (`GET /_hostmode/requests`), and dollars per million orders
at docs/capacity.md's unit prices (order_cost/prices.py). The outbox sweeper runs every minute
whatever the load: it is reported per minute. Prints markdown tables and writes
.build/calls-per-order.json.

`--check-budget` then compares the confirmed order's WRU with docs/cost-budget.json and exits 1
naming every table/index or function over its figure. `--from-json` reports (and checks) a
result already written, without a stack.

    .venv/tools/bin/python scripts/measure/calls_per_order.py [--orders 50] [--check-budget]
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

from order_cost import budget, prices, report, tally

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / ".build" / "calls-per-order.json"
BUDGET = ROOT / "docs" / "cost-budget.json"


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if dirty else "")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from order_cost import scenarios
    from order_cost.live import Probe
    from orders_client import Stack

    stack = Stack()
    probe = Probe(stack)
    if probe.fault_rules():
        raise SystemExit("fault rules are set (make faults): they would change the counts; make faults-clear first")
    rnd, run_id = random.Random(args.seed), uuid.uuid4().hex[:6].upper()
    who = scenarios.customers(stack, run_id, args.orders)
    result: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit(),
            "endpoint": stack.endpoint,
            "command": " ".join(sys.argv[1:]) or "(defaults)",
        },
        "scenarios": [],
    }
    for name in args.scenarios.split(","):
        spec = scenarios.SCENARIOS[name]
        print(f"==> {name}: {spec.title}, {args.orders} orders", file=sys.stderr, flush=True)
        s = scenarios.run(stack, probe, spec, who, run_id, rnd, args.skus, args.timeout)
        result["scenarios"].append(s)
        print(f"    {s['final']} in {s['seconds']:.0f} s", file=sys.stderr, flush=True)
    if not args.no_sweeper:
        print("==> the outbox sweeper's runs, per minute (about 2 minutes)", file=sys.stderr, flush=True)
        result["per_minute"] = probe.per_minute()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--orders", type=int, default=50, help="orders per scenario")
    ap.add_argument("--skus", type=int, default=8)
    ap.add_argument("--scenarios", default=",".join(["confirmed", "rejected", "cancelled"]))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300, help="seconds for a scenario's orders to settle")
    ap.add_argument("--no-sweeper", action="store_true", help="skip the per-minute figures (two sweeper runs)")
    ap.add_argument("--out", type=Path, default=RESULT, help="where the result goes (JSON)")
    ap.add_argument("--from-json", type=Path, help="report a result already written instead of measuring")
    ap.add_argument("--check-budget", action="store_true", help="exit 1 if WRU per confirmed order is over budget")
    ap.add_argument("--budget", type=Path, default=BUDGET)
    ap.add_argument("--write-budget", type=Path, help="write a budget from this result's confirmed orders")
    args = ap.parse_args()

    doc_drift = prices.drift(prices.DOC.read_text())
    if doc_drift:
        print("warning: unit prices differ from docs/capacity.md:\n  " + "\n  ".join(doc_drift), file=sys.stderr)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        result = measure(args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"==> wrote {args.out}", file=sys.stderr)
    print(report.render(result))

    confirmed = next((s for s in result["scenarios"] if s["name"] == budget.SCENARIO), None)
    if (args.check_budget or args.write_budget) and confirmed is None:
        print(f"no '{budget.SCENARIO}' scenario in the result: nothing to compare", file=sys.stderr)
        return 2
    if args.write_budget and confirmed:
        how = {"date": result["meta"]["date"], "commit": result["meta"]["commit"], "orders": confirmed["orders"]}
        how["how"] = (
            f"make calls-per-order (calls_per_order.py {result['meta']['command']}): {confirmed['orders']} orders, "
            f"{confirmed['lines'] / confirmed['orders']:.2f} lines per order over {confirmed.get('skus', '?')} SKUs, "
            "one stock shard, on LocalStack with the hostmode extension"
        )
        made = budget.make_budget(tally.wru_figures(confirmed), how)
        args.write_budget.write_text(json.dumps(made, indent=2) + "\n")
        print(f"==> wrote {args.write_budget}", file=sys.stderr)
    if args.check_budget and confirmed:
        limits = json.loads(args.budget.read_text())
        over = budget.over_budget(tally.wru_figures(confirmed), limits)
        if over:
            print(f"WRU per confirmed order over the budget in {args.budget}:\n  " + "\n  ".join(over), file=sys.stderr)
            return 1
        got, allowed = tally.wru_figures(confirmed)["total"], limits["wru_per_order"]["total"]
        print(f"==> WRU per confirmed order {got:.2f} within the budget {allowed:.2f} ({args.budget})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
