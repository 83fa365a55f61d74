"""Queries that cost what they find: moto answers every ``Query`` by sorting *all* of the table's
items (``Table.all_items``) and then comparing each with the key asked for, base table or index
alike. DynamoDB reads only the partition asked for. With the Orders table of a long test run
(10,000 orders) one index query took ~70-130 ms under the DynamoDB lock (:mod:`dynamodb`), the
outbox sweeper makes 32 of them a minute (16 partitions of two sparse indexes), and every other
DynamoDB call waited behind them: the pipeline slowed down round after round as the table grew.

This keeps moto's own query (key conditions, order, pages, size limits, projections, filters) and
hands it only the candidates: the base table's partition for the hash key, or the items whose
index hash attribute equals it, found by one pass without sorting. moto sorts and filters those
as before, so the answer is the same item for item (its sorts are total orders over the keys).
"""

from __future__ import annotations

import functools
from typing import Any


def _candidates(table: Any, hash_key: Any, index_name: str | None) -> list[Any] | None:
    """The items a query for `hash_key` can return, in no particular order; None when the index
    is unknown (moto's own query then raises its validation error)."""
    if index_name is None:
        part = table.items.get(hash_key)
        if part is None:
            return []
        return list(part.values()) if table.range_key_attr else [part]
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return None
    attr = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"), None)
    if attr is None:
        return None
    kind, value = hash_key.type, hash_key.value
    found = []
    for part in table.items.values():
        for item in part.values() if table.range_key_attr else (part,):
            v = item.attrs.get(attr)
            if v is not None and v.type == kind and v.value == value:
                found.append(item)
    return found


def install() -> None:
    """Patches moto's ``Table.query`` (idempotent)."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_candidates_only", False):
        return
    original = Table.query

    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        found = _candidates(self, hash_key, index_name)
        if found is None:
            return original(self, hash_key, *args, **kwargs)
        # moto's query reads the table through all_items() once; calls on one table are
        # serialized by the DynamoDB lock, so the instance attribute is this call's alone.
        self.all_items = lambda: found
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    query._candidates_only = True  # type: ignore[attr-defined]
    Table.query = query
