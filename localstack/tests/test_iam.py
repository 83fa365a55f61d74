"""IAM enforcement for role sessions (the extension's iam.py/enforcement.py): calls signed with a
function's execution-role credentials, or its event source mapping's, are authorized against the
role's policies with AWS's error shapes; the test process's long-term keys never are.

Each probe function (conftest.make_probe) makes one AWS call per invocation with its role's
session; its role's inline policy is changed between calls (policies are read on every call)."""

import json

import boto3
import pytest

from conftest import ACCOUNT, ENDPOINT, REGION, allow, denials, deny, hostmode, logged, poll, table_arn, unique

KEY = {"pk": {"S": "k1"}}


def why_implicit(action):
    return f"because no identity-based policy allows the {action} action"


def denial_message(session_arn, action, resource, why):
    return f"User: {session_arn} is not authorized to perform: {action} on resource: {resource} {why}"


def get(probe, table):
    return probe.call("dynamodb", "get_item", {"TableName": table, "Key": KEY})


def put(probe, table):
    return probe.call("dynamodb", "put_item", {"TableName": table, "Item": KEY})


def assert_denied(out, code="AccessDeniedException", status=400):
    assert not out["ok"], out
    assert (out["code"], out["status"]) == (code, status), out


@pytest.fixture
def topic(aws):
    sns = aws("sns")
    arn = sns.create_topic(Name=unique("topic"))["TopicArn"]
    yield arn
    sns.delete_topic(TopicArn=arn)


@pytest.fixture
def queue(aws):
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield url, arn
    sqs.delete_queue(QueueUrl=url)


# service -> (operation, action, error code, HTTP status)
SHAPES = {
    "dynamodb": ("GetItem", "dynamodb:GetItem", "AccessDeniedException", 400),
    "sns": ("Publish", "sns:Publish", "AuthorizationError", 403),
    "sqs": ("SendMessage", "sqs:SendMessage", "AccessDenied", 403),
}


@pytest.mark.parametrize("service", list(SHAPES))
def test_denied_without_grant_allowed_with_it(service, make_probe, make_table, topic, queue):
    operation, action, code, status = SHAPES[service]
    if service == "dynamodb":
        table = make_table()
        resource, op, params = table_arn(table), "get_item", {"TableName": table, "Key": KEY}
    elif service == "sns":
        resource, op, params = topic, "publish", {"TopicArn": topic, "Message": "hi"}
    else:
        resource, op, params = queue[1], "send_message", {"QueueUrl": queue[0], "MessageBody": "hi"}
    probe = make_probe()
    session = probe.session_arn()  # sts:GetCallerIdentity needs no permission
    assert session.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{probe.role_name}/")

    out = probe.call(service, op, params)
    assert_denied(out, code, status)
    assert out["message"] == denial_message(session, action, resource, why_implicit(action))
    logged = denials(probe.role_name)
    assert len(logged) == 1, logged
    assert {k: v for k, v in logged[0].items() if k != "time"} == {
        "role": probe.role_name,
        "principal": session,
        "service": service,
        "operation": operation,
        "action": action,
        "resource": resource,
        "reason": "implicit",
        "caller": "function",
    }

    probe.set_policy(allow(action, resource))
    out = probe.call(service, op, params)
    assert out["ok"], out
    assert len(denials(probe.role_name)) == 1


def test_resource_scoping_table_and_index(make_probe, make_table):
    a, b = make_table(index="by-gk"), make_table()
    probe = make_probe(allow(["dynamodb:GetItem", "dynamodb:Query"], table_arn(a)))
    assert get(probe, a)["ok"]
    out = get(probe, b)
    assert_denied(out)
    assert f"dynamodb:GetItem on resource: {table_arn(b)} " in out["message"]

    query = {"TableName": a, "KeyConditionExpression": "pk = :k", "ExpressionAttributeValues": {":k": {"S": "k1"}}}
    on_index = {
        "TableName": a,
        "IndexName": "by-gk",
        "KeyConditionExpression": "gk = :g",
        "ExpressionAttributeValues": {":g": {"S": "x"}},
    }
    assert probe.call("dynamodb", "query", query)["ok"]
    out = probe.call("dynamodb", "query", on_index)
    assert_denied(out)
    assert f"dynamodb:Query on resource: {table_arn(a)}/index/by-gk " in out["message"]

    probe.set_policy(allow(["dynamodb:GetItem", "dynamodb:Query"], [table_arn(a), f"{table_arn(a)}/index/*"]))
    assert probe.call("dynamodb", "query", on_index)["ok"]
    assert probe.call("dynamodb", "query", query)["ok"]


def test_wildcards_in_action_and_resource(make_probe, make_table):
    a, b = make_table("wild"), make_table("other")
    # "lsx-wild-1234abcd": ? stands for the last character
    probe = make_probe(allow("DynamoDB:G?tIt*", f"arn:aws:dynamodb:*:{ACCOUNT}:table/{a[:-1]}?"))
    assert get(probe, a)["ok"]  # actions match case-insensitively
    assert_denied(get(probe, b))
    assert_denied(put(probe, a))

    probe.set_policy(allow("dynamodb:*Item", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/lsx-wild-*"))
    assert get(probe, a)["ok"] and put(probe, a)["ok"]
    assert_denied(get(probe, b))
    # resources match case-sensitively
    probe.set_policy(allow("dynamodb:GetItem", table_arn(a.upper())))
    assert_denied(get(probe, a))


def test_explicit_deny_wins_over_allow(make_probe, make_table):
    a, b = make_table(), make_table()
    probe = make_probe(allow("dynamodb:*"), deny("dynamodb:GetItem", table_arn(a)))
    session = probe.session_arn()
    out = get(probe, a)
    assert_denied(out)
    assert out["message"] == denial_message(
        session, "dynamodb:GetItem", table_arn(a), "with an explicit deny in an identity-based policy"
    )
    assert denials(probe.role_name, action="dynamodb:GetItem")[-1]["reason"] == "explicit"
    assert put(probe, a)["ok"]
    assert get(probe, b)["ok"]


def test_not_action_and_not_resource(make_probe, make_table):
    a, b = make_table(), make_table()
    probe = make_probe(
        {"Effect": "Allow", "NotAction": ["dynamodb:DeleteItem", "dynamodb:PutItem"], "Resource": table_arn(a)},
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "NotResource": table_arn(a)},
    )
    assert get(probe, a)["ok"]
    out = probe.call("dynamodb", "delete_item", {"TableName": a, "Key": KEY})
    assert_denied(out)
    assert "dynamodb:DeleteItem" in out["message"]
    assert put(probe, b)["ok"]  # NotResource: every resource but table a
    assert_denied(put(probe, a))
    assert_denied(get(probe, b))  # NotAction's allow is scoped to table a


def test_conditions_allow_grants_nothing_deny_always_applies(make_probe, make_table):
    t = make_table()
    condition = {"StringEquals": {"aws:RequestedRegion": REGION}}
    probe = make_probe(allow("dynamodb:GetItem", table_arn(t), Condition=condition))
    out = get(probe, t)
    assert_denied(out)
    assert why_implicit("dynamodb:GetItem") in out["message"]
    assert "Condition" in out["message"]  # the local note says why

    probe.set_policy(allow("dynamodb:*"), deny("dynamodb:PutItem", Condition=condition))
    assert get(probe, t)["ok"]
    out = put(probe, t)
    assert_denied(out)
    assert "with an explicit deny in an identity-based policy" in out["message"]


def test_attached_customer_managed_policy(aws, make_probe, make_table):
    iam = aws("iam")
    t = make_table()
    doc = {"Version": "2012-10-17", "Statement": [allow("dynamodb:GetItem", table_arn(t))]}
    policy_arn = iam.create_policy(PolicyName=unique("pol"), PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
    try:
        probe = make_probe()
        assert_denied(get(probe, t))
        iam.attach_role_policy(RoleName=probe.role_name, PolicyArn=policy_arn)
        assert get(probe, t)["ok"]
        assert_denied(put(probe, t))
        # a new default version is what counts
        doc["Statement"][0]["Action"] = ["dynamodb:GetItem", "dynamodb:PutItem"]
        iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(doc), SetAsDefault=True)
        assert put(probe, t)["ok"]
        iam.detach_role_policy(RoleName=probe.role_name, PolicyArn=policy_arn)
        assert_denied(get(probe, t))
    finally:
        for v in iam.list_policy_versions(PolicyArn=policy_arn)["Versions"]:
            if not v["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=policy_arn, VersionId=v["VersionId"])
        iam.delete_policy(PolicyArn=policy_arn)


def test_transact_write_items_authorized_per_item(aws, make_probe, make_table):
    a, b = make_table(), make_table()
    writes = allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], [table_arn(a), table_arn(b)])
    probe = make_probe(writes, allow("dynamodb:ConditionCheckItem", table_arn(a)))
    items = [
        {"Put": {"TableName": a, "Item": {"pk": {"S": "order"}}}},
        {
            "Update": {
                "TableName": b,
                "Key": {"pk": {"S": "stock"}},
                "UpdateExpression": "SET n = :n",
                "ExpressionAttributeValues": {":n": {"N": "1"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": b,
                "Key": {"pk": {"S": "gate"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]
    out = probe.call("dynamodb", "transact_write_items", {"TransactItems": items})
    assert_denied(out)
    assert f"perform: dynamodb:ConditionCheckItem on resource: {table_arn(b)} " in out["message"]
    assert "Item" not in aws("dynamodb").get_item(TableName=a, Key={"pk": {"S": "order"}})

    # dynamodb:TransactWriteItems itself is not needed, only the per-item actions
    probe.set_policy(writes, allow("dynamodb:ConditionCheckItem", [table_arn(a), table_arn(b)]))
    out = probe.call("dynamodb", "transact_write_items", {"TransactItems": items})
    assert out["ok"], out
    assert "Item" in aws("dynamodb").get_item(TableName=a, Key={"pk": {"S": "order"}})


MAPPING_ACTIONS = ["sqs:GetQueueAttributes", "sqs:DeleteMessage", "sqs:ReceiveMessage"]


def test_a_mapping_whose_role_cannot_poll_is_refused_at_creation(aws, make_probe, queue):
    lam = aws("lambda")
    _, arn = queue
    probe = make_probe(allow(["sqs:GetQueueAttributes", "sqs:DeleteMessage"], arn), prefix="esm")
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=probe.name, BatchSize=1)
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidParameterValueException", 400)
    assert err["Error"]["Message"] == (
        "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    )
    assert not lam.list_event_source_mappings(FunctionName=probe.name)["EventSourceMappings"]


def test_event_source_mapping_calls_are_authorized(aws, make_probe, queue):
    sqs, lam, logs = aws("sqs"), aws("lambda"), aws("logs")
    url, arn = queue
    probe = make_probe(allow(MAPPING_ACTIONS, arn), prefix="esm")
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=probe.name, BatchSize=1)["UUID"]
    try:
        # the grant is taken away after creation (AWS checks it at creation, and on every poll);
        # a long poll already admitted may still be waiting, so the message goes out only once
        # a poll has been refused, and must survive the next refused poll
        probe.set_policy(allow(["sqs:GetQueueAttributes", "sqs:DeleteMessage"], arn))

        def refused():
            return denials(probe.role_name, action="sqs:ReceiveMessage")

        seen = poll(refused, timeout=30, interval=0.2, what="the mapping's ReceiveMessage to be denied")
        assert seen[0]["caller"] == "event-source-mapping" and seen[0]["resource"] == arn, seen
        sqs.send_message(QueueUrl=url, MessageBody="guarded")
        poll(lambda: len(refused()) > len(seen), timeout=30, interval=0.2, what="a poll refused after the send")
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "1"  # never received

        probe.set_policy(allow(MAPPING_ACTIONS, arn))

        def consumed():
            return logged(logs, probe.name, 'probe records: ["guarded"]')

        poll(consumed, timeout=60, interval=0.5, what="the function to receive the message")

        def drained():
            a = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            return all(v == "0" for v in a.values())

        poll(drained, timeout=15, what="the message to be deleted")
    finally:
        lam.delete_event_source_mapping(UUID=mapping)


def test_long_term_keys_are_never_checked_role_sessions_always_are(aws, make_probe, make_table):
    t = make_table()
    probe = make_probe()  # no grant at all
    ddb = aws("dynamodb")
    ddb.put_item(TableName=t, Item=KEY)  # the test's "test" keys
    assert ddb.get_item(TableName=t, Key=KEY)["Item"] == KEY
    assert not denials(probe.role_name)

    # the same role assumed from here: its session's calls are checked like the function's
    creds = aws("sts").assume_role(RoleArn=probe.role_arn, RoleSessionName="from-test")["Credentials"]
    session_ddb = boto3.client(
        "dynamodb",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    with pytest.raises(session_ddb.exceptions.ClientError) as e:
        session_ddb.get_item(TableName=t, Key=KEY)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"assumed-role/{probe.role_name}/from-test is not authorized" in e.value.response["Error"]["Message"]


def test_denial_log_can_be_cleared(make_probe, make_table):
    t = make_table()
    probe = make_probe()
    assert_denied(get(probe, t))
    assert denials(probe.role_name)
    r = hostmode("DELETE", "iam/denials")
    assert r.status_code == 200, r.text
    assert not denials(probe.role_name)
