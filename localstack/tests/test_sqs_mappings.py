"""SQS event source mappings at AWS's pace (the extension's esm.py): batches run concurrently up
to ScalingConfig.MaximumConcurrency (a default cap when unset), and a disabled mapping stops
cleanly. How fast a hop is, is measured by `make bench`, not asserted here."""

import contextlib
import json
import re

import pytest

from conftest import poll, unique

BATCH_LINE = re.compile(r"sqs batch of (\d+) with \d+ failures, pid (\d+), at \d+: (.*)")


@pytest.fixture
def queue(aws):
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=unique("esm"), Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield url, arn
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def mapped(aws, make_function, hello_zip, queue):
    """A hello function mapped to the queue; returns (function, queue url, create(**settings))."""
    lam = aws("lambda")
    name = make_function(hello_zip, prefix="esm")
    url, arn = queue
    mappings = []

    def create(**settings):
        uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, **settings)["UUID"]
        mappings.append(uuid)
        poll(lambda: state(lam, uuid) == "Enabled", timeout=30, what="mapping enabled")
        return uuid

    yield name, url, create
    for uuid in mappings:
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_event_source_mapping(UUID=uuid)


def state(lam, uuid):
    return lam.get_event_source_mapping(UUID=uuid)["State"]


def batches(logs, function):
    """(pid, message ids) of every SQS batch the function logged."""
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    found = []
    for e in events:
        if m := BATCH_LINE.search(e["message"]):
            found.append((int(m.group(2)), [i.split("=")[0] for i in m.group(3).split()]))
    return found


def send(sqs, url, n, body):
    ids = []
    for start in range(0, n, 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps(body)} for i in range(start, min(n, start + 10))]
        ids += [e["MessageId"] for e in sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]]
    return ids


def processed(aws, function, ids):
    done = {i for _, got in batches(aws("logs"), function) for i in got}
    return set(ids) <= done


@pytest.mark.parametrize(("cap", "settings"), [(2, {"ScalingConfig": {"MaximumConcurrency": 2}}), (5, {})])
def test_batches_run_concurrently_up_to_the_mappings_cap(aws, mapped, cap, settings):
    function, url, create = mapped
    # twelve one-message batches of 300 ms each: one at a time would use one environment
    ids = send(aws("sqs"), url, 12, {"sleep_ms": 300})
    create(BatchSize=1, **settings)
    poll(lambda: processed(aws, function, ids), timeout=60, what="every message processed")
    pids = {pid for pid, _ in batches(aws("logs"), function)}
    # each environment runs one invocation at a time, so environments = batches run at once
    assert 2 <= len(pids) <= cap, pids


def test_a_disabled_mapping_takes_no_message_after_it_reports_disabled(aws, mapped):
    function, url, create = mapped
    sqs, lam = aws("sqs"), aws("lambda")
    uuid = create(BatchSize=10)
    first = send(sqs, url, 1, {"n": 1})
    poll(lambda: processed(aws, function, first), timeout=30, what="the first message processed")

    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    poll(lambda: state(lam, uuid) == "Disabled", timeout=30, what="mapping disabled")
    later = send(sqs, url, 1, {"n": 2})
    # a poll still waiting inside the queue would be woken first and take the message
    got = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=2, VisibilityTimeout=0, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    ).get("Messages", [])
    assert [m["MessageId"] for m in got] == later
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"

    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    poll(lambda: processed(aws, function, later), timeout=30, what="the message processed once enabled")


def test_a_batch_in_flight_ends_before_the_mapping_reports_disabled(aws, mapped):
    function, url, create = mapped
    sqs, lam = aws("sqs"), aws("lambda")
    uuid = create(BatchSize=10)
    ids = send(sqs, url, 1, {"sleep_ms": 1500})
    poll(
        lambda: (
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
                "Attributes"
            ]["ApproximateNumberOfMessagesNotVisible"]
            == "1"
        ),
        timeout=30,
        interval=0.02,
        what="the batch taken",
    )
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    poll(lambda: state(lam, uuid) == "Disabled", timeout=30, what="mapping disabled")
    # the batch was run and acknowledged, not abandoned to its visibility timeout
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    poll(lambda: processed(aws, function, ids), timeout=10, what="the batch's log line")
