"""Makes the local stack deliver as AWS may, for one `make test` stage, and back.

    delivery_as_aws.py on [--reorder-ms 200] [--window 1]
    delivery_as_aws.py off

`on`: standard queues and SNS -> SQS deliveries out of order within `--reorder-ms` (the
extension's delivery window: AWS keeps no order there either), and the stack's SQS event source
mappings with the template's default batching window for AWS (`BatchingWindowSeconds`, 1 s: one
order's PENDING and CONFIRMED then often share a batch), instead of the 0 s local deploys use.
`off`: the local deploy's settings again (no reordering, window 0). The window is set on the
mappings directly: LocalStack cannot apply every stack update (cfn_deploy.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

from local_aws import ROOT, client, hostmode, hostmode_put

FUNCTIONS = ("InventoryFunctionName", "OrderStatusFunctionName", "NotificationFunctionName")


def mappings() -> list[str]:
    outputs = json.loads((ROOT / ".build" / "stack.json").read_text())["outputs"]
    lam = client("lambda")
    uuids = []
    for key in FUNCTIONS:
        found = lam.list_event_source_mappings(FunctionName=outputs[key])["EventSourceMappings"]
        uuids += [m["UUID"] for m in found]
    return uuids


def set_window(seconds: int) -> None:
    lam = client("lambda")
    for uuid in mappings():
        lam.update_event_source_mapping(UUID=uuid, MaximumBatchingWindowInSeconds=seconds)
        # No mapping waiter in botocore: poll until it is Enabled again with the window.
        for _ in range(60):
            m = lam.get_event_source_mapping(UUID=uuid)
            if m["State"] == "Enabled" and m.get("MaximumBatchingWindowInSeconds", 0) == seconds:
                break
            time.sleep(0.5)
        else:
            raise SystemExit(f"mapping {uuid} did not take a {seconds} s batching window")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("on", "off"))
    p.add_argument("--reorder-ms", type=int, default=200)
    p.add_argument("--window", type=int, default=1)
    args = p.parse_args()
    on = args.mode == "on"
    hostmode_put("delivery", {"reorder_ms": args.reorder_ms if on else 0})
    set_window(args.window if on else 0)
    state = hostmode("delivery")
    print(f"==> delivery as on AWS {args.mode}: reorder window {state['reorder_ms']} ms, "
          f"batching window {args.window if on else 0} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
