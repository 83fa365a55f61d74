"""What the flash sale reads as an operator, never through the API under test: the orders and the
SKU's stock items from their tables, the DLQs' depths and the run's messages in them, the
functions' logs (give-ups, deferrals, shard changes, the EMF metrics) and the extension's
conflict counter."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import local_aws
from orders_client import Stack

DECIDED = {"CONFIRMED", "REJECTED", "CANCELLED"}
TIMEOUT_REASON = "no stock decision within the pending timeout"
DLQS = (
    "InventoryDLQUrl",
    "InventorySubscriptionDLQUrl",
    "OrderStatusDLQUrl",
    "OrderStatusSubscriptionDLQUrl",
    "NotificationDLQUrl",
    "NotificationSubscriptionDLQUrl",
)
FUNCTIONS = {
    "orders-api": "OrdersApiFunctionName",
    "inventory": "InventoryFunctionName",
    "order-status": "OrderStatusFunctionName",
    "notification": "NotificationFunctionName",
    "outbox-sweeper": "OutboxSweeperFunctionName",
}
# Log messages counted per function (the batch runner's and the inventory's own words).
LOG_MARKS = {
    "given up": "give-ups",
    "not started": "not started",
    "deferred": "deferred",
    "failed; SQS will retry": "record failures",
    "stock shards raised": "shards raised",
}


def ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


@dataclass
class Decision:
    order_id: str
    status: str
    quantity: int
    created: float
    decided: float | None  # when it left PENDING (history), None while pending
    reason: str | None

    @property
    def by_timeout(self) -> bool:
        return bool(self.reason and self.reason.startswith(TIMEOUT_REASON))


def decisions(stack: Stack, order_ids: list[str]) -> list[Decision]:
    """The orders as stored (BatchGetItem, strongly consistent), in `order_ids` order."""
    ddb, table = stack.client("dynamodb"), stack.outputs["OrdersTableName"]
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(order_ids), 100):
        keys: list[dict[str, Any]] = [{"order_id": {"S": o}} for o in order_ids[i : i + 100]]
        while keys:
            out = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
            for item in out["Responses"].get(table, []):
                found[item["order_id"]["S"]] = item
            keys = out.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    result = []
    for oid in order_ids:
        item = found.get(oid)
        if item is None:
            result.append(Decision(oid, "MISSING", 0, 0.0, None, None))
            continue
        history = [h["M"] for h in item.get("history", {}).get("L", [])]
        last = next((h for h in history if h["status"]["S"] != "PENDING"), None)
        result.append(
            Decision(
                oid,
                item["status"]["S"],
                sum(int(line["M"]["quantity"]["N"]) for line in item["lines"]["L"]),
                ts(item["created_at"]["S"]),
                ts(last["at"]["S"]) if last else None,
                last["reason"]["S"] if last and "reason" in last else None,
            )
        )
    return result


def stock_items(stack: Stack, sku: str) -> list[dict[str, Any]]:
    """The product item and its shard items (`<sku>#shard#<k>`), read strongly consistent."""
    table = stack.table("ProductsTableName")
    head = table.get_item(Key={"sku": sku}, ConsistentRead=True).get("Item")
    if head is None:
        return []
    slots = int(head.get("shard_slots", 1))
    items = [head]
    for k in range(1, slots):
        item = table.get_item(Key={"sku": f"{sku}#shard#{k}"}, ConsistentRead=True).get("Item")
        if item is not None:
            items.append(item)
    return items


def dlq_depths(stack: Stack) -> dict[str, int]:
    sqs = stack.client("sqs")
    return {q: sum(local_aws.queue_depth(sqs, stack.outputs[q])) for q in DLQS}


def dlq_messages_of(stack: Stack, order_ids: set[str]) -> Counter[str]:
    """This run's messages in each DLQ, peeked (received with a visibility timeout, then made
    visible again)."""
    sqs, found = stack.client("sqs"), Counter[str]()
    for q in DLQS:
        url, handles, seen = stack.outputs[q], [], set()
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
            if not batch:
                break
            for m in batch:
                handles.append(m["ReceiptHandle"])
                if m["MessageId"] in seen:
                    continue
                seen.add(m["MessageId"])
                try:
                    body = json.loads(m["Body"])
                except ValueError:
                    continue
                if isinstance(body, dict) and "Message" in body and "TopicArn" in body:
                    try:
                        body = json.loads(body["Message"])  # an SNS envelope (subscription DLQ)
                    except ValueError:
                        continue
                if isinstance(body, dict) and body.get("order_id") in order_ids:
                    found[q] += 1
        for i in range(0, len(handles), 10):
            chunk = handles[i : i + 10]
            entries = [{"Id": str(j), "ReceiptHandle": h, "VisibilityTimeout": 0} for j, h in enumerate(chunk)]
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return found


@dataclass
class LogFigures:
    marks: dict[str, Counter[str]] = field(default_factory=dict)  # function -> mark -> lines
    metrics: dict[str, Counter[str]] = field(default_factory=dict)  # function -> metric -> sum
    shard_changes: list[tuple[float, int]] = field(default_factory=list)  # (time, new count)
    deferral_times: list[float] = field(default_factory=list)
    giveup_times: list[float] = field(default_factory=list)


def log_figures(stack: Stack, since: float) -> LogFigures:
    logs, out = stack.client("logs"), LogFigures()
    for name, key in FUNCTIONS.items():
        marks, metrics = Counter[str](), Counter[str]()
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{stack.outputs[key]}", "startTime": int(since * 1000)}
        while True:
            try:
                page = logs.filter_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                break
            for e in page.get("events", []):
                _one_line(e["message"], e["timestamp"] / 1000, marks, metrics, out)
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        out.marks[name], out.metrics[name] = marks, metrics
    return out


def _one_line(message: str, at: float, marks: Counter[str], metrics: Counter[str], out: LogFigures) -> None:
    try:
        line = json.loads(message)
    except ValueError:
        return
    if not isinstance(line, dict):
        return
    if "_aws" in line:  # an EMF record: one value per metric name
        for m in line["_aws"].get("CloudWatchMetrics", [{}])[0].get("Metrics", []):
            value = line.get(m["Name"])
            if isinstance(value, (int, float)):
                metrics[m["Name"]] += int(value)
        return
    text = str(line.get("message") or line.get("fields", {}).get("message", ""))
    for mark, label in LOG_MARKS.items():
        if mark in text:
            marks[label] += 1
            if label == "deferred":
                out.deferral_times.append(at)
            elif label == "give-ups":
                out.giveup_times.append(at)
            elif label == "shards raised":
                to = line.get("to") or line.get("fields", {}).get("to")
                if to is not None:
                    out.shard_changes.append((at, int(to)))


def conflicts() -> int:
    """Transaction conflicts the extension's contention model has answered so far (all callers)."""
    return sum(local_aws.hostmode("contention")["conflicts"].values())
