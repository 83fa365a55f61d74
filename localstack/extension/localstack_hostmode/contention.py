"""Transaction conflicts as DynamoDB has them, on top of a backend that serves one request at a
time.

moto stays behind one lock (see :mod:`dynamodb`), so two requests never overlap and could never
conflict. On DynamoDB a transaction is "ongoing" for the milliseconds it takes to commit, and
DynamoDB documents three conflicts (Developer Guide, "Transaction conflict handling"):

1. a ``PutItem``/``UpdateItem``/``DeleteItem`` on an item that an ongoing ``TransactWriteItems``
   includes fails with ``TransactionConflictException``;
2. a ``TransactWriteItems`` whose item is part of another ongoing transaction is cancelled with
   ``TransactionCanceledException``, reason ``TransactionConflict`` for that item;
3. a ``TransactGetItems`` whose item is part of an ongoing ``TransactWriteItems``, ``PutItem``,
   ``UpdateItem`` or ``DeleteItem`` is cancelled the same way.

The model: a ``TransactWriteItems`` is ongoing for ``window`` seconds from the moment it is
served (standing in for DynamoDB's commit time, typically tens of milliseconds): its items are
held that long, and its answer is sent only when the window ends, so that, as on DynamoDB, a
caller that waits for the answer never conflicts with its own transaction, while anything that
arrives in the meantime does. A transaction cancelled by a conflict holds nothing (it never
started); one cancelled by its own condition holds its items like on DynamoDB. Single-item writes
take no measurable time here, so they hold nothing (case 3 then only meets transactions), and
they never conflict with each other (DynamoDB serializes them per item); BatchWriteItem is not
modelled. The window is ``DYNAMODB_CONFLICT_WINDOW_MS`` (default 20 ms, 0 turns conflicts off)
and can be changed at run time (``PUT /_hostmode/contention``).
"""

from __future__ import annotations

import json
import os
import threading
import time

from .faults import transaction_canceled

_SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


def _default_window_s() -> float:
    try:
        return max(0.0, float(os.environ.get("DYNAMODB_CONFLICT_WINDOW_MS", "20")) / 1000)
    except ValueError:
        return 0.02


class Contention:
    def __init__(self, window_s: float | None = None):
        self.window_s = _default_window_s() if window_s is None else window_s
        self._holds: dict[tuple, float] = {}  # item -> held until (monotonic)
        self._lock = threading.Lock()
        self.conflicts = {"TransactWriteItems": 0, "TransactGetItems": 0, "single-item write": 0}

    def snapshot(self) -> dict:
        return {"window_ms": round(self.window_s * 1000, 3), "conflicts": dict(self.conflicts)}

    def set_window(self, window_ms: float) -> None:
        with self._lock:
            self.window_s = max(0.0, window_ms / 1000)
            self._holds.clear()
            for k in self.conflicts:
                self.conflicts[k] = 0

    def check(self, scope: tuple, operation: str, params: dict, key_of) -> tuple[Exception | None, float]:
        """(the conflict this request runs into or None, how long its answer must wait: the rest
        of its own window when it is a transaction that now holds its items).
        ``key_of(table, item_or_key, is_full_item)`` returns an item's primary key."""
        if self.window_s <= 0:
            return None, 0.0
        params = params or {}
        now = time.monotonic()
        with self._lock:
            if len(self._holds) > 10_000:
                self._holds = {k: v for k, v in self._holds.items() if v > now}
            if operation == "TransactWriteItems":
                keys = [self._txn_item_key(scope, it, key_of) for it in params.get("TransactItems", [])]
                hit = {i for i, k in enumerate(keys) if self._held(k, now)}
                if hit:
                    self.conflicts[operation] += 1
                    return transaction_canceled(len(keys), hit), 0.0
                self._hold(keys, now)
                return None, self.window_s
            elif operation == "TransactGetItems":
                keys = [
                    (*scope, it["Get"]["TableName"], key_of(it["Get"]["TableName"], it["Get"]["Key"], False))
                    for it in params.get("TransactItems", [])
                ]
                hit = {i for i, k in enumerate(keys) if self._held(k, now)}
                if hit:
                    self.conflicts[operation] += 1
                    return transaction_canceled(len(keys), hit), 0.0
            elif operation in _SINGLE_WRITES:
                table = params.get("TableName", "")
                full = operation == "PutItem"
                key = (*scope, table, key_of(table, params.get("Item" if full else "Key", {}), full))
                if self._held(key, now):
                    self.conflicts["single-item write"] += 1
                    from localstack.aws.api import CommonServiceException

                    return CommonServiceException(
                        "TransactionConflictException",
                        "Transaction is ongoing for the item",
                        status_code=400,
                        sender_fault=True,
                    ), 0.0
        return None, 0.0

    @staticmethod
    def _txn_item_key(scope, item: dict, key_of) -> tuple:
        for kind, body in item.items():
            table = body["TableName"]
            if kind == "Put":
                return (*scope, table, key_of(table, body["Item"], True))
            return (*scope, table, key_of(table, body["Key"], False))
        return (*scope, "", "")

    def _held(self, key, now) -> bool:
        until = self._holds.get(key)
        return until is not None and until > now

    def _hold(self, keys, now) -> None:
        for k in keys:
            self._holds[k] = now + self.window_s


CONTENTION = Contention()


def moto_key_of(account_id: str, region: str):
    """key_of for :meth:`Contention.check`: the primary key attributes of an item, from moto's
    table schema (the whole map when the table is unknown; moto then answers the error)."""
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account_id][region]

    def key_of(table_name: str, item: dict, is_full_item: bool) -> str:
        name = table_name.rsplit("/", 1)[-1]
        table = backend.tables.get(name)
        if table is None or not is_full_item:
            attrs = item
        else:
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            attrs = {n: item.get(n) for n in names}
        return json.dumps(attrs, sort_keys=True)

    return key_of
