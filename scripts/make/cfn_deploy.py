"""Deploys a packaged template through a change set and waits by polling every half second.

`aws cloudformation deploy` waits in 30 s steps, which is most of a local deploy's time; this
does the same calls and, on failure, prints the events that explain it.

--local: LocalStack's open-core CloudFormation cannot update an API Gateway stage, API key or
usage plan (their resource providers have no update handler), so an update that changes the API
fails, rolls back, and leaves a stack LocalStack can neither update nor delete. With --local
such a stack is reported with exit status 3; the caller tells the user how to get past it (delete
the stack, or restart the emulator empty) and never does either itself.
"""

import argparse
import hashlib
import os
import sys
import time

import boto3

POLL = 0.5
UNRECOVERABLE = 3
UNUSABLE = {
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "DELETE_FAILED",
    "REVIEW_IN_PROGRESS",
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--stack", required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--local", action="store_true", help="exit 3 when LocalStack left the stack unusable")
    p.add_argument("--bucket", help="upload the template here and deploy it by URL (a body over 51,200 bytes must be)")
    p.add_argument("params", nargs="*", help="Key=Value parameter overrides")
    args = p.parse_args()

    cfn = boto3.client("cloudformation", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    with open(args.template) as f:
        body = f.read()
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in (x.split("=", 1) for x in args.params)]

    source = {"TemplateBody": body}
    if args.bucket:
        source = {"TemplateURL": upload(args.bucket, body)}

    status = stack_status(cfn, args.stack)
    if args.local and status in UNUSABLE:
        print(f"    stack is {status}: LocalStack cannot update or delete it", file=sys.stderr)
        return UNRECOVERABLE
    if status == "ROLLBACK_COMPLETE":  # a failed first create cannot be updated
        delete(cfn, args.stack, args.timeout, status)
        status = None

    started = time.monotonic()
    final = deploy(cfn, args.stack, source, params, status, args.timeout)
    if final == "NO_CHANGES":
        print("    no changes")
        return 0
    print(f"    {final} in {time.monotonic() - started:.1f}s")
    if args.local and final in UNUSABLE:
        return UNRECOVERABLE
    return 0 if final in ("CREATE_COMPLETE", "UPDATE_COMPLETE") else 1


def stack_status(cfn, stack: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        return None


def upload(bucket: str, body: str) -> str:
    """The template in `bucket` under its hash; its URL (path style, at the endpoint if any, as
    `aws cloudformation deploy --s3-bucket` does for a template over CloudFormation's 51,200-byte
    body limit)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    key = f"templates/{hashlib.sha256(body.encode()).hexdigest()}.yaml"
    boto3.client("s3", endpoint_url=endpoint).put_object(Bucket=bucket, Key=key, Body=body.encode())
    base = endpoint.rstrip("/") if endpoint else "https://s3.amazonaws.com"
    return f"{base}/{bucket}/{key}"


def deploy(cfn, stack: str, source: dict[str, str], params: list, status: str | None, timeout: float) -> str:
    name = f"deploy-{int(time.time() * 1000)}"
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        **source,
        Parameters=params,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        ChangeSetType="UPDATE" if status else "CREATE",
    )
    deadline = time.monotonic() + timeout
    while True:
        cs = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        if cs["Status"] == "CREATE_COMPLETE":
            break
        if cs["Status"] == "FAILED":
            reason = cs.get("StatusReason", "")
            if "didn't contain changes" in reason or "No updates" in reason:
                cfn.delete_change_set(StackName=stack, ChangeSetName=name)
                return "NO_CHANGES"
            print(f"change set failed: {reason}", file=sys.stderr)
            return "CHANGE_SET_FAILED"
        if time.monotonic() > deadline:
            return "TIMED_OUT"
        time.sleep(POLL)
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    return wait(cfn, stack, timeout)


def delete(cfn, stack: str, timeout: float, status: str | None) -> None:
    print(f"    deleting stack {stack} ({status})")
    cfn.delete_stack(StackName=stack)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = stack_status(cfn, stack)
        if s in (None, "DELETE_COMPLETE"):
            return
        if s == "DELETE_FAILED":
            raise SystemExit(f"could not delete {stack}: DELETE_FAILED")
        time.sleep(POLL)
    raise SystemExit(f"timed out deleting {stack}")


def wait(cfn, stack: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = stack_status(cfn, stack) or "GONE"
        if not status.endswith("_IN_PROGRESS"):
            if "FAILED" in status or "ROLLBACK" in status:
                for e in cfn.describe_stack_events(StackName=stack)["StackEvents"][:30]:
                    if "FAILED" in e["ResourceStatus"] and e.get("ResourceStatusReason"):
                        print(f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason')}", file=sys.stderr)
            return status
        time.sleep(POLL)
    return "TIMED_OUT"


if __name__ == "__main__":
    sys.exit(main())
