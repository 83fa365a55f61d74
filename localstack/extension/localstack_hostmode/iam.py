"""IAM enforcement for calls made with a role's credentials (a function's, or its event source
mapping's), evaluated the way AWS evaluates identity-based policies.

LocalStack's open core stores roles and policies but never checks them. This module:

- finds the caller: the access key of the request's SigV4 signature, looked up in LocalStack's
  STS store (``AssumeRole`` sessions: Lambda's execution-role session, the event source mapping's
  session). Long-term keys (the ``test`` keys of deploys, tests and shells) are not a role
  session and stay allowed, as the project promises;
- maps the operation to the IAM action(s) and resource(s) AWS authorizes (:func:`authorizations`),
  e.g. ``TransactWriteItems`` is authorized item by item as ``PutItem``/``UpdateItem``/
  ``DeleteItem``/``ConditionCheckItem`` on each item's table, ``Query`` with ``IndexName`` on the
  index ARN;
- evaluates the role's inline and attached managed policies (:func:`evaluate`): explicit Deny
  wins, then any Allow, else an implicit deny. ``Action``/``NotAction`` match case-insensitively
  with ``*`` and ``?``; ``Resource``/``NotResource`` case-sensitively with ``*`` and ``?``.

Not modelled (each errs towards denying): ``Condition`` blocks are not evaluated, so an Allow with
a Condition grants nothing and a Deny with a Condition always applies (the denial says so);
policy variables (``${aws:username}``) match literally. Resource policies, permissions boundaries,
session policies and SCPs are not consulted.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

LOG = logging.getLogger(__name__)

ALLOWED, DENIED_EXPLICIT, DENIED_IMPLICIT = "allowed", "explicit", "implicit"

# Operations AWS authorizes without any policy.
UNCHECKED = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class Principal:
    role_name: str
    session_arn: str  # arn:aws:sts::<acct>:assumed-role/<role>/<session>
    account_id: str


@dataclass
class Decision:
    result: str  # ALLOWED / DENIED_EXPLICIT / DENIED_IMPLICIT
    action: str
    resource: str
    note: str = ""  # e.g. statements skipped because of an unevaluated Condition

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED


# -- caller ------------------------------------------------------------------------------------


def principal_for(access_key_id: str | None, account_id: str) -> Principal | None:
    """The assumed role behind a temporary access key, or None for anything else."""
    if not access_key_id:
        return None
    from localstack.services.sts.models import sts_stores

    creds = sts_stores[account_id]["us-east-1"].credentials.get(access_key_id)
    if creds is None or ":assumed-role/" not in creds.arn:
        return None
    role_name = creds.arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    return Principal(role_name=role_name, session_arn=creds.arn, account_id=creds.account_id)


def role_policies(principal: Principal) -> list[dict]:
    """Parsed documents of the role's inline and attached managed policies."""
    from localstack.services.iam.models import iam_stores

    store = iam_stores[principal.account_id]["us-east-1"]
    entity = store.ROLES.get(principal.role_name)
    if entity is None:
        return []
    docs = [_parse(doc) for doc in entity.inline_policies.values()]
    for arn in entity.attached_policy_arns:
        docs.append(_managed_policy(store, arn))
    return [d for d in docs if d]


def _managed_policy(store, arn: str) -> dict | None:
    entity = store.MANAGED_POLICIES.get(arn)
    if entity is not None:
        version = entity.versions.get(entity.policy.get("DefaultVersionId"))
        return _parse(version["Document"]) if version else None
    return _aws_managed_policies().get(re.sub(r"^arn:[^:]+:", "arn:aws:", arn))


@lru_cache(maxsize=1)
def _aws_managed_policies() -> dict[str, dict]:
    import os

    import localstack.services.iam as iam_pkg

    path = os.path.join(os.path.dirname(iam_pkg.__file__), "resources", "aws_managed_policies.json")
    with open(path) as f:
        data = json.load(f)
    return {f"arn:aws:iam::aws:policy{p['Path']}{name}": p["Document"] for name, p in data.items()}


def _parse(doc) -> dict | None:
    if isinstance(doc, dict):
        return doc
    text = doc.strip()
    if text.startswith("%"):
        text = unquote(text)
    try:
        return json.loads(text)
    except ValueError:
        LOG.warning("hostmode IAM: unreadable policy document ignored: %.80s", text)
        return None


# -- evaluation --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rx + r"\Z", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(values, target: str, ignore_case: bool) -> bool:
    return any(_pattern(v, ignore_case).match(target) for v in _as_list(values))


def _statement_applies(st: dict, action: str, resource: str) -> bool:
    if "Action" in st:
        if not _matches(st["Action"], action, True):
            return False
    elif "NotAction" in st:
        if _matches(st["NotAction"], action, True):
            return False
    else:
        return False
    if "Resource" in st:
        return _matches(st["Resource"], resource, False)
    if "NotResource" in st:
        return not _matches(st["NotResource"], resource, False)
    return False


def evaluate(policies: list[dict], action: str, resource: str) -> Decision:
    allowed = False
    notes = []
    for doc in policies:
        statements = doc.get("Statement", [])
        for st in [statements] if isinstance(statements, dict) else statements:
            if not _statement_applies(st, action, resource):
                continue
            effect = st.get("Effect")
            if effect == "Deny":
                note = " (its Condition is not evaluated locally)" if "Condition" in st else ""
                return Decision(DENIED_EXPLICIT, action, resource, note)
            if effect == "Allow":
                if "Condition" in st:
                    notes.append("an Allow with a Condition was not applied: conditions are not evaluated locally")
                    continue
                allowed = True
    return Decision(ALLOWED if allowed else DENIED_IMPLICIT, action, resource, "; ".join(notes))


def denial_message(principal: Principal, d: Decision) -> str:
    why = (
        "with an explicit deny in an identity-based policy"
        if d.result == DENIED_EXPLICIT
        else f"because no identity-based policy allows the {d.action} action"
    )
    msg = f"User: {principal.session_arn} is not authorized to perform: {d.action} on resource: {d.resource} {why}"
    return msg + (f" [local note: {d.note}]" if d.note else "")


# -- operation -> (action, resource) -----------------------------------------------------------

_TXN_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# batch operations authorized as their single-message action
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def table_arn(region: str, account: str, table: str) -> str:
    if table.startswith("arn:"):
        return table
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}"


def queue_arn(region: str, account: str, queue_url_or_name: str) -> str:
    # https://sqs.<region>.amazonaws.com/<acct>/<name> or http://host:4566/<acct>/<name>
    parts = queue_url_or_name.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2].isdigit():
        account = parts[-2]
    return f"arn:aws:sqs:{region}:{account}:{parts[-1]}"


def authorizations(service: str, operation: str, params: dict, region: str, account: str):
    """[(action, resource)] that AWS authorizes for this call; every pair must be allowed."""
    params = params or {}
    if (service, operation) in UNCHECKED:
        return []
    if service == "dynamodb":
        return _dynamodb(operation, params, region, account)
    if service == "sqs":
        action = "sqs:" + _SQS_ACTIONS.get(operation, operation)
        if "QueueUrl" in params:
            return [(action, queue_arn(region, account, params["QueueUrl"]))]
        if "QueueName" in params:
            return [(action, queue_arn(region, account, params["QueueName"]))]
        return [(action, "*")]
    if service == "sns":
        action = "sns:" + ("Publish" if operation == "PublishBatch" else operation)
        arn = params.get("TopicArn") or params.get("TargetArn") or params.get("SubscriptionArn")
        return [(action, arn or "*")]
    if service == "cognito-idp" and params.get("UserPoolId"):
        # user pool operations are authorized on the pool (AWS's service authorization reference)
        return [(f"cognito-idp:{operation}", f"arn:aws:cognito-idp:{region}:{account}:userpool/{params['UserPoolId']}")]
    return [(f"{service}:{operation}", "*")]


def _dynamodb(operation: str, params: dict, region: str, account: str):
    def arn(table: str, index: str | None = None) -> str:
        base = table_arn(region, account, table)
        return f"{base}/index/{index}" if index else base

    if operation == "TransactWriteItems":
        out = []
        for item in params.get("TransactItems", []):
            for kind, action in _TXN_WRITE_ACTIONS.items():
                if kind in item:
                    out.append(("dynamodb:" + action, arn(item[kind]["TableName"])))
        return _unique(out)
    if operation == "TransactGetItems":
        return _unique([("dynamodb:GetItem", arn(i["Get"]["TableName"])) for i in params.get("TransactItems", [])])
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [("dynamodb:" + operation, arn(t)) for t in params.get("RequestItems", {})]
    if "TableName" in params:
        return [("dynamodb:" + operation, arn(params["TableName"], params.get("IndexName")))]
    return [("dynamodb:" + operation, "*")]


def _unique(pairs):
    return list(dict.fromkeys(pairs))


# -- denial log --------------------------------------------------------------------------------


class DenialLog:
    """The last denials, for tests and for `make iam-denials`."""

    def __init__(self, size: int = 500):
        self._lock = threading.Lock()
        self._items: deque[dict] = deque(maxlen=size)
        self.total = 0

    def add(self, principal: Principal, service: str, operation: str, d: Decision, internal: bool):
        entry = {
            "time": time.time(),
            "role": principal.role_name,
            "principal": principal.session_arn,
            "service": service,
            "operation": operation,
            "action": d.action,
            "resource": d.resource,
            "reason": d.result,
            # internal calls with a role session: the SQS poller of an event source mapping, or
            # the Lambda service itself (e.g. shipping the function's logs)
            "caller": (("event-source-mapping" if service == "sqs" else "lambda-service") if internal else "function"),
        }
        with self._lock:
            self._items.append(entry)
            self.total += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {"total": self.total, "denials": list(self._items)}

    def clear(self):
        with self._lock:
            self._items.clear()
            self.total = 0


DENIALS = DenialLog()


class UsageLog:
    """Which (action, resource) pairs each role was allowed, with counts: the evidence for a
    least-privilege audit (a grant no run ever used is a grant to question)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._used: dict[str, dict[tuple[str, str], int]] = {}

    def add(self, principal: Principal, action: str, resource: str):
        with self._lock:
            per_role = self._used.setdefault(principal.role_name, {})
            per_role[(action, resource)] = per_role.get((action, resource), 0) + 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                role: [{"action": a, "resource": r, "count": n} for (a, r), n in sorted(used.items())]
                for role, used in self._used.items()
            }

    def clear(self):
        with self._lock:
            self._used.clear()


USAGE = UsageLog()
