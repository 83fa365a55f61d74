"""Fixtures for the end-to-end tests: the deployed stack (make deploy), and a tap that records
every message published on the stack's three topics, so tests can assert on what was published
without touching the consumers' own queues.

The suite runs in two phases (scripts/make/e2e.sh): the tests that share no mutable state side by
side (pytest-xdist), then those marked `serial` one at a time. A test is `serial` when it changes
what others see (fault rules, a paused mapping, the mapping's settings, the stack itself, a DLQ
redrive) or asserts on what all tests share (a queue drained, what the whole run produced). The
helpers that do either refuse to run in a parallel worker, and a test asking for `faults`
without the marker is a collection error, so a test cannot join the wrong phase silently."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from local_aws import STACK_FILE
from orders_client import Stack, wait_for
from tap import FileTap, Tap


# Each test uses its own SKUs and customers, so tests can run in any order.
def new_sku(prefix: str = "E2E") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


_STACK: Stack | None = None


def the_stack() -> Stack:
    global _STACK
    if _STACK is None:
        if not STACK_FILE.exists():
            pytest.fail(f"{STACK_FILE} is missing: deploy the stack first (make deploy)")
        _STACK = Stack(STACK_FILE)
    return _STACK


def new_customer() -> str:
    """A new customer of the stack's user pool, who signs in: their id (the token's subject)."""
    return the_stack().customer()


@pytest.fixture(scope="session")
def stack() -> Stack:
    return the_stack()


def serial_only(what: str) -> None:
    """Fails a test that does `what` in a parallel worker: it changes what other tests see, or
    depends on what they do."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(f"{what} shares state with the other tests: mark the test `serial` (tests/e2e/conftest.py)")


def mapping_paused(stack: Stack, function_output: str):
    serial_only("pausing a mapping")
    return stack.mapping_paused(function_output)


def inventory_paused(stack: Stack):
    return mapping_paused(stack, "InventoryFunctionName")


def status_changed(order_id: str, status: str, seq: int, customer_id: str | None = None) -> dict:
    """An `OrderStatusChanged` event as a producer would write it (for direct deliveries)."""
    return {
        "id": str(uuid.uuid4()),
        "type": "OrderStatusChanged",
        "version": 1,
        "occurred_at": "2026-11-26T12:00:00Z",
        "order_id": order_id,
        "data": {"customer_id": customer_id or new_customer(), "status": status, "seq": seq},
    }


LIFE = {
    "PENDING": "order_placed",
    "CONFIRMED": "order_confirmed",
    "REJECTED": "order_rejected",
    "CANCELLED": "order_cancelled",
}


def wait_told(stack: Stack, order_id: str, last: str, life: list[str], timeout: float = 60) -> list[str]:
    """Waits until the customer was told `last` (a kind: `order_confirmed`, ...) and returns the
    kinds told, in the order's life. A message older than one already sent is never sent, so an
    earlier kind may be missing, but none is told twice, none outside `life`, and `last` is last."""

    def sent():
        return [r for r in stack.notifications_for(order_id) if r.get("state") == "SENT"]

    recs = wait_for(sent, lambda rs: last in {r["kind"] for r in rs}, timeout, f"{last!r} told for {order_id}")
    kinds = [r["kind"] for r in sorted(recs, key=lambda r: int(r["seq"]))]
    assert len(kinds) == len(set(kinds)), kinds
    assert set(kinds) <= set(life), (kinds, life)
    assert kinds[-1] == last, kinds
    return kinds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `after_all` read what the whole run produced: they run last, in the serial
    phase. The poison scenario waits minutes for its DLQ: it goes first, so its wait overlaps the
    others'. A test that sets fault rules must be `serial`."""
    unmarked = [
        i.nodeid for i in items if "faults" in getattr(i, "fixturenames", ()) and not i.get_closest_marker("serial")
    ]
    if unmarked:
        raise pytest.UsageError("tests that set fault rules must be marked serial: " + ", ".join(unmarked))
    for i in items:
        if i.get_closest_marker("after_all") and not i.get_closest_marker("serial"):
            raise pytest.UsageError(f"{i.nodeid}: after_all tests must be marked serial")
    last = [i for i in items if i.get_closest_marker("after_all")]
    first = [i for i in items if "poison" in getattr(i, "fixturenames", ())]
    items[:] = first + [i for i in items if i not in last and i not in first] + last


@pytest.fixture(scope="session", autouse=True)
def session_started_ms() -> int:
    """When the run began (epoch ms, a second early for clock skew): where its logs start. Both
    phases of one run share it (E2E_STARTED_MS, set by scripts/make/e2e.sh)."""
    return int(os.environ.get("E2E_STARTED_MS") or int(time.time() * 1000) - 1000)


@pytest.fixture(scope="session")
def tap(stack: Stack):
    """Every message on every topic, each checked against its event schema on arrival: the
    run's one tap (E2E_TAP, tests/e2e/tap_process.py) when scripts/make/e2e.sh runs it, else a
    tap of this session's own."""
    shared = os.environ.get("E2E_TAP")
    t: Tap | FileTap = FileTap(Path(shared)) if shared else Tap(stack, check_contracts=True)
    yield t
    t.close()
    assert not t.contract_violations(), "\n".join(t.contract_violations())


@pytest.fixture(autouse=True)
def wire_contracts(tap: Tap):
    """Fails the test during whose run a message broke its contract (one published late by an
    earlier test's order shows up here too: its order id says whose it is)."""
    before = len(tap.contract_violations())
    yield
    broken = tap.contract_violations()[before:]
    if broken:
        pytest.fail("events on the wire that break events/schemas:\n" + "\n".join(broken[:10]))


class Faults:
    """The LocalStack extension's fault rules (localstack/README.md "Fault rules"). A test adds
    its own rules next to whatever is set (the `make test` stage under pinned faults keeps
    its set) and removes exactly those."""

    def __init__(self, endpoint: str):
        self.url = endpoint.rstrip("/") + "/_hostmode/faults"
        self.added: list[str] = []

    def add(self, rules: str) -> None:
        r = requests.post(self.url, json={"rules": rules}, timeout=10)
        assert r.status_code == 200, r.text
        self.added.append(rules)

    def remove(self, rules: str) -> None:
        requests.delete(self.url, json={"rules": rules}, timeout=10).raise_for_status()
        self.added.remove(rules)

    def rule(self, text: str) -> dict:
        rules = requests.get(self.url, timeout=10).json()["rules"]
        return next(r for r in rules if r["rule"] == text)


@pytest.fixture
def faults(stack: Stack):
    f = Faults(stack.endpoint)
    yield f
    for rules in list(f.added):
        f.remove(rules)


def wait_drained(stack: Stack, output_key: str, timeout: float = 60) -> None:
    """Waits until a consumer queue holds no message, visible or in flight, but the session's
    poison message while it is still on its way to the notification DLQ (PoisonBatch)."""

    serial_only("waiting for a queue to drain")

    def drained(depth: tuple[int, int]) -> bool:
        allowed = POISON.cycling() if POISON is not None and output_key == "NotificationQueueUrl" else 0
        return sum(depth) <= allowed

    wait_for(lambda: stack.queue_depth(output_key), drained, timeout, f"{output_key} to drain")


class PoisonBatch:
    """The poison scenario: a batch of one unparseable message and three good ones goes to the
    notification queue; the poison one fails on each of its 5 deliveries, 30 s apart locally (the
    visibility timeout), so it needs about 2.5 minutes to reach the DLQ. scripts/make/e2e.sh sends
    it before the parallel phase (tests/e2e/poison_batch.py, E2E_POISON names what it sent), so
    those minutes pass while the other tests run; a bare `pytest tests/e2e` sends it when its test
    starts. A thread notes every body it sees in the DLQ (peeking with a visibility timeout of 0,
    so nothing else sees a message vanish: a redrive test may move it back later). The test
    itself only checks the outcome."""

    def __init__(self, stack: Stack, sent: dict | None = None):
        self.sqs = stack.client("sqs")
        self.dlq = stack.outputs["NotificationDLQUrl"]
        if sent is None:
            sent = self.send(stack)
        self.marker: str = sent["marker"]
        self.good: list[dict] = sent["good"]
        self.in_dlq: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @classmethod
    def send(cls, stack: Stack) -> dict:
        """Sends the batch (after dropping earlier runs' poison from the DLQ): what it sent."""
        sqs = stack.client("sqs")
        cls._drop_earlier_markers(sqs, stack.outputs["NotificationDLQUrl"])
        marker = f"poison-{uuid.uuid4()}"
        good = [status_changed(str(uuid.uuid4()), "PENDING", 1) for _ in range(3)]
        entries = [{"Id": "poison", "MessageBody": marker}] + [
            {
                "Id": f"good{i}",
                "MessageBody": json.dumps(e),
                "MessageAttributes": {"type": {"DataType": "String", "StringValue": "OrderStatusChanged"}},
            }
            for i, e in enumerate(good)
        ]
        resp = sqs.send_message_batch(QueueUrl=stack.outputs["NotificationQueueUrl"], Entries=entries)
        assert not resp.get("Failed"), resp
        return {"marker": marker, "good": good}

    @staticmethod
    def _drop_earlier_markers(sqs, dlq: str) -> None:
        """Earlier sessions' poison messages (on a stack that `make up` keeps; the DLQ keeps
        them 4 days, and the redrive test cycles them back) would crowd this session's out of
        the watcher's peek of 10. Paged with a 10 s visibility timeout: no test runs yet."""
        for _ in range(50):
            msgs = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=10)
            if not msgs.get("Messages"):
                return
            for m in msgs["Messages"]:
                if m["Body"].startswith("poison-"):
                    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])

    def _watch(self) -> None:
        while not self._stop.wait(1):
            msgs = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10, VisibilityTimeout=0)
            with self._lock:
                self.in_dlq |= {m["Body"] for m in msgs.get("Messages", [])}

    def cycling(self) -> int:
        """1 while the poison message has not reached the DLQ yet, else 0."""
        return 0 if self.marker in self.seen_in_dlq() else 1

    def seen_in_dlq(self) -> set[str]:
        with self._lock:
            return set(self.in_dlq)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


POISON: PoisonBatch | None = None


@pytest.fixture
def poison(stack: Stack):
    global POISON
    sent = os.environ.get("E2E_POISON")
    POISON = PoisonBatch(stack, json.loads(Path(sent).read_text()) if sent else None)
    yield POISON
    POISON.close()
    POISON = None


def log_lines(stack: Stack, function_output: str, since_ms: int) -> list[dict]:
    """The function's JSON log lines since `since_ms` (its CloudWatch log group)."""
    logs, out = stack.client("logs"), list[dict]()
    kwargs = {"logGroupName": f"/aws/lambda/{stack.outputs[function_output]}", "startTime": since_ms}
    while True:
        try:
            page = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return out
        for e in page.get("events", []):
            with contextlib.suppress(ValueError):  # the runtime's plain-text lines
                out.append(json.loads(e["message"]))
        if not page.get("nextToken"):
            return out
        kwargs["nextToken"] = page["nextToken"]


def span_field(line: dict, name: str) -> str | None:
    """A field of the innermost span that has it (tracing's JSON: `span`, then `spans`)."""
    for span in [line.get("span") or {}, *reversed(line.get("spans") or [])]:
        if name in span:
            return span[name]
    return None
