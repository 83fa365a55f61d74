"""A scenario's raw counts (what `live` and `scenarios` measured, as stored in
.build/calls-per-order.json) -> the per-order figures the report and the budget use. Pure.

A scenario is a dict with, as totals over its `orders` orders:

- `capacity`: rows `{"function", "table", "kind": "read"|"write", "units", "requests"}` from
  `GET /_hostmode/capacity` (table: the stack output's short name, `OrdersTable/index/outbox`);
- `publishes`: function -> topic -> `sns:Publish` calls; `sqs`: function -> SQS action -> calls
  (under the function's role, the mapping's receives and deletes included);
- `mappings`: function -> {"messages", "batches"} its SQS mapping delivered; `sns_deliveries`:
  SNS -> SQS deliveries (SendMessage LocalStack made itself);
- `invocations`: function -> invocations (`platform.report` lines in its log group);
  `logs`: function -> {"events", "bytes"} (UTF-8 bytes of the log messages);
- `api_requests`: requests the client sent to the API; `requests`: `[{"service", "operation",
  "internal", "count"}]` the emulator served for the pipeline (this script's own calls and the
  time-based ones taken out).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

Scenario = dict[str, Any]

LINES_PER_ORDER = 1.64  # docs/capacity.md "Calls per order (measured)": 1.64 lines per order
THREE_LINE_SHARE = 0.14  # with half the orders of one line: 0.5 + 2 * 0.36 + 3 * 0.14 = 1.64


def line_counts(n: int, mean: float = LINES_PER_ORDER) -> list[int]:
    """Lines of each of n orders (1 to 3), in a fixed order, whose mean is `mean` to 1/n."""
    total = round(mean * n)
    threes = min(round(THREE_LINE_SHARE * n), max(0, (total - n) // 2))
    twos = max(0, min(total - n - 2 * threes, n - threes))
    return [3] * threes + [2] * twos + [1] * (n - threes - twos)


def capacity_by(scenario: Scenario, kind: str, key: str) -> dict[str, float]:
    """Units of `kind` ("read"/"write") per order, summed by `key` ("table" or "function")."""
    out: dict[str, float] = defaultdict(float)
    for row in scenario["capacity"]:
        if row["kind"] == kind:
            out[row[key]] += row["units"] / scenario["orders"]
    return dict(sorted(out.items()))


def capacity_cells(scenario: Scenario) -> dict[tuple[str, str], dict[str, float]]:
    """(function, table) -> {"wru", "rru", "requests"} per order."""
    out: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: {"wru": 0.0, "rru": 0.0, "requests": 0.0})
    n = scenario["orders"]
    for row in scenario["capacity"]:
        cell = out[(row["function"], row["table"])]
        cell["wru" if row["kind"] == "write" else "rru"] += row["units"] / n
        cell["requests"] += row["requests"] / n
    return dict(sorted(out.items()))


def sqs_by_function(scenario: Scenario) -> dict[str, dict[str, float]]:
    """Per function, its SQS requests per order: `receives` that delivered messages (= the
    mapping's batches), `empty receives` (long polls that returned nothing: time-based, not
    billed per order here), `deletes`, `sends`, `other`; SNS's deliveries as `(SNS delivery)`."""
    n, out = scenario["orders"], {}
    for fn, actions in sorted(scenario["sqs"].items()):
        batches = scenario["mappings"].get(fn, {}).get("batches", 0)
        receives = actions.get("sqs:ReceiveMessage", 0)
        known = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"}
        out[fn] = {
            "receives": batches / n,
            "empty receives": max(0, receives - batches) / n,
            "deletes": actions.get("sqs:DeleteMessage", 0) / n,
            "sends": actions.get("sqs:SendMessage", 0) / n,
            "other": sum(c for a, c in actions.items() if a not in known) / n,
        }
    sns = {
        "receives": 0.0,
        "empty receives": 0.0,
        "deletes": 0.0,
        "sends": scenario["sns_deliveries"] / n,
        "other": 0.0,
    }
    out["(SNS delivery)"] = sns
    return out


def sqs_billed(per_fn: dict[str, dict[str, float]]) -> float:
    """SQS requests per order billed with the order: everything but the empty polls."""
    return sum(v for row in per_fn.values() for k, v in row.items() if k != "empty receives")


def per_order(scenario: Scenario) -> dict[str, float]:
    """The priced quantities per order (keys of prices.PRICES) plus `emulator_requests`."""
    n = scenario["orders"]
    return {
        "api_requests": scenario["api_requests"] / n,
        "invocations": sum(scenario["invocations"].values()) / n,
        "sqs_requests": sqs_billed(sqs_by_function(scenario)),
        "publishes": sum(c for topics in scenario["publishes"].values() for c in topics.values()) / n,
        "wru": sum(capacity_by(scenario, "write", "table").values()),
        "rru": sum(capacity_by(scenario, "read", "table").values()),
        "log_bytes": sum(v["bytes"] for v in scenario["logs"].values()) / n,
        "emulator_requests": sum(r["count"] for r in scenario["requests"]) / n,
    }


def wru_figures(scenario: Scenario) -> dict[str, Any]:
    """WRU per order as the budget holds it: total, by table/index, by function."""
    return {
        "total": sum(capacity_by(scenario, "write", "table").values()),
        "by_table": capacity_by(scenario, "write", "table"),
        "by_function": capacity_by(scenario, "write", "function"),
    }
