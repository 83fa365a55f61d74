"""`make calls-per-order`'s pure parts (scripts/measure/order_cost/): the unit prices against
docs/capacity.md and their arithmetic, the per-order tally, the WRU budget and its check, the
markdown report, and `--check-budget` on a result file. No LocalStack: the scenarios are made up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from order_cost import budget, prices, report, tally

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "measure" / "calls_per_order.py"


def scenario(name: str = "confirmed", n: int = 10, orders_wru: float = 60, **over: Any) -> dict[str, Any]:
    """A made-up scenario of n orders, in the shape scenarios.run returns (totals, not per order)."""
    s: dict[str, Any] = {
        "name": name,
        "title": f"{name} orders",
        "orders": n,
        "lines": 16,
        "final": {"CONFIRMED": n},
        "api_requests": n,
        "capacity": [
            {"function": "orders-api", "table": "OrdersTable", "kind": "write", "units": orders_wru, "requests": 20},
            {
                "function": "orders-api",
                "table": "OrdersTable/index/outbox",
                "kind": "write",
                "units": 40,
                "requests": 0,
            },
            {"function": "inventory", "table": "ProductsTable", "kind": "write", "units": 32, "requests": 10},
            {"function": "inventory", "table": "ProductsTable", "kind": "read", "units": 5, "requests": 10},
        ],
        "publishes": {"orders-api": {"OrderEventsTopic": 2 * n}, "inventory": {"InventoryEventsTopic": n}},
        "sqs": {"inventory": {"sqs:ReceiveMessage": n + 4, "sqs:DeleteMessage": n}},
        "mappings": {"inventory": {"messages": n, "batches": n}},
        "sns_deliveries": 2 * n,
        "invocations": {"orders-api": n, "inventory": n},
        "logs": {"orders-api": {"events": 5 * n, "bytes": 1500 * n}, "inventory": {"events": 6 * n, "bytes": 2500 * n}},
        "requests": [
            {"service": "dynamodb", "operation": "PutItem", "internal": False, "count": n},
            {"service": "sqs", "operation": "SendMessage", "internal": True, "count": 2 * n},
        ],
    }
    s.update(over)
    return s


def result(*scenarios: dict[str, Any]) -> dict[str, Any]:
    meta = {"date": "2026-12-07 16:00 UTC", "commit": "abc1234", "endpoint": "http://x", "command": "(defaults)"}
    return {"meta": meta, "scenarios": list(scenarios)}


# ------------------------------------------------------------------ prices
def test_every_unit_price_is_quoted_from_docs_capacity_md_with_the_figure_used():
    assert prices.drift(prices.DOC.read_text()) == []


def test_a_price_changed_in_the_doc_is_reported():
    text = prices.DOC.read_text().replace("$0.625/M WRU", "$0.70/M WRU")
    assert [p.split(":")[0] for p in prices.drift(text)] == ["wru"]


def test_dollars_per_million_orders_is_quantity_per_order_times_the_unit_price():
    usd = prices.per_million_orders({"wru": 29.3, "rru": 2, "api_requests": 1, "publishes": 6, "log_bytes": 5000})
    assert usd["wru"] == pytest.approx(29.3 * 0.625)  # $0.625 per million WRU
    assert usd["rru"] == pytest.approx(0.25)
    assert usd["api_requests"] == pytest.approx(3.50)
    assert usd["publishes"] == pytest.approx(3.00)
    assert usd["log_bytes"] == pytest.approx(2.50)  # 5 GB per million orders at $0.50/GB
    assert usd["invocations"] == usd["sqs_requests"] == 0


# ------------------------------------------------------------------ tally
@pytest.mark.parametrize("n", [10, 50, 100, 200])
def test_line_counts_average_1_64_lines_of_1_to_3(n):
    counts = tally.line_counts(n)
    assert len(counts) == n and set(counts) <= {1, 2, 3}
    assert sum(counts) == round(1.64 * n)


def test_per_order_divides_totals_and_bills_sqs_without_the_empty_polls():
    q = tally.per_order(scenario(n=10))
    assert q["wru"] == pytest.approx((60 + 40 + 32) / 10)
    assert q["rru"] == pytest.approx(0.5)
    assert q["publishes"] == 3
    assert q["invocations"] == 2
    # 2 SNS deliveries + 1 receive that delivered + 1 delete; the 4 empty long polls are not per order
    assert q["sqs_requests"] == pytest.approx(4)
    assert tally.sqs_by_function(scenario(n=10))["inventory"]["empty receives"] == pytest.approx(0.4)
    assert q["log_bytes"] == 4000
    assert q["emulator_requests"] == 3


def test_wru_figures_split_by_table_and_by_function():
    w = tally.wru_figures(scenario(n=10))
    assert w["by_table"] == {"OrdersTable": 6, "OrdersTable/index/outbox": 4, "ProductsTable": 3.2}
    assert w["by_function"] == {"inventory": 3.2, "orders-api": 10}
    assert w["total"] == pytest.approx(13.2)


# ------------------------------------------------------------------ budget
def test_a_budget_is_the_measured_figure_plus_headroom_rounded_up_to_a_tenth():
    b = budget.make_budget(tally.wru_figures(scenario(n=10)), {"date": "d", "commit": "c"}, headroom=0.03)
    assert b["wru_per_order"]["total"] == 13.6  # 13.2 * 1.03 = 13.596
    assert b["wru_per_order"]["by_table"]["OrdersTable"] == 6.2  # 6.18
    assert b["wru_per_order"]["by_function"]["orders-api"] == 10.3
    assert b["measured"]["wru_per_order"]["total"] == pytest.approx(13.2)
    assert budget.ceil_tenth(3.0) == 3.0  # an exact tenth is not rounded further up


def test_within_the_budget_nothing_is_named():
    b = budget.make_budget(tally.wru_figures(scenario(n=10)), {})
    assert budget.over_budget(tally.wru_figures(scenario(n=10)), b) == []


def test_a_grown_table_is_named_with_its_function_and_the_total():
    b = budget.make_budget(tally.wru_figures(scenario(n=10)), {}, headroom=0.03)
    over = budget.over_budget(tally.wru_figures(scenario(n=10, orders_wru=80)), b)
    assert [o.split(":")[0] for o in over] == ["total", "table OrdersTable", "function orders-api"]
    assert "8.00 WRU per order > budget 6.20" in over[1]


def test_a_table_the_budget_does_not_know_is_named_as_new():
    b = budget.make_budget(tally.wru_figures(scenario(n=10)), {}, headroom=0.5)
    extra = {"function": "notification", "table": "NotificationsTable", "kind": "write", "units": 1, "requests": 1}
    s = scenario(n=10)
    s["capacity"].append(extra)
    over = budget.over_budget(tally.wru_figures(s), b)
    assert over == [
        "table NotificationsTable: 0.10 WRU per order, not in the budget (new table?)",
        "function notification: 0.10 WRU per order, not in the budget (new function?)",
    ]


# ------------------------------------------------------------------ report
def _tables(text: str) -> list[list[str]]:
    blocks, cur = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    return [*blocks, cur] if cur else blocks


def test_the_report_has_one_column_per_scenario_and_well_formed_tables():
    text = report.render(result(scenario("confirmed"), scenario("cancelled", orders_wru=120)))
    tables = _tables(text)
    assert len(tables) >= 6
    for t in tables:
        widths = {line.count("|") for line in t}
        assert len(widths) == 1, t  # every row as many cells as the header
    assert tables[0][0] == "| per order | confirmed orders | cancelled orders |"
    assert "| DynamoDB WRU | 13.20 | 19.20 |" in text
    assert "| orders-api | OrdersTable | 6.00 | 0.00 | 12.00 | 0.00 |" in text
    assert "| inventory | SQS empty receives (time-based) | 0.40 | 0.40 |" in text
    assert "(per-minute figures not measured: --no-sweeper)" in text


def test_the_dollar_total_is_the_sum_of_its_rows():
    s = scenario()
    money = prices.per_million_orders(tally.per_order(s))
    text = report.dollars(result(s))
    assert f"| **total** |  | **${sum(money.values()):,.2f}** |" in text
    assert f"| DynamoDB on-demand writes | $0.625/M [P6] | ${13.2 * 0.625:,.2f} |" in text


# ------------------------------------------------------------------ the command, on a result file
def _check(tmp_path: Path, budget_total: float | None = None) -> subprocess.CompletedProcess[str]:
    res = tmp_path / "result.json"
    res.write_text(json.dumps(result(scenario(n=10))))
    b = budget.make_budget(tally.wru_figures(scenario(n=10)), {})
    if budget_total is not None:
        b["wru_per_order"]["total"] = budget_total
        b["wru_per_order"]["by_table"]["OrdersTable"] = 5.0
    (tmp_path / "budget.json").write_text(json.dumps(b))
    args = ["--from-json", res, "--check-budget", "--budget", tmp_path / "budget.json"]
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=60)


def test_check_budget_passes_within_the_budget(tmp_path):
    done = _check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "within the budget" in done.stderr
    assert "| per order | confirmed orders |" in done.stdout


def test_check_budget_fails_naming_what_grew(tmp_path):
    done = _check(tmp_path, budget_total=12.0)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "total: 13.20 WRU per confirmed order > budget 12.00" in done.stderr
    assert "table OrdersTable: 6.00 WRU per order > budget 5.00 (+1.00)" in done.stderr


def test_the_committed_budget_is_for_the_confirmed_order_and_says_how_it_was_measured():
    b = json.loads((ROOT / "docs" / "cost-budget.json").read_text())
    assert set(b["measured"]) >= {"date", "commit", "orders", "how", "wru_per_order"}
    limits, measured = b["wru_per_order"], b["measured"]["wru_per_order"]
    assert measured["total"] <= limits["total"] <= measured["total"] * 1.1
    assert set(limits["by_table"]) == set(measured["by_table"])
    assert budget.over_budget(measured, b) == []
