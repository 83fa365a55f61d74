"""What one DynamoDB Query costs moto as the table grows, with moto_queries.py's patch and without
it (moto's own query, the baseline), measured in the same run, in-process (no server). The table
is shaped like Orders: a customer index every item is in, and a sparse index over 1 item in 50,
which is what the outbox sweeper queries 32 times a minute. Not a test: it only reports.

Usage, on LocalStack's interpreter (`make localstack-query-bench`):
    .venv/localstack/bin/python localstack/bench/query_cost.py [--sizes 1000,4000,10000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extension"))

import boto3
from moto import mock_aws
from moto.dynamodb.models.table import Table

from localstack_hostmode import moto_queries, speedups


def S(v: str) -> dict:
    return {"S": v}


def create(c) -> None:
    keys = ("order_id", "customer_id", "created_at", "part", "since")
    c.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in keys],
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "KeySchema": [{"AttributeName": h, "KeyType": "HASH"}, {"AttributeName": r, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
            for name, h, r in (("by-customer", "customer_id", "created_at"), ("outbox", "part", "since"))
        ],
    )


def item(i: int) -> dict:
    out = {
        "order_id": S(f"o{i:06d}"),
        "customer_id": S(f"c{i % 500}"),
        "created_at": S(f"2026-12-08T{i % 24:02d}:00:00Z"),
        "status": S("CONFIRMED"),
        "lines": {"L": [{"M": {"sku": S("SKU-1"), "qty": {"N": "1"}}}]},
    }
    if i % 50 == 0:
        out |= {"part": S(str(i % 16)), "since": S(f"{i:08d}")}
    return out


QUERIES = {
    "sparse index (sweeper)": dict(
        IndexName="outbox", KeyConditionExpression="part = :v", ExpressionAttributeValues={":v": S("0")}
    ),
    "customer index (GET /orders)": dict(
        IndexName="by-customer", KeyConditionExpression="customer_id = :v", ExpressionAttributeValues={":v": S("c7")}
    ),
    "base table (one order)": dict(
        KeyConditionExpression="order_id = :v", ExpressionAttributeValues={":v": S("o000042")}
    ),
}


def ms_per_query(c, q: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        c.query(TableName="orders", **q)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,4000,10000")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    speedups.fast_moto_item_copies()  # as in LocalStack: both sides copy their results this way
    moto_queries.install()
    patched, own = Table.query, Table.query.__wrapped__
    print("| items | query | moto's own (ms) | patched (ms) |\n|---|---|---|---|")
    with mock_aws():
        c = boto3.client("dynamodb", region_name="us-east-1")
        create(c)
        stored = 0
        for size in (int(s) for s in args.sizes.split(",")):
            for i in range(stored, size):
                c.put_item(TableName="orders", Item=item(i))
            stored = max(stored, size)
            for name, q in QUERIES.items():
                Table.query = own
                before = ms_per_query(c, q, args.runs)
                Table.query = patched
                after = ms_per_query(c, q, args.runs)
                print(f"| {size} | {name} | {before:.1f} | {after:.2f} |")


if __name__ == "__main__":
    main()
