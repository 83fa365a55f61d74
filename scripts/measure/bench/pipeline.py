"""The deployed pipeline under load: POST /orders -> CONFIRMED, open loop at set rates and
closed loop with N clients.

Completion is seen without asking the API: a tap queue subscribed to the order-events topic
(filtered to `OrderStatusChanged`) receives the status change order-status publishes when it
confirms an order, and SQS's `SentTimestamp` says when it arrived. Open-loop latency counts from
the time a request was due, not when it was sent, so a slow system cannot hide its queueing
(coordinated omission)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

import local_aws
from bench.hdr import Latency
from orders_client import Stack

CONSUMER_QUEUES = ("InventoryQueueUrl", "OrderStatusQueueUrl", "NotificationQueueUrl")


class ConfirmTap:
    """order id -> epoch ms at which its CONFIRMED status change was published."""

    def __init__(self, stack: Stack):
        self.sqs, self.sns = stack.client("sqs"), stack.client("sns")
        self.url = self.sqs.create_queue(QueueName=f"bench-tap-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.subscription = self.sns.subscribe(
            TopicArn=stack.outputs["OrderEventsTopicArn"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"type": ["OrderStatusChanged"]})},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.confirmed: dict[str, int] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            msgs = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            if not msgs:
                continue
            with self._cond:
                for m in msgs:
                    body = json.loads(m["Body"])
                    if body.get("data", {}).get("status") == "CONFIRMED":
                        self.confirmed.setdefault(body["order_id"], int(m["Attributes"]["SentTimestamp"]))
                self._cond.notify_all()
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)],
            )

    def wait(self, order_ids: set[str] | list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not set(order_ids) <= self.confirmed.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sns.unsubscribe(SubscriptionArn=self.subscription)
        self.sqs.delete_queue(QueueUrl=self.url)


def localstack_cpu_s() -> float:
    """CPU seconds the LocalStack process has used (it runs Python: one core at most, mostly)."""
    pid = int((local_aws.ROOT / ".localstack" / "localstack.pid").read_text().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    name: str
    offered: float | None  # orders/s offered (open loop); None for closed loop
    orders: int
    achieved: float  # orders/s confirmed
    latency: Latency
    deliveries: int  # SQS messages the stack's three mappings handled meanwhile
    unconfirmed: int  # POSTs without a 202, or not CONFIRMED within the deadline
    localstack_busy: float = 0.0  # LocalStack's CPU seconds per second of the run


class Pipeline:
    def __init__(self, skus: int = 16):
        self.stack = Stack()
        self.tap = ConfirmTap(self.stack)
        self.skus = [f"BENCH-{uuid.uuid4().hex[:6].upper()}-{i}" for i in range(skus)]
        for sku in self.skus:
            self.stack.set_stock(sku, 10_000_000)
        self._local = threading.local()
        sqs = self.stack.client("sqs")
        self.queue_arns = {
            sqs.get_queue_attributes(QueueUrl=self.stack.outputs[k], AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            for k in CONSUMER_QUEUES
        }
        self._n = 0
        self._n_lock = threading.Lock()

    @staticmethod
    def requests() -> dict[str, int]:
        """Requests LocalStack's gateway served so far, by "service.Operation" (+ " (internal)")."""
        return {
            f"{x['service']}.{x['operation']}" + (" (internal)" if x["internal"] else ""): x["count"]
            for x in local_aws.hostmode("requests")["requests"]
        }

    def deliveries(self) -> int:
        mappings = local_aws.hostmode("mappings")["mappings"]
        return sum(m["messages"] for m in mappings if m["queue_arn"] in self.queue_arns)

    def _post(self) -> tuple[str | None, float]:
        """One order (its own session per thread); (order id or None, epoch ms when sent)."""
        if not hasattr(self._local, "http"):
            self._local.http = requests.Session()
        with self._n_lock:
            self._n += 1
            n = self._n
        sent = time.time() * 1000
        body = {"lines": [{"sku": self.skus[n % len(self.skus)], "quantity": 1}]}
        token = self.stack.users.token(self.stack.customer("bench-customer"))
        r = self._local.http.post(
            self.stack.api_url + "/orders",
            data=json.dumps(body),
            headers={
                "content-type": "application/json",
                "x-api-key": self.stack.api_key,
                "authorization": f"Bearer {token}",
            },
            timeout=30,
        )
        return (r.json()["order_id"] if r.status_code == 202 else None), sent

    def closed_loop(self, clients: int, per_client: int) -> Run:
        lat = Latency(f"closed loop, {clients} clients")
        failed = 0
        lock = threading.Lock()
        before = self.deliveries()

        def client(_: int) -> None:
            nonlocal failed
            for _ in range(per_client):
                order, sent = self._post()
                if order is None or not self.tap.wait([order], 60):
                    with lock:
                        failed += 1
                    continue
                with lock:
                    lat.add_ms(self.tap.confirmed[order] - sent)

        start, cpu = time.monotonic(), localstack_cpu_s()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        wall = time.monotonic() - start
        busy = (localstack_cpu_s() - cpu) / wall
        return Run(lat.name, None, lat.count, lat.count / wall, lat, self.deliveries() - before, failed, busy)

    def open_loop(self, rate: float, seconds: float) -> Run:
        lat = Latency(f"open loop, {rate:g} orders/s offered")
        n = max(1, round(rate * seconds))
        due: dict[str, float] = {}
        failed = 0
        lock = threading.Lock()
        before = self.deliveries()

        def fire(scheduled_ms: float) -> None:
            nonlocal failed
            order, _ = self._post()
            with lock:
                if order is None:
                    failed += 1
                else:
                    due[order] = scheduled_ms

        t0, cpu = time.time(), localstack_cpu_s()
        with ThreadPoolExecutor(64) as pool:
            for i in range(n):
                at = t0 + i / rate
                time.sleep(max(0.0, at - time.time()))  # pacing: the schedule, not a wait for a result
                pool.submit(fire, at * 1000)
        self.tap.wait(list(due), 120)
        busy = (localstack_cpu_s() - cpu) / (time.time() - t0)
        done = {o: self.tap.confirmed[o] for o in due if o in self.tap.confirmed}
        for order, confirmed_ms in done.items():
            lat.add_ms(confirmed_ms - due[order])
        span = (max(done.values()) / 1000 - t0) if done else float("inf")
        return Run(lat.name, rate, len(done), len(done) / span, lat, self.deliveries() - before, n - len(done), busy)

    def close(self) -> None:
        self.tap.close()
