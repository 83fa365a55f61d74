"""CloudFormation resource providers for Cognito user pools: ``AWS::Cognito::UserPool``,
``AWS::Cognito::UserPoolClient`` and ``AWS::Cognito::UserPoolGroup``.

LocalStack 2026.3.0's open core ships none (its Cognito providers are in the paid edition; the
open core lists the types only in its table of what AWS offers, and knows the client's physical
id quirk), so a template's pool, client and groups were skipped as unsupported and every ``Ref``
to them resolved to nothing useful. These create, update and delete them through the cognito-idp
API (``cognito-idp:moto``, :mod:`cognito`), with the properties named as in the CloudFormation
resource reference; a property the API refuses fails the stack with the API's message, as on
AWS.

Return values as on AWS: UserPool ``Ref`` = pool id, ``GetAtt`` ``Arn``, ``ProviderName``
(``cognito-idp.<region>.amazonaws.com/<id>``), ``ProviderURL`` (``https://`` + that) and
``UserPoolId``; UserPoolClient ``Ref`` = client id, ``GetAtt`` ``ClientId``, ``Name``,
``ClientSecret`` (with ``GenerateSecret``); UserPoolGroup ``Ref`` = group name.

Updates: UserPool through ``UpdateUserPool`` (every updatable property, the pool name included);
``Schema`` may only gain attributes (added with ``AddCustomAttributes``; changing or removing one
fails the update, as ``UpdateUserPool`` cannot do it); ``UsernameAttributes`` and
``AliasAttributes`` cannot change. UserPoolClient through ``UpdateUserPoolClient`` (a changed
``UserPoolId`` or ``GenerateSecret`` replaces it: a new client id); UserPoolGroup through
``UpdateGroup`` (a changed ``UserPoolId`` or ``GroupName`` replaces it). ``EnabledMfas`` is not
applied.
"""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.exceptions import ClientError
from localstack.services.cloudformation import provider_utils as util
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

NOT_FOUND = "ResourceNotFoundException"


def _params(cognito: Any, operation: str, model: dict) -> dict:
    """The model's properties that the API operation takes, typed as its input shape wants
    (template values may be strings where the API wants numbers or booleans)."""
    shape = cognito.meta.service_model.operation_model(operation).input_shape
    return util.convert_request_kwargs(util.remove_none_values(model), shape)


def _failed(model: dict, message: str, code: str = "InvalidRequest") -> ProgressEvent[dict]:
    return ProgressEvent(status=OperationStatus.FAILED, resource_model=model, message=message, error_code=code)


def _api_failure(model: dict, error: ClientError) -> ProgressEvent[dict]:
    err = error.response.get("Error", {})
    return _failed(
        model, f'Resource handler returned message: "{err.get("Message", error)}"', err.get("Code", "InvalidRequest")
    )


def _done(model: dict) -> ProgressEvent[dict]:
    return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)


def _deleted(call: Any, **kwargs: Any) -> ProgressEvent[dict]:
    try:
        call(**kwargs)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != NOT_FOUND:
            raise
    return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})


class UserPoolProvider(ResourceProvider[dict]):
    TYPE = "AWS::Cognito::UserPool"
    SCHEMA: ClassVar[dict] = {
        "typeName": TYPE,
        "primaryIdentifier": ["/properties/UserPoolId"],
        "readOnlyProperties": [
            "/properties/ProviderName",
            "/properties/UserPoolId",
            "/properties/ProviderURL",
            "/properties/Arn",
        ],
        "writeOnlyProperties": ["/properties/EnabledMfas"],
    }

    @staticmethod
    def _with_read_only(model: dict, pool_id: str, arn: str, region: str) -> dict:
        provider = f"cognito-idp.{region}.amazonaws.com/{pool_id}"
        model.update(UserPoolId=pool_id, Arn=arn, ProviderName=provider, ProviderURL=f"https://{provider}")
        return model

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        cognito = request.aws_client_factory.cognito_idp
        if not model.get("UserPoolName"):
            model["UserPoolName"] = util.generate_default_name(request.stack_name, request.logical_resource_id)
        params = _params(cognito, "CreateUserPool", model)
        params["PoolName"] = model["UserPoolName"]
        try:
            pool = cognito.create_user_pool(**params)["UserPool"]
        except ClientError as e:
            return _api_failure(model, e)
        return _done(self._with_read_only(model, pool["Id"], pool["Arn"], request.region_name))

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        before = request.previous_state or {}
        cognito = request.aws_client_factory.cognito_idp
        pool_id = before["UserPoolId"]
        # the ids stay in the model whatever happens: a failed update must still let the stack
        # delete the pool
        self._with_read_only(model, pool_id, before["Arn"], request.region_name)
        for name in ("UsernameAttributes", "AliasAttributes"):
            if sorted(model.get(name) or []) != sorted(before.get(name) or []):
                return _failed(model, f"{name} of a user pool cannot be changed after it is created")
        existing = {a.get("Name"): a for a in before.get("Schema") or []}
        wanted = {a.get("Name"): a for a in model.get("Schema") or []}
        changed = sorted(n for n, a in existing.items() if wanted.get(n) != a)
        if changed:
            return _failed(model, f"Existing schema attributes cannot be modified or deleted: {', '.join(changed)}")
        added = [a for n, a in wanted.items() if n not in existing]
        model["UserPoolName"] = model.get("UserPoolName") or before.get("UserPoolName")
        params = _params(cognito, "UpdateUserPool", model)
        params.update(UserPoolId=pool_id, PoolName=model["UserPoolName"])
        try:
            if added:
                custom = _params(cognito, "AddCustomAttributes", {"CustomAttributes": added})["CustomAttributes"]
                cognito.add_custom_attributes(UserPoolId=pool_id, CustomAttributes=custom)
            cognito.update_user_pool(**params)
        except ClientError as e:
            return _api_failure(model, e)
        return _done(self._with_read_only(model, pool_id, before["Arn"], request.region_name))

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        pool_id = request.desired_state.get("UserPoolId")
        if not pool_id:
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        return _deleted(request.aws_client_factory.cognito_idp.delete_user_pool, UserPoolId=pool_id)


def _moved(model: dict, before: dict) -> bool:
    """Whether an update names another user pool (AWS replaces the resource then).

    ``UserPoolId`` is create-only on AWS, but it is not declared so in the schemas here:
    LocalStack's engine counts a ``Ref`` to a resource that the same update changes as a changed
    value, so a client or group would have been replaced (a new client id; "A group with the
    name already exists") whenever its pool was updated beside it. A real move is replaced here.
    """
    return bool(before.get("UserPoolId")) and model.get("UserPoolId") != before["UserPoolId"]


class UserPoolClientProvider(ResourceProvider[dict]):
    TYPE = "AWS::Cognito::UserPoolClient"
    # LocalStack takes the client's physical id (its Ref) from ClientId (engine/quirks.py).
    SCHEMA: ClassVar[dict] = {
        "typeName": TYPE,
        "primaryIdentifier": ["/properties/UserPoolId", "/properties/ClientId"],
        "required": ["UserPoolId"],
        "createOnlyProperties": ["/properties/GenerateSecret"],  # and UserPoolId: _moved
        "readOnlyProperties": ["/properties/ClientSecret", "/properties/Name", "/properties/ClientId"],
    }

    @staticmethod
    def _with_read_only(model: dict, client: dict) -> dict:
        model.update(ClientId=client["ClientId"], Name=client.get("ClientName"))
        if client.get("ClientSecret"):
            model["ClientSecret"] = client["ClientSecret"]
        return model

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        cognito = request.aws_client_factory.cognito_idp
        if not model.get("ClientName"):
            model["ClientName"] = util.generate_default_name(request.stack_name, request.logical_resource_id)
        try:
            client = cognito.create_user_pool_client(**_params(cognito, "CreateUserPoolClient", model))
        except ClientError as e:
            return _api_failure(model, e)
        return _done(self._with_read_only(model, client["UserPoolClient"]))

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        before = request.previous_state or {}
        cognito = request.aws_client_factory.cognito_idp
        if _moved(model, before):
            for key in ("ClientId", "ClientSecret", "Name"):
                model.pop(key, None)
            created = self.create(request)
            if created.status == OperationStatus.SUCCESS:
                _deleted(cognito.delete_user_pool_client, UserPoolId=before["UserPoolId"], ClientId=before["ClientId"])
            return created
        model["ClientName"] = model.get("ClientName") or before.get("ClientName")
        model.update(UserPoolId=before["UserPoolId"], ClientId=before["ClientId"])
        params = _params(cognito, "UpdateUserPoolClient", model)
        params.update(UserPoolId=before["UserPoolId"], ClientId=before["ClientId"])
        try:
            client = cognito.update_user_pool_client(**params)["UserPoolClient"]
        except ClientError as e:
            return _api_failure(model, e)
        client.setdefault("ClientSecret", before.get("ClientSecret"))
        return _done(self._with_read_only(model, client))

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        state = request.desired_state
        if not state.get("ClientId"):
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        return _deleted(
            request.aws_client_factory.cognito_idp.delete_user_pool_client,
            UserPoolId=state["UserPoolId"],
            ClientId=state["ClientId"],
        )


class UserPoolGroupProvider(ResourceProvider[dict]):
    TYPE = "AWS::Cognito::UserPoolGroup"
    # AWS's primary identifier is (UserPoolId, GroupName), but its Ref is the group name alone,
    # and LocalStack makes the physical id (the Ref) from the primary identifier.
    SCHEMA: ClassVar[dict] = {
        "typeName": TYPE,
        "primaryIdentifier": ["/properties/GroupName"],
        "required": ["UserPoolId"],
        "createOnlyProperties": ["/properties/GroupName"],  # and UserPoolId: _moved
    }

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        cognito = request.aws_client_factory.cognito_idp
        if not model.get("GroupName"):
            model["GroupName"] = util.generate_default_name(request.stack_name, request.logical_resource_id)
        try:
            cognito.create_group(**_params(cognito, "CreateGroup", model))
        except ClientError as e:
            return _api_failure(model, e)
        return _done(model)

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        before = request.previous_state or {}
        cognito = request.aws_client_factory.cognito_idp
        if _moved(model, before):
            created = self.create(request)
            if created.status == OperationStatus.SUCCESS:
                _deleted(cognito.delete_group, UserPoolId=before["UserPoolId"], GroupName=before["GroupName"])
            return created
        model.update(UserPoolId=before["UserPoolId"], GroupName=before["GroupName"])
        try:
            cognito.update_group(**_params(cognito, "UpdateGroup", model))
        except ClientError as e:
            return _api_failure(model, e)
        return _done(model)

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        state = request.desired_state
        if not state.get("GroupName") or not state.get("UserPoolId"):
            return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})
        return _deleted(
            request.aws_client_factory.cognito_idp.delete_group,
            UserPoolId=state["UserPoolId"],
            GroupName=state["GroupName"],
        )


class _Plugin(CloudFormationResourceProviderPlugin):
    provider: ClassVar[type[ResourceProvider]]

    def __init__(self):
        self.factory: type[ResourceProvider] | None = None

    def load(self):
        self.factory = self.provider


class UserPoolProviderPlugin(_Plugin):
    name = "AWS::Cognito::UserPool"
    provider = UserPoolProvider


class UserPoolClientProviderPlugin(_Plugin):
    name = "AWS::Cognito::UserPoolClient"
    provider = UserPoolClientProvider


class UserPoolGroupProviderPlugin(_Plugin):
    name = "AWS::Cognito::UserPoolGroup"
    provider = UserPoolGroupProvider
