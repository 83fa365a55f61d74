"""The committed budget of DynamoDB write request units per placed-and-confirmed order
(docs/cost-budget.json) and its check. Pure.

The budget holds a total and a figure per table/index and per function, each the measured one
with a little headroom, rounded up to a tenth. The check fails when the measured total or any
table or function is over its figure, and names each one that is (a table or function the budget
does not know has a budget of 0)."""

from __future__ import annotations

import math
from typing import Any

SCENARIO = "confirmed"  # the scenario the budget is for
HEADROOM = 0.05  # over the measured figure, before rounding up to a tenth: Notifications varies ~3% run to run


def ceil_tenth(x: float) -> float:
    return math.ceil(round(x * 10, 6)) / 10


def rounded(wru: dict[str, Any]) -> dict[str, Any]:
    """WRU figures to 4 decimals (per order over tens of orders: no more is measured)."""
    return {
        "total": round(wru["total"], 4),
        **{g: {k: round(v, 4) for k, v in sorted(wru[g].items())} for g in ("by_table", "by_function")},
    }


def make_budget(wru: dict[str, Any], measured: dict[str, Any], headroom: float = HEADROOM) -> dict[str, Any]:
    """A budget from measured WRU per order (tally.wru_figures), with where and how it was measured."""

    def up(x: float) -> float:
        return ceil_tenth(x * (1 + headroom))

    return {
        "about": (
            "DynamoDB write request units per placed-and-confirmed order (scenario 'confirmed' of "
            "`make calls-per-order`: 1.64 lines per order over 8 SKUs, one stock shard), as the "
            "LocalStack extension bills them (GET /_hostmode/capacity). Each figure is the measured one "
            f"plus {headroom:.0%}, rounded up to a tenth. `scripts/measure/calls_per_order.py "
            "--check-budget` fails when the total or any table/index or function goes over its figure. "
            "A change that lowers WRU per order should lower the budget with it: "
            "`calls_per_order.py --write-budget docs/cost-budget.json`."
        ),
        "measured": {**measured, "wru_per_order": rounded(wru)},
        "headroom": headroom,
        "wru_per_order": {
            "total": up(wru["total"]),
            "by_table": {k: up(v) for k, v in sorted(wru["by_table"].items())},
            "by_function": {k: up(v) for k, v in sorted(wru["by_function"].items())},
        },
    }


def over_budget(wru: dict[str, Any], budget: dict[str, Any]) -> list[str]:
    """What is over the budget, one line each: the total, then every table/index and function."""
    limits = budget["wru_per_order"]
    over = []
    if wru["total"] > limits["total"] + 1e-9:
        over.append(f"total: {wru['total']:.2f} WRU per confirmed order > budget {limits['total']:.2f}")
    for group, what in (("by_table", "table"), ("by_function", "function")):
        for name, got in sorted(wru[group].items()):
            allowed = limits[group].get(name)
            if allowed is None and got > 0:
                over.append(f"{what} {name}: {got:.2f} WRU per order, not in the budget (new {what}?)")
            elif allowed is not None and got > allowed + 1e-9:
                over.append(f"{what} {name}: {got:.2f} WRU per order > budget {allowed:.2f} (+{got - allowed:.2f})")
    return over
