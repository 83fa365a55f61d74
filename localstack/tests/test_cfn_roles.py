"""Stack updates that change a role's inline policies (localstack_hostmode.cfn_roles): the update
puts the changed and added policies and deletes the removed ones, as CloudFormation does on AWS
(LocalStack's own role update reported success and left the old policies in force)."""

import json

from conftest import poll, unique

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def policy(name: str, *actions: str) -> dict:
    return {
        "PolicyName": name,
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        },
    }


def template(role: str, policies: list[dict]) -> str:
    props = {"RoleName": role, "AssumeRolePolicyDocument": TRUST, "Policies": policies}
    return json.dumps({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": props}}})


def settle(cfn, stack: str, want: str) -> None:
    def done():
        s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        return s if not s["StackStatus"].endswith("_IN_PROGRESS") else None

    assert poll(done, timeout=60, interval=0.3, what=f"stack {want}")["StackStatus"] == want


def inline(iam, role: str) -> dict[str, list[str]]:
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    docs = {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names}
    return {n: sorted(a for s in d["Statement"] for a in s["Action"]) for n, d in docs.items()}


def test_an_update_puts_changed_and_added_inline_policies_and_deletes_removed_ones(aws):
    cfn, iam = aws("cloudformation"), aws("iam")
    stack = role = unique("roles")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=template(role, [policy("keep", "sqs:ReceiveMessage"), policy("drop", "sns:Publish")]),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    try:
        settle(cfn, stack, "CREATE_COMPLETE")
        assert inline(iam, role) == {"keep": ["sqs:ReceiveMessage"], "drop": ["sns:Publish"]}

        # One policy gains a statement's action, one is new, one goes: the shape of a function
        # whose code starts making a call (the runner's deferral SendMessage on its own queue).
        updated = [policy("keep", "sqs:ReceiveMessage", "sqs:SendMessage"), policy("new", "dynamodb:GetItem")]
        cfn.update_stack(StackName=stack, TemplateBody=template(role, updated), Capabilities=["CAPABILITY_NAMED_IAM"])
        settle(cfn, stack, "UPDATE_COMPLETE")
        assert inline(iam, role) == {"keep": ["sqs:ReceiveMessage", "sqs:SendMessage"], "new": ["dynamodb:GetItem"]}
    finally:
        cfn.delete_stack(StackName=stack)
