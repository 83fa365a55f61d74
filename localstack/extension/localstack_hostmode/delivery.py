"""Delivery order as loose as AWS's: standard queues and SNS -> SQS deliveries out of order.

An SQS standard queue does not preserve order, and SNS does not deliver a standard topic's
messages to a subscription in publish order. LocalStack does both in order, so code that
silently depends on order passes locally and breaks on AWS. With a reorder window of N ms
(``HOSTMODE_REORDER_MS``, default 0 = off; ``PUT /_hostmode/delivery {"reorder_ms": N}`` at run
time):

- every message put on a standard queue (SendMessage, SendMessageBatch, SNS deliveries, DLQ
  moves) becomes receivable after a random hold of 0..N ms and is ordered by the end of that
  hold, so it can be overtaken by messages sent up to N ms after it; a message with its own
  DelaySeconds keeps that delay and gets the random order key only. Held messages are in the
  queue's ``delayed`` set meanwhile (purge drops them; ApproximateNumberOfMessagesDelayed counts
  them);
- each SNS delivery of a standard topic to an SQS subscription starts after a random 0..N ms,
  so one topic's deliveries reach a subscription out of publish order (and their SentTimestamp
  shows it).

FIFO queues and FIFO topics are untouched: their order holds. One timer thread serves every
hold and delay (no thread per message).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable

from localstack.http import Request, Response, route

LOG = logging.getLogger(__name__)


class Reorder:
    """The reorder window and what it did (``GET /_hostmode/delivery``)."""

    def __init__(self, ms: float) -> None:
        self.ms = ms
        self.sqs_held = 0
        self.sns_delayed = 0

    def jitter(self) -> float:
        """A random hold in seconds, 0 when off."""
        ms = self.ms
        return random.uniform(0, ms) / 1000 if ms > 0 else 0.0

    def snapshot(self) -> dict:
        return {"reorder_ms": self.ms, "sqs_held": self.sqs_held, "sns_delayed": self.sns_delayed}


def _env_ms() -> float:
    try:
        return max(0.0, float(os.environ.get("HOSTMODE_REORDER_MS") or 0))
    except ValueError:
        LOG.warning("HOSTMODE_REORDER_MS=%r is not a number: reorder off", os.environ["HOSTMODE_REORDER_MS"])
        return 0.0


REORDER = Reorder(_env_ms())


class Timer:
    """Calls functions after a delay, from one daemon thread (a heap ordered by due time)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cv = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), fn))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hostmode-delivery", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._heap:
                    self._cv.wait()
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                fn = heapq.heappop(self._heap)[2]
            try:
                fn()
            except Exception:  # one failed release must not stop the others
                LOG.exception("hostmode delivery: delayed call failed")


TIMER = Timer()


def _release(queue, message) -> None:
    """The hold is over: the message becomes receivable (unless purged or taken meanwhile)."""
    with queue.mutex:
        if message in queue.delayed:
            queue.delayed.remove(message)
            queue._put_message(message)


def _patch_standard_queue() -> None:
    from localstack.services.sqs.models import StandardQueue

    if getattr(StandardQueue, "_hostmode_reorder", False):
        return
    original = StandardQueue.put

    def put(
        self, message, visibility_timeout=None, message_deduplication_id=None, message_group_id=None, delay_seconds=None
    ):
        jitter = REORDER.jitter()
        if not jitter:
            return original(
                self, message, visibility_timeout, message_deduplication_id, message_group_id, delay_seconds
            )
        own_delay = delay_seconds if delay_seconds is not None else self.delay_seconds
        # A message not delayed by its sender is held as a delayed one for `jitter` seconds.
        held = original(
            self, message, visibility_timeout, message_deduplication_id, message_group_id, own_delay or jitter
        )
        with self.mutex:
            if held in self.delayed:  # not yet in the visible heap: its order key may change
                held.priority = held.created + jitter
                if not own_delay:
                    REORDER.sqs_held += 1
                    TIMER.call_later(held.created + jitter - time.time(), functools.partial(_release, self, held))
        return held

    StandardQueue.put = put
    StandardQueue._hostmode_reorder = True


def _patch_sns_dispatch() -> None:
    from localstack.services.sns.publisher import PublishDispatcher

    if getattr(PublishDispatcher, "_hostmode_reorder", False):
        return
    original = PublishDispatcher._submit_notification

    def submit_later(self, notifier, ctx, subscriber) -> None:
        try:
            original(self, notifier, ctx, subscriber)
        except RuntimeError:  # the executor was shut down meanwhile (LocalStack stopping)
            LOG.info("hostmode delivery: SNS delivery dropped, publisher shut down")

    def _submit_notification(self, notifier, ctx, subscriber):
        jitter = REORDER.jitter()
        fifo = (subscriber.get("TopicArn") or "").endswith(".fifo")
        if jitter and subscriber.get("Protocol") == "sqs" and not fifo:
            REORDER.sns_delayed += 1
            TIMER.call_later(jitter, functools.partial(submit_later, self, notifier, ctx, subscriber))
            return
        original(self, notifier, ctx, subscriber)

    PublishDispatcher._submit_notification = _submit_notification
    PublishDispatcher._hostmode_reorder = True


def _json(body, status=200) -> Response:
    return Response(json.dumps(body, indent=1), status=status, mimetype="application/json")


class DeliveryApi:
    @route("/_hostmode/delivery", methods=["GET"])
    def get_delivery(self, request: Request):
        return _json(REORDER.snapshot())

    @route("/_hostmode/delivery", methods=["PUT", "POST"])
    def put_delivery(self, request: Request):
        try:
            ms = float(json.loads(request.get_data() or b"{}")["reorder_ms"])
            if not 0 <= ms < float("inf"):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            return _json({"error": "bad_request", "message": 'expected {"reorder_ms": <number >= 0>}'}, 400)
        REORDER.ms = ms
        LOG.info("hostmode delivery: reorder window %s ms", ms)
        return _json(REORDER.snapshot())


def install() -> None:
    from localstack.services.edge import ROUTER

    _patch_standard_queue()
    _patch_sns_dispatch()
    ROUTER.add(DeliveryApi())
    LOG.info("hostmode: delivery reorder window %s ms", REORDER.ms)
