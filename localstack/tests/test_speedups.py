"""What speedups.py changes, each speedup's promise checked in-process (no LocalStack server; run
with ``localstack/bin/pytest-inprocess``). ``HOSTMODE_SPEEDUPS=0`` leaves the speedups out, as it
does at start-up: then every test here fails at the speedup's own assertion (how each was seen
failing).

No request leaves the process: LocalStack's internal client (``connect_to``) is replaced by a
recorder for every test, so nothing reaches a LocalStack that may be running.
"""

from __future__ import annotations

import copy
import os
from types import SimpleNamespace

import pytest

pytest.importorskip("localstack.config", reason="needs LocalStack's interpreter: localstack/bin/pytest-inprocess")

from localstack_hostmode import speedups

ACCOUNT, REGION = "111122223333", "eu-west-1"


@pytest.fixture(scope="session", autouse=True)
def localstack_up():
    """Overrides conftest's: these tests need no LocalStack server."""


@pytest.fixture(scope="module", autouse=True)
def installed():
    """The speedups as start-up installs them (``HOSTMODE_SPEEDUPS=0``: left out)."""
    if os.environ.get("HOSTMODE_SPEEDUPS", "1") != "0":
        speedups.install()


class Recorder:
    """Stands in for ``connect_to``: every PutMetricData is recorded, none is sent."""

    def __init__(self) -> None:
        self.puts: list[dict] = []

    def __call__(self, aws_access_key_id=None, region_name=None, **_):
        def put_metric_data(Namespace, MetricData):
            self.puts.append(
                {"account": aws_access_key_id, "region": region_name, "namespace": Namespace, "data": MetricData}
            )

        return SimpleNamespace(cloudwatch=SimpleNamespace(put_metric_data=put_metric_data))


@pytest.fixture(autouse=True)
def outbox(monkeypatch):
    from localstack.aws import connect
    from localstack.utils.cloudwatch import cloudwatch_util

    recorder = Recorder()
    monkeypatch.setattr(connect, "connect_to", recorder)
    monkeypatch.setattr(cloudwatch_util, "connect_to", recorder)
    return recorder


@pytest.fixture
def sums(monkeypatch):
    """A fresh MetricSums that flushes only when told to."""
    monkeypatch.setattr(speedups, "FLUSH_SECONDS", 3600.0)
    monkeypatch.setattr(speedups, "_SUMS", None)
    yield speedups.sums
    if speedups._SUMS is not None:
        speedups._SUMS.stop()


def _metrics(puts: list[dict]) -> dict[tuple, tuple]:
    """(namespace, metric, dimensions) -> (value, unit) of every data point put."""
    out = {}
    for put in puts:
        assert (put["account"], put["region"]) == (ACCOUNT, REGION), put
        for d in put["data"]:
            dims = tuple((x["Name"], x["Value"]) for x in d["Dimensions"])
            key = (put["namespace"], d["MetricName"], dims)
            assert key not in out, f"{key} put twice"
            out[key] = (d["Value"], d["Unit"])
    return out


# -- moto's item copies -----------------------------------------------------------------------


def _order_item():
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    return Item(
        hash_key=DynamoType({"S": "order#1"}),
        range_key=DynamoType({"S": "v1"}),
        attrs={
            "pk": {"S": "order#1"},
            "sk": {"S": "v1"},
            "total": {"N": "129.90"},
            "paid": {"BOOL": False},
            "note": {"NULL": True},
            "blob": {"B": b"\x00\x01"},
            "tags": {"SS": ["a", "b"]},
            "lines": {"L": [{"M": {"sku": {"S": "SKU-1"}, "qty": {"N": "2"}}}, {"M": {"sku": {"S": "SKU-2"}}}]},
        },
    )


def test_moto_item_copies_are_made_directly(monkeypatch):
    """An item copy (every UpdateItem, reads, transactions) neither rebuilds the size-checked dict
    insert by insert nor goes through copy's reduce protocol, and copies the same values."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    item = _order_item()
    inserts = []
    size_checked = LimitedSizeDict.__setitem__

    def counting(self, key, value):
        inserts.append(key)
        size_checked(self, key, value)

    def no_reduce(self, protocol):
        raise AssertionError("a DynamoType was copied through copy's reduce protocol")

    monkeypatch.setattr(LimitedSizeDict, "__setitem__", counting)
    monkeypatch.setattr(DynamoType, "__reduce_ex__", no_reduce)
    copied = copy.deepcopy(item)
    monkeypatch.undo()
    assert inserts == [], f"the copy re-checked the item's size at each of {len(inserts)} inserts"

    # the same values, independent of the original
    assert copied == item and copied.to_json() == item.to_json()
    assert type(copied.attrs) is LimitedSizeDict and copied.attrs is not item.attrs
    line = copied.attrs["lines"].value[0]
    assert type(line) is DynamoType and line is not item.attrs["lines"].value[0]
    line.value["qty"].value = "9"
    copied.attrs["tags"].value.append("c")
    assert item.attrs["lines"].value[0].value["qty"].value == "2"
    assert item.attrs["tags"].value == ["a", "b"]
    # the size limit still holds for writes to the copy
    assert "big" not in copied.attrs
    with pytest.raises(ItemSizeTooLarge):
        copied.attrs["big"] = DynamoType({"S": "x" * 410_000})


# -- Twisted's Content-Type parsing --------------------------------------------------------------


class _Channel:
    site = transport = None

    def getPeer(self):
        return None

    def getHost(self):
        return None


def _post(content_type: bytes, body: bytes):
    from twisted.web import http

    request = http.Request(_Channel())
    request.requestHeaders.setRawHeaders(b"content-type", [content_type])
    request.gotLength(len(body))
    request.handleContentChunk(body)
    request.process = lambda: None
    request.requestReceived(b"POST", b"/", b"HTTP/1.1")
    return request


def test_content_type_parsed_once_per_value():
    from twisted.web import http

    parse = http._parseContentType
    assert hasattr(parse, "cache_info"), "Twisted's _parseContentType is not memoized"
    original = parse.__wrapped__
    for value in (
        b"application/x-amz-json-1.0",
        b"application/x-www-form-urlencoded; charset=utf-8",
        b"multipart/form-data; boundary=b",
        b"Application/JSON ; charset=UTF-8",
    ):
        assert parse(value) == original(value)
    # requests parse through the cache, with the same answer
    form = b"application/x-www-form-urlencoded; charset=utf-8; x=" + os.urandom(4).hex().encode()
    before = parse.cache_info()
    first = _post(form, b"Action=SendMessage&QueueUrl=q")
    second = _post(form, b"Action=SendMessage&QueueUrl=q")
    after = parse.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    assert first.args == second.args == {b"Action": [b"SendMessage"], b"QueueUrl": [b"q"]}


# -- SQS metrics -----------------------------------------------------------------------------------


def test_sqs_metrics_are_summed_and_put_once(monkeypatch, outbox, sums):
    from localstack.services.sqs.provider import CloudwatchDispatcher, SqsProvider

    shut_down = []
    monkeypatch.setattr(CloudwatchDispatcher, "shutdown", lambda self: shut_down.append(self))  # noqa: PLW0108
    provider = SqsProvider()
    dispatcher = provider._cloudwatch_dispatcher
    assert isinstance(dispatcher, speedups.SqsMetricsToSums), (
        f"SQS metrics go through LocalStack's {type(dispatcher).__name__}: a PutMetricData per request"
    )
    assert len(shut_down) == 1 and isinstance(shut_down[0], CloudwatchDispatcher)

    queue = SimpleNamespace(account_id=ACCOUNT, region=REGION, name="orders")
    # as the provider calls them: SendMessage x2, ReceiveMessage (3 and none), DeleteMessage(Batch)
    dispatcher.dispatch_metric_message_sent(queue=queue, message_body_size=100)
    dispatcher.dispatch_metric_message_sent(queue=queue, message_body_size=300)
    dispatcher.dispatch_metric_received(queue, received=3)
    dispatcher.dispatch_metric_received(queue, received=0)
    dispatcher.dispatch_metric_message_deleted(queue)
    dispatcher.dispatch_metric_message_deleted(queue, deleted=2)
    assert outbox.puts == [], "a metric was put per request"
    sums().flush()
    assert len(outbox.puts) == 1, outbox.puts
    dims = (("QueueName", "orders"),)
    got = _metrics(outbox.puts)
    assert got == {
        ("AWS/SQS", "NumberOfMessagesSent", dims): (2, "Count"),
        ("AWS/SQS", "SentMessageSize", dims): (200, "Bytes"),  # averaged, as AWS reports it
        ("AWS/SQS", "NumberOfMessagesReceived", dims): (3, "Count"),
        ("AWS/SQS", "NumberOfEmptyReceives", dims): (1, "Count"),
        ("AWS/SQS", "NumberOfMessagesDeleted", dims): (3, "Count"),
    }
    # the names and units LocalStack's own dispatcher uses for the same calls
    seen = set()
    own = SimpleNamespace(dispatch_sqs_metric=lambda **kw: seen.add((kw["metric"], kw.get("unit", "Count"))))
    CloudwatchDispatcher.dispatch_metric_message_sent(own, queue, 100)
    CloudwatchDispatcher.dispatch_metric_received(own, queue, 3)
    CloudwatchDispatcher.dispatch_metric_received(own, queue, 0)
    CloudwatchDispatcher.dispatch_metric_message_deleted(own, queue, 1)
    assert {(metric, unit) for (_, metric, _), (_, unit) in got.items()} == seen
    sums().flush()
    assert len(outbox.puts) == 1, "a flush put sums already put"


# -- Lambda metrics ----------------------------------------------------------------------------


def test_lambda_metrics_are_summed_and_put_once(monkeypatch, outbox, sums):
    from localstack.services.lambda_.invocation import metrics, version_manager

    published = []
    monkeypatch.setattr(metrics, "publish_lambda_metric", lambda *a, **kw: published.append((a, kw)))
    # as LambdaVersionManager.invoke calls them, once per invocation
    for _ in range(3):
        version_manager.record_cw_metric_invocation(function_name="orders-api", account_id=ACCOUNT, region_name=REGION)
    version_manager.record_cw_metric_error(function_name="orders-api", account_id=ACCOUNT, region_name=REGION)
    version_manager.record_cw_metric_invocation(function_name="notifier", account_id=ACCOUNT, region_name=REGION)
    assert published == [] and outbox.puts == [], f"{len(published)} metrics put, one per invocation"
    sums().flush()
    assert len(outbox.puts) == 1, outbox.puts
    assert _metrics(outbox.puts) == {
        ("AWS/Lambda", "Invocations", (("FunctionName", "orders-api"),)): (4, "Count"),
        ("AWS/Lambda", "Errors", (("FunctionName", "orders-api"),)): (1, "Count"),
        ("AWS/Lambda", "Invocations", (("FunctionName", "notifier"),)): (1, "Count"),
    }


def test_metric_sums_split_puts_at_1000_data_points(outbox, sums):
    for i in range(1001):
        sums().add(ACCOUNT, REGION, "AWS/SQS", "NumberOfMessagesSent", (("QueueName", f"q{i}"),))
    sums().flush()
    assert [len(p["data"]) for p in outbox.puts] == [1000, 1]


def test_a_failed_put_loses_the_metrics_not_the_service(monkeypatch, sums):
    from localstack.aws import connect

    def unreachable(**_):
        raise ConnectionError("cloudwatch down")

    monkeypatch.setattr(connect, "connect_to", unreachable)
    sums().add(ACCOUNT, REGION, "AWS/Lambda", "Invocations", (("FunctionName", "f"),))
    sums().flush()  # logs, does not raise
