"""Fixtures for the end-to-end tests: the deployed stack (make deploy), and a tap that records
every message published on the stack's three topics, so tests can assert on what was published
without touching the consumers' own queues."""

from __future__ import annotations

import json
import threading
import uuid
from contextlib import contextmanager

import pytest
import requests

from local_aws import STACK_FILE
from orders_client import Stack, wait_for


# Each test uses its own SKUs and customers, so tests can run in any order.
def new_sku(prefix: str = "E2E") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def new_customer() -> str:
    return f"cust-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def stack() -> Stack:
    if not STACK_FILE.exists():
        pytest.fail(f"{STACK_FILE} is missing: deploy the stack first (make deploy)")
    return Stack(STACK_FILE)


class Tap:
    """One SQS queue subscribed (raw delivery, no filter) to every topic of the stack. A
    background thread drains it into memory; tests query what was published."""

    TOPICS = ("OrderEventsTopicArn", "InventoryEventsTopicArn", "CustomerNotificationsTopicArn")

    def __init__(self, stack: Stack):
        self.sqs = stack.client("sqs")
        self.sns = stack.client("sns")
        name = f"e2e-tap-{uuid.uuid4().hex[:8]}"
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.subscriptions = []
        for key in self.TOPICS:
            sub = self.sns.subscribe(
                TopicArn=stack.outputs[key],
                Protocol="sqs",
                Endpoint=arn,
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )
            self.subscriptions.append(sub["SubscriptionArn"])
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            resp = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in resp.get("Messages", []):
                try:
                    body = json.loads(m["Body"])
                except ValueError:
                    body = {"unparsed": m["Body"]}
                with self._lock:
                    self.messages.append(body)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])

    def events(self, order_id: str | None = None, type_: str | None = None) -> list[dict]:
        with self._lock:
            msgs = list(self.messages)
        return [
            m
            for m in msgs
            if (order_id is None or m.get("order_id") == order_id) and (type_ is None or m.get("type") == type_)
        ]

    def wait_event(self, order_id: str, type_: str, timeout: float = 60) -> list[dict]:
        return wait_for(lambda: self.events(order_id, type_), bool, timeout, f"{type_} for order {order_id}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for arn in self.subscriptions:
            self.sns.unsubscribe(SubscriptionArn=arn)
        self.sqs.delete_queue(QueueUrl=self.url)


@contextmanager
def mapping_paused(stack: Stack, function_output: str):
    """A function's event source mapping disabled (a consumer outage) while the block runs;
    enabled again afterwards, also when the block fails."""
    lam = stack.client("lambda")
    fn = stack.outputs[function_output]
    mapping = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"][0]["UUID"]

    def state():
        return lam.get_event_source_mapping(UUID=mapping)["State"]

    lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    try:
        wait_for(state, lambda s: s == "Disabled", 60, "mapping disabled")
        yield
    finally:
        lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    wait_for(state, lambda s: s == "Enabled", 60, "mapping enabled")


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


@pytest.fixture(scope="session")
def tap(stack: Stack):
    t = Tap(stack)
    yield t
    t.close()


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
    """Waits until a consumer queue holds no message, visible or in flight."""
    wait_for(lambda: stack.queue_depth(output_key), lambda d: d == (0, 0), timeout, f"{output_key} to drain")
