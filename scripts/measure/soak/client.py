"""The load, sent as a well-behaved client would: every order with its Idempotency-Key, every
call retried with jittered exponential backoff on timeouts, connection errors, 429, 5xx and
409 `idempotency_key_in_use` (same key, same body), for at most a minute. Cancels and
restocks are retried the same way (a cancel is idempotent; a restock carries its own key)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from orders_client import Response, Stack, key_in_use
from soak.plan import OrderPlan, Plan, RestockPlan

RETRY_STATUSES = {429, 500, 502, 503, 504}
GIVE_UP_AFTER_S = 60.0


@dataclass
class Outcome:
    """What the client saw of one request (after its retries)."""

    status: int | None = None  # the last HTTP status; None if no answer at all
    body: Any = None
    attempts: int = 0
    error: str | None = None
    at: float = 0.0


@dataclass
class OrderRecord:
    plan: OrderPlan
    placed: Outcome = field(default_factory=Outcome)
    cancelled: Outcome | None = None

    @property
    def order_id(self) -> str | None:
        ok = self.placed.status == 202 and isinstance(self.placed.body, dict)
        return self.placed.body.get("order_id") if ok else None


def send(stack: Stack, method: str, path: str, body: Any, headers: dict[str, str] | None = None) -> Outcome:
    out = Outcome()
    deadline = time.monotonic() + GIVE_UP_AFTER_S
    backoff = 0.2
    while True:
        out.attempts += 1
        try:
            r: Response = stack.call(method, path, body, headers=headers)
            out.status, out.body, out.error = r.status, r.body, None
            retry = r.status in RETRY_STATUSES or key_in_use(r)
        except requests.RequestException as e:
            out.status, out.body, out.error = None, None, type(e).__name__
            retry = True
        if not retry or time.monotonic() + backoff > deadline:
            out.at = time.time()
            return out
        time.sleep(random.uniform(0, backoff))  # full jitter
        backoff = min(backoff * 2, 4.0)


class Load:
    """Places the plan's orders from `clients` threads; cancels and restocks alongside."""

    def __init__(
        self,
        plan: Plan,
        clients: int,
        note: Callable[[str, str], None],
        before_victim: Callable[[], threading.Thread] | None = None,
    ):
        self.plan, self.clients, self.note = plan, clients, note
        # Called before the plan's middle order is sent (the API crash waits for a request).
        self.before_victim = before_victim
        self.victim: threading.Thread | None = None
        self.records = [OrderRecord(o) for o in plan.orders]
        self.restocks: dict[int, Outcome] = {}
        self.placed = 0  # orders answered so far (progress, read by the chaos schedule)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._side = ThreadPoolExecutor(max_workers=4)  # cancels after confirmation, restocks

    def _stack(self) -> Stack:
        if not hasattr(self._local, "stack"):
            self._local.stack = Stack()  # one HTTP session per thread
        return self._local.stack

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.clients) as pool:
            list(pool.map(self._order, self.records))
        self._side.shutdown(wait=True)
        if self.victim is not None:
            self.victim.join()

    def _order(self, rec: OrderRecord) -> None:
        stack, o = self._stack(), rec.plan
        body = {"customer_id": o.customer, "lines": [{"sku": s, "quantity": q} for s, q in o.lines]}
        if o.idx == len(self.records) // 2 and self.before_victim is not None:
            self.victim = self.before_victim()
        rec.placed = send(stack, "POST", "/orders", body, {"Idempotency-Key": o.key})
        if o.idx == len(self.records) // 2:
            self.note(
                "victim", f"{o.key}: {rec.placed.status} after {rec.placed.attempts} attempt(s), {rec.placed.error}"
            )
        if rec.placed.status != 202:
            self.note("gave up" if rec.placed.status in RETRY_STATUSES | {None} else "refused", o.key)
        with self._lock:
            self.placed += 1
            due = [r for r in self.plan.restocks if r.after_order < self.placed and r.idx not in self.restocks]
            for r in due:
                self.restocks[r.idx] = Outcome()
        for r in due:
            self._side.submit(self._restock, r)
        if rec.order_id and o.cancel == "pending":
            rec.cancelled = send(stack, "POST", f"/orders/{rec.order_id}/cancel", {"reason": "soak: changed my mind"})
        elif rec.order_id and o.cancel == "confirmed":
            self._side.submit(self._cancel_when_confirmed, rec)

    def _cancel_when_confirmed(self, rec: OrderRecord) -> None:
        stack, deadline = self._stack(), time.monotonic() + 120
        while time.monotonic() < deadline:
            r = send(stack, "GET", f"/orders/{rec.order_id}", None)
            status = r.body.get("status") if r.status == 200 and isinstance(r.body, dict) else None
            if status == "CONFIRMED":
                rec.cancelled = send(stack, "POST", f"/orders/{rec.order_id}/cancel", {"reason": "soak: returned"})
                return
            if status in ("REJECTED", "CANCELLED"):
                return
            time.sleep(1.0)

    def _restock(self, r: RestockPlan) -> None:
        out = send(self._stack(), "PATCH", f"/products/{r.sku}", {"delta": r.delta}, {"Idempotency-Key": r.key})
        with self._lock:
            self.restocks[r.idx] = out
        self.note("restock", f"{r.sku} +{r.delta}: {out.status}")
