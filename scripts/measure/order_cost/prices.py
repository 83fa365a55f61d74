"""Unit prices, each quoted from docs/capacity.md's "Monthly cost" table (us-east-1 list prices,
first tier, no free tier), and what a scenario's per-order quantities cost per million orders.

`tests/tools/test_calls_per_order.py` checks that every `quote` is in docs/capacity.md and names
the price used here, so the two cannot drift apart. Lambda duration is not priced: LocalStack's
durations are not AWS's (docs/capacity.md uses assumed ones)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "capacity.md"
GB = 10**9  # CloudWatch Logs bills ingestion per GB; taken as 10^9 bytes (2^30 would be 7% cheaper)


@dataclass(frozen=True)
class Price:
    what: str  # the row of the dollars table
    dollars: float  # per `per` units
    per: float
    unit: str
    quote: str  # verbatim from docs/capacity.md
    source: str  # its reference there


PRICES: dict[str, Price] = {
    "api_requests": Price("API Gateway REST requests", 3.50, 1e6, "request", "$3.50/M first 333M", "P1"),
    "invocations": Price("Lambda requests", 0.20, 1e6, "invocation", "$0.20/M [P2]", "P2"),
    "sqs_requests": Price("SQS requests", 0.40, 1e6, "request", "$0.40/M first 100B", "P4"),
    "publishes": Price("SNS publishes", 0.50, 1e6, "publish", "$0.50/M [P5]", "P5"),
    "wru": Price("DynamoDB on-demand writes", 0.625, 1e6, "WRU", "$0.625/M WRU", "P6"),
    "rru": Price("DynamoDB on-demand reads", 0.125, 1e6, "RRU", "$0.125/M RRU", "P6"),
    "log_bytes": Price("CloudWatch Logs ingestion", 0.50, GB, "byte", "$0.50/GB [P7]", "P7"),
}


def quoted_dollars(quote: str) -> float:
    """The dollar figure a quote states: `$0.625/M WRU` -> 0.625."""
    m = re.search(r"\$([0-9]+(?:\.[0-9]+)?)", quote)
    if not m:
        raise ValueError(f"no dollar figure in {quote!r}")
    return float(m.group(1))


def drift(doc_text: str) -> list[str]:
    """Every price whose quote is missing from the document or states another figure."""
    problems = []
    for key, p in PRICES.items():
        if p.quote not in doc_text:
            problems.append(f"{key}: {p.quote!r} not in docs/capacity.md")
        elif quoted_dollars(p.quote) != p.dollars:
            problems.append(f"{key}: the doc says {p.quote!r}, the script uses ${p.dollars}")
    return problems


def per_million_orders(per_order: dict[str, float]) -> dict[str, float]:
    """Dollars per million orders, per priced quantity (keys of PRICES), from quantities per order."""
    return {key: per_order.get(key, 0.0) * 1e6 * p.dollars / p.per for key, p in PRICES.items()}
