"""Deploys a packaged template through a change set and waits by polling every half second.

`aws cloudformation deploy` waits in 30 s steps, which is most of a local deploy's time; this
does the same calls and, on failure, prints the events that explain it.
"""

import argparse
import os
import sys
import time

import boto3

POLL = 0.5


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--stack", required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("params", nargs="*", help="Key=Value parameter overrides")
    args = p.parse_args()

    cfn = boto3.client("cloudformation", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    with open(args.template) as f:
        body = f.read()
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in (x.split("=", 1) for x in args.params)]

    try:
        status = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        status = None
    if status == "ROLLBACK_COMPLETE":  # a failed first create cannot be updated
        cfn.delete_stack(StackName=args.stack)
        wait(cfn, args.stack, args.timeout, deleting=True)
        status = None

    name = f"deploy-{int(time.time() * 1000)}"
    cfn.create_change_set(
        StackName=args.stack, ChangeSetName=name, TemplateBody=body, Parameters=params,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        ChangeSetType="UPDATE" if status else "CREATE",
    )
    deadline = time.monotonic() + args.timeout
    while True:
        cs = cfn.describe_change_set(StackName=args.stack, ChangeSetName=name)
        if cs["Status"] == "CREATE_COMPLETE":
            break
        if cs["Status"] == "FAILED":
            reason = cs.get("StatusReason", "")
            if "didn't contain changes" in reason or "No updates" in reason:
                cfn.delete_change_set(StackName=args.stack, ChangeSetName=name)
                print("    no changes")
                return 0
            print(f"change set failed: {reason}", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print("timed out creating the change set", file=sys.stderr)
            return 1
        time.sleep(POLL)

    started = time.monotonic()
    cfn.execute_change_set(StackName=args.stack, ChangeSetName=name)
    final = wait(cfn, args.stack, args.timeout)
    print(f"    {final} in {time.monotonic() - started:.1f}s")
    return 0 if final in ("CREATE_COMPLETE", "UPDATE_COMPLETE") else 1


def wait(cfn, stack: str, timeout: float, deleting: bool = False) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except cfn.exceptions.ClientError:
            if deleting:
                return "DELETE_COMPLETE"
            raise
        if not status.endswith("_IN_PROGRESS"):
            if "FAILED" in status or "ROLLBACK" in status:
                for e in cfn.describe_stack_events(StackName=stack)["StackEvents"][:30]:
                    if "FAILED" in e["ResourceStatus"]:
                        print(f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason')}", file=sys.stderr)
            return status
        time.sleep(POLL)
    return "TIMED_OUT"


if __name__ == "__main__":
    sys.exit(main())
