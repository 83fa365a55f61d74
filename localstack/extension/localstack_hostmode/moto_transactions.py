"""Transactions that cost what they touch: moto backs up every table a ``TransactWriteItems``
names with ``copy.deepcopy`` before it runs (to restore them if the transaction is cancelled),
so each transaction costs time proportional to the size of its tables, not to its items. With
the tables of a long test run (thousands of orders, notifications, reservations), every
reservation and every notification claim copied whole tables under the DynamoDB lock
(:mod:`dynamodb`), DynamoDB calls queued for seconds, the SDK's 4 s operation timeouts fired and
the pipeline failed in ways DynamoDB never makes it fail.

This keeps moto's own transaction code and replaces only its backup: the items the transaction
names are copied before it runs and put back if it is cancelled (all of its writes are to those
items), and the table copies are skipped. moto's rollback then assigns each table to itself.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_STATE = threading.local()


class _CopyForMotoModels:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: a table is "copied"
    as itself while a transaction of ours runs; everything else is copied as usual."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(x, Table) and getattr(_STATE, "item_backup", False):
            return x
        return copy.deepcopy(x, memo)


def _touched(backend: Any, transact_items: list[dict]) -> list[tuple[Any, Any, Any]]:
    """(table, hash key, range key) of every item the transaction names, where resolvable
    (anything else makes moto refuse the transaction before it writes)."""
    out = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            if "Item" in op:
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            hash_key, range_key = backend.get_keys_value(table, key)
        except Exception:
            continue
        out.append((table, hash_key, range_key))
    return out


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if item is None:
        if table.get_item(hash_key, range_key) is not None:
            table.delete_item(hash_key, range_key)
    elif range_key is not None:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item


# DynamoDB takes up to 100 items in a TransactGetItems, as in a TransactWriteItems (raised from
# 25 in 2022: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactGetItems.html);
# moto still refuses more than 25, so a read AWS serves (a SKU's 32 stock shards) failed here.
TRANSACT_GET_MAX_ITEMS = 100


def install() -> None:
    """Patches moto's ``DynamoDBBackend.transact_write_items`` and its TransactGetItems limit
    (idempotent)."""
    from moto.dynamodb import models, responses

    responses.TRANSACTION_MAX_ITEMS = TRANSACT_GET_MAX_ITEMS

    backend_cls = models.DynamoDBBackend
    if getattr(backend_cls.transact_write_items, "_item_backup", False):
        return
    original = backend_cls.transact_write_items
    models.copy = _CopyForMotoModels()

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched = _touched(self, transact_items)
        backup = [(t, h, r, copy.deepcopy(t.get_item(h, r))) for t, h, r in touched]
        _STATE.item_backup = True
        try:
            return original(self, transact_items)
        except Exception:
            # Cancelled (condition, validation, conflict): none of its writes may stay.
            for table, hash_key, range_key, item in reversed(backup):
                _restore(table, hash_key, range_key, item)
            raise
        finally:
            _STATE.item_backup = False

    transact_write_items._item_backup = True  # type: ignore[attr-defined]
    backend_cls.transact_write_items = transact_write_items
