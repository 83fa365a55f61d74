"""Stack updates that change a role's inline policies, applied as CloudFormation applies them.

LocalStack's ``AWS::IAM::Role`` provider (``aws_iam_role.py``, ``IAMRoleProvider.update``)
replaces a role when its name, trust policy or managed policies change, and otherwise reports
success without doing anything: a stack update that adds a statement to a function's inline
policy (``Policies`` in SAM) leaves the old policy in force, and with IAM enforced, the
function's new call is denied until LocalStack is restarted. On AWS the update puts the new
policy. This wraps ``update``: after LocalStack's own handling, the role's inline policies are
made to match the template (changed ones put, removed ones deleted), with LocalStack's own
policy-document normalisation (the create path's code, reused by calling ``create``'s helper).
"""

from __future__ import annotations

import json
import logging

LOG = logging.getLogger(__name__)
_PATCHED = "_hostmode_inline_policies"


def _document(policy: dict) -> str:
    """The policy document as LocalStack's create path writes it."""
    from localstack.services.cloudformation import provider_utils as util
    from localstack.services.iam.resource_providers.aws_iam_role import IAM_POLICY_VERSION

    doc = util.remove_none_values(dict(policy["PolicyDocument"]))
    doc["Version"] = doc.get("Version") or IAM_POLICY_VERSION
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    for statement in statements:
        if isinstance(statement.get("Resource"), list):
            statement["Resource"] = [r for r in statement["Resource"] if r]
    return json.dumps(doc)


def sync_inline_policies(iam, role_name: str, desired: list, previous: list) -> None:
    """Puts every desired inline policy and deletes the previous ones no longer named."""
    wanted = {p["PolicyName"]: p for p in desired or [] if isinstance(p, dict) and p.get("PolicyName")}
    for name, policy in wanted.items():
        iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=_document(policy))
    for p in previous or []:
        name = p.get("PolicyName") if isinstance(p, dict) else None
        if name and name not in wanted:
            iam.delete_role_policy(RoleName=role_name, PolicyName=name)


def install() -> None:
    from localstack.services.cloudformation.resource_provider import OperationStatus
    from localstack.services.iam.resource_providers.aws_iam_role import IAMRoleProvider

    if getattr(IAMRoleProvider, _PATCHED, False):
        return
    original = IAMRoleProvider.update

    def update(self, request):
        event = original(self, request)
        desired, previous = request.desired_state, request.previous_state or {}
        # A replacement (create) already put the desired policies.
        replaced = event.resource_model is not previous
        if event.status == OperationStatus.SUCCESS and not replaced:
            role = previous.get("RoleName") or desired.get("RoleName")
            if desired.get("Policies") != previous.get("Policies"):
                iam = request.aws_client_factory.iam
                sync_inline_policies(iam, role, desired.get("Policies") or [], previous.get("Policies") or [])
                model = dict(previous)
                model["Policies"] = desired.get("Policies")
                event.resource_model = model
                LOG.info("role %s: inline policies updated", role)
        return event

    IAMRoleProvider.update = update
    setattr(IAMRoleProvider, _PATCHED, True)
