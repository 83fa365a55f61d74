"""Where the operator commands (`make dlq`, `make redrive`, `make logs`) act.

By default, the local stack: `.build/stack.json` (written by `make deploy`) and LocalStack. With
a profile, a region or a stack name (`PROFILE=`, `REGION=`, `STACK=` on make; `--profile`,
`--region`, `--stack` here), a deployed stack anywhere: the caller's own credentials and
settings from that profile (an `endpoint_url` in it reaches an emulator), and the stack's
outputs read with `DescribeStacks`. No credentials of its own are ever used there.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

import boto3

import local_aws


@dataclass
class Target:
    name: str
    outputs: dict[str, str]
    session: boto3.session.Session
    endpoint: str | None  # None: whatever the session's configuration says

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=None, help="AWS profile (default: the environment's)")
    p.add_argument("--region", default=None, help="AWS region (default: the profile's)")
    p.add_argument("--stack", default=None, help="CloudFormation stack name (default: orders-pipeline)")


def target(args: argparse.Namespace) -> Target:
    if not (args.profile or args.region or args.stack):
        with open(local_aws.STACK_FILE) as f:
            info = json.load(f)
        return Target(info["stack"], info["outputs"], local_aws.session(), info["endpoint"])
    session = boto3.session.Session(profile_name=args.profile or None, region_name=args.region or None)
    name = args.stack or "orders-pipeline"
    stack = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return Target(name, {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}, session, None)
