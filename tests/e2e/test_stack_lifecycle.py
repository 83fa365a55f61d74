"""The template's whole life in LocalStack: a second copy of the stack is created from the same
packaged template in another region, updated (a parameter change reaches the functions) and
deleted (its resources are gone). Meanwhile the operator commands (`make dlq`, `make redrive`,
`make logs`) act on it as they would on AWS: through a named profile (its region and endpoint
from an AWS config file, its keys from a credentials file) and the stack's outputs, with no
credentials of their own."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from functools import partial

import pytest

import local_aws
from orders_client import wait_for

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PACKAGED = os.path.join(ROOT, ".build", "packaged.yaml")
REGION = "eu-west-1"  # not the local default (us-east-1)
PROFILE = "orders-ops-test"


def deploy(stack_name: str, params: dict[str, str], endpoint: str) -> None:
    env = dict(local_aws.cli_env(endpoint), AWS_DEFAULT_REGION=REGION)
    cmd = [
        sys.executable,
        os.path.join(ROOT, "scripts", "make", "cfn_deploy.py"),
        "--stack",
        stack_name,
        "--template",
        PACKAGED,
        # the packaged code's bucket; the template is over CloudFormation's 51,200-byte body limit
        "--bucket",
        "orders-pipeline-artifacts",
    ] + [f"{k}={v}" for k, v in params.items()]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def profile_env(tmp_path, endpoint: str) -> dict[str, str]:
    """The environment of an operator with only the profile orders-ops-test (region, endpoint,
    keys) in AWS config and credentials files, and no AWS variable of the test's own."""
    config, creds = tmp_path / "config", tmp_path / "credentials"
    config.write_text(f"[profile {PROFILE}]\nregion = {REGION}\nendpoint_url = {endpoint}\n")
    creds.write_text(f"[{PROFILE}]\naws_access_key_id = test\naws_secret_access_key = test\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(creds))
    return env


def operator(tmp_path, endpoint: str, *make_args: str) -> str:
    """Runs `make <args> PROFILE=orders-ops-test` as that operator."""
    env = profile_env(tmp_path, endpoint)
    out = subprocess.run(["make", "-s", *make_args, f"PROFILE={PROFILE}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def operator_logs(tmp_path, endpoint: str, stack_name: str) -> str:
    """`scripts/ops/logs.py` (what `make logs` runs, without --follow) as that operator."""
    cmd = [sys.executable, "logs.py", "--function", "inventory", "--profile", PROFILE, "--stack", stack_name]
    out = subprocess.run(cmd, cwd=os.path.join(ROOT, "scripts", "ops"), env=profile_env(tmp_path, endpoint),
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_stack_updates_and_deletes(stack, tmp_path):
    if not os.path.exists(PACKAGED):
        pytest.fail(f"{PACKAGED} is missing: deploy first (make deploy)")
    session = local_aws.session()
    main = stack.client("cloudformation").describe_stacks(StackName=stack.info["stack"])["Stacks"][0]
    cfn, lam, ddb, sqs = (
        session.client(s, region_name=REGION, endpoint_url=stack.endpoint)
        for s in ("cloudformation", "lambda", "dynamodb", "sqs")
    )
    params = {p["ParameterKey"]: p["ParameterValue"] for p in main["Parameters"]}
    name = f"orders-lifecycle-{uuid.uuid4().hex[:8]}"

    deploy(name, {**params, "LogLevel": "info"}, stack.endpoint)
    try:
        outputs = {
            o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
        }
        fn = outputs["InventoryFunctionName"]
        assert lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]["RUST_LOG"] == "info"

        # A message in its inventory DLQ, as the operator sees it and moves it back.
        sqs.send_message(QueueUrl=outputs["InventoryDLQUrl"], MessageBody="ops-test-message")
        shown = operator(tmp_path, stack.endpoint, "dlq", f"STACK={name}")
        assert "InventoryDLQ " in shown and "ops-test-message" in shown, shown
        moved = operator(tmp_path, stack.endpoint, "redrive", "QUEUE=inventory", f"STACK={name}")
        assert "moved 1 message(s)" in moved, moved
        # `make logs` follows; its script once through shows how inventory failed the redriven body.
        logged = partial(operator_logs, tmp_path, stack.endpoint, name)
        wait_for(lambda: "unparseable message body" in logged(), bool, 60, "inventory's log of it")

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
