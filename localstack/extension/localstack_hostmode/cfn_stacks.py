"""DescribeStacks as on AWS: without a stack name it lists no deleted stack.

LocalStack's CloudFormation (v2 engine) returns every stack it ever had when DescribeStacks is
called without ``StackName``, ``DELETE_COMPLETE`` ones included; AWS lists only stacks that
exist (deleted ones are in ListStacks, and DescribeStacks still answers for them by stack ID).
By name, LocalStack already answers a deleted stack's name with AWS's ``ValidationError``
"Stack with id NAME does not exist", and by ID with the deleted stack, as AWS does: unchanged.
"""

from __future__ import annotations

_PATCHED = "_hostmode_describe_stacks"


def install() -> None:
    from localstack.services.cloudformation.v2.provider import CloudformationProviderV2

    if getattr(CloudformationProviderV2, _PATCHED, False):
        return
    original = CloudformationProviderV2.describe_stacks

    def describe_stacks(self, context, stack_name=None, next_token=None, **kwargs):
        result = original(self, context, stack_name, next_token, **kwargs)
        if not stack_name:
            result["Stacks"] = [s for s in result.get("Stacks", []) if s.get("StackStatus") != "DELETE_COMPLETE"]
        return result

    # the skeleton dispatches through the handler's attributes (``@handler`` metadata)
    describe_stacks.__dict__.update(original.__dict__)
    CloudformationProviderV2.describe_stacks = describe_stacks
    setattr(CloudformationProviderV2, _PATCHED, True)
