"""What goes wrong while the load runs: fault rules on the functions' DynamoDB and SNS calls
(at least `rate` of each call fails, or is answered late, or takes effect and loses its
answer), SIGKILLs of the inventory and order-status processes in the middle of a batch, one
consumer's event source mapping disabled for a while, and the API process killed between its
write and its publish. The schedule follows the load's progress, so runs of any size see it all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import requests

from orders_client import Stack, wait_for


def fault_rules(rate: float) -> str:
    """Rules whose combined chance to fail any one call of the functions is at least `rate`
    (about 1.1 x: the first matching rule that fires decides, so the chances do not simply add
    up; latency-only rules come last)."""
    r = rate
    rules = [
        f"dynamodb:*:ThrottlingException:{0.5 * r:.4f}",
        f"dynamodb:*:ProvisionedThroughputExceededException:{0.25 * r:.4f}",
        f"dynamodb:*:InternalServerError:{0.35 * r:.4f}",
        f"dynamodb:TransactWriteItems:TransactionConflict:{0.3 * r:.4f}",
        f"dynamodb:PutItem:InternalServerError:{0.1 * r:.4f}:applied",
        f"dynamodb:UpdateItem:InternalServerError:{0.1 * r:.4f}:applied",
        f"dynamodb:TransactWriteItems:InternalServerError:{0.1 * r:.4f}:applied",
        f"sns:Publish:Throttled:{0.6 * r:.4f}",
        f"sns:Publish:InternalError:{0.45 * r:.4f}",
        f"sns:Publish:InternalError:{0.15 * r:.4f}:applied",
        f"dynamodb:*:none:{r:.4f}:latency=150ms",
        f"sns:Publish:none:{r:.4f}:latency=150ms",
    ]
    return ",".join(rules)


@dataclass
class Chaos:
    stack: Stack
    rate: float
    seed: int
    kills: int
    outage_s: float
    progress: Callable[[], float]  # fraction of the load done, 0..1
    note: Callable[[str, str], None]
    dependency_outage_s: float = 0.0
    fault_log: list[dict] = field(default_factory=list)  # every injected error, kept by stop()
    events: list[dict] = field(default_factory=list)  # kills, outage, API crash (for the audit)

    def __post_init__(self) -> None:
        self.control = f"{self.stack.endpoint}/_hostmode"
        self._thread = threading.Thread(target=self._schedule, daemon=True)
        self._stop = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> None:
        resp = requests.put(
            f"{self.control}/faults", json={"rules": fault_rules(self.rate), "seed": self.seed}, timeout=10
        )
        resp.raise_for_status()
        self.note("faults", f"rules set, rate {self.rate}")
        self._thread.start()

    def finish(self) -> list[dict]:
        """Lets the schedule run to its end (the load is done, so every step is due), then
        clears the rules; returns their counters."""
        self._thread.join(timeout=300)
        return self.stop()

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(timeout=180)
        rules = requests.get(f"{self.control}/faults", timeout=10).json()["rules"]
        # The log goes with the rules (a new set starts a new log): keep it for the audit.
        self.fault_log = requests.get(f"{self.control}/faults/log", timeout=10).json()["faults"]
        requests.delete(f"{self.control}/faults", timeout=10).raise_for_status()
        self.note("faults", "cleared")
        return rules

    def _at(self, fraction: float) -> bool:
        """Waits until the load reached `fraction`; False if stopped first."""
        while not self._stop.is_set():
            if self.progress() >= fraction:
                return True
            time.sleep(0.1)
        return False

    def _schedule(self) -> None:
        """Each step in its own thread, started when the load reaches its fraction, so a long
        outage does not hold back the kills."""
        steps: list[tuple[float, Callable[[], None]]] = [(0.25, self._outage), (0.6, self._dependency_outage)]
        consumers = ["InventoryFunctionName", "OrderStatusFunctionName"]
        for i in range(self.kills):
            steps.append(((i + 1) / (self.kills + 2), partial(self._kill, consumers[i % 2])))
        threads = [threading.Thread(target=self._step, args=step, daemon=True) for step in steps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _step(self, fraction: float, step: Callable[[], None]) -> None:
        try:
            if self._at(fraction):
                step()
        except BaseException as e:  # reported by the run, not lost in a thread
            self.error = e

    def _kill(self, function_output: str, kind: str = "kill") -> None:
        fn = self.stack.outputs[function_output]

        def attempt() -> list[dict]:
            r = requests.post(f"{self.control}/kill", json={"function": fn, "busy_only": True}, timeout=10)
            r.raise_for_status()
            return r.json()["killed"]

        # Order-status may be in its outage: then the kill comes when it drains its backlog.
        killed = wait_for(attempt, bool, self.outage_s + 30, f"{fn} busy, to kill it", interval=0.05)
        self.events.append({"kind": kind, "function": fn, "time": time.time(), "pids": [k["pid"] for k in killed]})
        self.note("kill", f"{fn} pids {[k['pid'] for k in killed]} (mid-invocation)")

    def _outage(self) -> None:
        if self.outage_s <= 0:
            return
        fn = self.stack.outputs["OrderStatusFunctionName"]
        start = time.time()
        with self.stack.mapping_paused("OrderStatusFunctionName"):
            self.note("outage", f"{fn}'s event source mapping disabled for {self.outage_s:.0f} s")
            self._stop.wait(self.outage_s)
        self.events.append({"kind": "mapping-outage", "function": fn, "time": start, "end": time.time()})
        self.note("outage", "mapping enabled again")

    def _dependency_outage(self) -> None:
        """DynamoDB unavailable to inventory for longer than its messages' 5 receives take:
        they reach its DLQ (to be explained and redriven by the audit)."""
        if self.dependency_outage_s <= 0:
            return
        fn = self.stack.outputs["InventoryFunctionName"]
        rule = f"dynamodb:*:ServiceUnavailable:1:function={fn}"
        start = time.time()
        requests.post(f"{self.control}/faults", json={"rules": rule}, timeout=10).raise_for_status()
        self.note("outage", f"DynamoDB unavailable to {fn} for {self.dependency_outage_s:.0f} s")
        try:
            self._stop.wait(self.dependency_outage_s)
        finally:
            requests.delete(f"{self.control}/faults", json={"rules": rule}, timeout=10).raise_for_status()
        self.events.append({"kind": "dynamodb-outage", "function": fn, "time": start, "end": time.time()})
        self.note("outage", "DynamoDB back for inventory")

    def api_crash(self) -> threading.Thread:
        """Arms the API crash before the load sends its victim order: a 3 s delay on the API's
        publishes holds that request (and any other) between its write and its publish, where
        the API's processes are killed. Returns the thread that does it."""
        fn = self.stack.outputs["OrdersApiFunctionName"]
        rule = f"sns:Publish:none:1:every=1:latency=3s:function={fn}"
        requests.post(f"{self.control}/faults", json={"rules": rule}, timeout=10).raise_for_status()
        self.note("chaos", "API publishes held 3 s, to kill the API between its write and its publish")
        thread = threading.Thread(target=self._step, args=(0.0, partial(self._api_crash, rule)), daemon=True)
        thread.start()
        return thread

    def _api_crash(self, rule: str) -> None:
        try:

            def delayed() -> int:
                rules = requests.get(f"{self.control}/faults", timeout=10).json()["rules"]
                return sum(x["delayed"] for x in rules if x["rule"] == rule)

            wait_for(delayed, lambda n: n > 0, 60, "an API request between its write and its publish", interval=0.05)
            self._kill("OrdersApiFunctionName", kind="api-crash")
        finally:
            requests.delete(f"{self.control}/faults", json={"rules": rule}, timeout=10).raise_for_status()
