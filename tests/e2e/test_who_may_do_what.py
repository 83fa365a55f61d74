"""Who may do what, through the deployed API with tokens from the stack's user pool (Cognito on
AWS; the localstack-hostmode extension serves it locally): customers reach only their own
orders, only operators write stock, every kind of bad credential is a 401 that stores and
publishes nothing, and each customer hears only their own news."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests
from boto3.dynamodb.conditions import Attr

from conftest import log_lines, new_customer, new_sku
from orders_client import local_password, wait_for


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def unb64(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_customer_reaches_only_their_own_orders_and_an_operator_sets_stock(stack):
    sku = new_sku()
    assert stack.set_stock(sku, 20).status == 201, "the operator creates stock"
    alice, bob = new_customer(), new_customer()
    placed = [stack.place_accepted(alice, [(sku, 1)]).body["order_id"] for _ in range(3)]
    bobs = stack.place_accepted(bob, [(sku, 1)]).body["order_id"]

    # Bob cannot read, cancel or list Alice's orders: no such order, as far as he can tell.
    for path, method in ((f"/orders/{placed[0]}", "GET"), (f"/orders/{placed[0]}/cancel", "POST")):
        r = stack.call(method, path, user=bob)
        assert (r.status, r.body["error"]) == (404, "not_found"), r.text
    assert stack.order(placed[0])["status"] != "CANCELLED"
    listed = stack.call("GET", "/orders", user=bob).body
    assert [o["order_id"] for o in listed["orders"]] == [bobs], listed

    # Alice's list: newest first, two pages.
    first = stack.call("GET", "/orders?limit=2", user=alice)
    assert first.status == 200, first.text
    second = stack.call("GET", f"/orders?limit=2&cursor={first.body['next_cursor']}", user=alice)
    got = [o["order_id"] for o in first.body["orders"] + second.body["orders"]]
    assert got == placed[::-1], (got, placed)
    assert second.body["next_cursor"] is None
    # A cursor is no way into someone else's list: it names a place, the token whose list.
    third = stack.call("GET", f"/orders?limit=2&cursor={first.body['next_cursor']}", user=bob)
    assert third.status == 200, third.text
    assert {o["order_id"] for o in third.body["orders"]} <= {bobs}, third.body

    # Customers read stock, only operators write it.
    assert stack.call("GET", f"/products/{sku}", user=alice).status == 200
    for method, body in (("PUT", {"available": 10**9}), ("PATCH", {"delta": 5}), ("PATCH", {"shards": 32})):
        r = stack.call(method, f"/products/{sku}", body, user=alice, headers={"If-Match": '"1"'})
        assert (r.status, r.body["error"]) == (403, "forbidden"), r.text
    product = stack.product(sku)
    assert (product["available"] + product["reserved"], product["shards"]) == (20, 1), product
    assert stack.adjust_stock(sku, 5).status == 200, "the operator adjusts stock"


def other_pool_token(stack) -> str:
    """An access token of another user pool on the same emulator."""
    idp = stack.client("cognito-idp")
    pool = idp.create_user_pool(PoolName=f"e2e-other-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="other", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="mallory", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="mallory", Password=local_password("mallory"), Permanent=True)
    auth = idp.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "mallory", "PASSWORD": local_password("mallory")},
    )
    return auth["AuthenticationResult"]["AccessToken"]


def other_client_token(stack, username: str) -> str:
    """An access token of this pool, issued to another app client (not the storefront)."""
    idp = stack.client("cognito-idp")
    client = idp.create_user_pool_client(
        UserPoolId=stack.outputs["UserPoolId"],
        ClientName=f"e2e-other-app-{uuid.uuid4().hex[:6]}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    auth = idp.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": local_password(username)},
    )
    return auth["AuthenticationResult"]["AccessToken"]


def expired_token(stack, username: str) -> str:
    """An access token of the stack's pool for the user, signed with the pool's key, expired an
    hour ago (the emulator's test-only route: AWS issues none shorter than 5 minutes)."""
    r = requests.post(
        f"{stack.endpoint}/_hostmode/cognito/expired-token",
        json={
            "user_pool_id": stack.outputs["UserPoolId"],
            "client_id": stack.outputs["UserPoolClientId"],
            "username": username,
            "expired_seconds_ago": 3600,
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["AccessToken"]


def test_every_kind_of_bad_credential_is_a_401_that_stores_and_publishes_nothing(stack, tap, session_started_ms):
    sku = new_sku()
    stack.set_stock(sku, 5)
    customer = new_customer()
    name = stack.users.name_of(customer)
    good = stack.users.token(customer)
    header, claims, signature = good.split(".")
    id_token = stack.users.sign_in(name)["IdToken"]
    forged = f"{header}.{b64({**unb64(claims), 'cognito:groups': ['operators']})}.{signature}"
    alg_none = f"{b64({**unb64(header), 'alg': 'none'})}.{claims}."
    cases = {
        "missing": None,
        "not bearer": f"Basic {base64.b64encode(b'user:pass').decode()}",
        "malformed": "Bearer not.a.jwt",
        "wrongly signed (claims changed)": f"Bearer {forged}",
        "alg none": f"Bearer {alg_none}",
        "another pool's": f"Bearer {other_pool_token(stack)}",
        "an ID token": f"Bearer {id_token}",
        "another app client's": f"Bearer {other_client_token(stack, name)}",
        "expired": f"Bearer {expired_token(stack, name)}",
    }
    body = {"lines": [{"sku": sku, "quantity": 1}]}
    for case, value in cases.items():
        headers = {"authorization": value} if value else {}
        for method, path, payload in (
            ("POST", "/orders", body),
            ("GET", "/orders", None),
            ("PATCH", f"/products/{sku}", {"delta": 1}),
        ):
            r = stack.call(method, path, payload, user="", headers=headers)
            assert r.status == 401, f"{case}, {method} {path}: {r.status} {r.text}"
            assert r.body["error"] == "unauthorized", r.text
            challenge = r.headers.get("www-authenticate", "")
            assert challenge.startswith('Bearer realm="orders"'), (case, challenge)
            assert ("error=" in challenge) == (value is not None and case != "missing"), (case, challenge)
    # The good token still works, and nothing of the refused requests was stored or published.
    assert stack.call("GET", "/orders", user=customer).status == 200
    orders = stack.scan_all("OrdersTableName", FilterExpression=Attr("customer_id").eq(customer))
    assert orders == [], orders
    assert stack.product(sku)["available"] == 5
    assert not [e for e in tap.events(type_="OrderPlaced") if e["data"]["customer_id"] == customer]
    # No token and no password in any of the API's log lines.
    secrets = [good, signature, id_token.split(".")[2], local_password(name)]
    lines = log_lines(stack, "OrdersApiFunctionName", session_started_ms)
    leaked = [x for x in lines if any(s in json.dumps(x) for s in secrets)]
    assert not leaked, leaked[:2]
    refused = [x for x in lines if x.get("fields", {}).get("message") == "request not authenticated"]
    assert {x["fields"]["reason"] for x in refused} >= {
        "missing",
        "not_bearer",
        "malformed",
        "bad_signature",
        "unknown_key",
        "wrong_token_use",
        "wrong_client",
        "expired",
    }


@pytest.fixture
def customer_subscriber(stack):
    """Queues subscribed to the customer topic, each for one customer (filter policy on the
    message's customer_id attribute), SNS envelope kept (Subject, attributes)."""
    sqs, sns = stack.client("sqs"), stack.client("sns")
    made: list[tuple[str, str]] = []

    def subscribe(customer: str) -> str:
        url = sqs.create_queue(QueueName=f"e2e-news-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sub = sns.subscribe(
            TopicArn=stack.outputs["CustomerNotificationsTopicArn"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "FilterPolicyScope": "MessageAttributes",
                "FilterPolicy": json.dumps({"customer_id": [customer]}),
            },
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        made.append((url, sub))
        return url

    yield subscribe
    for url, sub in made:
        sns.unsubscribe(SubscriptionArn=sub)
        sqs.delete_queue(QueueUrl=url)


@pytest.mark.also_under_faults
def test_each_customer_hears_only_their_own_news_without_anyones_free_text(stack, customer_subscriber):
    sku = new_sku()
    stack.set_stock(sku, 5)
    alice, bob = new_customer(), new_customer()
    queues = {alice: customer_subscriber(alice), bob: customer_subscriber(bob)}
    mine = stack.place_accepted(alice, [(sku, 1)]).body["order_id"]
    theirs = stack.place_accepted(bob, [(sku, 1)]).body["order_id"]
    stack.wait_status(mine, {"CONFIRMED"})
    injected = "<a href='https://evil.example'>claim your refund</a>"
    r = stack.as_client(lambda: stack.call("POST", f"/orders/{mine}/cancel", {"reason": injected}))
    assert r.status == 202, r.text
    assert stack.order(mine)["history"][-1]["reason"] == injected, "kept for operators"

    sqs = stack.client("sqs")
    got: dict[str, list[dict]] = {alice: [], bob: []}

    def drain(who: str) -> list[dict]:
        for m in sqs.receive_message(QueueUrl=queues[who], MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            got[who].append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queues[who], ReceiptHandle=m["ReceiptHandle"])
        return got[who]

    def subjects(envelopes: list[dict]) -> list[str]:
        return [e.get("Subject", "") for e in envelopes]

    told_cancelled = wait_for(
        lambda: drain(alice), lambda e: any("cancelled" in s for s in subjects(e)), 60, "alice told of her cancel"
    )
    wait_for(lambda: drain(bob), lambda e: len(e) >= 2, 60, "bob's placed and confirmed news")
    drain(alice), drain(bob)
    for who, order in ((alice, mine), (bob, theirs)):
        for envelope in got[who]:
            event = json.loads(envelope["Message"])
            assert event["order_id"] == order, (who, subjects(got[who]))
            assert envelope["MessageAttributes"]["customer_id"]["Value"] == who
            assert envelope.get("Subject") == event["data"]["subject"] and envelope["Subject"], envelope
            assert "evil" not in event["data"]["message"] and "refund" not in event["data"]["message"], event
    # (Alice's "confirmed" may be dropped as older than "cancelled" if it was still on its way.)
    assert 2 <= len(told_cancelled) <= 3 and len(got[bob]) == 2, (subjects(got[alice]), subjects(got[bob]))
