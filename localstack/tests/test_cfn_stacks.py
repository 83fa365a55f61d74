"""DescribeStacks as on AWS (cfn_stacks.py): a deleted stack is not listed without a name and
unknown by its name, while its stack ID still answers with DELETE_COMPLETE."""

import contextlib
import json

import pytest
from botocore.exceptions import ClientError

from conftest import poll, unique

TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


def create(cfn, name):
    stack_id = cfn.create_stack(StackName=name, TemplateBody=TEMPLATE)["StackId"]
    poll(lambda: status(cfn, stack_id) == "CREATE_COMPLETE", timeout=60, what=f"{name} created")
    return stack_id


def status(cfn, ident):
    return cfn.describe_stacks(StackName=ident)["Stacks"][0]["StackStatus"]


def listed(cfn):
    """(name, id, status) of every stack DescribeStacks lists without a name, all pages."""
    out, token = [], None
    while True:
        page = cfn.describe_stacks(**({"NextToken": token} if token else {}))
        out += [(s["StackName"], s["StackId"], s["StackStatus"]) for s in page["Stacks"]]
        token = page.get("NextToken")
        if not token:
            return out


def test_deleted_stacks_as_aws_describes_them(aws):
    cfn = aws("cloudformation")
    name, live_name = unique("stk"), unique("stk-live")
    live_id = create(cfn, live_name)
    first_id = create(cfn, name)
    try:
        cfn.delete_stack(StackName=name)
        poll(lambda: status(cfn, first_id) == "DELETE_COMPLETE", timeout=60, what=f"{name} deleted")

        # not listed (a live one is), ...
        stacks = listed(cfn)
        assert not [s for s in stacks if s[0] == name or s[1] == first_id], stacks
        assert (live_name, live_id, "CREATE_COMPLETE") in stacks
        assert all(s[2] != "DELETE_COMPLETE" for s in stacks), stacks
        # ... unknown by name, ...
        with pytest.raises(ClientError) as e:
            cfn.describe_stacks(StackName=name)
        assert e.value.response["Error"]["Code"] == "ValidationError"
        assert e.value.response["Error"]["Message"] == f"Stack with id {name} does not exist"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # ... and still described by its stack ID
        assert status(cfn, first_id) == "DELETE_COMPLETE"
        # ListStacks keeps it
        summaries = cfn.list_stacks()["StackSummaries"]
        assert any(s["StackId"] == first_id and s["StackStatus"] == "DELETE_COMPLETE" for s in summaries)

        # a new stack of the same name is the one its name and the list give
        second_id = create(cfn, name)
        assert second_id != first_id
        assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackId"] == second_id
        assert [s[1] for s in listed(cfn) if s[0] == name] == [second_id]
    finally:
        for ident in (name, live_name):
            with contextlib.suppress(ClientError):
                cfn.delete_stack(StackName=ident)
