"""`make redrive` (scripts/ops/redrive.py) without an emulator: a DLQ of an SQS queue is moved with
StartMessageMoveTask, any other DLQ (an SNS subscription's) by receive, send and delete, at the
rate given, its messages' bodies and attributes kept and deleted only once sent."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from botocore.exceptions import ClientError

import ops_target
import redrive

ARN = "arn:aws:sqs:us-east-1:000000000000:"


class FakeSqs:
    """The SQS calls redrive.py makes, on in-memory queues (url -> name)."""

    def __init__(self, sources: dict[str, list[str]]):
        self.queues: dict[str, list[dict]] = {}
        self.hidden: dict[str, dict] = {}  # receipt handle (url#id) -> message
        self.sources = sources
        self.fail_send: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count()

    def put(self, url: str, body: str, attrs: dict | None = None) -> None:
        m = {"MessageId": f"m{next(self._ids)}", "Body": body, "MessageAttributes": attrs or {}}
        self.queues.setdefault(url, []).append(m)

    def bodies(self, url: str) -> list[str]:
        return [m["Body"] for m in self.queues.get(url, [])]

    # -- the API
    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict:
        n = len(self.queues.get(QueueUrl, [])) + sum(1 for h in self.hidden if h.split("#")[0] == QueueUrl)
        attrs = {"QueueArn": ARN + QueueUrl, "ApproximateNumberOfMessages": str(n)}
        return {"Attributes": {k: attrs.get(k, "0") for k in AttributeNames}}

    def list_dead_letter_source_queues(self, QueueUrl: str, MaxResults: int) -> dict:
        return {"queueUrls": self.sources.get(QueueUrl, [])[:MaxResults]}

    def start_message_move_task(self, **kw: Any) -> dict:
        source = kw["SourceArn"].removeprefix(ARN)
        self.calls.append(("StartMessageMoveTask", source))
        if not self.sources.get(source):  # as SQS answers
            raise ClientError(
                {
                    "Error": {
                        "Code": "InvalidParameterValue",
                        "Message": "Source queue must be configured as a Dead Letter Queue.",
                    }
                },
                "StartMessageMoveTask",
            )
        return {"TaskHandle": "h"}

    def list_message_move_tasks(self, SourceArn: str, MaxResults: int) -> dict:
        return {"Results": [{"Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 1}]}

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int, **kw: Any) -> dict:
        self.calls.append(("ReceiveMessage", QueueUrl))
        q = self.queues.get(QueueUrl, [])
        taken, q[:] = q[:MaxNumberOfMessages], q[MaxNumberOfMessages:]
        out = []
        for m in taken:
            handle = f"{QueueUrl}#{m['MessageId']}"
            self.hidden[handle] = m
            out.append({**m, "ReceiptHandle": handle})
        return {"Messages": out} if out else {}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        self.calls.append(("SendMessageBatch", QueueUrl))
        ok, failed = [], []
        for e in Entries:
            if e["MessageBody"] in self.fail_send:
                failed.append({"Id": e["Id"], "Code": "KMS.Throttled", "SenderFault": False})
                continue
            self.put(QueueUrl, e["MessageBody"], e.get("MessageAttributes"))
            ok.append({"Id": e["Id"]})
        return {"Successful": ok, "Failed": failed}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        self.calls.append(("DeleteMessageBatch", QueueUrl))
        for e in Entries:
            del self.hidden[e["ReceiptHandle"]]
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        for e in Entries:
            self.queues.setdefault(QueueUrl, []).append(self.hidden.pop(e["ReceiptHandle"]))
        return {}


class FakeTarget(ops_target.Target):
    def __init__(self, sqs: FakeSqs):
        outputs = {
            "InventoryQueueUrl": "inv",
            "InventoryDLQUrl": "inv-dlq",
            "InventorySubscriptionDLQUrl": "inv-sub-dlq",
        }
        super().__init__("orders-pipeline", outputs, None, None)
        self.sqs = sqs

    def client(self, service: str) -> Any:
        return self.sqs


ORDER_PLACED = {"type": {"DataType": "String", "StringValue": "OrderPlaced", "StringListValues": []}}


@pytest.fixture
def sqs() -> FakeSqs:
    # inv-dlq is the inventory queue's redrive DLQ; inv-sub-dlq only the subscription's
    return FakeSqs(sources={"inv-dlq": ["inv"]})


@pytest.fixture
def make_redrive(sqs, monkeypatch):
    """`make redrive QUEUE=inventory RATE=10` against the fake: its exit status."""
    monkeypatch.setattr(ops_target, "target", lambda args: FakeTarget(sqs))

    def run() -> int:
        monkeypatch.setattr("sys.argv", ["redrive.py", "--queue", "inventory", "--rate", "10", "--wait", "1"])
        return redrive.main()

    return run


def test_a_subscription_dlq_is_moved_by_hand_and_a_queue_dlq_by_move_task(sqs, make_redrive, capsys):
    sqs.put("inv-dlq", "failed in the consumer")
    sqs.put("inv-sub-dlq", '{"type": "OrderPlaced"}', ORDER_PLACED)

    assert make_redrive() == 0

    assert ("StartMessageMoveTask", "inv-dlq") in sqs.calls
    assert ("StartMessageMoveTask", "inv-sub-dlq") not in sqs.calls  # SQS would refuse it
    assert ("ReceiveMessage", "inv-dlq") not in sqs.calls
    assert sqs.bodies("inv-sub-dlq") == [] and not sqs.hidden
    moved = sqs.queues["inv"][0]
    assert moved["Body"] == '{"type": "OrderPlaced"}'
    assert moved["MessageAttributes"] == {"type": {"DataType": "String", "StringValue": "OrderPlaced"}}
    out = capsys.readouterr().out
    assert "moving 1 message(s) InventorySubscriptionDLQ -> InventoryQueue" in out
    assert out.count("moved 1 message(s)") == 2


def test_a_message_is_deleted_only_once_sent(sqs, make_redrive, capsys):
    for body in ("a", "b", "c"):
        sqs.put("inv-sub-dlq", body)
    sqs.fail_send = {"b"}

    assert make_redrive() == 1

    assert sqs.bodies("inv") == ["a", "c"]
    # the one not sent is still in the DLQ, visible again
    assert sqs.bodies("inv-sub-dlq") == ["b"] and not sqs.hidden
    assert sqs.calls.index(("SendMessageBatch", "inv")) < sqs.calls.index(("DeleteMessageBatch", "inv-sub-dlq"))
    assert "not moved, left in the DLQ: m1: KMS.Throttled" in capsys.readouterr().err


def test_the_rate_is_kept(sqs):
    for i in range(25):
        sqs.put("inv-sub-dlq", str(i))
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    moved, failures = redrive.move_by_hand(sqs, "inv-sub-dlq", "inv", rate=5, sleep=sleep, clock=lambda: now[0])

    assert (moved, failures) == (25, [])
    assert sqs.bodies("inv") == [str(i) for i in range(25)]
    # batches of at most `rate`, and 25 messages at 5/s take 5 s
    assert sqs.calls.count(("SendMessageBatch", "inv")) == 5
    assert sum(slept) == pytest.approx(5.0)


def test_nothing_to_redrive(make_redrive, capsys):
    assert make_redrive() == 0
    assert "nothing to redrive" in capsys.readouterr().out
