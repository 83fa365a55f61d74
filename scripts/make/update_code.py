"""Updates the code of the deployed stack's functions in place, as `sam sync --code` does: for a
change of Rust code only (template, API definition and parameters as deployed), which LocalStack's
CloudFormation cannot always apply as a stack update (an update that touches the API's stage or
key fails there and leaves the stack stuck; see cfn_deploy.py).

Only functions whose staged binary changed since the last deploy are updated: each staged
`.build/lambda/<fn>.source` is compared with the copy recorded at the last deploy
(`.build/deployed/<fn>.source`). `--record` only records (after a full deploy).

    update_code.py --stack orders-pipeline [--record]
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import zipfile
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

from local_aws import ROOT, client

LAMBDA = ROOT / ".build" / "lambda"
DEPLOYED = ROOT / ".build" / "deployed"
# staged directory -> the stack output naming its function
OUTPUTS = {
    "orders-api": "OrdersApiFunctionName",
    "inventory": "InventoryFunctionName",
    "order-status": "OrderStatusFunctionName",
    "notification": "NotificationFunctionName",
    "outbox-sweeper": "OutboxSweeperFunctionName",
}


def changed() -> list[str]:
    """The staged functions whose binary differs from the one last deployed."""
    out = []
    for fn in OUTPUTS:
        staged, deployed = LAMBDA / f"{fn}.source", DEPLOYED / f"{fn}.source"
        if not deployed.exists() or staged.read_bytes() != deployed.read_bytes():
            out.append(fn)
    return out


def record(fns: list[str]) -> None:
    DEPLOYED.mkdir(parents=True, exist_ok=True)
    for fn in fns:
        shutil.copyfile(LAMBDA / f"{fn}.source", DEPLOYED / f"{fn}.source")


def zipped(fn: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16  # executable, as cargo lambda packages it
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, (LAMBDA / fn / "bootstrap").read_bytes())
    return buf.getvalue()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack", required=True)
    p.add_argument("--record", action="store_true", help="record the staged binaries as deployed")
    args = p.parse_args()
    if args.record:
        record(list(OUTPUTS))
        return 0
    stack = client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    lam = client("lambda")
    todo = changed()
    for fn in todo:
        name = outputs[OUTPUTS[fn]]
        lam.update_function_code(FunctionName=name, ZipFile=zipped(fn))
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        print(f"    {fn}: code updated ({name})")
    record(todo)
    if not todo:
        print("    no function's code changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
