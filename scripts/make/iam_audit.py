"""Least privilege, proven on the running stack: every function's inline policy against the
calls its code made in this run (the localstack-hostmode extension records, per role, each
(action, resource) it allowed and each call it denied).

Fails when a function was denied anything (its code calls what its policy lacks: AWS would
refuse it too), or when a granted action was never used on a granted resource during the run
(a grant no test exercises is either dead or untested). Run it after the end-to-end stages of
`make test`, which also exercise the failure paths (rollbacks, claim releases) under fault rules.

    python scripts/make/iam_audit.py [--stack orders-pipeline]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import unquote

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

import local_aws


def pattern(p: str, ignore_case: bool) -> re.Pattern:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p)
    return re.compile(rx + r"\Z", re.IGNORECASE if ignore_case else 0)


def as_list(v):
    return [v] if isinstance(v, str) else list(v)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack", default=os.environ.get("STACK_NAME", "orders-pipeline"))
    args = ap.parse_args()
    cfn, iam, lam = (local_aws.client(s) for s in ("cloudformation", "iam", "lambda"))

    functions = [
        r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=args.stack)["StackResources"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    ]
    usage = local_aws.hostmode("iam/usage")
    denials = local_aws.hostmode("iam/denials")["denials"]

    problems = []
    rows = []
    for fn in sorted(functions):
        role = lam.get_function_configuration(FunctionName=fn)["Role"].rsplit("/", 1)[-1]
        used = usage.get(role, [])
        for d in denials:
            if d["role"] == role:
                problems.append(f"{fn}: denied {d['action']} on {d['resource']} ({d['caller']})")
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(doc, str):
                doc = json.loads(unquote(doc))
            for st in as_list(doc["Statement"]) if isinstance(doc["Statement"], list) else [doc["Statement"]]:
                if st.get("Effect") != "Allow":
                    continue
                for action in as_list(st.get("Action", [])):
                    for resource in as_list(st.get("Resource", [])):
                        a, r = pattern(action, True), pattern(resource, False)
                        n = sum(u["count"] for u in used if a.match(u["action"]) and r.match(u["resource"]))
                        short = fn.split("-")[-2] if fn.count("-") >= 2 else fn
                        rows.append((short, action, resource.rsplit(":", 1)[-1], n))
                        if n == 0:
                            problems.append(f"{fn}: {action} on {resource} is granted but was never used")

    width = max((len(r[0]) for r in rows), default=10)
    for fn, action, resource, n in rows:
        print(f"  {fn:<{width}}  {action:<26} {resource:<58} {n:>6}")
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    print(f"iam audit: {len(functions)} functions, {len(rows)} grants, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
