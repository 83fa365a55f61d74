"""What a test's poll costs the emulator: LocalStack's own CPU time (from /proc) per read of an
order's status through the API (`GET /orders/{id}`: API Gateway, a Lambda invocation, a
`GetItem`) next to the same status read from the Orders table (`GetItem`, and `BatchGetItem` of
100 orders), on the stack `make up` deployed, idle otherwise (the CPU counted is all of
LocalStack's). Every wait in the live stages polls; on 2 cores with LocalStack at one core,
what the polls cost is taken from the pipeline they wait for (docs/development.md). Prints a
markdown table.

    make up && .venv/tools/bin/python scripts/measure/poll_cost.py [--reads 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

from local_aws import ROOT, STACK_FILE
from orders_client import Stack


def localstack_cpu_s() -> float:
    """LocalStack's user + system CPU seconds so far (its process and threads)."""
    pid = int((ROOT / ".localstack" / "localstack.pid").read_text().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def measure(what: Callable[[], object], n: int) -> tuple[float, float]:
    """Milliseconds of wall time and of LocalStack CPU per call, over `n` calls one at a time."""
    what()  # warm: the function's container, the client's connection
    cpu, wall = localstack_cpu_s(), time.monotonic()
    for _ in range(n):
        what()
    return (time.monotonic() - wall) / n * 1000, (localstack_cpu_s() - cpu) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reads", type=int, default=100)
    args = ap.parse_args()
    stack = Stack(STACK_FILE)
    sku = f"POLL-{int(time.time())}"
    assert stack.set_stock(sku, 1000).status in (200, 201)
    customer = stack.customer()
    ids = [stack.place_accepted(customer, [(sku, 1)]).body["order_id"] for _ in range(100)]
    stack.wait_settled(ids, 120, {"CONFIRMED", "REJECTED", "CANCELLED"})
    one = ids[0]
    rows = [
        ("`GET /orders/{id}` through the API", *measure(lambda: stack.order(one), args.reads)),
        ("`GetItem` on the Orders table", *measure(lambda: stack.statuses([one]), args.reads)),
        ("`BatchGetItem` of 100 orders", *measure(lambda: stack.statuses(ids), max(args.reads // 10, 5))),
    ]
    print("| read of an order's status | wall ms | LocalStack CPU ms |")
    print("|---|---:|---:|")
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
