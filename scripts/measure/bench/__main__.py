"""`make bench`: the deployed pipeline against the emulator's own ceiling, measured in one run
on the running LocalStack (IAM enforced, batching window 0), then written to docs/bench/.

    make bench              # the full run (about 6 minutes)
    make bench QUICK=1      # fewer samples, to try a change

It reports; it asserts nothing."""

from __future__ import annotations

import argparse
import sys

from bench import chain, functions, report
from bench.bare import CONSUMERS, Bare
from bench.pipeline import Pipeline
from orders_client import Stack


def stack_concurrency(stack: Stack) -> int:
    lam = stack.client("lambda")
    mapping = lam.list_event_source_mappings(FunctionName=stack.outputs["InventoryFunctionName"])[
        "EventSourceMappings"
    ][0]
    return int(mapping.get("ScalingConfig", {}).get("MaximumConcurrency", 0)) or 5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    ap.add_argument("--no-functions", action="store_true", help="skip the per-function release builds")
    ap.add_argument("--out", default="docs/bench", help="where the table and plots go (from the repo root)")
    args = ap.parse_args()
    q = 4 if args.quick else 1

    stack = Stack()
    concurrency = stack_concurrency(stack)
    results: dict = {"concurrency": concurrency}
    print(f"bench: mappings at MaximumConcurrency {concurrency}, batch 10, window 0", flush=True)

    # first, while LocalStack is idle (the open loop past saturation leaves it busy for minutes)
    results["functions"] = [] if args.no_functions else functions.measure(cold_runs=15 // q, invocations=1000 // q)

    bare = Bare(concurrency).create()
    try:
        chain.drain_rate(bare, CONSUMERS, 50)  # warm: environments up to the cap
        results["hop"] = chain.hop_at_rest(bare, 150 // q)
        print(f"  one hop at rest: p50 {results['hop'].pct(50):.1f} ms", flush=True)
        results["drain_one"], _ = chain.drain_rate(bare, ("q0",), 2000 // q)
        print(f"  one mapping drains {results['drain_one']:.0f} msgs/s", flush=True)
        results["drain_three"], results["bare_requests_per_s"] = chain.drain_rate(bare, CONSUMERS, 1000 // q)
        print(f"  three mappings drain {results['drain_three']:.0f} msgs/s", flush=True)
        results["api"] = chain.api_to_trivial(bare, 200 // q)
        print(f"  API -> trivial function: p50 {results['api'].pct(50):.1f} ms", flush=True)
    finally:
        bare.delete()

    pipe = Pipeline()
    try:
        pipe.closed_loop(4, 3)  # warm
        before = pipe.requests()
        runs = [pipe.closed_loop(1, 60 // q)]
        for clients in (4, 16):
            runs.append(pipe.closed_loop(clients, 240 // q // clients))
        # what an order costs, from the closed loops (open loop past saturation adds redeliveries)
        after = pipe.requests()
        orders = sum(r.orders for r in runs)
        results["requests_per_order"] = {
            k: (n - before.get(k, 0)) / orders for k, n in after.items() if n - before.get(k, 0) > 0
        }
        results["deliveries_per_order"] = sum(r.deliveries for r in runs) / orders
        # open loop around what the closed loops reached: below, at and past saturation
        knee = max(r.achieved for r in runs)
        for share in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5):
            runs.append(pipe.open_loop(round(knee * share, 1), 20 / q))
        for r in runs:
            print(
                f"  {r.name}: {r.achieved:.1f} orders/s, "
                f"p50 {r.latency.pct(50):.0f} ms, p99 {r.latency.pct(99):.0f} ms",
                flush=True,
            )
    finally:
        pipe.close()
    results["runs"] = runs
    report.write(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
