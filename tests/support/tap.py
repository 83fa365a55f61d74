"""A tap on the stack's topics: one SQS queue subscribed (raw delivery, no filter) to the
topics given, drained into memory by a background thread, so tests and the soak can see what
was published without touching the consumers' own queues. With `check_contracts`, every
message is checked against its event schema as it arrives (`contracts.violations`). With
`record`, each message is also appended to a JSON-lines file, which `FileTap` reads: one tap
serves every worker of a parallel test run (tests/e2e/tap_process.py)."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import contracts
from orders_client import Stack, wait_for

ALL_TOPICS = ("OrderEventsTopicArn", "InventoryEventsTopicArn", "CustomerNotificationsTopicArn")


class Tap:
    def __init__(
        self,
        stack: Stack,
        topics: tuple[str, ...] = ALL_TOPICS,
        prefix: str = "tap",
        check_contracts: bool = False,
        record: Path | None = None,
    ):
        self.sqs = stack.client("sqs")
        self.sns = stack.client("sns")
        self.url = self.sqs.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.subscriptions = [
            self.sns.subscribe(
                TopicArn=stack.outputs[key],
                Protocol="sqs",
                Endpoint=arn,
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            for key in topics
        ]
        self.messages: list[dict] = []
        self.check_contracts = check_contracts
        self.violations: list[str] = []
        self._record = open(record, "a", encoding="utf-8") if record else None  # noqa: SIM115 (closed in close)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            resp = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            )
            msgs = resp.get("Messages", [])
            for m in msgs:
                try:
                    body = json.loads(m["Body"])
                except ValueError:
                    body = {"unparsed": m["Body"]}
                wrong = contracts.violations(m["Body"], m.get("MessageAttributes", {})) if self.check_contracts else []
                with self._lock:
                    self.messages.append(body)
                    self.violations += wrong
                if self._record:
                    self._record.write(json.dumps({"body": body, "violations": wrong}) + "\n")
            if self._record and msgs:
                self._record.flush()
            # One request for the lot: the emulator is the bottleneck, and a tap per test worker
            # (or the soak's) deleting one message at a time added ~6 requests per order.
            if msgs:
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
                )

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

    def contract_violations(self) -> list[str]:
        with self._lock:
            return list(self.violations)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for arn in self.subscriptions:
            self.sns.unsubscribe(SubscriptionArn=arn)
        self.sqs.delete_queue(QueueUrl=self.url)
        if self._record:
            self._record.close()


class FileTap:
    """What a recording Tap in another process has seen, read from its JSON-lines file as it
    grows (only whole lines), with Tap's reading methods."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        self._messages: list[dict] = []
        self._violations: list[str] = []
        self._lock = threading.Lock()

    def _read(self) -> None:
        with self._lock, open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
            whole = chunk[: chunk.rfind(b"\n") + 1]
            self._offset += len(whole)
            for line in whole.decode("utf-8").splitlines():
                entry = json.loads(line)
                self._messages.append(entry["body"])
                self._violations += entry["violations"]

    def events(self, order_id: str | None = None, type_: str | None = None) -> list[dict]:
        self._read()
        with self._lock:
            msgs = list(self._messages)
        return [
            m
            for m in msgs
            if (order_id is None or m.get("order_id") == order_id) and (type_ is None or m.get("type") == type_)
        ]

    def wait_event(self, order_id: str, type_: str, timeout: float = 60) -> list[dict]:
        return wait_for(lambda: self.events(order_id, type_), bool, timeout, f"{type_} for order {order_id}")

    def contract_violations(self) -> list[str]:
        self._read()
        with self._lock:
            return list(self._violations)

    def close(self) -> None:
        pass
