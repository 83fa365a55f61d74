"""Prints (and with --follow, keeps printing) a function's CloudWatch logs from LocalStack."""

import argparse
import sys
import time
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

import ops_target

OUTPUT_KEYS = {
    "orders-api": "OrdersApiFunctionName",
    "inventory": "InventoryFunctionName",
    "order-status": "OrderStatusFunctionName",
    "notification": "NotificationFunctionName",
    "outbox-sweeper": "OutboxSweeperFunctionName",
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--function", required=True, choices=sorted(OUTPUT_KEYS))
    p.add_argument("--follow", action="store_true")
    p.add_argument("--since", type=float, default=600, help="seconds of history to show first")
    ops_target.add_arguments(p)
    args = p.parse_args()

    t = ops_target.target(args)
    logs = t.client("logs")
    group = f"/aws/lambda/{t.outputs[OUTPUT_KEYS[args.function]]}"
    start = int((time.time() - args.since) * 1000)
    seen: set[str] = set()
    print(f"# {group}", file=sys.stderr)
    while True:
        kwargs = {"logGroupName": group, "startTime": start}
        try:
            while True:
                page = logs.filter_log_events(**kwargs)
                for e in page.get("events", []):
                    if e["eventId"] not in seen:
                        seen.add(e["eventId"])
                        print(e["message"].rstrip("\n"), flush=True)
                        start = max(start, e["timestamp"])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        except logs.exceptions.ResourceNotFoundException:
            pass  # no invocation has logged yet
        if not args.follow:
            return 0
        time.sleep(1)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
