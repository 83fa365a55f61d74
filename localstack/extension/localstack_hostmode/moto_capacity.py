"""Consumed capacity for every DynamoDB request moto serves (the rules: :mod:`capacity`).

:func:`metered` wraps the provider's call to moto (under its lock, :mod:`dynamodb`):

- writes: the items a request names are read from moto's tables before and after it runs, so
  the table and each index are priced from the item as it was and as it is. When a condition
  fails (ConditionalCheckFailed, or a transaction cancelled by one) nothing was written, and each
  named item is priced once from the stored item (and a Put's new one);
- GetItem, BatchGetItem, TransactGetItems: the items named, whole, whatever the projection;
- Query and Scan: moto's ``Table.query``/``Table.scan`` are wrapped to size the items they read
  before the filter and projection are applied (which the wrapper then applies as moto does).

Every request's units are added to :data:`capacity.CAPACITY` under its caller (the function or
role session whose key signed it), and the answer's ``ConsumedCapacity`` is replaced by the
computed one (or dropped, for ``ReturnConsumedCapacity`` NONE or absent). Other operations
(PartiQL, table management) pass through untouched.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import capacity
from .capacity import Index, RequestUsage

LOG = logging.getLogger(__name__)
_STATE = threading.local()  # read_bytes: what Query/Scan read in the request being metered

_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
_READS = ("GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan")
_MANY = ("BatchWriteItem", "TransactWriteItems", "BatchGetItem", "TransactGetItems")


# -- moto's tables and items -----------------------------------------------------------------------


def indexes_of(table: Any) -> tuple[Index, ...]:
    table_keys = tuple(k for k in (table.hash_key_attr, table.range_key_attr) if k)
    pairs = [(i, False) for i in table.global_indexes or ()] + [(i, True) for i in table.indexes or ()]
    return tuple(
        Index(
            name=idx.name,
            keys=tuple(idx.schema_key_attrs),
            table_keys=table_keys,
            projection=(idx.projection or {}).get("ProjectionType", "ALL"),
            include=tuple((idx.projection or {}).get("NonKeyAttributes", ())),
            local=local,
        )
        for idx, local in pairs
    )


def _plain_value(value: Any) -> dict[str, Any]:
    """A copy of a DynamoType in wire form, safe from later in-place changes to the item."""
    if isinstance(value, dict):
        return value
    if value.type == "L":
        return {"L": [_plain_value(v) for v in value.value]}
    if value.type == "M":
        return {"M": {k: _plain_value(v) for k, v in value.value.items()}}
    if isinstance(value.value, list):
        return {value.type: list(value.value)}
    return {value.type: value.value}


def plain(item: Any) -> dict[str, Any] | None:
    return None if item is None else {name: _plain_value(v) for name, v in item.attrs.items()}


def _wire(value: dict[str, Any]) -> dict[str, Any]:
    """A key attribute as moto keeps it: binary as base64 text (LocalStack's parsed request has bytes)."""
    kind, v = next(iter(value.items()))
    if isinstance(v, (bytes, bytearray)):
        return {kind: base64.b64encode(v).decode()}
    return value


@dataclass
class _Named:
    """An item a request names: its table, key, what the request does to it, the Put's new item."""

    table: Any  # moto's Table
    key: Any  # (hash, range) as moto's Table.get_item takes them
    action: str  # Put, Update, Delete, ConditionCheck or Get
    new: dict[str, Any] | None = None
    consistent: bool = False
    before: dict[str, Any] | None = None

    def current(self) -> dict[str, Any] | None:
        return plain(self.table.get_item(*self.key))


def _named(backend: Any, table_name: str, action: str, attrs: dict[str, Any], **extra: Any) -> _Named:
    table = backend.get_table(table_name)
    names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
    key = backend.get_keys_value(table, {n: _wire(attrs[n]) for n in names})
    return _Named(table, key, action, new=attrs if action == "Put" else None, **extra)


def _plan(op: str, backend: Any, params: dict[str, Any]) -> list[_Named]:
    """The items the request names, in request order (raises when it names them wrongly: then
    moto answers the error and nothing is metered)."""
    if op in ("PutItem", "UpdateItem", "DeleteItem", "GetItem"):
        action = op.removesuffix("Item")
        attrs = params["Item"] if op == "PutItem" else params["Key"]
        return [_named(backend, params["TableName"], action, attrs, consistent=bool(params.get("ConsistentRead")))]
    if op == "BatchWriteItem":
        return [
            _named(backend, table, "Put", req["PutRequest"]["Item"])
            if "PutRequest" in req
            else _named(backend, table, "Delete", req["DeleteRequest"]["Key"])
            for table, requests in params["RequestItems"].items()
            for req in requests
        ]
    if op == "BatchGetItem":
        return [
            _named(backend, table, "Get", key, consistent=bool(spec.get("ConsistentRead")))
            for table, spec in params["RequestItems"].items()
            for key in spec["Keys"]
        ]
    if op in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for entry in params["TransactItems"]:
            action, body = next(iter(entry.items()))
            out.append(_named(backend, body["TableName"], action, body["Item"] if action == "Put" else body["Key"]))
        return out
    return []  # Query, Scan: sized by the wrappers


# -- pricing ---------------------------------------------------------------------------------------


def _price_success(
    op: str, backend: Any, params: dict[str, Any], named: list[_Named], read_bytes: int, usage: RequestUsage
) -> None:
    factor = capacity.TRANSACTION_FACTOR if op.startswith("Transact") else 1
    if op in ("Query", "Scan"):
        table = backend.get_table(params["TableName"])
        index = next((i for i in indexes_of(table) if i.name == params.get("IndexName")), None)
        usage.read(table.name, index, read_bytes, bool(params.get("ConsistentRead")))
        return
    for n in named:
        if n.action == "Get":
            # TransactGetItems reads are strongly consistent
            usage.get(n.table.name, n.before, n.consistent or factor > 1, factor)
        elif n.action == "ConditionCheck":
            usage.failed_write(n.table.name, n.before, factor=factor)
        else:
            usage.write(n.table.name, indexes_of(n.table), n.before, n.current(), factor)


def _condition_failed(error: Exception) -> bool:
    code = getattr(error, "code", "")
    if code == "ConditionalCheckFailedException":
        return True
    reasons = getattr(error, "CancellationReasons", None) or []
    return code == "TransactionCanceledException" and any(
        isinstance(r, dict) and r.get("Code") == "ConditionalCheckFailed" for r in reasons
    )


def _price_failure(named: list[_Named], usage: RequestUsage) -> None:
    """Nothing was written; each named item still costs its prepare (or single) write."""
    for n in named:
        usage.failed_write(n.table.name, n.before, n.new)


# -- the hook --------------------------------------------------------------------------------------


def caller_of(context: Any) -> capacity.Caller:
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

    from . import callers, iam

    access_key = extract_access_key_id_from_auth_header(context.request.headers)
    principal = iam.principal_for(access_key, context.account_id)
    return capacity.Caller(role=principal.role_name if principal else None, function=callers.function_for(access_key))


def metered(context: Any, call: Callable[[], Any]) -> Any:
    """``call()`` (moto serving the request), its units recorded and answered. Metering never
    changes whether a request succeeds: a fault of its own is logged and the answer left as is."""
    op = context.operation.name
    if op not in _WRITES and op not in _READS:
        return call()
    from moto.dynamodb.models import dynamodb_backends

    params = context.service_request or {}
    backend = dynamodb_backends[context.account_id][context.region]
    try:
        named = _plan(op, backend, params)
        for n in named:
            n.before = n.current()
    except Exception:
        return call()  # a request naming a missing table or a bad key: moto answers its error
    usage = RequestUsage()
    _STATE.read_bytes = 0
    try:
        response = call()
    except Exception as error:
        if op in _WRITES and _condition_failed(error):
            _safely(lambda: _price_failure(named, usage), context, usage)
        raise
    finally:
        read_bytes, _STATE.read_bytes = _STATE.read_bytes, None
    if _safely(lambda: _price_success(op, backend, params, named, read_bytes, usage), context, usage):
        _answer(op, params, response, usage)
    return response


def _safely(price: Callable[[], None], context: Any, usage: RequestUsage) -> bool:
    try:
        price()
        capacity.CAPACITY.add(caller_of(context), usage.usages())
        return True
    except Exception:
        LOG.exception("hostmode capacity: could not meter %s", context.operation.name)
        return False


def _answer(op: str, params: dict[str, Any], response: Any, usage: RequestUsage) -> None:
    if not isinstance(response, dict):
        return
    response.pop("ConsumedCapacity", None)  # moto's fixed figures
    answer = capacity.consumed_capacity(
        usage.usages(), params.get("ReturnConsumedCapacity"), many=op in _MANY, transactional=op.startswith("Transact")
    )
    if answer is not None:
        response["ConsumedCapacity"] = answer


# -- Query and Scan: what they read ----------------------------------------------------------------


def _read(items: list[Any]) -> None:
    _STATE.read_bytes += sum(capacity.item_size(i.attrs) for i in items)


def _filtered(items: list[Any], filter_expression: Any, projection: Any) -> list[Any]:
    """What moto's query/scan do last, after the items are read (same order, same calls)."""
    if filter_expression is not None:
        items = [i for i in items if filter_expression.expr(i)]
    if projection:
        items = [i.project(projection) for i in items]
    return items


def install() -> None:
    """Wraps moto's ``Table.query`` and ``Table.scan`` (idempotent): while a request is metered
    they read without filter and projection, size what they read, then filter and project."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_hostmode_original", None) is not None:
        return
    original_query, original_scan = Table.query, Table.scan

    def query(
        self: Any,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: Any,
        projection_expressions: Any,
        index_name: Any = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        if getattr(_STATE, "read_bytes", None) is None:
            return original_query(
                self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression, **filter_kwargs,
            )  # fmt: skip
        items, scanned, last_key = original_query(
            self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
            None, index_name, consistent_read, None, **filter_kwargs,
        )  # fmt: skip
        _read(items)
        return _filtered(items, filter_expression, projection_expressions), scanned, last_key

    def scan(
        self: Any,
        filters: Any,
        limit: Any,
        exclusive_start_key: Any,
        filter_expression: Any = None,
        index_name: Any = None,
        consistent_read: bool = False,
        projection_expression: Any = None,
        segments: Any = (None, None),
    ) -> Any:
        if getattr(_STATE, "read_bytes", None) is None:
            return original_scan(
                self, filters, limit, exclusive_start_key, filter_expression, index_name, consistent_read,
                projection_expression, segments=segments,
            )  # fmt: skip
        items, scanned, last_key = original_scan(
            self, filters, limit, exclusive_start_key, None, index_name, consistent_read, None, segments=segments
        )
        _read(items)
        return _filtered(items, filter_expression, projection_expression), scanned, last_key

    query._hostmode_original = original_query  # type: ignore[attr-defined]
    scan._hostmode_original = original_scan  # type: ignore[attr-defined]
    Table.query = query
    Table.scan = scan
