"""The counters of the running emulator, read for one scenario: the extension's records
(`/_hostmode/capacity`, `iam/usage`, `requests`, `mappings`) and the functions' CloudWatch log
groups. `Probe.start()` empties the capacity and IAM usage records and snapshots the two that
have no reset (requests, mappings); `Probe.read()` returns the scenario's raw counts (tally's
shape). This script's own AWS calls are counted client-side and taken out of the requests."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests

from orders_client import Stack, wait_for

FUNCTIONS = {
    "OrdersApiFunctionName": "orders-api",
    "InventoryFunctionName": "inventory",
    "OrderStatusFunctionName": "order-status",
    "NotificationFunctionName": "notification",
    "OutboxSweeperFunctionName": "outbox-sweeper",
}
SWEEPER = "outbox-sweeper"
CONSUMERS = {"InventoryQueue": "inventory", "OrderStatusQueue": "order-status", "NotificationQueue": "notification"}
REPORT = re.compile(r'"type": ?"platform\.report"|^REPORT RequestId')
# LocalStack's alarm evaluation: periodic, whatever the load (not AWS requests anyone pays per order).
PERIODIC = {("cloudwatch", "GetMetricData", True), ("cloudwatch", "DescribeAlarms", True)}

QUIET_S = 5  # a sweeper run has ended when its calls have not changed for this long
Key = tuple[str, str, bool]  # service, operation, made by LocalStack itself


def namer(outputs: dict[str, str]):
    """A resource's ARN, URL or name -> the stack output naming it: `...:table/<t>/index/outbox`
    -> `OrdersTable/index/outbox`, a topic ARN -> `OrderEventsTopic`, a queue -> `InventoryQueue`."""
    names = {v.rsplit("/", 1)[-1].rsplit(":", 1)[-1]: k for k, v in outputs.items()}

    def short(resource: str) -> str:
        base, _, index = resource.rsplit(":", 1)[-1].removeprefix("table/").partition("/index/")
        key = names.get(base, base)
        for suffix in ("Name", "Arn", "Url"):
            key = key.removesuffix(suffix)
        return key + (f"/index/{index}" if index else "")

    return short


class OwnCalls:
    """This process's AWS calls through the stack's boto3 session (polls, reads), by operation:
    the emulator counts them too, and they are the measurement's, not the pipeline's."""

    def __init__(self, stack: Stack):
        self.counts: Counter[Key] = Counter()
        stack._session.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[(model.service_model.service_name, model.name, False)] += 1


@dataclass
class Mark:
    t0_ms: int
    requests: Counter[Key]
    mappings: dict[str, dict[str, int]]
    own: Counter[Key]


class Probe:
    def __init__(self, stack: Stack):
        self.stack, self.control = stack, f"{stack.endpoint}/_hostmode"
        self.short = namer(stack.outputs)
        self.own = OwnCalls(stack)
        lam = stack.client("lambda")
        self.fn_of_name: dict[str, str] = {}
        self.fn_of_role: dict[str, str] = {}
        self.log_group: dict[str, str] = {}
        for key, fn in FUNCTIONS.items():
            cfg = lam.get_function_configuration(FunctionName=stack.outputs[key])
            self.fn_of_name[cfg["FunctionName"]] = fn
            self.fn_of_role[cfg["Role"].rsplit("/", 1)[-1]] = fn
            group = (cfg.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{cfg['FunctionName']}"
            self.log_group[fn] = group
        self.fn_of_queue = {self.stack.outputs[q + "Url"].rsplit("/", 1)[-1]: fn for q, fn in CONSUMERS.items()}

    # ------------------------------------------------------------------ the extension's records
    def get(self, path: str) -> Any:
        r = requests.get(f"{self.control}/{path}", timeout=10)
        r.raise_for_status()
        return r.json()

    def delete(self, path: str) -> None:
        requests.delete(f"{self.control}/{path}", timeout=10).raise_for_status()

    def fault_rules(self) -> int:
        return int(self.get("config").get("fault_rules", 0))

    def requests(self) -> Counter[Key]:
        rows = self.get("requests")["requests"]
        return Counter({(r["service"], r["operation"], bool(r["internal"])): r["count"] for r in rows})

    def mappings(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for m in self.get("mappings")["mappings"]:
            # Only the stack's consumers: the emulator may hold other mappings (the extension's
            # own tests leave theirs in the LocalStack `make test` shares).
            fn = self.fn_of_queue.get(m["queue_arn"].rsplit(":", 1)[-1])
            if fn is not None:
                out[fn] = {"messages": m["messages"], "batches": m["batches"]}
        return out

    def usage(self) -> dict[str, Counter[tuple[str, str]]]:
        """Function -> (action, short resource) -> calls its role made (mappings' included)."""
        out: dict[str, Counter[tuple[str, str]]] = {}
        for role, rows in self.get("iam/usage").items():
            fn = self.fn_of_role.get(role, role)
            out[fn] = Counter({(u["action"], self.short(u["resource"])): u["count"] for u in rows})
        return out

    def capacity(self) -> list[dict[str, Any]]:
        """Rows of GET /_hostmode/capacity with short names; this script's reads (not a role
        session) left out."""
        rows = []
        for c in self.get("capacity")["capacity"]:
            if c["caller"] == "(not a role session)":
                continue
            table = self.short(c["table"]) + (f"/index/{c['index']}" if c["index"] else "")
            fn = self.fn_of_name.get(c["caller"], c["caller"])
            rows.append({"function": fn, "table": table, **{k: c[k] for k in ("kind", "units", "requests")}})
        return rows

    # ------------------------------------------------------------------ logs
    def logs(self, fn: str, start_ms: int, end_ms: int | None = None) -> dict[str, int]:
        """A function's log events in [start_ms, end_ms]: events, UTF-8 message bytes, invocations
        (`platform.report` lines). CloudWatch Logs bills the ingested bytes."""
        logs = self.stack.client("logs")
        kw: dict[str, Any] = {"logGroupName": self.log_group[fn], "startTime": start_ms}
        if end_ms is not None:
            kw["endTime"] = end_ms
        out = {"events": 0, "bytes": 0, "invocations": 0}
        try:
            while True:
                page = logs.filter_log_events(**kw)
                for e in page["events"]:
                    out["events"] += 1
                    out["bytes"] += len(e["message"].encode())
                    out["invocations"] += bool(REPORT.search(e["message"]))
                if not page.get("nextToken"):
                    return out
                kw["nextToken"] = page["nextToken"]
        except logs.exceptions.ResourceNotFoundException:
            return out

    # ------------------------------------------------------------------ one scenario
    def start(self) -> Mark:
        """Fresh counters: the capacity and IAM usage records emptied, the others snapshotted."""
        self.delete("capacity")
        self.delete("iam/usage")
        return Mark(int(time.time() * 1000), self.requests(), self.mappings(), Counter(self.own.counts))

    def read(self, mark: Mark, api_requests: int, timeout: float = 60) -> dict[str, Any]:
        """The scenario's raw counts, once every invocation's log has arrived (as many
        `platform.report` lines as the API had requests and the mappings batches)."""
        settled_ms = int(time.time() * 1000)
        maps = self.mappings()
        batches = {fn: m["batches"] - mark.mappings.get(fn, {}).get("batches", 0) for fn, m in maps.items()}
        expected = {"orders-api": api_requests, **batches}

        def logs_now() -> dict[str, dict[str, int]]:
            return {fn: self.logs(fn, mark.t0_ms) for fn in self.log_group if fn != SWEEPER}

        def complete(got: dict[str, dict[str, int]]) -> bool:
            return all(got[fn]["invocations"] >= want for fn, want in expected.items())

        wait_for(logs_now, complete, timeout, "every invocation's log lines", interval=1)
        time.sleep(1)  # a last line shipped with the report's batch
        logs = logs_now()
        usage, capacity = self.usage(), self.capacity()
        reqs = self.requests() - mark.requests - (self.own.counts - mark.own)
        sweeper_logs = self.logs(SWEEPER, mark.t0_ms)

        sqs = {fn: {a: c for (a, _), c in calls.items() if a.startswith("sqs:")} for fn, calls in usage.items()}
        sqs = {fn: acts for fn, acts in sqs.items() if acts and fn != SWEEPER}
        before = mark.mappings
        mapping_deltas = {fn: {k: m[k] - before.get(fn, {}).get(k, 0) for k in m} for fn, m in maps.items()}
        # Time-based: the mappings' empty polls, the sweeper's calls, LocalStack's alarm evaluation.
        timed: Counter[Key] = Counter()
        for fn, acts in sqs.items():
            timed[("sqs", "ReceiveMessage", True)] += max(0, acts.get("sqs:ReceiveMessage", 0) - batches.get(fn, 0))
        for (action, _), c in usage.get(SWEEPER, Counter()).items():
            service, op = action.split(":", 1)
            timed[(service, op, service == "logs")] += c
        timed[("lambda", "Invoke", True)] += sweeper_logs["invocations"]
        for k in PERIODIC:
            timed[k] += reqs.get(k, 0)
        timed = Counter({k: min(c, reqs.get(k, 0)) for k, c in timed.items() if c})
        pipeline = reqs - timed
        return {
            "window_ms": [mark.t0_ms, int(time.time() * 1000)],
            "seconds": (settled_ms - mark.t0_ms) / 1000,  # from the first order to the last one settled
            "api_requests": api_requests,
            "capacity": [r for r in capacity if r["function"] != SWEEPER],
            "publishes": {
                fn: {res: c for (a, res), c in calls.items() if a == "sns:Publish"}
                for fn, calls in usage.items()
                if fn != SWEEPER and any(a == "sns:Publish" for a, _ in calls)
            },
            "sqs": sqs,
            "sns_deliveries": reqs.get(("sqs", "SendMessage", True), 0),
            "mappings": mapping_deltas,
            "invocations": {fn: lg["invocations"] for fn, lg in logs.items()},
            "logs": {fn: {"events": lg["events"], "bytes": lg["bytes"]} for fn, lg in logs.items()},
            "calls": [
                {"function": fn, "action": a, "resource": res, "count": c}
                for fn, calls in sorted(usage.items())
                if fn != SWEEPER
                for (a, res), c in sorted(calls.items())
            ],
            "requests": rows_of(pipeline),
            "time_based_requests": rows_of(timed),
        }

    # ------------------------------------------------------------------ per minute
    def per_minute(self, timeout: float = 150) -> dict[str, Any]:
        """Two scheduled sweeper runs: the second one's calls, units and log bytes, and what the
        emulator served in between (scaled to a minute), with no order in flight."""

        def sweeper_calls() -> Counter[tuple[str, str]]:
            return self.usage().get(SWEEPER, Counter())

        def run_end(before: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
            wait_for(sweeper_calls, lambda c: c != before, timeout, "the sweeper's next run", interval=0.5)
            seen = [sweeper_calls()]

            def stable() -> bool:  # a run's log lines are shipped (PutLogEvents) after its queries
                seen.append(sweeper_calls())
                return len(seen) > QUIET_S and all(c == seen[-1] for c in seen[-QUIET_S - 1 :])

            wait_for(stable, bool, 40, "the sweeper run's end", interval=1)
            return seen[-1]

        first = run_end(sweeper_calls())
        t1, cap1, req1, own1 = time.monotonic(), self.capacity(), self.requests(), Counter(self.own.counts)
        t1_ms = int(time.time() * 1000)
        second = run_end(first)
        t2, cap2, req2 = time.monotonic(), self.capacity(), self.requests() - (self.own.counts - own1)
        # The sweeper runs once a minute (its schedule): one run is its per-minute figure. The
        # rest of what the emulator served between the two runs' ends is scaled to a minute.
        interval, scale = t2 - t1, 60 / (t2 - t1)
        units: Counter[tuple[str, str]] = Counter()
        for sign, rows in ((1, cap2), (-1, cap1)):
            for r in rows:
                if r["function"] == SWEEPER:
                    units[(r["kind"], r["table"])] += sign * r["units"]
        logs = self.logs(SWEEPER, t1_ms)
        idle = req2 - req1
        return {
            "interval_s": interval,
            "sweeper_invocations": logs["invocations"],
            "sweeper_calls": [(a, r, c) for (a, r), c in sorted((second - first).items())],
            "sweeper_capacity": [(k, t, u) for (k, t), u in sorted(units.items()) if u],
            "sweeper_log_bytes": logs["bytes"],
            "idle_requests": [
                (s, o + (" (LocalStack)" if i else ""), c * scale) for (s, o, i), c in sorted(idle.items(), key=str)
            ],
        }


def rows_of(counts: Counter[Key]) -> list[dict[str, Any]]:
    return [
        {"service": s, "operation": o, "internal": i, "count": c}
        for (s, o, i), c in sorted(counts.items(), key=str)
        if c > 0
    ]
