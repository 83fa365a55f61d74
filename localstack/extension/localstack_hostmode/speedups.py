"""Per-request costs of LocalStack that a local pipeline pays dozens of times per order, cut
without changing what any API answers (measured with py-spy under `make bench`'s load; see
docs/bench/README.md):

- Twisted parses every request's Content-Type with an ``email.message.EmailMessage`` (about a
  tenth of LocalStack's CPU under load); the few content types AWS clients send are now parsed
  once each.
- SQS puts one CloudWatch ``PutMetricData`` request through the gateway for every
  SendMessage, ReceiveMessage and DeleteMessage (``NumberOfMessagesSent``, ...), and Lambda one
  for every invocation (``Invocations``, ``Errors``): a request behind each request. They are
  summed in memory instead and put once per ``HOSTMODE_METRICS_FLUSH_SECONDS`` (default 10 s;
  AWS's own metrics are per minute), with the same namespaces, names and dimensions.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import threading
from collections import defaultdict
from datetime import UTC, datetime

LOG = logging.getLogger(__name__)

FLUSH_SECONDS = float(os.environ.get("HOSTMODE_METRICS_FLUSH_SECONDS", "10"))


def install() -> None:
    fast_moto_item_copies()
    _cache_content_type_parsing()
    _aggregate_sqs_metrics()
    _aggregate_lambda_metrics()


def fast_moto_item_copies() -> None:
    """moto deep-copies the item on every UpdateItem (and items on reads and transactions)
    through ``copy``'s generic reduce protocol, and rebuilding its ``LimitedSizeDict`` that way
    re-sums the size of every attribute at each insert: about half of an UpdateItem's time,
    ~5 ms for an order item. Copies of the same values, made directly (the sizes were checked
    when the item was written)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    if getattr(DynamoType, "_hostmode_fast_copy", False):
        return
    scalars = (str, int, float, bool, bytes, type(None))

    def fast(v, memo):
        t = type(v)
        if t in scalars:
            return v
        if t is DynamoType:
            return copy_dynamo(v, memo)
        if t is list:
            return [fast(x, memo) for x in v]
        if t is dict:
            return {k: fast(x, memo) for k, x in v.items()}
        return copy.deepcopy(v, memo)

    def copy_dynamo(self, memo):
        new = DynamoType.__new__(DynamoType)
        new.__dict__.update({k: fast(x, memo) for k, x in self.__dict__.items()})
        return new

    def copy_limited(self, memo):
        new = LimitedSizeDict()
        dict.update(new, {k: fast(x, memo) for k, x in self.items()})
        new.__dict__.update({k: fast(x, memo) for k, x in self.__dict__.items()})
        return new

    DynamoType.__deepcopy__ = copy_dynamo
    LimitedSizeDict.__deepcopy__ = copy_limited
    DynamoType._hostmode_fast_copy = True


def _cache_content_type_parsing() -> None:
    from twisted.web import http

    if not hasattr(http._parseContentType, "cache_info"):
        # pure bytes -> bytes; requestReceived looks the module function up on every call
        http._parseContentType = functools.lru_cache(maxsize=256)(http._parseContentType)


class MetricSums:
    """CloudWatch data points summed in memory and put once per flush interval, one
    ``PutMetricData`` per account, region and namespace (up to 1,000 data points each)."""

    def __init__(self) -> None:
        self._sums: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._loop, name="hostmode-metrics", daemon=True).start()

    def add(self, account: str, region: str, namespace: str, metric: str, dims: tuple, value=1.0, unit="Count"):
        with self._lock:
            acc = self._sums[(account, region, namespace, metric, dims, unit)]
            acc[0] += value
            acc[1] += 1

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        from localstack.aws.connect import connect_to

        with self._lock:
            sums, self._sums = self._sums, defaultdict(lambda: [0.0, 0])
        now = datetime.now(UTC)
        batches: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        for (account, region, namespace, metric, dims, unit), (total, n) in sums.items():
            batches[(account, region, namespace)].append(
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    "Timestamp": now,
                    # sizes are averaged (as AWS reports SentMessageSize); counts are summed
                    "Value": total / n if unit == "Bytes" else total,
                    "Unit": unit,
                }
            )
        for (account, region, namespace), data in batches.items():
            try:
                cw = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
                for i in range(0, len(data), 1000):
                    cw.put_metric_data(Namespace=namespace, MetricData=data[i : i + 1000])
            except Exception as e:  # metrics must never break the services that count
                LOG.info("hostmode: metrics not published: %s", e)

    def stop(self) -> None:
        self._stop.set()


_SUMS: MetricSums | None = None


def sums() -> MetricSums:
    global _SUMS
    if _SUMS is None:
        _SUMS = MetricSums()
    return _SUMS


def _aggregate_sqs_metrics() -> None:
    from localstack.services.sqs import provider as sqs_provider

    cls = sqs_provider.SqsProvider
    if getattr(cls, "_hostmode_metrics", False):
        return
    original = cls._init_cloudwatch_metrics_reporting

    def init(self):
        original(self)
        if self._cloudwatch_dispatcher is not None:
            self._cloudwatch_dispatcher.shutdown()
            self._cloudwatch_dispatcher = SqsMetricsToSums()

    cls._init_cloudwatch_metrics_reporting = init
    cls._hostmode_metrics = True


class SqsMetricsToSums:
    """Takes the calls of LocalStack's SQS ``CloudwatchDispatcher`` (the same methods, which
    build each metric and call ``dispatch_sqs_metric``) and adds them to the sums."""

    running = True

    def dispatch_sqs_metric(self, account_id, region, queue_name, metric, value=1, unit="Count"):
        sums().add(account_id, region, "AWS/SQS", metric, (("QueueName", queue_name),), value, unit)

    def dispatch_metric_message_sent(self, queue, message_body_size):
        _sqs_dispatcher().dispatch_metric_message_sent(self, queue, message_body_size)

    def dispatch_metric_message_deleted(self, queue, deleted=1):
        _sqs_dispatcher().dispatch_metric_message_deleted(self, queue, deleted)

    def dispatch_metric_received(self, queue, received):
        _sqs_dispatcher().dispatch_metric_received(self, queue, received)

    def shutdown(self) -> None:
        self.running = False


def _sqs_dispatcher():
    from localstack.services.sqs.provider import CloudwatchDispatcher

    return CloudwatchDispatcher


def _aggregate_lambda_metrics() -> None:
    """Lambda's ``Invocations`` and ``Errors`` per function, which LocalStack puts with one
    request per invocation."""
    from localstack.services.lambda_.invocation import version_manager

    if getattr(version_manager, "_hostmode_metrics", False):
        return

    def invocation(function_name: str, account_id: str, region_name: str):
        sums().add(account_id, region_name, "AWS/Lambda", "Invocations", (("FunctionName", function_name),))

    def error(function_name: str, account_id: str, region_name: str):
        invocation(function_name, account_id, region_name)
        sums().add(account_id, region_name, "AWS/Lambda", "Errors", (("FunctionName", function_name),))

    version_manager.record_cw_metric_invocation = invocation
    version_manager.record_cw_metric_error = error
    version_manager._hostmode_metrics = True
