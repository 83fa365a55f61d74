"""DynamoDB capacity units as on-demand DynamoDB bills them: pure functions, no LocalStack or moto.

moto answers every ``ReturnConsumedCapacity`` with a fixed figure, so nothing local measured what
a request costs. The rules here are AWS's, from the Developer Guide unless said otherwise:

- item size ("DynamoDB item sizes and formats"): attribute names plus values; strings and names
  as UTF-8 bytes, numbers (1 byte per two significant digits) + 1, binary its raw bytes, null and
  booleans 1, lists and maps 3 + their elements + 1 per element, sets the sum of their elements;
- reads ("DynamoDB read and write operations"): 1 unit per 4 KB rounded up, strongly consistent;
  eventually consistent half that; an item that does not exist still costs one unit; BatchGetItem
  rounds item by item, Query and Scan sum the items they read (before any filter, whatever the
  projection) and round once;
- writes (same page): 1 unit per 1 KB rounded up of the larger of the item before and after
  (PutItem, UpdateItem, DeleteItem, each BatchWriteItem item); deleting an item that does not
  exist costs 1; a failed condition still costs the item's size (at least 1);
- transactions ("Capacity management for transactions"): every item is read or written twice,
  to prepare and to commit (three 500-byte items: 6 units);
- global secondary indexes ("Provisioned throughput considerations for GSIs"): a table write
  also writes each index it affects, sized as the index holds the item (its projection): one
  write when the item enters or leaves the index, two when its index key changes, one when only
  projected attributes change, none otherwise. Items without the index's key attributes are not
  in it (sparse indexes). Local secondary indexes follow the same rules.

The answer's shape (``ConsumedCapacity``) follows AWS's examples in the CLI reference: TOTAL gives
``TableName`` and ``CapacityUnits``, INDEXES adds ``Table`` and the indexes that consumed units;
batch and transaction calls answer a list, one entry per table; transactions also name
``ReadCapacityUnits``/``WriteCapacityUnits``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

READ, WRITE = "read", "write"
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
TRANSACTION_FACTOR = 2  # prepare + commit

# An item: attribute name -> value as on the wire ({"S": "x"}) or anything with .type and .value
# (moto's DynamoType), so moto's items are sized without being converted.
Item = Mapping[str, Any]


# -- sizes ---------------------------------------------------------------------------------------


def _type_value(value: Any) -> tuple[str, Any]:
    if isinstance(value, Mapping):
        return next(iter(value.items()))
    return value.type, value.value


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _binary(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    text = str(value)  # base64, as on the wire and in moto
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def number_size(text: str) -> int:
    """(1 byte per two significant digits) + 1; leading and trailing zeros do not count."""
    try:
        digits = len(Decimal(text).normalize().as_tuple().digits)
    except InvalidOperation:
        digits = sum(c.isdigit() for c in text)
    return math.ceil(digits / 2) + 1


def value_size(value: Any) -> int:
    kind, v = _type_value(value)
    if kind == "S":
        return _utf8(v)
    if kind == "N":
        return number_size(v)
    if kind == "B":
        return _binary(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(s) for s in v)
    if kind == "NS":
        return sum(number_size(n) for n in v)
    if kind == "BS":
        return sum(_binary(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + value_size(e) for k, e in v.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# -- secondary indexes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]  # the index's key attributes
    table_keys: tuple[str, ...]
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    include: tuple[str, ...] = ()  # INCLUDE's NonKeyAttributes
    local: bool = False

    def entry(self, item: Item | None) -> dict[str, Any] | None:
        """The item as this index holds it, or None when it is not in the index (sparse)."""
        if item is None or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {*self.table_keys, *self.keys}
        if self.projection == "INCLUDE":
            names.update(self.include)
        return {n: v for n, v in item.items() if n in names}


def index_write_units(index: Index, before: Item | None, after: Item | None) -> int:
    old, new = index.entry(before), index.entry(after)
    if old is None and new is None:
        return 0
    if old is None or new is None:  # enters or leaves the index
        return write_units(item_size(new if old is None else old))
    if any(old.get(k) != new.get(k) for k in index.keys):  # moves: delete + put
        return write_units(item_size(old)) + write_units(item_size(new))
    if old != new:  # projected attributes changed: one update
        return write_units(max(item_size(old), item_size(new)))
    return 0


# -- one request's consumption -------------------------------------------------------------------


@dataclass
class TableUsage:
    """What one request consumed on one table and its indexes."""

    table: str
    kind: str  # READ or WRITE
    units: float = 0.0  # on the table itself
    indexes: dict[str, float] = field(default_factory=dict)
    local: set[str] = field(default_factory=set)  # which of `indexes` are LSIs

    @property
    def total(self) -> float:
        return self.units + sum(self.indexes.values())

    def add_index(self, index: Index, units: float) -> None:
        if units:
            self.indexes[index.name] = self.indexes.get(index.name, 0.0) + units
            if index.local:
                self.local.add(index.name)


class RequestUsage:
    """Accumulates a request's units per table, in the order the request names the tables."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], TableUsage] = {}

    def table(self, name: str, kind: str) -> TableUsage:
        return self._tables.setdefault((name, kind), TableUsage(name, kind))

    def usages(self) -> list[TableUsage]:
        return list(self._tables.values())

    def write(
        self, table: str, indexes: Iterable[Index], before: Item | None, after: Item | None, factor: int = 1
    ) -> None:
        """PutItem, UpdateItem, DeleteItem (and their batch and transaction forms) that took effect."""
        usage = self.table(table, WRITE)
        usage.units += factor * write_units(max(item_size(before), item_size(after)))
        for index in indexes:
            usage.add_index(index, factor * index_write_units(index, before, after))

    def failed_write(self, table: str, existing: Item | None, new: Item | None = None, factor: int = 1) -> None:
        """A write whose condition failed, or a transaction's condition check: nothing written,
        still the item's size (the larger of the stored and the new one, at least one unit)."""
        self.table(table, WRITE).units += factor * write_units(max(item_size(existing), item_size(new)))

    def get(self, table: str, item: Item | None, consistent: bool, factor: int = 1) -> None:
        self.table(table, READ).units += factor * read_units(item_size(item), consistent)

    def read(self, table: str, index: Index | None, size: int, consistent: bool) -> None:
        """Query or Scan: the items read, summed, rounded once; on the index when one is read."""
        usage = self.table(table, READ)
        units = read_units(size, consistent)
        if index is None:
            usage.units += units
        else:
            usage.add_index(index, units)


# -- the answer ------------------------------------------------------------------------------------


def _capacity(units: float, kind: str, transactional: bool) -> dict[str, float]:
    out = {"CapacityUnits": float(units)}
    if transactional:
        out["ReadCapacityUnits" if kind == READ else "WriteCapacityUnits"] = float(units)
    return out


def _entry(usage: TableUsage, indexes: bool, transactional: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"TableName": usage.table, **_capacity(usage.total, usage.kind, transactional)}
    if indexes:
        entry["Table"] = _capacity(usage.units, usage.kind, transactional)
        for field_name, local in (("GlobalSecondaryIndexes", False), ("LocalSecondaryIndexes", True)):
            named = {
                n: _capacity(u, usage.kind, transactional)
                for n, u in usage.indexes.items()
                if (n in usage.local) == local
            }
            if named:
                entry[field_name] = named
    return entry


def consumed_capacity(
    usages: list[TableUsage], mode: str | None, *, many: bool, transactional: bool = False
) -> dict[str, Any] | list[dict[str, Any]] | None:
    """The ``ConsumedCapacity`` member for ``ReturnConsumedCapacity`` = mode (None: no member).
    ``many``: a batch or transaction call, which answers a list."""
    if mode not in ("TOTAL", "INDEXES"):
        return None
    entries = [_entry(u, mode == "INDEXES", transactional) for u in usages]
    if many:
        return entries
    return entries[0] if entries else None


# -- the record ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who signed a request: a function (its execution role's session), another role session,
    or neither (long-term keys: deploys, tests, shells)."""

    role: str | None = None
    function: str | None = None

    @property
    def name(self) -> str:
        return self.function or self.role or "(not a role session)"


class CapacityLog:
    """Units consumed per (caller, table, table-or-index, read/write), with request counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str | None, str, str | None, str], list[float]] = {}

    def add(self, caller: Caller, usages: Iterable[TableUsage]) -> None:
        with self._lock:
            for usage in usages:
                parts: list[tuple[str | None, float]] = [(None, usage.units), *usage.indexes.items()]
                for index, units in parts:
                    if not units:
                        continue
                    key = (caller.name, caller.role, usage.table, index, usage.kind)
                    row = self._rows.setdefault(key, [0.0, 0])
                    row[0] += units
                    row[1] += 1

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            rows = sorted(self._rows.items(), key=lambda kv: tuple(str(p) for p in kv[0]))
        return {
            "capacity": [
                {
                    "caller": caller,
                    "role": role,
                    "table": table,
                    "index": index,
                    "kind": kind,
                    "units": units,
                    "requests": int(count),
                }
                for (caller, role, table, index, kind), (units, count) in rows
            ]
        }

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


CAPACITY = CapacityLog()
