"""moto_queries.py: a Query reads only its candidates, and answers what moto's own query answers,
item for item and page for page. In-process (``localstack/bin/pytest-inprocess``), on moto's
backend through boto3's in-memory mock: no LocalStack server. Seen failing with the patch left
out (``install`` not called): the first test's count of full-table sorts."""

from __future__ import annotations

import pytest

pytest.importorskip("localstack.config", reason="needs LocalStack's interpreter: localstack/bin/pytest-inprocess")

import boto3
from moto import mock_aws
from moto.dynamodb.models.table import Table

from localstack_hostmode import moto_queries


@pytest.fixture(scope="session", autouse=True)
def localstack_up():
    """Overrides conftest's: these tests need no LocalStack server."""


@pytest.fixture(scope="module", autouse=True)
def installed():
    moto_queries.install()


S = lambda v: {"S": v}  # noqa: E731


@pytest.fixture
def ddb():
    """An orders-like table (hash key only; a customer index and a sparse index over a
    partition attribute) and an events-like one (hash and range), 400 and 300 items."""
    with mock_aws():
        c = boto3.client("dynamodb", region_name="eu-west-1")
        attrs = ["order_id", "customer_id", "created_at", "part", "since"]
        c.create_table(
            TableName="orders",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attrs],
            KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-customer",
                    "KeySchema": [
                        {"AttributeName": "customer_id", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
                },
                {
                    "IndexName": "outbox",
                    "KeySchema": [
                        {"AttributeName": "part", "KeyType": "HASH"},
                        {"AttributeName": "since", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
            ],
        )
        c.create_table(
            TableName="events",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in (("pk", "S"), ("n", "N"))],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
        )
        for i in range(400):
            item = {
                "order_id": S(f"o{i:04d}"),
                "customer_id": S(f"c{i % 7}"),
                # equal times on purpose: ties are ordered by the table's key
                "created_at": S(f"2026-12-08T00:{i % 60:02d}:00Z"),
                "status": S("PENDING" if i % 3 else "CONFIRMED"),
                "total": {"N": str(i)},
            }
            if i % 5 == 0:
                item |= {"part": S(str(i % 4)), "since": S(f"{i % 50:04d}")}
            c.put_item(TableName="orders", Item=item)
        for i in range(300):
            c.put_item(TableName="events", Item={"pk": S(f"k{i % 3}"), "n": {"N": str(i)}, "v": S("x" * (i % 9))})
        yield c


def _queries():
    k = "KeyConditionExpression"
    return [
        dict(TableName="orders", **{k: "order_id = :v"}, ExpressionAttributeValues={":v": S("o0042")}),
        dict(TableName="orders", **{k: "order_id = :v"}, ExpressionAttributeValues={":v": S("nope")}),
        dict(
            TableName="orders",
            IndexName="by-customer",
            **{k: "customer_id = :v"},
            ExpressionAttributeValues={":v": S("c3")},
        ),
        dict(
            TableName="orders",
            IndexName="by-customer",
            **{k: "customer_id = :v AND created_at <= :t"},
            ExpressionAttributeValues={":v": S("c1"), ":t": S("2026-12-08T00:30:00Z"), ":s": S("PENDING")},
            FilterExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ScanIndexForward=False,
            Limit=9,
        ),
        dict(
            TableName="orders",
            IndexName="outbox",
            **{k: "part = :p AND since <= :c"},
            ExpressionAttributeValues={":p": S("0"), ":c": S("0030")},
            Limit=4,
        ),
        dict(TableName="orders", IndexName="outbox", **{k: "part = :p"}, ExpressionAttributeValues={":p": S("9")}),
        dict(
            TableName="events",
            **{k: "pk = :p AND n BETWEEN :a AND :b"},
            ExpressionAttributeValues={":p": S("k1"), ":a": {"N": "10"}, ":b": {"N": "200"}},
            Limit=7,
        ),
        dict(
            TableName="events",
            **{k: "pk = :p"},
            ExpressionAttributeValues={":p": S("k2")},
            ScanIndexForward=False,
            ProjectionExpression="n",
        ),
    ]


def _all_pages(c, q: dict) -> list[dict]:
    pages, start = [], None
    while True:
        page = c.query(**q, **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata", None)
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def test_a_query_sorts_no_table_and_reads_only_its_partition(ddb, monkeypatch):
    """What makes a query cost what it finds, not what the table holds."""
    sorts = []
    whole = Table.all_items

    def counted(self):
        sorts.append(self.name)
        return whole(self)

    monkeypatch.setattr(Table, "all_items", counted)
    for q in _queries():
        _all_pages(ddb, q)
    assert sorts == [], f"{len(sorts)} queries sorted their whole table first"


def test_every_answer_is_moto_s_own_page_for_page(ddb, monkeypatch):
    ours = [_all_pages(ddb, q) for q in _queries()]
    monkeypatch.setattr(Table, "query", Table.query.__wrapped__)
    theirs = [_all_pages(ddb, q) for q in _queries()]
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert ours == theirs
    assert sum(len(page["Items"]) for pages in ours for page in pages) > 100, "the queries found little"


def test_an_unknown_index_is_still_refused_as_moto_refuses_it(ddb):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="Invalid index"):
        ddb.query(
            TableName="orders",
            IndexName="nope",
            KeyConditionExpression="customer_id = :v",
            ExpressionAttributeValues={":v": S("c1")},
        )
