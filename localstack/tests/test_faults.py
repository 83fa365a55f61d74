"""Fault rules (the extension's faults.py): AWS errors injected into the calls a function makes
with its own credentials, set and cleared at run time through /_hostmode/faults.

The probe function (conftest.make_probe) reports each error as its SDK (boto3) sees it. Every
rule set here is scoped (function=<probe> or resource=<this test's resource>) so that other
functions on a shared LocalStack are not hit; the rules are cleared after each test."""

import subprocess
import sys

import pytest

from conftest import ROOT, allow, hostmode, poll, unique

KEY = {"pk": {"S": "k1"}}
ALL = allow(["dynamodb:*", "sns:*", "sqs:*"])


@pytest.fixture
def faults():
    """set(rules, seed=None) -> the snapshot; the rules are cleared afterwards."""

    def set_rules(rules, seed=None):
        r = hostmode("PUT", "faults", {"rules": rules, **({"seed": seed} if seed is not None else {})})
        assert r.status_code == 200, r.text
        return r.json()

    yield set_rules
    assert hostmode("DELETE", "faults").status_code == 200


def rules():
    return hostmode("GET", "faults").json()["rules"]


@pytest.fixture
def probe(make_probe):
    return make_probe(ALL)


@pytest.fixture
def table(make_table):
    return make_table()


def get(probe, table, **kw):
    return probe.call("dynamodb", "get_item", {"TableName": table, "Key": KEY}, **kw)


def shape(out):
    return out["code"], out["status"]


def test_dynamodb_error_shapes(probe, table, faults):
    for error, status in [
        ("ThrottlingException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
        ("ValidationException", 400),
        ("ServiceUnavailable", 503),
    ]:
        faults(f"dynamodb:GetItem:{error}:1:function={probe.name}")
        out = get(probe, table)
        assert not out["ok"] and shape(out) == (error, status), out
    out = get(probe, table)
    assert shape(out) == ("ServiceUnavailable", 503) and out["message"] == "Service Unavailable"


def test_transaction_conflict_shapes(probe, table, faults):
    faults(f"dynamodb:*:TransactionConflict:1:function={probe.name}")
    items = [{"Put": {"TableName": table, "Item": {"pk": {"S": f"t{i}"}}}} for i in range(2)]
    out = probe.call("dynamodb", "transact_write_items", {"TransactItems": items})
    assert shape(out) == ("TransactionCanceledException", 400), out
    assert [r["Code"] for r in out["reasons"]] == ["TransactionConflict", "None"]
    assert "TransactionConflict" in out["message"]
    out = probe.call(
        "dynamodb",
        "update_item",
        {
            "TableName": table,
            "Key": KEY,
            "UpdateExpression": "SET n = :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}},
        },
    )
    assert shape(out) == ("TransactionConflictException", 400), out
    assert (
        shape(probe.call("dynamodb", "put_item", {"TableName": table, "Item": KEY}))[0]
        == "TransactionConflictException"
    )


def test_sns_and_sqs_error_shapes(aws, probe, faults):
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    try:
        publish = {"TopicArn": topic, "Message": "hi"}
        faults(f"sns:Publish:Throttled:1:function={probe.name}")
        assert shape(probe.call("sns", "publish", publish)) == ("Throttled", 429)
        faults(f"sns:Publish:InternalError:1:function={probe.name}")
        assert shape(probe.call("sns", "publish", publish)) == ("InternalError", 500)
        faults(f"sqs:SendMessage:RequestThrottled:1:function={probe.name}")
        out = probe.call("sqs", "send_message", {"QueueUrl": queue, "MessageBody": "x"})
        assert shape(out) == ("RequestThrottled", 403), out
    finally:
        sns.delete_topic(TopicArn=topic)
        sqs.delete_queue(QueueUrl=queue)


def test_every_n_is_deterministic(probe, table, faults):
    faults(f"dynamodb:GetItem:ThrottlingException:0:every=3:function={probe.name}")  # rate ignored
    faulted = [n for n in range(1, 10) if not get(probe, table)["ok"]]
    assert faulted == [3, 6, 9]
    [rule] = rules()
    assert (rule["matched"], rule["faulted"], rule["every"]) == (9, 3, 3)
    log = hostmode("GET", "faults/log").json()["faults"]
    assert [(e["function"], e["operation"], e["error"]) for e in log] == [
        (probe.name, "GetItem", "ThrottlingException")
    ] * 3


def test_rate_zero_and_one(probe, table, faults):
    faults(f"dynamodb:GetItem:ThrottlingException:0:function={probe.name}")
    assert all(get(probe, table)["ok"] for _ in range(10))
    assert (rules()[0]["matched"], rules()[0]["faulted"]) == (10, 0)
    faults(f"dynamodb:GetItem:ThrottlingException:1:function={probe.name}")
    assert not any(get(probe, table)["ok"] for _ in range(10))
    assert (rules()[0]["matched"], rules()[0]["faulted"]) == (10, 10)
    assert hostmode("GET", "faults").json()["total_faults"] == 10


def test_seeded_rate_repeats(probe, table, faults):
    def pattern():
        faults(f"dynamodb:GetItem:ThrottlingException:0.5:function={probe.name}", seed=7)
        return [get(probe, table)["ok"] for _ in range(12)]

    first = pattern()
    assert True in first and False in first
    assert pattern() == first


def test_resource_filter(aws, probe, make_table, faults):
    a, b = make_table(), make_table()
    topic_a, topic_b = (aws("sns").create_topic(Name=unique("topic"))["TopicArn"] for _ in "ab")
    try:
        faults(
            f"dynamodb:*:ThrottlingException:1:resource={a}:function={probe.name},"
            f"sns:Publish:Throttled:1:resource={topic_a.rsplit(':', 1)[1]}:function={probe.name}"
        )
        assert shape(get(probe, a))[0] == "ThrottlingException"
        assert get(probe, b)["ok"]
        put_a = {"Put": {"TableName": a, "Item": KEY}}
        out = probe.call("dynamodb", "transact_write_items", {"TransactItems": [put_a]})
        assert shape(out)[0] == "ThrottlingException"  # a transaction touching the table
        assert shape(probe.call("sns", "publish", {"TopicArn": topic_a, "Message": "x"}))[0] == "Throttled"
        assert probe.call("sns", "publish", {"TopicArn": topic_b, "Message": "x"})["ok"]
    finally:
        for t in (topic_a, topic_b):
            aws("sns").delete_topic(TopicArn=t)


def test_function_filter(make_probe, table, faults):
    hit, spared = make_probe(ALL), make_probe(ALL)
    faults(f"dynamodb:GetItem:ThrottlingException:1:function={hit.name}")
    assert shape(get(hit, table))[0] == "ThrottlingException"
    assert get(spared, table)["ok"]


def test_latency(probe, table, faults):
    faults(f"dynamodb:GetItem:none:1:latency=300ms:function={probe.name}")
    out = get(probe, table)
    assert out["ok"] and out["elapsed"] >= 0.3 and out["invoke_s"] >= 0.3, out
    assert (rules()[0]["delayed"], rules()[0]["faulted"]) == (1, 0)
    faults(f"dynamodb:GetItem:ThrottlingException:1:latency=0.3s:function={probe.name}")
    out = get(probe, table)
    assert shape(out)[0] == "ThrottlingException" and out["invoke_s"] >= 0.3, out
    assert (rules()[0]["delayed"], rules()[0]["faulted"]) == (1, 1)


def test_applied_fault_is_a_lost_response(aws, probe, table, faults):
    ddb = aws("dynamodb")
    faults(f"dynamodb:PutItem:InternalServerError:1:function={probe.name}")
    out = probe.call("dynamodb", "put_item", {"TableName": table, "Item": {"pk": {"S": "lost"}}})
    assert shape(out) == ("InternalServerError", 500)
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "lost"}})  # refused

    faults(f"dynamodb:PutItem:InternalServerError:1:applied:function={probe.name}")
    out = probe.call("dynamodb", "put_item", {"TableName": table, "Item": {"pk": {"S": "lost"}}})
    assert shape(out) == ("InternalServerError", 500)
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "lost"}})["Item"] == {"pk": {"S": "lost"}}
    assert hostmode("GET", "faults/log").json()["faults"][-1]["applied"] is True


def test_sdk_retries_are_counted(probe, table, faults):
    faults(f"dynamodb:GetItem:ThrottlingException:1:every=2:function={probe.name}")
    assert get(probe, table)["ok"]  # matching call 1
    out = get(probe, table, max_attempts=3)  # call 2 throttled, the SDK's retry (call 3) passes
    assert out["ok"] and out["attempts"] == 2, out
    [rule] = rules()
    assert (rule["matched"], rule["faulted"]) == (3, 1)
    assert rule["retried"] >= 1
    assert hostmode("GET", "faults/log").json()["faults"][0]["attempt"] == 1


@pytest.mark.parametrize(
    "bad, says",
    [
        ("dynamodb:GetItem:NoSuchError:1", "unknown error 'NoSuchError'"),
        ("dynamodb:GetItem:ThrottlingException:1.5", "rate 1.5 is not within [0, 1]"),
        ("dynamodb:GetItem:ThrottlingException:often", "rate 'often' is not a number"),
        (
            "dynamodb:GetItem:ThrottlingException:1:resource=arn:aws:dynamodb:us-east-1:000000000000:table/t",
            "resource takes a name, not an ARN",
        ),
        ("dynamodb:GetItem:ThrottlingException:1:colour=red", "unknown option 'colour=red'"),
        ("sns:Publish:ThrottlingException:1", "sns has no error 'ThrottlingException'"),
        ("dynamodb:GetItem:none:1", "needs a latency option"),
        ("dynamodb:GetItem:ThrottlingException:1:every=0", "every=0 must be a whole number >= 1"),
        ("lambda:Invoke:ThrottlingException:1", "service 'lambda'"),
    ],
)
def test_bad_rules_are_rejected_and_leave_the_old_rules(faults, bad, says):
    good = "dynamodb:GetItem:ThrottlingException:0.5:function=nobody"
    faults(good)
    r = hostmode("PUT", "faults", {"rules": f"sqs:SendMessage:RequestThrottled:1,{bad}"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_rules" and says in r.json()["message"], r.json()
    assert [x["rule"] for x in rules()] == [good]  # nothing of the bad set was applied


def test_cli_sets_shows_and_clears(faults):
    cli = [sys.executable, str(ROOT / "localstack" / "bin" / "faults")]
    run = lambda *a: subprocess.run(cli + list(a), capture_output=True, text=True, timeout=30)  # noqa: E731
    ok = run("set", "dynamodb:PutItem:ThrottlingException:0.1:function=nobody")
    assert ok.returncode == 0, ok.stderr
    assert "dynamodb:PutItem:ThrottlingException:0.1:function=nobody" in run().stdout
    bad = run("set", "dynamodb:PutItem:Nope:1")
    assert bad.returncode != 0 and "unknown error 'Nope'" in bad.stderr
    assert run("clear").returncode == 0
    assert rules() == []


def test_long_term_keys_are_never_faulted(aws, probe, table, faults):
    ddb, sns, sqs = aws("dynamodb"), aws("sns"), aws("sqs")
    topic, queue = unique("topic"), unique("q")
    # rate 1 on everything these resources see (scoped to them: this LocalStack may be shared)
    faults(
        f"dynamodb:*:ThrottlingException:1:resource={table},sns:*:Throttled:1:resource={topic},"
        f"sqs:*:RequestThrottled:1:resource={queue}"
    )
    ddb.put_item(TableName=table, Item=KEY)
    assert ddb.get_item(TableName=table, Key=KEY)["Item"] == KEY
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    sns.publish(TopicArn=topic_arn, Message="x")
    sns.delete_topic(TopicArn=topic_arn)
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.delete_queue(QueueUrl=url)
    assert [r["matched"] for r in rules()] == [0, 0, 0]
    # the same rules do hit a function's own call
    assert shape(get(probe, table))[0] == "ThrottlingException"


def test_event_source_mapping_calls_are_never_faulted(aws, make_probe, faults):
    sqs, lam = aws("sqs"), aws("lambda")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    probe = make_probe(ALL, prefix="esmf")
    faults(f"sqs:*:RequestThrottled:1:resource={arn.rsplit(':', 1)[1]}")
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=probe.name)["UUID"]
    try:
        sqs.send_message(QueueUrl=url, MessageBody="through")

        def drained():
            a = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            return all(v == "0" for v in a.values())

        poll(drained, timeout=30, interval=0.3, what="the mapping to consume the message")
        assert rules()[0]["matched"] == 0
    finally:
        lam.delete_event_source_mapping(UUID=mapping)
        sqs.delete_queue(QueueUrl=url)


def test_rules_change_at_run_time_on_a_warm_function(probe, table, faults):
    assert get(probe, table)["ok"]
    faults(f"dynamodb:GetItem:ThrottlingException:1:function={probe.name}")
    assert shape(get(probe, table))[0] == "ThrottlingException"
    assert hostmode("DELETE", "faults").json()["rules"] == []
    assert get(probe, table)["ok"]
