"""DynamoDB transaction conflicts (the extension's contention.py): a TransactWriteItems is ongoing
for a window (DYNAMODB_CONFLICT_WINDOW_MS, changed here through /_hostmode/contention) and
answers when it ends; what touches its items meanwhile gets DynamoDB's conflict errors. The
model applies to every caller, so these tests call DynamoDB from the test process."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import hostmode, poll

LONG_MS = 2000


def key(k):
    return {"pk": {"S": k}}


def put(table, k):
    return {"Put": {"TableName": table, "Item": key(k)}}


def add(table, k, condition=None):
    body = {
        "TableName": table,
        "Key": key(k),
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if condition:
        body["ConditionExpression"] = condition
    return {"Update": body}


def error(call):
    """The ClientError's (code, cancellation reason codes) of call(), or None if it succeeded."""
    try:
        call()
    except ClientError as e:
        reasons = e.response.get("CancellationReasons")
        return e.response["Error"]["Code"], [r["Code"] for r in reasons] if reasons else None
    return None


def conflicts():
    return hostmode("GET", "contention").json()["conflicts"]


def start_ongoing(ddb, table, keys):
    """Send a TransactWriteItems on `keys` from a thread; return once it is ongoing (a
    TransactGetItems on its first item is cancelled), with a handle to wait for its answer."""
    outcome: dict[str, object] = {}

    def run():
        t0 = time.monotonic()
        try:
            ddb.transact_write_items(TransactItems=[add(table, k) for k in keys])
            outcome["error"] = None
        except ClientError as e:
            outcome["error"] = e.response["Error"]["Code"]
        outcome["seconds"] = time.monotonic() - t0

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    probe = {"TransactItems": [{"Get": {"TableName": table, "Key": key(keys[0])}}]}
    seen = poll(
        lambda: error(lambda: ddb.transact_get_items(**probe)),
        timeout=LONG_MS / 1000,
        interval=0.02,
        what="the first transaction to be ongoing",
    )
    assert seen == ("TransactionCanceledException", ["TransactionConflict"]), seen

    def wait():
        thread.join(timeout=30)
        assert not thread.is_alive()
        return outcome

    return wait


@pytest.fixture
def ddb(aws):
    return aws("dynamodb")


def test_writes_meeting_an_ongoing_transaction_conflict(ddb, make_table, contention_window):
    table = make_table()
    contention_window(LONG_MS)
    t0 = time.monotonic()
    first = start_ongoing(ddb, table, ["x", "y"])

    second = [put(table, "free"), add(table, "y")]
    assert error(lambda: ddb.transact_write_items(TransactItems=second)) == (
        "TransactionCanceledException",
        ["None", "TransactionConflict"],
    )
    for single in (
        lambda: ddb.update_item(**add(table, "x")["Update"]),
        lambda: ddb.put_item(TableName=table, Item=key("y")),
        lambda: ddb.delete_item(TableName=table, Key=key("x")),
    ):
        assert error(single) == ("TransactionConflictException", None)
    # the cancelled transaction applied nothing, and held nothing
    assert "Item" not in ddb.get_item(TableName=table, Key=key("free"), ConsistentRead=True)
    assert conflicts()["TransactWriteItems"] == 1
    assert conflicts()["single-item write"] == 3

    done = first()
    assert done["error"] is None
    assert time.monotonic() - t0 >= LONG_MS / 1000 * 0.95  # answered when its window ended
    # once it has answered, it is no longer ongoing: both go through
    ddb.transact_write_items(TransactItems=second)
    ddb.update_item(**add(table, "x")["Update"])
    x = ddb.get_item(TableName=table, Key=key("x"), ConsistentRead=True)["Item"]
    y = ddb.get_item(TableName=table, Key=key("y"), ConsistentRead=True)["Item"]
    assert (x["n"], y["n"]) == ({"N": "2"}, {"N": "2"})


def test_a_caller_never_conflicts_with_its_own_answered_transaction(ddb, make_table, contention_window):
    table = make_table()
    contention_window(500)
    t0 = time.monotonic()
    ddb.transact_write_items(TransactItems=[add(table, "x")])
    assert time.monotonic() - t0 >= 0.45  # the answer came when the window ended
    ddb.update_item(**add(table, "x")["Update"])
    ddb.transact_write_items(TransactItems=[add(table, "x")])
    assert conflicts() == {"TransactWriteItems": 0, "TransactGetItems": 0, "single-item write": 0}


def test_different_items_never_conflict(ddb, make_table, contention_window):
    table, other = make_table(), make_table()
    contention_window(LONG_MS)
    first = start_ongoing(ddb, table, ["a", "b"])
    ddb.update_item(**add(table, "c")["Update"])
    ddb.put_item(TableName=other, Item=key("a"))  # same key, another table
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key("c")}}])
    ddb.transact_write_items(TransactItems=[add(table, "c"), put(other, "b")])
    assert first()["error"] is None
    assert conflicts()["TransactWriteItems"] == 0 and conflicts()["single-item write"] == 0


def test_window_zero_turns_conflicts_off(aws, make_table, contention_window):
    table = make_table()
    assert contention_window(0)["window_ms"] == 0
    barrier = threading.Barrier(10)
    clients = [aws("dynamodb") for _ in range(10)]  # made here: boto3 sessions are not thread-safe

    def increment(ddb):
        barrier.wait(timeout=10)
        ddb.transact_write_items(TransactItems=[add(table, "hot")])

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(increment, clients))  # raises if any was cancelled
    item = aws("dynamodb").get_item(TableName=table, Key=key("hot"), ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "10"}
    assert conflicts() == {"TransactWriteItems": 0, "TransactGetItems": 0, "single-item write": 0}


def test_concurrent_transactions_conflict_and_lose_no_update(aws, make_table, contention_window):
    """A flash sale on one item: 20 concurrent transactions, each incrementing the counter
    (conditionally) and writing its own order; some are cancelled by conflicts, and exactly the
    ones that succeeded are applied, whole."""
    table = make_table()
    contention_window(20)  # the default
    aws("dynamodb").put_item(TableName=table, Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    succeeded: list[str] = []
    conflicted: list[str] = []
    clients = [aws("dynamodb") for _ in range(20)]  # made here: boto3 sessions are not thread-safe
    deadline = time.monotonic() + 30
    round_no = 0
    while not conflicted and time.monotonic() < deadline:
        round_no += 1
        barrier = threading.Barrier(20)

        def order(i, round_no=round_no, barrier=barrier):
            ddb = clients[i]
            oid = f"order-{round_no}-{i}"
            barrier.wait(timeout=10)
            items = [add(table, "counter", "attribute_exists(pk)"), put(table, oid)]
            outcome = error(lambda: ddb.transact_write_items(TransactItems=items))
            assert outcome in (None, ("TransactionCanceledException", ["TransactionConflict", "None"])), outcome
            (succeeded if outcome is None else conflicted).append(oid)

        with ThreadPoolExecutor(max_workers=20) as pool:
            list(pool.map(order, range(20)))

    assert conflicted, "20 concurrent transactions on one item never conflicted"
    assert succeeded
    ddb = aws("dynamodb")
    counter = ddb.get_item(TableName=table, Key=key("counter"), ConsistentRead=True)["Item"]["n"]
    assert int(counter["N"]) == len(succeeded)
    orders = ddb.scan(
        TableName=table,
        FilterExpression="begins_with(pk, :o)",
        ExpressionAttributeValues={":o": {"S": "order-"}},
        ConsistentRead=True,
    )["Items"]
    assert sorted(i["pk"]["S"] for i in orders) == sorted(succeeded)
    assert conflicts()["TransactWriteItems"] == len(conflicted)
