"""SQS event source mappings at AWS's pace.

LocalStack's SQS poller short-polls when the batching window is 0, waits its poll interval after
every batch, backs off after empty polls and runs one batch at a time per mapping, so every hop
of a queue-driven pipeline costs ~200 ms locally and a mapping drains ~40 messages/s. On AWS a
mapping long-polls (a receive returns as soon as a message exists) and runs many batches at
once, up to ``ScalingConfig.MaximumConcurrency``.

:class:`FastSqsPoller` keeps LocalStack's poller (filtering, invocation, partial batch failures,
deletes; every SQS call still signed with the function's role, so IAM enforcement sees it) and
changes how batches are fetched and run:

- one receive at a time per mapping, a long poll that returns as soon as any message is there
  (with a batching window set, LocalStack's own wait-for-a-full-batch override, as before);
- each batch runs on its own thread, up to the mapping's concurrency (``MaximumConcurrency``, or
  ``HOSTMODE_ESM_DEFAULT_CONCURRENCY`` when unset; 1 for FIFO queues, which keep their order);
- no pause after a batch: the worker loop polls again at once (``poll_events`` never raises
  "empty", and the worker's poll interval is set to 0 by ``lsctl``);
- a clean stop: a long poll lasts at most ``HOSTMODE_ESM_WAIT_SECONDS`` (1 s), and the mapping
  reports Disabled only after its batches in flight have ended (as on AWS, a batch already
  received is processed).

``GET /_hostmode/mappings`` reports each mapping's messages, batches and peak batches in flight.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import (
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_MAX_WAIT_TIME_SECONDS,
    SqsPoller,
)

LOG = logging.getLogger(__name__)

WAIT_SECONDS = int(os.environ.get("HOSTMODE_ESM_WAIT_SECONDS", "1"))
DEFAULT_CONCURRENCY = int(os.environ.get("HOSTMODE_ESM_DEFAULT_CONCURRENCY", "5"))


class FastSqsPoller(SqsPoller):
    concurrency: int
    _slots: threading.BoundedSemaphore
    _inflight: set[threading.Thread]
    _lock: threading.Lock
    _closing: threading.Event
    _stats: MappingStats

    @classmethod
    def adopt(cls, poller: SqsPoller, concurrency: int) -> FastSqsPoller:
        """Turn LocalStack's poller into this one in place: its client hooks, queue URL and
        processor are already set up, and a second ``__init__`` would register the hooks twice."""
        poller.__class__ = cls
        fast: FastSqsPoller = poller
        fast.concurrency = max(1, concurrency)
        fast._slots = threading.BoundedSemaphore(fast.concurrency)
        fast._inflight = set()
        fast._lock = threading.Lock()
        fast._closing = threading.Event()
        fast._stats = _stats_for(poller.source_arn, getattr(poller.processor.sender, "target_arn", ""))
        return fast

    def poll_events(self) -> None:
        # A free slot first: the receive must not take messages nobody can run yet (their
        # visibility timeout would tick while they wait).
        while not self._slots.acquire(timeout=0.05):
            if self._closing.is_set():
                return
        try:
            messages = self._receive()
        except BaseException:
            self._slots.release()
            raise
        if not messages:
            self._slots.release()
            return
        self._stats.received(len(messages), self.concurrency)
        worker = threading.Thread(
            target=self._run_batch, args=(messages,), name=f"esm-batch-{self.source_arn}", daemon=True
        )
        with self._lock:
            self._inflight.add(worker)
        worker.start()

    def _receive(self) -> list[dict]:
        window = min(self.maximum_batching_window, DEFAULT_MAX_WAIT_TIME_SECONDS)
        response = self.source_client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, DEFAULT_MAX_RECEIVE_COUNT),
            # a long poll either way: returns at the first message when the window is 0
            WaitTimeSeconds=window or WAIT_SECONDS,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            sqs_override_max_message_count=self.batch_size,
            sqs_override_wait_time_seconds=self.maximum_batching_window,
        )
        return response.get("Messages", [])

    def _run_batch(self, messages: list[dict]) -> None:
        try:
            if self.is_fifo_queue:
                for group in _by_group(messages):
                    self.handle_messages(group)
            else:
                self.handle_messages(messages)
        except Exception as e:  # a failed batch comes back after its visibility timeout
            LOG.warning("batch from %s failed: %s", self.source_arn, e, exc_info=LOG.isEnabledFor(logging.DEBUG))
        finally:
            with self._lock:
                self._inflight.discard(threading.current_thread())
            self._stats.done()
            self._slots.release()

    def stop(self) -> None:
        """Stop taking batches (the worker's loop is ending)."""
        self._closing.set()

    def close(self) -> None:
        """Called by the worker when its loop has ended: wait for the batches in flight."""
        self._closing.set()
        with self._lock:
            running = list(self._inflight)
        for t in running:
            t.join()
        super().close()


class MappingStats:
    """What one queue's mapping to one function did (kept across the worker replacements an
    update makes): for benchmarks, e.g. SQS deliveries per order."""

    def __init__(self, queue_arn: str, function_arn: str):
        self.queue_arn, self.function_arn = queue_arn, function_arn
        self.messages = self.batches = self.inflight = self.peak_inflight = self.concurrency = 0
        self._lock = threading.Lock()

    def received(self, n: int, concurrency: int) -> None:
        with self._lock:
            self.messages += n
            self.batches += 1
            self.inflight += 1
            self.peak_inflight = max(self.peak_inflight, self.inflight)
            self.concurrency = concurrency

    def done(self) -> None:
        with self._lock:
            self.inflight -= 1

    def snapshot(self) -> dict:
        with self._lock:
            return {k: v for k, v in vars(self).items() if not k.startswith("_")}


_STATS: dict[tuple[str, str], MappingStats] = {}
_STATS_LOCK = threading.Lock()


def _stats_for(queue_arn: str, function_arn: str) -> MappingStats:
    with _STATS_LOCK:
        return _STATS.setdefault((queue_arn, function_arn), MappingStats(queue_arn, function_arn))


def stats() -> list[dict]:
    """Every SQS mapping's counters since LocalStack started (``GET /_hostmode/mappings``)."""
    with _STATS_LOCK:
        every = list(_STATS.values())
    return [m.snapshot() for m in every]


def _by_group(messages: list[dict]) -> list[list[dict]]:
    groups: dict[str, list[dict]] = {}
    for m in messages:
        groups.setdefault(m["Attributes"]["MessageGroupId"], []).append(m)
    return list(groups.values())


def concurrency_of(esm_config: dict, fifo_arn: bool) -> int:
    if fifo_arn:
        return 1
    scaling = esm_config.get("ScalingConfig") or {}
    return int(scaling.get("MaximumConcurrency") or DEFAULT_CONCURRENCY)


def install() -> None:
    """Swap the SQS poller of every event source mapping worker created from now on."""
    from localstack.services.lambda_.event_source_mapping import esm_worker_factory

    factory = esm_worker_factory.EsmWorkerFactory
    if getattr(factory, "_hostmode_fast_sqs", False):
        return
    original = factory.get_esm_worker

    def get_esm_worker(self):
        worker = original(self)
        poller = worker.poller
        if type(poller) is SqsPoller:
            fifo = poller.source_arn.endswith(".fifo")
            fast = FastSqsPoller.adopt(poller, concurrency_of(self.esm_config, fifo))
            _stop_poller_with_worker(worker, fast)
            _succeed(_workers.get(worker.uuid), worker)
            _workers[worker.uuid] = worker
        return worker

    factory.get_esm_worker = get_esm_worker
    factory._hostmode_fast_sqs = True


# The latest worker of each mapping: LocalStack replaces a mapping's worker on every update.
_workers: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _stop_poller_with_worker(worker, poller: FastSqsPoller) -> None:
    """A poller waiting for a free slot must see the worker's stop; the worker only sets its
    shutdown event, which the poller does not know of."""
    for name in ("stop", "delete", "stop_for_shutdown"):
        original = getattr(worker, name)

        def stopping(*args, _original=original, **kwargs):
            poller.stop()
            return _original(*args, **kwargs)

        setattr(worker, name, stopping)

    original_start = worker.start

    def start(*args, **kwargs):
        poller._closing.clear()
        return original_start(*args, **kwargs)

    worker.start = start


def _succeed(predecessor, worker) -> None:
    """An update stops the old worker and creates the new one at once; a disabled new worker
    reports Disabled at once, while the old one may still be in a long poll or running a batch
    (and would take a message sent after "Disabled"). The new worker starts (or reports
    Disabled) only when the old one's loop has ended; until then the mapping reads Disabling
    (or Enabling)."""
    if predecessor is None:
        return
    from localstack.services.lambda_.event_source_mapping.esm_worker import EsmState

    original_create = worker.create

    def create():
        thread = predecessor._poller_thread
        if thread is None or not thread.is_alive():
            return original_create()
        pending = EsmState.ENABLING if worker.enabled else EsmState.DISABLING
        with worker._state_lock:
            worker.current_state = pending
        worker.update_esm_state_in_store(pending)

        def after_predecessor():
            thread.join()
            original_create()

        threading.Thread(target=after_predecessor, name=f"esm-succeed-{worker.uuid}", daemon=True).start()

    worker.create = create
