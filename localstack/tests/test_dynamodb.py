"""The dynamodb:moto provider: the DynamoDB API the project's functions use, and CloudFormation
tables."""

import contextlib
import json

import pytest

from conftest import poll, unique


def reserve(table: str, quantity: int) -> list[dict]:
    """A reservation's transaction: the reservation item, once, and the stock taken from sku-1."""
    return [
        {"Put": {"TableName": table, "Item": {"pk": {"S": "reservation-1"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": table, "Key": {"pk": {"S": "sku-1"}},
                    "UpdateExpression": "SET available = available - :q", "ConditionExpression": "available >= :q",
                    "ExpressionAttributeValues": {":q": {"N": str(quantity)}}}},
    ]  # fmt: skip


def exists(table: str, pk: str) -> dict:
    """A condition check that fails when the item `pk` is missing."""
    return {
        "ConditionCheck": {"TableName": table, "Key": {"pk": {"S": pk}}, "ConditionExpression": "attribute_exists(pk)"}
    }


@pytest.fixture
def table(aws):
    ddb = aws("dynamodb")
    name = unique("tbl")
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "pending", "AttributeType": "S"},
            {"AttributeName": "since", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "outbox",
                "KeySchema": [
                    {"AttributeName": "pending", "KeyType": "HASH"},
                    {"AttributeName": "since", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    poll(
        lambda: ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE", timeout=10, what="table ACTIVE"
    )
    yield name
    ddb.delete_table(TableName=name)


def test_conditional_write_and_update(aws, table):
    ddb = aws("dynamodb")
    item = {"pk": {"S": "order-1"}, "status": {"S": "PENDING"}, "n": {"N": "5"}}
    ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    out = ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "order-1"}},
        UpdateExpression="SET #s = :new, n = n - :q ADD applied :ids",
        ConditionExpression="#s = :old AND n >= :q AND NOT contains(applied, :id)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":new": {"S": "CONFIRMED"},
            ":old": {"S": "PENDING"},
            ":q": {"N": "2"},
            ":ids": {"SS": ["e1"]},
            ":id": {"S": "e1"},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert out["status"] == {"S": "CONFIRMED"} and out["n"] == {"N": "3"}
    assert out["applied"] == {"SS": ["e1"]}
    # the same event again: the condition fails, nothing moves
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "order-1"}},
            UpdateExpression="SET #s = :new",
            ConditionExpression="#s = :old AND NOT contains(applied, :id)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":new": {"S": "REJECTED"}, ":old": {"S": "PENDING"}, ":id": {"S": "e1"}},
        )
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "order-1"}}, ConsistentRead=True)
    assert got["Item"]["status"] == {"S": "CONFIRMED"}


def test_query_gsi_and_batch_write(aws, table):
    ddb = aws("dynamodb")
    ddb.batch_write_item(
        RequestItems={
            table: [
                {
                    "PutRequest": {
                        "Item": {"pk": {"S": f"o{i}"}, "pending": {"S": "1"}, "since": {"S": f"2026-11-26T12:00:0{i}Z"}}
                    }
                }
                for i in range(5)
            ]
            + [{"PutRequest": {"Item": {"pk": {"S": "done"}}}}]  # not in the sparse index
        }
    )
    res = ddb.query(
        TableName=table,
        IndexName="outbox",
        KeyConditionExpression="pending = :p AND since < :t",
        ExpressionAttributeValues={":p": {"S": "1"}, ":t": {"S": "2026-11-26T12:00:03Z"}},
    )
    assert [i["pk"]["S"] for i in res["Items"]] == ["o0", "o1", "o2"]
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == 6


def test_cancelled_transaction_reports_reasons_and_writes_nothing(aws, table):
    ddb = aws("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "sku-1"}, "available": {"N": "1"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as exc:
        ddb.transact_write_items(TransactItems=reserve(table, 2))
    reasons = exc.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    # nothing of the transaction was applied
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "reservation-1"}})
    sku = ddb.get_item(TableName=table, Key={"pk": {"S": "sku-1"}})["Item"]
    assert sku["available"] == {"N": "1"}
    # and a transaction that fits goes through as a whole
    ddb.transact_write_items(TransactItems=reserve(table, 1))
    sku = ddb.get_item(TableName=table, Key={"pk": {"S": "sku-1"}})["Item"]
    assert sku["available"] == {"N": "0"}


def test_cloudformation_table(aws):
    cfn, ddb = aws("cloudformation"), aws("dynamodb")
    stack = unique("stack")
    template = {
        "Resources": {
            "Orders": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        {"AttributeName": "order_id", "AttributeType": "S"},
                        {"AttributeName": "outbox_pending", "AttributeType": "S"},
                    ],
                    "KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "outbox",
                            "KeySchema": [{"AttributeName": "outbox_pending", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ],
                },
            }
        },
        "Outputs": {"TableName": {"Value": {"Ref": "Orders"}}},
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    try:
        desc = poll(
            lambda: (
                (s := cfn.describe_stacks(StackName=stack)["Stacks"][0])["StackStatus"] not in ("CREATE_IN_PROGRESS",)
                and s
            ),
            timeout=60,
            interval=0.3,
            what="stack creation",
        )
        assert desc["StackStatus"] == "CREATE_COMPLETE", desc.get("StackStatusReason")
        name = desc["Outputs"][0]["OutputValue"]
        t = ddb.describe_table(TableName=name)["Table"]
        assert t["GlobalSecondaryIndexes"][0]["IndexName"] == "outbox"
        ddb.put_item(TableName=name, Item={"order_id": {"S": "x"}})
        assert ddb.get_item(TableName=name, Key={"order_id": {"S": "x"}})["Item"]
    finally:
        cfn.delete_stack(StackName=stack)
        poll(
            lambda: (
                not [
                    s
                    for s in cfn.list_stacks()["StackSummaries"]
                    if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"
                ]
            ),
            timeout=60,
            interval=0.3,
            what="stack deletion",
        )


def test_cancelled_transaction_puts_back_the_items_it_changed_and_only_those(aws, table):
    """The extension backs up the items a transaction names (not whole tables, as moto does):
    an item the transaction updated before a later item's condition failed gets its old value
    back, an item it created goes away, and items outside it keep what was written to them."""
    ddb = aws("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "tag": {"SS": ["x"]}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "bystander"}, "n": {"N": "7"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as exc:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET n = :two REMOVE tag",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}, "n": {"N": "0"}}}},
                exists(table, "missing"),
            ]
        )
    assert [r["Code"] for r in exc.value.response["CancellationReasons"]] == ["None", "None", "ConditionalCheckFailed"]
    a = ddb.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"]
    assert a == {"pk": {"S": "a"}, "n": {"N": "1"}, "tag": {"SS": ["x"]}}
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "new"}})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "bystander"}})["Item"]["n"] == {"N": "7"}
    # the index follows the items (a restored item is found, a removed one is not)
    ddb.put_item(TableName=table, Item={"pk": {"S": "ob"}, "pending": {"S": "1"}, "since": {"S": "t1"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": table, "Key": {"pk": {"S": "ob"}}, "UpdateExpression": "REMOVE pending"}},
                exists(table, "missing"),
            ]
        )
    found = ddb.query(
        TableName=table,
        IndexName="outbox",
        KeyConditionExpression="pending = :p",
        ExpressionAttributeValues={":p": {"S": "1"}},
    )["Items"]
    assert [i["pk"]["S"] for i in found] == ["ob"]


def test_concurrent_transactions_lose_no_update(aws, table):
    """moto backs up each table a transaction touches and restores that copy when the
    transaction fails; run concurrently, a failing transaction would wipe the writes other
    requests made meanwhile. The provider serializes requests, as DynamoDB is atomic per item."""
    from concurrent.futures import ThreadPoolExecutor

    ddb = aws("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "gate"}, "open": {"BOOL": False}})
    # A larger table makes moto's per-transaction backup slower, the window wider.
    for chunk in range(0, 400, 25):
        ddb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"filler-{i}"}, "pad": {"S": "x" * 200}}}}
                    for i in range(chunk, chunk + 25)
                ]
            }
        )

    def increment(_):
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "counter"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def failing_transaction(_):
        with contextlib.suppress(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "gate"}},
                            "ConditionExpression": "#o = :t",
                            "ExpressionAttributeNames": {"#o": "open"},
                            "ExpressionAttributeValues": {":t": {"BOOL": True}},
                        }
                    },
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "never"}}}},
                ]
            )

    with ThreadPoolExecutor(max_workers=16) as pool:
        jobs = [pool.submit(increment, i) for i in range(150)]
        jobs += [pool.submit(failing_transaction, i) for i in range(150)]
        for j in jobs:
            j.result()
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert item["n"]["N"] == "150"


def test_a_transactional_read_takes_up_to_100_items_as_on_aws(aws, table):
    """AWS's limit for TransactGetItems is 100 items (moto's own was the old 25)."""
    ddb = aws("dynamodb")
    keys = [{"pk": {"S": f"shard-{k}"}} for k in range(101)]
    for k in keys[:100]:
        ddb.put_item(TableName=table, Item={**k, "available": {"N": "1"}})
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": k}} for k in keys[:100]])
    assert [r["Item"]["pk"]["S"] for r in got["Responses"]] == [f"shard-{k}" for k in range(100)]
    with pytest.raises(ddb.exceptions.ClientError) as e:
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": k}} for k in keys])
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 100" in e.value.response["Error"]["Message"]
