"""Every LocalStack, moto and Twisted symbol the extension patches or leans on, in one manifest,
checked at start-up.

The extension changes private code of the packages in ``localstack/requirements.lock``: it wraps
methods, replaces module functions, adds ``__deepcopy__`` to moto's classes, swaps the class of
live SQS pollers, and adds to LocalStack's handler chains and router. :data:`PATCHES` lists each
such symbol: where it lives (``module:attribute.path``), which extension module patches it, how
and why, and what the patch needs of it (its kind, the parameter names it is called with, names
its code must use for the patch to take effect). :data:`CHECKED_AGAINST` holds the versions this
list was checked against.

:func:`verify` runs first among the extension's start-up hooks (``hostmode_verify_patches``,
before any patch is applied): when a symbol is gone, has changed kind or signature, it raises
:class:`PatchTargetsMoved` naming every symbol that moved, the module that patches it, the
versions checked against and the ones running, and LocalStack does not start. A LocalStack or
moto upgrade thus fails at start with the reason, never by serving unpatched behaviour. The
tests (``localstack/tests/test_patched.py``) check that the list is complete (an AST scan of the
extension's modules for patch sites) and that the versions match the lock file.

``python -m localstack_hostmode.patched`` prints the manifest and checks it.

This module imports nothing from LocalStack at import time.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import types
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal

LOG = logging.getLogger(__name__)

# The versions of localstack/requirements.lock this manifest was checked against (a test keeps
# them equal to the lock: bumping a pin means checking the patches again).
CHECKED_AGAINST = {"localstack-core": "2026.3.0", "moto-ext": "5.1.54", "localstack-twisted": "26.4.0"}
# Top-level package -> the distribution that ships it.
DISTRIBUTION = {"localstack": "localstack-core", "moto": "moto-ext", "twisted": "localstack-twisted"}

Kind = Literal[
    "module",
    "class",
    "function",
    "method",
    "property",
    "instance attribute",
    "int",
    "value",
    "absent",
    "handler chain",  # LocalStack's CompositeHandler: append(handler)
    "router",  # rolo's Router: add(routes)
]
# wrapped/replaced/added/extended/subclassed: the extension changes the symbol (an AST scan finds
# each site); overridden: a subclass of ours overrides it; relied on: called or read as it is.
How = Literal["wrapped", "replaced", "added", "extended", "subclassed", "overridden", "relied on"]
CHANGED: tuple[How, ...] = ("wrapped", "replaced", "added", "extended", "subclassed")


@dataclass(frozen=True)
class Patch:
    by: str  # the extension module (localstack_hostmode/<by>.py)
    target: str  # "package.module:Attribute.path"
    how: How
    kind: Kind  # what the target must be ("absent": not defined by the library, we add it)
    why: str
    # leading parameter names (after ``self`` for methods) the patch calls it with or mirrors
    params: tuple[str, ...] | None = None
    # names (attributes, globals, string constants) its code must use for the patch to work
    mentions: tuple[str, ...] = ()
    # functions (``module:path``) whose code must look the target's name up at call time
    used_by: tuple[str, ...] = ()
    # patch sites in ``by`` that do not name the target (instances patched in place), as the
    # AST scan prints them: "worker.start", "setattr(worker, name)", "self.json_web_key"
    sites: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        return self.target.replace(":", ".")


_SQS_PROVIDER = "localstack.services.sqs.provider"
_VERSION_MANAGER = "localstack.services.lambda_.invocation.version_manager"
_ESM = "localstack.services.lambda_.event_source_mapping"
_SQS_POLLER = f"{_ESM}.pollers.sqs_poller:SqsPoller"
_ESM_WORKER = f"{_ESM}.esm_worker"
_COGNITO = "moto.cognitoidp.models"
_POOL = f"{_COGNITO}:CognitoIdpUserPool"
_BACKEND = f"{_COGNITO}:CognitoIdpBackend"
_IAM_ROLE = "localstack.services.iam.resource_providers.aws_iam_role"

# Other names of moto.cognitoidp.models the patches use.
_COGNITO_NAMES: tuple[tuple[str, Kind], ...] = (
    ("jwk", "module"),
    ("cognitoidp_backends", "value"),
    ("InvalidParameterException", "class"),
    ("NotAuthorizedError", "class"),
    ("UserNotFoundError", "class"),
)

PATCHES: tuple[Patch, ...] = (
    # -- speedups.py: per-request costs ---------------------------------------------------------
    Patch("speedups", "moto.dynamodb.models.dynamo_type:DynamoType.__deepcopy__", "added", "absent",
          "item copies made directly, not through copy's reduce protocol"),
    Patch("speedups", "moto.dynamodb.models.dynamo_type:LimitedSizeDict.__deepcopy__", "added", "absent",
          "copies skip the size re-check of every insert"),
    Patch("speedups", "twisted.web.http:_parseContentType", "replaced", "function",
          "memoized (pure bytes -> bytes), parsed once per Content-Type value", params=("line",),
          used_by=("twisted.web.http:Request.requestReceived",)),
    Patch("speedups", f"{_SQS_PROVIDER}:SqsProvider._init_cloudwatch_metrics_reporting", "wrapped", "method",
          "swaps the provider's CloudwatchDispatcher for in-memory sums", params=(),
          mentions=("_cloudwatch_dispatcher",)),
    Patch("speedups", f"{_SQS_PROVIDER}:SqsProvider._cloudwatch_dispatcher", "replaced", "instance attribute",
          "SqsMetricsToSums: SQS metrics summed, put once per flush interval",
          sites=("self._cloudwatch_dispatcher",)),
    Patch("speedups", f"{_SQS_PROVIDER}:CloudwatchDispatcher.dispatch_sqs_metric", "relied on", "method",
          "SqsMetricsToSums takes the calls made of it",
          params=("account_id", "region", "queue_name", "metric", "value", "unit")),
    Patch("speedups", f"{_SQS_PROVIDER}:CloudwatchDispatcher.dispatch_metric_message_sent", "relied on", "method",
          "called by SqsMetricsToSums with itself as self", params=("queue", "message_body_size"),
          mentions=("dispatch_sqs_metric",)),
    Patch("speedups", f"{_SQS_PROVIDER}:CloudwatchDispatcher.dispatch_metric_message_deleted", "relied on",
          "method", "called by SqsMetricsToSums with itself as self", params=("queue", "deleted"),
          mentions=("dispatch_sqs_metric",)),
    Patch("speedups", f"{_SQS_PROVIDER}:CloudwatchDispatcher.dispatch_metric_received", "relied on", "method",
          "called by SqsMetricsToSums with itself as self", params=("queue", "received"),
          mentions=("dispatch_sqs_metric",)),
    Patch("speedups", f"{_SQS_PROVIDER}:CloudwatchDispatcher.shutdown", "relied on", "method",
          "LocalStack's dispatcher shut down when replaced", params=()),
    Patch("speedups", f"{_VERSION_MANAGER}:record_cw_metric_invocation", "replaced", "function",
          "Invocations summed in memory, not one PutMetricData per invocation",
          params=("function_name", "account_id", "region_name"),
          used_by=(f"{_VERSION_MANAGER}:LambdaVersionManager.invoke",)),
    Patch("speedups", f"{_VERSION_MANAGER}:record_cw_metric_error", "replaced", "function",
          "Invocations and Errors summed in memory", params=("function_name", "account_id", "region_name"),
          used_by=(f"{_VERSION_MANAGER}:LambdaVersionManager.invoke",)),
    Patch("speedups", "localstack.aws.connect:connect_to", "relied on", "value",
          "the sums are put with LocalStack's internal client"),
    # -- esm.py: SQS event source mappings at AWS's pace ----------------------------------------
    Patch("esm", f"{_ESM}.esm_worker_factory:EsmWorkerFactory.get_esm_worker", "wrapped", "method",
          "each new SQS mapping's poller becomes a FastSqsPoller", params=(),
          mentions=("esm_config", "SqsPoller")),
    Patch("esm", _SQS_POLLER, "subclassed", "class",
          "FastSqsPoller adopted in place by live pollers (long polls, batches side by side)",
          mentions=("source_client", "queue_url", "batch_size", "maximum_batching_window", "source_arn",
                    "processor", "sqs_override_max_message_count", "sqs_override_wait_time_seconds"),
          sites=("poller.__class__",)),
    Patch("esm", f"{_SQS_POLLER}.poll_events", "overridden", "method", "one long-poll receive, batch on a thread",
          params=()),
    Patch("esm", f"{_SQS_POLLER}.close", "overridden", "method", "waits for the batches in flight", params=()),
    Patch("esm", f"{_SQS_POLLER}.handle_messages", "relied on", "method", "runs each batch", params=("messages",)),
    Patch("esm", f"{_SQS_POLLER}.is_fifo_queue", "relied on", "property", "FIFO batches run by message group"),
    Patch("esm", f"{_ESM}.pollers.sqs_poller:DEFAULT_MAX_RECEIVE_COUNT", "relied on", "int", "receive size cap"),
    Patch("esm", f"{_ESM}.pollers.sqs_poller:DEFAULT_MAX_WAIT_TIME_SECONDS", "relied on", "int", "long-poll cap"),
    *(
        Patch("esm", f"{_ESM_WORKER}:EsmWorker.{name}", "wrapped", "method",
              "per worker: a stop reaches the poller waiting for a free slot", params=(),
              sites=("setattr(worker, name)",))
        for name in ("stop", "delete", "stop_for_shutdown")
    ),
    Patch("esm", f"{_ESM_WORKER}:EsmWorker.start", "wrapped", "method", "per worker: a restart reopens the poller",
          params=(), sites=("worker.start",)),
    Patch("esm", f"{_ESM_WORKER}:EsmWorker.create", "wrapped", "method",
          "per worker: an updated mapping's worker starts once the old one's loop has ended", params=(),
          sites=("worker.create",)),
    Patch("esm", f"{_ESM_WORKER}:EsmWorker", "relied on", "class", "read by the wrappers",
          mentions=("poller", "_poller_thread", "_state_lock", "current_state", "enabled", "esm_config")),
    Patch("esm", f"{_ESM_WORKER}:EsmWorker.uuid", "relied on", "property", "the mapping's id"),
    Patch("esm", f"{_ESM_WORKER}:EsmWorker.update_esm_state_in_store", "relied on", "method",
          "Enabling/Disabling while the old worker ends", params=("new_state",)),
    Patch("esm", f"{_ESM_WORKER}:EsmState.ENABLING", "relied on", "value", "state while waiting"),
    Patch("esm", f"{_ESM_WORKER}:EsmState.DISABLING", "relied on", "value", "state while waiting"),
    # -- moto_transactions.py: transactions that cost what they touch ---------------------------
    Patch("moto_transactions", "moto.dynamodb.responses:TRANSACTION_MAX_ITEMS", "replaced", "int",
          "TransactGetItems takes 100 items, as on AWS (moto: 25)",
          used_by=("moto.dynamodb.responses:DynamoHandler.transact_get_items",)),
    Patch("moto_transactions", "moto.dynamodb.models:copy", "replaced", "module",
          "table backups skipped while a transaction of ours runs",
          used_by=("moto.dynamodb.models:DynamoDBBackend.transact_write_items",)),
    Patch("moto_transactions", "moto.dynamodb.models:DynamoDBBackend.transact_write_items", "wrapped", "method",
          "backs up the items it names, not whole tables", params=("transact_items",)),
    Patch("moto_transactions", "moto.dynamodb.models:DynamoDBBackend.get_keys_value", "relied on", "method",
          "an item's keys", params=("table", "keys")),
    Patch("moto_transactions", "moto.dynamodb.models:DynamoDBBackend.tables", "relied on", "instance attribute",
          "tables by name"),
    Patch("moto_transactions", "moto.dynamodb.models.table:Table", "relied on", "class",
          "items restored in place", mentions=("items", "hash_key_attr", "range_key_attr")),
    Patch("moto_transactions", "moto.dynamodb.models.table:Table.get_item", "relied on", "method",
          "the item before the transaction", params=("hash_key", "range_key")),
    Patch("moto_transactions", "moto.dynamodb.models.table:Table.delete_item", "relied on", "method",
          "an item the cancelled transaction created", params=("hash_key", "range_key")),
    # -- moto_queries.py: queries that cost what they find -----------------------------------------
    Patch("moto_queries", "moto.dynamodb.models.table:Table.query", "wrapped", "method",
          "hands moto's query only the key's candidates",
          params=("hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key", "scan_index_forward",
                  "projection_expressions", "index_name"),
          mentions=("all_items",)),
    Patch("moto_queries", "moto.dynamodb.models.table:Table.all_items", "replaced", "method",
          "the candidates, for one query (instance attribute, under the DynamoDB lock)",
          used_by=("moto.dynamodb.models.table:Table.query",), sites=("self.all_items",)),
    Patch("moto_queries", "moto.dynamodb.models.table:Table.all_indexes", "relied on", "method", "the table's indexes"),
    Patch("moto_queries", "moto.dynamodb.models.table:Table", "relied on", "class",
          "a partition, every item", mentions=("items", "range_key_attr")),
    # -- moto_capacity.py: consumed capacity as on-demand DynamoDB bills it --------------------
    Patch("moto_capacity", "moto.dynamodb.models.table:Table.query", "wrapped", "method",
          "sizes the items a Query reads before its filter and projection",
          params=("hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key", "scan_index_forward",
                  "projection_expressions", "index_name", "consistent_read", "filter_expression"),
          mentions=("expr", "project")),
    Patch("moto_capacity", "moto.dynamodb.models.table:Table.scan", "wrapped", "method",
          "sizes the items a Scan reads before its filter and projection",
          params=("filters", "limit", "exclusive_start_key", "filter_expression", "index_name", "consistent_read",
                  "projection_expression", "segments"),
          mentions=("expr", "project")),
    Patch("moto_capacity", "moto.dynamodb.models.table:Table.get_item", "relied on", "method",
          "an item before and after a write", params=("hash_key", "range_key")),
    Patch("moto_capacity", "moto.dynamodb.models.table:Table", "relied on", "class", "key schema and indexes",
          mentions=("hash_key_attr", "range_key_attr", "global_indexes", "indexes")),
    Patch("moto_capacity", "moto.dynamodb.models.table:SecondaryIndex", "relied on", "class",
          "an index's keys and projection", mentions=("schema_key_attrs", "projection")),
    Patch("moto_capacity", "moto.dynamodb.models:DynamoDBBackend.get_table", "relied on", "method",
          "a table by name or ARN", params=("table_name",)),
    Patch("moto_capacity", "moto.dynamodb.models:DynamoDBBackend.get_keys_value", "relied on", "method",
          "an item's keys", params=("table", "keys")),
    Patch("moto_capacity", "moto.dynamodb.models:dynamodb_backends", "relied on", "value", "moto's tables"),
    Patch("moto_capacity", "moto.dynamodb.models.dynamo_type:DynamoType", "relied on", "class",
          "attribute values sized and copied", mentions=("type", "value")),
    # -- moto_cognito.py: tokens as Cognito issues them (it also checks these itself) -----------
    Patch("moto_cognito", f"{_COGNITO}:jwt", "replaced", "module", "tokens carry the pool key's kid, no typ",
          used_by=(f"{_POOL}.create_jwt",)),
    Patch("moto_cognito", f"{_POOL}.__init__", "wrapped", "method", "each pool gets its own RSA key",
          params=("account_id", "region", "name", "extended_config")),
    Patch("moto_cognito", f"{_POOL}.json_web_key", "replaced", "instance attribute",
          "the pool's own signing key (moto: one for all pools)", sites=("self.json_web_key",)),
    Patch("moto_cognito", f"{_POOL}.create_jwt", "wrapped", "method",
          "AWS's claims: iat, exp from the client's validity, auth_time kept, cognito:groups",
          params=("client_id", "username", "token_use", "expires_in", "extra_data")),
    Patch("moto_cognito", f"{_POOL}._get_user", "wrapped", "method", "case-insensitive user names",
          params=("username",)),
    Patch("moto_cognito", f"{_BACKEND}.initiate_auth", "wrapped", "method",
          "flows the app client does not enable refused", params=("client_id", "auth_flow", "auth_parameters")),
    Patch("moto_cognito", f"{_BACKEND}.admin_initiate_auth", "wrapped", "method",
          "flows the app client does not enable refused",
          params=("user_pool_id", "client_id", "auth_flow", "auth_parameters")),
    Patch("moto_cognito", f"{_BACKEND}.update_user_pool", "wrapped", "method",
          "settings fixed at creation kept, PoolName applied", params=("user_pool_id", "extended_config")),
    Patch("moto_cognito", f"{_BACKEND}.update_user_pool_client", "wrapped", "method",
          "settings not given reset to defaults", params=("user_pool_id", "client_id", "extended_config")),
    Patch("moto_cognito", f"{_BACKEND}.delete_user_pool", "wrapped", "method", "DeletionProtection honoured",
          params=("user_pool_id",)),
    Patch("moto_cognito", f"{_POOL}.create_access_token", "relied on", "method", "expired test tokens",
          params=("client_id", "username", "origin_jti")),
    Patch("moto_cognito", f"{_COGNITO}:CognitoIdpUserPoolClient.__init__", "relied on", "method",
          "an app client's defaults", params=("user_pool_id", "generate_secret", "extended_config")),
    Patch("moto_cognito", f"{_BACKEND}.describe_user_pool", "relied on", "method", "the pool",
          params=("user_pool_id",)),
    *(
        Patch("moto_cognito", f"{_COGNITO}:{name}", "relied on", kind, "used by the patches")
        for name, kind in _COGNITO_NAMES
    ),
    # -- delivery.py: delivery order as loose as AWS's -----------------------------------------
    Patch("delivery", "localstack.services.sqs.models:StandardQueue.put", "wrapped", "method",
          "a random hold reorders standard-queue messages (HOSTMODE_REORDER_MS)",
          params=("message", "visibility_timeout", "message_deduplication_id", "message_group_id", "delay_seconds")),
    Patch("delivery", "localstack.services.sqs.models:StandardQueue._put_message", "relied on", "method",
          "a held message released", params=("message",)),
    Patch("delivery", "localstack.services.sqs.models:StandardQueue", "relied on", "class", "held messages",
          mentions=("mutex", "delayed", "delay_seconds")),
    Patch("delivery", "localstack.services.sns.publisher:PublishDispatcher._submit_notification", "wrapped",
          "method", "SNS -> SQS deliveries start after a random delay", params=("notifier", "ctx", "subscriber")),
    # -- cfn_roles.py, cfn_stacks.py: CloudFormation as on AWS --------------------------------
    Patch("cfn_roles", f"{_IAM_ROLE}:IAMRoleProvider.update", "wrapped", "method",
          "a stack update applies changed inline policies", params=("request",)),
    Patch("cfn_roles", f"{_IAM_ROLE}:IAM_POLICY_VERSION", "relied on", "value", "policy documents as created"),
    Patch("cfn_roles", "localstack.services.cloudformation.provider_utils:remove_none_values", "relied on",
          "function", "policy documents as created", params=("obj",)),
    Patch("cfn_roles", "localstack.services.cloudformation.resource_provider:OperationStatus.SUCCESS",
          "relied on", "value", "only a successful update is completed"),
    Patch("cfn_stacks", "localstack.services.cloudformation.v2.provider:CloudformationProviderV2.describe_stacks",
          "wrapped", "method", "no DELETE_COMPLETE stack listed without a name",
          params=("context", "stack_name", "next_token")),
    # -- the request chain and the router --------------------------------------------------------
    Patch("enforcement", "localstack.aws.handlers:serve_custom_service_request_handlers", "extended", "handler chain",
          "IAM enforcement and fault rules on every parsed request"),
    Patch("limits", "localstack.aws.handlers:serve_custom_service_request_handlers", "extended", "handler chain",
          "Lambda's invocation payload limits"),
    Patch("enforcement", "localstack.aws.handlers:run_custom_response_handlers", "extended", "handler chain",
          "an applied fault's success answered as the error"),
    Patch("enforcement", "localstack.services.edge:ROUTER", "extended", "router", "/_hostmode/ control routes"),
    Patch("delivery", "localstack.services.edge:ROUTER", "extended", "router", "/_hostmode/delivery"),
    Patch("cognito", "localstack.services.edge:ROUTER", "extended", "router", "each pool's JWKS route"),
)  # fmt: skip


class PatchTargetsMoved(RuntimeError):
    """Raised by :func:`verify`: the installed LocalStack/moto no longer has what the patches need."""

    def __init__(self, problems: list[tuple[Patch, str]]) -> None:
        self.problems = problems
        by_target: dict[str, list[tuple[Patch, str]]] = {}
        for patch, problem in problems:
            by_target.setdefault(patch.target, []).append((patch, problem))
        lines = [
            f"localstack-hostmode: {len(by_target)} LocalStack/moto symbol(s) the extension patches or relies on moved "
            f"(the manifest was checked against {_versions(CHECKED_AGAINST)}; running {_versions(running_versions())}):"
        ]
        for target, entries in by_target.items():
            patchers = ", ".join(dict.fromkeys(f"{p.by}.py ({p.how}: {p.why})" for p, _ in entries))
            problem = "; ".join(dict.fromkeys(problem for _, problem in entries))
            lines.append(f"  - {target}: {problem} [{patchers}]")
        lines.append(
            "Update those modules and their entries in localstack_hostmode/patched.py (PATCHES), then "
            "CHECKED_AGAINST; or go back to the versions checked against (localstack/requirements.lock)."
        )
        super().__init__("\n".join(lines))


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{dist} {version}" for dist, version in versions.items())


def running_versions() -> dict[str, str]:
    out = {}
    for dist in CHECKED_AGAINST:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


_MISSING = object()


def _ours(obj: Any) -> bool:
    """Whether obj was put there by this extension (a patch already applied)."""
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    module = getattr(obj, "__module__", None) if isinstance(obj, (types.FunctionType, type)) else None
    if module is None:
        module = getattr(type(obj), "__module__", "")
    return isinstance(module, str) and module.split(".")[0] == __name__.split(".")[0]


def _original(obj: Any) -> Any:
    """The library's own object behind a patch of ours, or _MISSING when it cannot be reached."""
    if _ours(obj):
        return getattr(obj, "_hostmode_original", _MISSING)
    return obj


def _resolve(path: str) -> tuple[Any, str, Any]:
    """(owner, last name, value or _MISSING) of ``module:attr.path``; raises naming what is missing."""
    module_name, _, attrs = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    names = attrs.split(".")
    for i, name in enumerate(names[:-1]):
        if not hasattr(obj, name):
            raise LookupError(f"{module_name}:{'.'.join(names[: i + 1])} is missing")
        obj = getattr(obj, name)
    return obj, names[-1], getattr(obj, names[-1], _MISSING)


def _code_objects(obj: Any) -> Iterator[types.CodeType]:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        for f in (obj.fget, obj.fset, obj.fdel):
            yield from _code_objects(f)
        return
    func = getattr(obj, "func", None)  # functools.cached_property
    if func is not None and not isinstance(obj, types.FunctionType):
        yield from _code_objects(func)
        return
    obj = inspect.unwrap(obj) if callable(obj) else obj
    code = getattr(obj, "__code__", None)
    stack = [code] if isinstance(code, types.CodeType) else []
    while stack:
        code = stack.pop()
        yield code
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def code_names(obj: Any) -> set[str]:
    """Global and attribute names and string constants in the code of a function, or of every
    method of a class (and its bases)."""
    names: set[str] = set()
    members = (
        [v for klass in obj.__mro__ if klass is not object for v in vars(klass).values()]
        if inspect.isclass(obj)
        else [obj]
    )
    for member in members:
        for code in _code_objects(member):
            names.update(code.co_names)
            names.update(c for c in code.co_consts if isinstance(c, str))
    return names


def _kind_problem(patch: Patch, owner: Any, name: str, value: Any) -> str | None:
    kind = patch.kind
    if kind == "absent":
        found = inspect.getattr_static(owner, name, _MISSING)
        if found is not _MISSING and not _ours(found):
            return f"is now defined by {getattr(owner, '__name__', owner)!r} itself (the patch would replace it)"
        return None
    if kind == "instance attribute":
        if not inspect.isclass(owner):
            return f"{getattr(owner, '__name__', owner)!r} is no longer a class"
        if name not in code_names(owner):
            return f"is no longer used by {owner.__name__}'s code (attribute renamed or gone)"
        return None
    if value is _MISSING:
        return "is missing"
    if _ours(value):
        return None  # patched already (verify runs again after start-up): checked before
    static = inspect.getattr_static(owner, name, value) if inspect.isclass(owner) else value
    checks = {
        "module": lambda: inspect.ismodule(value),
        "class": lambda: inspect.isclass(value),
        "function": lambda: callable(value) and inspect.isroutine(inspect.unwrap(value)),
        "method": lambda: isinstance(static, types.FunctionType) or inspect.ismethod(value),
        "property": lambda: isinstance(static, (property, functools.cached_property)),
        "handler chain": lambda: callable(getattr(value, "append", None)),
        "router": lambda: callable(getattr(value, "add", None)),
        "int": lambda: isinstance(value, int) and not isinstance(value, bool),
        "value": lambda: value is not None,
    }
    if not checks[kind]():
        return f"is {_describe(static)}, expected a {kind}"
    return None


def _describe(obj: Any) -> str:
    for test, word in (
        (lambda o: isinstance(o, property), "property"),
        (lambda o: isinstance(o, staticmethod), "staticmethod"),
        (lambda o: isinstance(o, classmethod), "classmethod"),
        (inspect.ismodule, "module"),
        (inspect.isclass, "class"),
        (inspect.isroutine, "function"),
    ):
        if test(obj):
            return f"a {word}"
    return f"a {type(obj).__name__} value"


def _params_problem(patch: Patch, value: Any) -> str | None:
    if patch.params is None:
        return None
    func = _original(value)
    if func is _MISSING:
        return None
    try:
        names = list(inspect.signature(func).parameters)
    except (TypeError, ValueError) as e:
        return f"has no readable signature ({e})"
    if patch.kind == "method" and not inspect.ismethod(func):
        names = names[1:]  # self
    expected = list(patch.params)
    if names[: len(expected)] != expected:
        return f"takes ({', '.join(names)}); the patch expects ({', '.join(expected)}) first"
    return None


def _code_problems(patch: Patch, owner: Any, name: str, value: Any) -> list[str]:
    problems = []
    if patch.mentions:
        subject = owner if patch.kind == "instance attribute" else _original(value)
        if subject is not _MISSING:
            gone = [m for m in patch.mentions if m not in code_names(subject)]
            if gone:
                problems.append(f"its code no longer uses {', '.join(gone)}")
    for user_path in patch.used_by:
        try:
            _, _, user = _resolve(user_path)
        except (ImportError, LookupError) as e:
            problems.append(f"{user_path}, which must look it up, cannot be resolved ({e})")
            continue
        user = _original(user)
        if user is _MISSING:
            continue
        if user is None or name not in code_names(user):
            problems.append(f"{user_path} no longer looks up {name} (the patch would not take effect)")
    return problems


def check(patch: Patch) -> list[str]:
    """What moved of one manifest entry (empty: nothing)."""
    try:
        owner, name, value = _resolve(patch.target)
    except ImportError as e:
        return [f"cannot be imported ({type(e).__name__}: {e})"]
    except LookupError as e:
        return [str(e)]
    problem = _kind_problem(patch, owner, name, value)
    if problem is not None:
        return [problem]
    problems = []
    if patch.kind not in ("absent", "instance attribute"):
        problem = _params_problem(patch, value)
        if problem is not None:
            problems.append(problem)
    return problems + _code_problems(patch, owner, name, value)


def verify(patches: tuple[Patch, ...] = PATCHES) -> None:
    """Resolve every manifest entry; raise PatchTargetsMoved naming each one that moved."""
    problems = [(patch, problem) for patch in patches for problem in check(patch)]
    if problems:
        raise PatchTargetsMoved(problems)
    running = running_versions()
    if running != CHECKED_AGAINST:
        LOG.warning(
            "hostmode: running %s; the patches were checked against %s. Every patched symbol still "
            "resolves: run the extension's tests, then update CHECKED_AGAINST in patched.py",
            _versions(running),
            _versions(CHECKED_AGAINST),
        )
    else:
        LOG.info("hostmode: %d patched LocalStack/moto symbols verified (%s)", len(patches), _versions(running))


def main() -> None:
    for p in PATCHES:
        print(f"{p.target:100} {p.by:18} {p.how:11} {p.why}")
    verify()
    print(f"{len(PATCHES)} entries verified against {_versions(running_versions())}")


if __name__ == "__main__":
    main()
