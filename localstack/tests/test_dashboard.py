"""`AWS::CloudWatch::Dashboard` through CloudFormation (localstack_hostmode.dashboard): created
with its body, deleted with its stack, and a body PutDashboard would refuse on AWS fails the
stack with the reason instead of being skipped."""

import json

import pytest

from conftest import poll, unique


def deploy(cfn, body) -> tuple[str, dict]:
    stack = unique("dash")
    template = {
        "Resources": {
            "Board": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {"DashboardName": stack, "DashboardBody": json.dumps(body)},
            }
        }
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))

    def settled():
        s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        return s if not s["StackStatus"].endswith("_IN_PROGRESS") else None

    return stack, poll(settled, timeout=60, interval=0.3, what="stack creation")


GOOD = {
    "widgets": [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": "## orders"}},
        {
            "type": "metric",
            "x": 0,
            "y": 2,
            "width": 12,
            "height": 6,
            "properties": {
                "region": "us-east-1",
                "metrics": [
                    ["OrdersPipeline", "OrdersPlaced", "Stack", "s", {"stat": "Sum"}],
                    [".", "OrdersConfirmed", ".", "."],
                    [{"expression": "m1 + m2", "label": "all"}],
                ],
            },
        },
    ]
}


def test_a_dashboard_is_created_and_deleted_with_its_stack(aws):
    cfn, cw = aws("cloudformation"), aws("cloudwatch")
    stack, desc = deploy(cfn, GOOD)
    try:
        assert desc["StackStatus"] == "CREATE_COMPLETE", desc.get("StackStatusReason")
        assert json.loads(cw.get_dashboard(DashboardName=stack)["DashboardBody"]) == GOOD
    finally:
        cfn.delete_stack(StackName=stack)
    poll(lambda: stack not in [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]],
         timeout=60, what="the dashboard deleted")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"widget": []}, "widgets array"),
        ({"widgets": [{"type": "graph", "properties": {}}]}, "type must be one of"),
        (
            {
                "widgets": [
                    {"type": "metric", "x": 20, "width": 12, "properties": {"region": "r", "metrics": [["A", "B"]]}}
                ]
            },
            "24 grid columns",
        ),
        ({"widgets": [{"type": "metric", "properties": {"metrics": [["A", "B"]]}}]}, "region"),
        (
            {"widgets": [{"type": "metric", "properties": {"region": "r", "metrics": [["A", "B", "Stack"]]}}]},
            "dimension name/value pairs",
        ),
        ({"widgets": [{"type": "text", "properties": {}}]}, "markdown"),
    ],
)
def test_a_body_aws_would_refuse_fails_the_stack(aws, body, reason):
    cfn, cw = aws("cloudformation"), aws("cloudwatch")
    stack, desc = deploy(cfn, body)
    try:
        assert desc["StackStatus"] in ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"), desc["StackStatus"]
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        reasons = " ".join(e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "Board")
        assert reason in reasons, reasons
        assert stack not in [d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]]
    finally:
        cfn.delete_stack(StackName=stack)
