"""The template's whole life in LocalStack: a second copy of the stack is created from the same
packaged template, updated (a parameter change reaches the functions) and deleted (its
resources are gone)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

import local_aws
from orders_client import wait_for

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PACKAGED = os.path.join(ROOT, ".build", "packaged.yaml")


def deploy(stack_name: str, params: dict[str, str], endpoint: str) -> None:
    env = local_aws.cli_env(endpoint)
    cmd = [
        sys.executable,
        os.path.join(ROOT, "scripts", "cfn_deploy.py"),
        "--stack",
        stack_name,
        "--template",
        PACKAGED,
    ] + [f"{k}={v}" for k, v in params.items()]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def test_stack_updates_and_deletes(stack):
    if not os.path.exists(PACKAGED):
        pytest.fail(f"{PACKAGED} is missing: deploy first (make deploy)")
    cfn, lam, ddb, sqs = (stack.client(s) for s in ("cloudformation", "lambda", "dynamodb", "sqs"))
    main = cfn.describe_stacks(StackName=stack.info["stack"])["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in main["Parameters"]}
    name = f"orders-lifecycle-{uuid.uuid4().hex[:8]}"

    deploy(name, {**params, "LogLevel": "info"}, stack.endpoint)
    try:
        outputs = {
            o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
        }
        fn = outputs["InventoryFunctionName"]
        assert lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]["RUST_LOG"] == "info"

        deploy(name, {**params, "LogLevel": "debug"}, stack.endpoint)
        assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
        assert lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]["RUST_LOG"] == "debug"
    finally:
        cfn.delete_stack(StackName=name)

    def status():
        try:
            return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except cfn.exceptions.ClientError:
            return "GONE"

    assert (
        wait_for(status, lambda s: s in ("DELETE_COMPLETE", "GONE", "DELETE_FAILED"), 120, "stack deletion")
        != "DELETE_FAILED"
    )
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName=outputs["OrdersTableName"])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fn)
    queue_name = outputs["InventoryQueueUrl"].rsplit("/", 1)[-1]
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=queue_name)
