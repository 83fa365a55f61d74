"""Consumed capacity as on-demand DynamoDB bills it (localstack_hostmode/capacity.py, moto_capacity.py).

Two halves: the pure functions (sizes, rounding, transactions, index projections, the answer's
shape, the record), which need no server (``pytest localstack/tests/test_capacity.py -k pure``),
and requests to a running LocalStack with ``ReturnConsumedCapacity``, checked against the answer
and against ``GET /_hostmode/capacity``. Where AWS's documentation gives a figure, the test uses
it and says where it comes from ("Dev Guide": the DynamoDB Developer Guide; "CLI": the examples of
the AWS CLI Command Reference for DynamoDB).
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import requests

from conftest import ENDPOINT, allow, hostmode, poll, table_arn, unique
from localstack_hostmode import capacity
from localstack_hostmode.capacity import Index, RequestUsage

# -- pure: sizes ---------------------------------------------------------------------------------------


def s(text: str) -> dict:
    return {"S": text}


def n(text: str) -> dict:
    return {"N": text}


@pytest.mark.parametrize(
    "value, size",
    [
        (s("abc"), 3),
        (s("é€"), 5),  # UTF-8 bytes, not characters
        (n("7"), 2),  # 1 byte per two significant digits (rounded up) + 1
        (n("123.45"), 4),
        (n("-1200"), 2),  # trailing zeros trimmed
        (n("0.00012"), 2),  # leading zeros trimmed
        ({"B": b"\x00\x01\x02"}, 3),  # raw bytes ...
        ({"B": "AAEC"}, 3),  # ... also when given as base64
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["ab", "c"]}, 3),
        ({"NS": ["1", "22"]}, 4),
        ({"L": []}, 3),  # list/map: 3 bytes overhead
        ({"L": [s("ab"), n("1")]}, 3 + (1 + 2) + (1 + 2)),  # + 1 per element
        ({"M": {"a": s("b")}}, 3 + 1 + 1 + 1),  # element: 1 + name + value
        ({"M": {"l": {"L": [{"BOOL": False}]}}}, 3 + 1 + 1 + (3 + 1 + 1)),
    ],
)
def test_pure_attribute_value_sizes(value, size):
    assert capacity.value_size(value) == size


def test_pure_item_size_counts_names_and_values():
    assert capacity.item_size({"pk": s("a"), "qty": n("12"), "ok": {"BOOL": True}}) == (2 + 1) + (3 + 2) + (2 + 1)
    assert capacity.item_size(None) == 0


class _Moto:
    """Stands in for moto's DynamoType (.type/.value, nested values wrapped too)."""

    def __init__(self, kind: str, value: Any):
        self.type, self.value = kind, value


def test_pure_sizes_read_motos_values_as_the_wire_form():
    wire = {"m": {"M": {"a": s("xy"), "l": {"L": [n("10")]}}}}
    moto = {"m": _Moto("M", {"a": _Moto("S", "xy"), "l": _Moto("L", [_Moto("N", "10")])})}
    assert capacity.item_size(moto) == capacity.item_size(wire) == 1 + 3 + (1 + 1 + 2) + (1 + 1 + 3 + 1 + 2)


# -- pure: rounding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, units",
    [(0, 1), (500, 1), (1024, 1), (1025, 2), (1638, 2)],  # Dev Guide: a 1.6 KB put or delete rounds to 2 KB
)
def test_pure_write_units_per_kb_rounded_up(size, units):
    assert capacity.write_units(size) == units


@pytest.mark.parametrize(
    "size, strong, eventual",
    [
        (0, 1.0, 0.5),  # an item that does not exist still costs a read
        (3500, 1.0, 0.5),  # Dev Guide: a 3,500-byte item costs as a 4 KB one
        (8192, 2.0, 1.0),  # Dev Guide: 8 KB item, 2 strongly / 1 eventually consistent
        (10240, 3.0, 1.5),  # Dev Guide: 10 KB rounds to 12 KB
    ],
)
def test_pure_read_units_per_4kb_eventual_half(size, strong, eventual):
    assert capacity.read_units(size, consistent=True) == strong
    assert capacity.read_units(size, consistent=False) == eventual


def test_pure_batch_get_rounds_each_item_query_rounds_the_sum():
    usage = RequestUsage()
    for size in (1536, 6656):  # Dev Guide: BatchGetItem of 1.5 KB and 6.5 KB items counts 12 KB, not 8
        usage.get("T", {"pad": s("x" * (size - 3))}, consistent=True)
    assert usage.usages()[0].units == 3.0
    query = RequestUsage()
    query.read("T", None, int(40.8 * 1024), consistent=True)  # Dev Guide: a 40.8 KB Query rounds to 44 KB
    assert query.usages()[0].units == 11.0
    scan = RequestUsage()
    scan.read("T", None, 1500 * 64, consistent=True)  # Dev Guide: 1500 items of 64 bytes, 96 KB cumulative
    assert scan.usages()[0].units == 24.0


# -- pure: writes and transactions ---------------------------------------------------------------------


def sized(total: int, **attrs: dict) -> dict:
    """An item of exactly `total` bytes: the attributes given, padded with a string "filler"."""
    item = {"pk": s("k"), **attrs}
    item["filler"] = s("x" * (total - capacity.item_size(item) - len("filler")))
    assert capacity.item_size(item) == total
    return item


def test_pure_write_costs_the_larger_of_before_and_after():
    usage = RequestUsage()
    usage.write("T", (), sized(2500), sized(600))  # an update that shrinks the item: 3 KB
    usage.write("T", (), None, sized(600))  # a new item
    usage.write("T", (), None, None)  # deleting an item that does not exist: 1
    assert usage.usages()[0].units == 3 + 1 + 1


def test_pure_failed_condition_costs_the_item_size():
    usage = RequestUsage()
    usage.failed_write("T", sized(1500))  # an UpdateItem/DeleteItem on a 1.5 KB item
    usage.failed_write("T", sized(100), sized(2100))  # a PutItem of a larger item
    usage.failed_write("T", None)  # on an item that does not exist
    assert usage.usages()[0].units == 2 + 3 + 1


def test_pure_transactions_count_every_item_twice():
    # Dev Guide (capacity management for transactions): three 500-byte items written in one
    # transaction need 6 WCUs; read in one, 6 RCUs
    writes, reads = RequestUsage(), RequestUsage()
    for _ in range(3):
        writes.write("T", (), None, sized(500), factor=capacity.TRANSACTION_FACTOR)
        reads.get("T", sized(500), consistent=True, factor=capacity.TRANSACTION_FACTOR)
    assert writes.usages()[0].units == 6
    assert reads.usages()[0].units == 6


# -- pure: secondary indexes ---------------------------------------------------------------------------

KEYS_ONLY = Index("keys", ("gk",), ("pk",), "KEYS_ONLY")
INCLUDE = Index("incl", ("gk", "gs"), ("pk",), "INCLUDE", ("note",))
ALL = Index("all", ("gk",), ("pk",), "ALL")


def test_pure_index_entries_follow_the_projection():
    item = {"pk": s("k"), "gk": s("g"), "gs": n("1"), "note": s("n"), "other": s("o")}
    assert KEYS_ONLY.entry(item) == {"pk": s("k"), "gk": s("g")}  # table keys + index keys
    assert INCLUDE.entry(item) == {"pk": s("k"), "gk": s("g"), "gs": n("1"), "note": s("n")}
    assert ALL.entry(item) == item
    # sparse: an item without every index key attribute is not in the index
    assert INCLUDE.entry({"pk": s("k"), "gk": s("g")}) is None
    assert ALL.entry({"pk": s("k")}) is None and ALL.entry(None) is None


@pytest.mark.parametrize(
    "before, after, keys_only, all_",
    [
        ({}, {"gk": s("a")}, 1, 3),  # enters the index: one put
        ({"gk": s("a")}, {}, 1, 3),  # leaves it: one delete
        ({"gk": s("a")}, {"gk": s("b")}, 2, 6),  # index key changes: delete + put
        ({"gk": s("a"), "note": s("1")}, {"gk": s("a"), "note": s("2")}, 0, 3),  # projected attribute: update
        ({"gk": s("a")}, {"gk": s("a")}, 0, 0),  # nothing in the index changes
        ({}, {}, 0, 0),  # never in the index
    ],
)
def test_pure_index_writes(before, after, keys_only, all_):
    big = sized(2100)  # ALL holds the whole 2.1 KB item (3 units); KEYS_ONLY a few bytes (1)
    assert capacity.index_write_units(KEYS_ONLY, {**big, **before}, {**big, **after}) == keys_only
    assert capacity.index_write_units(ALL, {**big, **before}, {**big, **after}) == all_


def test_pure_deleting_an_item_deletes_its_index_entries():
    usage = RequestUsage()
    usage.write("T", (KEYS_ONLY, ALL), {"pk": s("k"), "gk": s("g")}, None)
    (table,) = usage.usages()
    assert (table.units, table.indexes) == (1, {"keys": 1, "all": 1})


# -- pure: the answer and the record -------------------------------------------------------------------


def write_usage() -> RequestUsage:
    usage = RequestUsage()
    usage.write("T", (KEYS_ONLY, ALL), None, {"pk": s("k"), "gk": s("g")})
    usage.write("U", (Index("lsi", ("pk", "r"), ("pk",), local=True),), None, {"pk": s("k"), "r": s("1")})
    return usage


def test_pure_answer_total_and_indexes():
    usages = write_usage().usages()
    assert capacity.consumed_capacity(usages[:1], "TOTAL", many=False) == {"TableName": "T", "CapacityUnits": 3.0}
    assert capacity.consumed_capacity(usages[:1], "INDEXES", many=False) == {
        "TableName": "T",
        "CapacityUnits": 3.0,
        "Table": {"CapacityUnits": 1.0},
        "GlobalSecondaryIndexes": {"keys": {"CapacityUnits": 1.0}, "all": {"CapacityUnits": 1.0}},
    }
    assert capacity.consumed_capacity(usages, "NONE", many=True) is None
    assert capacity.consumed_capacity(usages, None, many=True) is None


def test_pure_answer_batch_and_transaction_lists_per_table():
    usages = write_usage().usages()
    assert capacity.consumed_capacity(usages, "TOTAL", many=True, transactional=True) == [
        {"TableName": "T", "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},
        {"TableName": "U", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0},
    ]
    indexes = capacity.consumed_capacity(usages, "INDEXES", many=True)
    assert isinstance(indexes, list)
    assert indexes[1] == {
        "TableName": "U",
        "CapacityUnits": 2.0,
        "Table": {"CapacityUnits": 1.0},
        "LocalSecondaryIndexes": {"lsi": {"CapacityUnits": 1.0}},
    }


def test_pure_record_totals_per_caller_table_index_and_kind():
    log = capacity.CapacityLog()
    fn = capacity.Caller(role="fn-role", function="fn")
    log.add(fn, write_usage().usages())
    log.add(fn, write_usage().usages())
    reads = RequestUsage()
    reads.read("T", ALL, 100, consistent=False)
    log.add(capacity.Caller(), reads.usages())
    rows = {(r["caller"], r["role"], r["table"], r["index"], r["kind"]): (r["units"], r["requests"]) for r in
            log.snapshot()["capacity"]}  # fmt: skip
    assert rows == {
        ("fn", "fn-role", "T", None, "write"): (2.0, 2),
        ("fn", "fn-role", "T", "keys", "write"): (2.0, 2),
        ("fn", "fn-role", "T", "all", "write"): (2.0, 2),
        ("fn", "fn-role", "U", None, "write"): (2.0, 2),
        ("fn", "fn-role", "U", "lsi", "write"): (2.0, 2),
        ("(not a role session)", None, "T", "all", "read"): (0.5, 1),
    }
    log.clear()
    assert log.snapshot() == {"capacity": []}


# -- against LocalStack --------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def localstack_up():
    """Overrides conftest's: the pure tests above need no server; `ddb` below checks for one."""


@pytest.fixture(scope="session")
def ddb(aws):
    try:
        requests.get(f"{ENDPOINT}/_localstack/health", timeout=5).raise_for_status()
    except requests.RequestException as e:
        pytest.fail(f"LocalStack is not reachable at {ENDPOINT} (run `make localstack`): {e}")
    return aws("dynamodb")


@pytest.fixture
def tables(ddb):
    """create(name_prefix, **create_table kwargs) -> name; deleted afterwards."""
    created = []

    def create(prefix: str, keys=(("pk", "S", "HASH"),), attrs=(), **extra) -> str:
        name = unique(prefix)
        definitions = {a: t for a, t, _ in keys} | dict(attrs)
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in definitions.items()],
            KeySchema=[{"AttributeName": a, "KeyType": k} for a, _, k in keys],
            **extra,
        )
        created.append(name)
        poll(lambda: ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE", 10, what="ACTIVE")
        return name

    yield create
    for name in created:
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)


def gsi(name: str, projection: str, **extra) -> dict:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": projection, **extra},
    }


@pytest.fixture
def indexed(tables):
    """A table keyed by pk with three GSIs on gk: KEYS_ONLY, INCLUDE (note) and ALL."""
    indexes = [gsi("keys", "KEYS_ONLY"), gsi("incl", "INCLUDE", NonKeyAttributes=["note"]), gsi("all", "ALL")]
    return tables("cap", attrs=[("gk", "S")], GlobalSecondaryIndexes=indexes)


def recorded(table: str) -> dict[tuple[str | None, str], float]:
    """/_hostmode/capacity's units for a table, by (index or None, read/write), all callers."""
    r = hostmode("GET", "capacity")
    assert r.status_code == 200, r.text
    out: dict[tuple[str | None, str], float] = {}
    for row in r.json()["capacity"]:
        if row["table"] == table:
            key = (row["index"], row["kind"])
            out[key] = out.get(key, 0.0) + row["units"]
    return out


def pad(total: int, **attrs: Any) -> dict:
    """An item of `total` bytes as DynamoDB sizes it: pk "k" + the attributes given + "filler"."""
    item = {"pk": s("k"), **attrs}
    fixed = sum(len(name) + len(v["S"]) for name, v in item.items())  # strings only: names + UTF-8 bytes
    item["filler"] = s("x" * (total - fixed - len("filler")))
    return item


def test_writes_price_the_table_and_each_index_by_its_projection(ddb, indexed):
    def write(call, **kw) -> dict:
        return getattr(ddb, call)(TableName=indexed, ReturnConsumedCapacity="INDEXES", **kw)["ConsumedCapacity"]

    def units(answer: dict) -> tuple[float, dict[str, float]]:
        assert answer["TableName"] == indexed
        gsis = {name: c["CapacityUnits"] for name, c in answer.get("GlobalSecondaryIndexes", {}).items()}
        assert answer["CapacityUnits"] == answer["Table"]["CapacityUnits"] + sum(gsis.values())
        return answer["Table"]["CapacityUnits"], gsis

    key = {"pk": s("k")}

    def update(expression: str, value: dict | None = None) -> dict:
        values = {"ExpressionAttributeValues": {":v": value}} if value else {}
        return write("update_item", Key=key, UpdateExpression=expression, **values)

    item = pad(2000, gk=s("g1"), note=s("n"))  # 2 KB; its KEYS_ONLY and INCLUDE entries a few bytes
    answers = [write("put_item", Item=item)]
    # a new item enters every index: one put each, sized as the index holds it
    assert units(answers[-1]) == (2.0, {"keys": 1.0, "incl": 1.0, "all": 2.0})
    # a projected attribute changes: INCLUDE and ALL update their entry, KEYS_ONLY is untouched
    answers.append(update("SET note = :v", s("m")))
    assert units(answers[-1]) == (2.0, {"incl": 1.0, "all": 2.0})
    # the item shrinks to 1 KB: the larger of before and after is billed
    answers.append(update("SET filler = :v", s("x" * 982)))
    assert units(answers[-1]) == (2.0, {"all": 2.0})
    # the index key changes: a delete and a put in every index
    answers.append(update("SET gk = :v", s("g2")))
    assert units(answers[-1]) == (1.0, {"keys": 2.0, "incl": 2.0, "all": 2.0})
    # the index key is removed: the item leaves every index (sparse indexes)
    answers.append(update("REMOVE gk"))
    assert units(answers[-1]) == (1.0, {"keys": 1.0, "incl": 1.0, "all": 1.0})
    # an item without gk touches no index; nor does its deletion
    answers.append(write("put_item", Item={"pk": s("k2")}))
    assert units(answers[-1]) == (1.0, {})
    answers.append(write("delete_item", Key=key))
    assert units(answers[-1]) == (1.0, {})

    # TOTAL: the sum only; NONE or nothing asked: no ConsumedCapacity at all
    total = ddb.put_item(TableName=indexed, Item=item, ReturnConsumedCapacity="TOTAL")["ConsumedCapacity"]
    assert total == {"TableName": indexed, "CapacityUnits": 6.0}
    assert "ConsumedCapacity" not in ddb.delete_item(TableName=indexed, Key=key, ReturnConsumedCapacity="NONE")
    assert "ConsumedCapacity" not in ddb.put_item(TableName=indexed, Item=item)

    # the record holds every request, asked or not: the answers, then the TOTAL put, the unasked
    # delete and the unasked put (the 2 KB item and its three entries each time)
    table = sum(units(a)[0] for a in answers) + 2 + 2 + 2
    assert recorded(indexed) == {
        (None, "write"): table,
        ("keys", "write"): 1 + 2 + 1 + 1 + 1 + 1,
        ("incl", "write"): 1 + 1 + 2 + 1 + 1 + 1 + 1,
        ("all", "write"): 2 + 2 + 2 + 2 + 1 + 2 + 2 + 2,
    }


def test_a_failed_condition_still_costs_the_item(ddb, indexed):
    item = pad(2000, gk=s("g"))
    ddb.put_item(TableName=indexed, Item=item)
    before = recorded(indexed)
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as info:
        ddb.put_item(
            TableName=indexed, Item=item, ConditionExpression="attribute_not_exists(pk)", ReturnConsumedCapacity="TOTAL"
        )
    assert "ConsumedCapacity" not in info.value.response  # AWS answers none with the error
    after = recorded(indexed)
    assert after[(None, "write")] - before[(None, "write")] == 2.0  # the 2 KB item
    assert {k: v for k, v in after.items() if k[0]} == {k: v for k, v in before.items() if k[0]}  # no index write


def test_reads_size_whole_items_and_index_entries(ddb, indexed):
    # Dev Guide (GSI read capacity): a Query of a GSI returning 8 items of 2,000 bytes reads
    # 16,000 bytes, rounded to 16 KB, eventually consistent: 2 RCUs
    ddb.batch_write_item(
        RequestItems={indexed: [{"PutRequest": {"Item": pad(2000, gk=s("q"), pk=s(f"k{i}"))}} for i in range(8)]}
    )

    def query(index: str, **kw) -> dict:
        return ddb.query(
            TableName=indexed, IndexName=index, KeyConditionExpression="gk = :g",
            ExpressionAttributeValues={":g": s("q"), **kw.pop("values", {})}, ReturnConsumedCapacity="INDEXES", **kw,
        )  # fmt: skip

    answer = query("all")
    assert answer["Count"] == 8
    assert answer["ConsumedCapacity"] == {
        "TableName": indexed,
        "CapacityUnits": 2.0,
        "Table": {"CapacityUnits": 0.0},
        "GlobalSecondaryIndexes": {"all": {"CapacityUnits": 2.0}},
    }
    # the same items through KEYS_ONLY: a few bytes each
    assert query("keys")["ConsumedCapacity"]["CapacityUnits"] == 0.5
    # a filter is applied after the read, and a count reads as much
    filtered = query("all", FilterExpression="pk = :none", values={":none": s("none")})
    assert (filtered["Count"], filtered["ConsumedCapacity"]["CapacityUnits"]) == (0, 2.0)
    assert query("all", Select="COUNT")["ConsumedCapacity"]["CapacityUnits"] == 2.0
    # a Scan reads the whole table: 8 x 2,000 bytes, strongly consistent 4 RCUs
    scan = ddb.scan(TableName=indexed, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert scan["ConsumedCapacity"] == {"TableName": indexed, "CapacityUnits": 4.0}

    # GetItem: the whole item whatever the projection; eventually consistent half; a missing one costs too
    def get(**kw) -> float:
        return ddb.get_item(TableName=indexed, ReturnConsumedCapacity="TOTAL", **kw)["ConsumedCapacity"][
            "CapacityUnits"
        ]

    big = pad(5000)
    ddb.put_item(TableName=indexed, Item=big)
    assert get(Key={"pk": s("k")}, ProjectionExpression="pk") == 1.0
    assert get(Key={"pk": s("k")}, ConsistentRead=True) == 2.0
    assert get(Key={"pk": s("missing")}) == 0.5
    assert recorded(indexed)[("all", "read")] == 2.0 * 3
    assert recorded(indexed)[("keys", "read")] == 0.5


def test_batches_round_item_by_item(ddb, tables):
    table = tables("cap-batch")
    # Dev Guide: BatchWriteItem of a 500-byte and a 3.5 KB item: 1 KB + 4 KB = 5 WCUs
    answer = ddb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": pad(500, pk=s("a"))}},
                              {"PutRequest": {"Item": pad(3584, pk=s("b"))}}]},
        ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    assert answer["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 5.0}]
    # Dev Guide: BatchGetItem of a 1.5 KB and a 6.5 KB item counts 4 KB + 8 KB = 12 KB
    ddb.batch_write_item(
        RequestItems={table: [{"PutRequest": {"Item": pad(1536, pk=s("c"))}},
                              {"PutRequest": {"Item": pad(6656, pk=s("d"))}}]}
    )  # fmt: skip
    keys = [{"pk": s("c")}, {"pk": s("d")}]
    got = ddb.batch_get_item(
        RequestItems={table: {"Keys": keys, "ConsistentRead": True}}, ReturnConsumedCapacity="TOTAL"
    )
    assert got["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 3.0}]


def test_transactions_count_each_item_twice(ddb, tables):
    table = tables("cap-txn")
    # Dev Guide: a transaction writing three 500-byte items needs 6 WCUs; reading them, 6 RCUs
    puts = [{"Put": {"TableName": table, "Item": pad(500, pk=s(f"t{i}"))}} for i in range(3)]
    answer = ddb.transact_write_items(TransactItems=puts, ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0}]
    gets = [{"Get": {"TableName": table, "Key": {"pk": s(f"t{i}")}}} for i in range(3)]
    answer = ddb.transact_get_items(TransactItems=gets, ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 6.0, "ReadCapacityUnits": 6.0}]
    # a ConditionCheck is a write of its item in a TransactWriteItems: 2 units like the Put
    check = {
        "ConditionCheck": {"TableName": table, "Key": {"pk": s("t0")}, "ConditionExpression": "attribute_exists(pk)"}
    }
    put = {"Put": {"TableName": table, "Item": {"pk": s("t9")}}}
    answer = ddb.transact_write_items(TransactItems=[check, put], ReturnConsumedCapacity="INDEXES")
    assert answer["ConsumedCapacity"] == [
        {"TableName": table, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0,
         "Table": {"CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}}
    ]  # fmt: skip
    # cancelled by its condition: nothing written, each item's prepare still costs (1 each)
    before = recorded(table)[(None, "write")]
    failing = {**check, "ConditionCheck": {**check["ConditionCheck"], "Key": {"pk": s("absent")}}}
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[failing, put], ReturnConsumedCapacity="TOTAL")
    assert recorded(table)[(None, "write")] - before == 2.0
    assert recorded(table)[(None, "read")] == 6.0


def test_the_cli_references_music_collection(ddb, tables):
    """The AWS CLI reference's DynamoDB examples on MusicCollection (Artist, SongTitle; local
    secondary index AlbumTitleIndex), their answers reproduced figure for figure."""
    table = tables(
        "cap-music",
        keys=(("Artist", "S", "HASH"), ("SongTitle", "S", "RANGE")),
        attrs=[("AlbumTitle", "S")],
        LocalSecondaryIndexes=[
            {
                "IndexName": "AlbumTitleIndex",
                "KeySchema": [
                    {"AttributeName": "Artist", "KeyType": "HASH"},
                    {"AttributeName": "AlbumTitle", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )

    def song(artist: str, title: str, album: str) -> dict:
        return {"PutRequest": {"Item": {"Artist": s(artist), "SongTitle": s(title), "AlbumTitle": s(album)}}}

    # batch-write-item (INDEXES): three new songs, 3 units on the table and 3 on the index
    answer = ddb.batch_write_item(
        RequestItems={table: [song("No One You Know", "Call Me Today", "Somewhat Famous"),
                              song("Acme Band", "Happy Day", "Songs About Life"),
                              song("No One You Know", "Scared of My Shadow", "Blue Sky Blues")]},
        ReturnConsumedCapacity="INDEXES",
    )  # fmt: skip
    assert answer["ConsumedCapacity"] == [
        {"TableName": table, "CapacityUnits": 6.0, "Table": {"CapacityUnits": 3.0},
         "LocalSecondaryIndexes": {"AlbumTitleIndex": {"CapacityUnits": 3.0}}}
    ]  # fmt: skip
    # query, example 5 (INDEXES): the index's two songs of one artist
    answer = ddb.query(
        TableName=table, IndexName="AlbumTitleIndex", KeyConditionExpression="Artist = :v1",
        ExpressionAttributeValues={":v1": s("No One You Know")}, Select="ALL_PROJECTED_ATTRIBUTES",
        ReturnConsumedCapacity="INDEXES",
    )  # fmt: skip
    assert answer["Count"] == 2
    assert answer["ConsumedCapacity"] == {
        "TableName": table,
        "CapacityUnits": 0.5,
        "Table": {"CapacityUnits": 0.0},
        "LocalSecondaryIndexes": {"AlbumTitleIndex": {"CapacityUnits": 0.5}},
    }
    # transact-get-items (TOTAL): two songs
    gets = [
        {"Get": {"TableName": table, "Key": {"Artist": s("Acme Band"), "SongTitle": s("Happy Day")}}},
        {"Get": {"TableName": table, "Key": {"Artist": s("No One You Know"), "SongTitle": s("Call Me Today")}}},
    ]
    answer = ddb.transact_get_items(TransactItems=gets, ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 4.0, "ReadCapacityUnits": 4.0}]
    # transact-write-items, example 1 (TOTAL): an update of the index key and a delete, 10 units
    # (each item twice: table 2 + index 2 for the moved entry, table 1 + index 1 for the deleted one)
    no_rating, new_album = "attribute_not_exists(Rating)", {":newval": s("Updated Album Title")}
    answer = ddb.transact_write_items(
        TransactItems=[
            {"Update": {"TableName": table, "Key": gets[0]["Get"]["Key"],
                        "UpdateExpression": "SET AlbumTitle = :newval", "ExpressionAttributeValues": new_album,
                        "ConditionExpression": no_rating}},
            {"Delete": {"TableName": table, "Key": gets[1]["Get"]["Key"], "ConditionExpression": no_rating}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )  # fmt: skip
    assert answer["ConsumedCapacity"] == [{"TableName": table, "CapacityUnits": 10.0, "WriteCapacityUnits": 10.0}]


def test_the_record_names_the_function_that_called_and_resets(ddb, make_probe, tables):
    table = tables("cap-caller")
    probe = make_probe(allow(["dynamodb:PutItem", "dynamodb:GetItem"], table_arn(table)))
    out = probe.call("dynamodb", "put_item", {"TableName": table, "Item": pad(1500, pk=s("p"))})
    assert out["ok"], out
    assert probe.call("dynamodb", "get_item", {"TableName": table, "Key": {"pk": s("p")}})["ok"]
    ddb.put_item(TableName=table, Item={"pk": s("mine")})
    rows = [r for r in hostmode("GET", "capacity").json()["capacity"] if r["table"] == table]
    role = probe.role_name
    assert sorted((r["caller"], r["role"], r["index"], r["kind"], r["units"], r["requests"]) for r in rows) == [
        ("(not a role session)", None, None, "write", 1.0, 1),
        (probe.name, role, None, "read", 0.5, 1),
        (probe.name, role, None, "write", 2.0, 1),
    ]
    assert hostmode("DELETE", "capacity").status_code == 200
    assert hostmode("GET", "capacity").json() == {"capacity": []}
