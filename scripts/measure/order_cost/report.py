"""The markdown tables `make calls-per-order` prints, from the result it writes
(.build/calls-per-order.json). Pure: a result in, text out. Every figure is per order unless the
table says per minute; one column per scenario."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from order_cost import tally
from order_cost.prices import PRICES, per_million_orders

Result = dict[str, Any]


def num(x: float) -> str:
    return f"{x:,.2f}"


def table(head: list[str], rows: Iterable[list[str]], right_from: int = 1) -> str:
    """A markdown table, columns from `right_from` on right-aligned."""
    align = ["---" if i < right_from else "---:" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def by_scenario(
    scenarios: list[tally.Scenario], keys: Callable[[tally.Scenario], dict[Any, float]]
) -> list[tuple[Any, list[str]]]:
    """Union of the keys over the scenarios, each with its value per scenario (0 where absent)."""
    values = [keys(s) for s in scenarios]
    every = sorted({k for v in values for k in v}, key=str)
    return [(k, [num(v.get(k, 0.0)) for v in values]) for k in every]


def summary(result: Result) -> str:
    ss = result["scenarios"]
    q = [tally.per_order(s) for s in ss]
    usd = [sum(per_million_orders(x).values()) for x in q]
    ended = [", ".join(f"{v} {k}" for k, v in s["final"].items()) for s in ss]
    rows = [
        ["orders (how they ended)", *(f"{s['orders']} ({e})" for s, e in zip(ss, ended, strict=True))],
        ["lines per order", *(num(s["lines"] / s["orders"]) for s in ss)],
        ["DynamoDB WRU", *(num(x["wru"]) for x in q)],
        ["DynamoDB RRU", *(num(x["rru"]) for x in q)],
        ["SNS publishes", *(num(x["publishes"]) for x in q)],
        ["SQS requests (sends, receives, deletes)", *(num(x["sqs_requests"]) for x in q)],
        ["Lambda invocations", *(num(x["invocations"]) for x in q)],
        ["log bytes", *(f"{x['log_bytes']:,.0f}" for x in q)],
        ["API Gateway requests", *(num(x["api_requests"]) for x in q)],
        ["emulator requests", *(num(x["emulator_requests"]) for x in q)],
        ["**$ per million orders**", *(f"**${u:,.2f}**" for u in usd)],
    ]
    return table(["per order", *(s["title"] for s in ss)], rows, right_from=1)


def dollars(result: Result) -> str:
    ss = result["scenarios"]
    money = [per_million_orders(tally.per_order(s)) for s in ss]
    rows = []
    for key, p in PRICES.items():
        per = "GB" if p.per == 1e9 else "M" if p.per == 1e6 else f"{p.per:g}"
        rows.append([p.what, f"${p.dollars:g}/{per} [{p.source}]", *(f"${m[key]:,.2f}" for m in money)])
    rows.append(["**total**", "", *(f"**${sum(m.values()):,.2f}**" for m in money)])
    head = ["$ per million orders", "price (docs/capacity.md)", *(s["title"] for s in ss)]
    return table(head, rows, right_from=2)


def capacity(result: Result) -> str:
    """WRU and RRU per order by table/index, by function, and by both."""
    ss = result["scenarios"]
    head = [f"{s['name']} {unit}" for s in ss for unit in ("WRU", "RRU")]

    def units(group: Callable[[tally.Scenario], dict[Any, dict[str, float]]]) -> list[tuple[Any, list[str]]]:
        per = [group(s) for s in ss]
        keys = sorted({k for p in per for k in p}, key=str)
        zero = {"wru": 0.0, "rru": 0.0}
        return [(k, [num(p.get(k, zero)[u]) for p in per for u in ("wru", "rru")]) for k in keys]

    def marginal(key: str) -> Callable[[tally.Scenario], dict[Any, dict[str, float]]]:
        def group(s: tally.Scenario) -> dict[Any, dict[str, float]]:
            w, r = tally.capacity_by(s, "write", key), tally.capacity_by(s, "read", key)
            return {k: {"wru": w.get(k, 0.0), "rru": r.get(k, 0.0)} for k in w.keys() | r.keys()}

        return group

    by_table = [[k, *v] for k, v in units(marginal("table"))]
    by_function = [[k, *v] for k, v in units(marginal("function"))]
    cells = [[fn, tb, *v] for (fn, tb), v in units(tally.capacity_cells)]
    return "\n\n".join(
        [
            "DynamoDB capacity units per order, by table/index:\n\n" + table(["table / index", *head], by_table),
            "By function:\n\n" + table(["function", *head], by_function),
            "By function and table/index:\n\n" + table(["function", "table / index", *head], cells, right_from=2),
        ]
    )


def functions(result: Result) -> str:
    """Per function: invocations, publishes per topic, SQS requests by kind, log events and bytes."""
    ss = result["scenarios"]

    def rows_of(s: tally.Scenario) -> dict[tuple[str, str], float]:
        n, out = s["orders"], {}
        for fn, c in s["invocations"].items():
            out[(fn, "Lambda invocations")] = c / n
        for fn, topics in s["publishes"].items():
            for topic, c in topics.items():
                out[(fn, f"SNS publishes to {topic}")] = c / n
        for fn, kinds in tally.sqs_by_function(s).items():
            for kind, v in kinds.items():
                if v:
                    out[(fn, f"SQS {kind}" + (" (time-based)" if kind == "empty receives" else ""))] = v
        for fn, lg in s["logs"].items():
            out[(fn, "log events")] = lg["events"] / n
            out[(fn, "log bytes")] = lg["bytes"] / n
        return out

    rows = [[fn, what, *vals] for (fn, what), vals in by_scenario(ss, rows_of)]
    return table(["function", "what", *(s["name"] for s in ss)], rows, right_from=2)


def emulator_requests(result: Result) -> str:
    ss = result["scenarios"]

    def of(s: tally.Scenario) -> dict[tuple[str, str, str], float]:
        return {
            (r["service"], r["operation"], "LocalStack itself" if r["internal"] else "functions"): r["count"]
            / s["orders"]
            for r in s["requests"]
        }

    rows = [[a, b, c, *vals] for (a, b, c), vals in by_scenario(ss, of)]
    totals = [num(tally.per_order(s)["emulator_requests"]) for s in ss]
    rows.append(["**all**", "", "", *(f"**{t}**" for t in totals)])
    return table(["service", "operation", "made by", *(s["name"] for s in ss)], rows, right_from=3)


def per_minute(result: Result) -> str:
    pm = result.get("per_minute")
    if not pm:
        return "(per-minute figures not measured: --no-sweeper)"
    rows = [["outbox-sweeper", "invocations", num(pm["sweeper_invocations"])]]
    rows += [["outbox-sweeper", f"{a} {r}", num(c)] for (a, r, c) in pm["sweeper_calls"]]
    rows += [["outbox-sweeper", f"{k} {t}", num(u)] for (k, t, u) in pm["sweeper_capacity"]]
    rows.append(["outbox-sweeper", "log bytes", f"{pm['sweeper_log_bytes']:,.0f}"])
    rows += [["emulator, no orders", f"{s} {o}", num(c)] for (s, o, c) in pm["idle_requests"]]
    note = (
        "Per minute, whatever the load: the outbox sweeper's run (it runs once a minute), and what the "
        f"emulator served with no order in flight between two runs' ends ({pm['interval_s']:.0f} s apart, "
        "scaled to a minute; the sweeper's own calls included): the mappings' empty long polls (1 s "
        "here, up to 20 s on AWS) and LocalStack's alarm evaluation.\n\n"
    )
    return note + table(["who", "what", "per minute"], rows, right_from=2)


def render(result: Result) -> str:
    meta = result["meta"]
    head = (
        f"Calls and cost per order, measured {meta['date']} at commit {meta['commit']} on LocalStack "
        f"({meta['endpoint']}); scenarios: " + "; ".join(f"{s['name']}: {s['title']}" for s in result["scenarios"])
    )
    parts = [head, summary(result), dollars(result), capacity(result), functions(result)]
    parts += ["Emulator requests per order (this script's own calls and the time-based ones left out):"]
    parts += [emulator_requests(result), per_minute(result)]
    return "\n\n".join(parts) + "\n"
