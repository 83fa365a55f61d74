"""Small client for the deployed pipeline, shared by `make demo`/`make up` and the e2e tests.

Reads .build/stack.json (written by deploy-local.sh) and talks to the stack only through its
API and AWS APIs, as a user or an operator would.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import requests

import local_aws

T = TypeVar("T")


class Timeout(AssertionError):
    pass


def wait_for[T](
    probe: Callable[[], T], ok: Callable[[T], bool], timeout: float, what: str, interval: float = 0.25
) -> T:
    """Polls `probe` until `ok(result)` or the deadline; returns the last result or raises Timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if ok(last):
            return last
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any
    text: str


def key_in_use(r: Response) -> bool:
    """The API's 409 for a request whose Idempotency-Key another request still holds: the same
    request, sent again after its Retry-After, gets the first one's answer."""
    return r.status == 409 and isinstance(r.body, dict) and r.body.get("error") == "idempotency_key_in_use"


OPERATOR = "operator"
DEMO_CUSTOMER = "demo-customer"
# How long a cached access token is used (the stack's tokens live 60 minutes).
TOKEN_REUSE_S = 45 * 60


def local_password(username: str) -> str:
    """The password of a user this client creates in a *local* pool: derived from the name, so
    every tool on the machine signs in as the same users (meets the pool's policy). Never used
    against AWS, where users choose their own."""
    return f"Local-{username}-Pw-2026"


class Users:
    """Users of the stack's Cognito user pool, created on first use as an administrator would
    (AdminCreateUser with a permanent password, groups), and signed in like the storefront
    (InitiateAuth USER_PASSWORD_AUTH with the app client): access tokens cached per user.
    Shared by every Stack of the process (one registry of who is who)."""

    _lock = threading.Lock()
    _subs: ClassVar[dict[str, str]] = {}  # username -> sub (the customer id the API knows)
    _names: ClassVar[dict[str, str]] = {}  # sub -> username
    _tokens: ClassVar[dict[str, tuple[str, float]]] = {}  # username -> (access token, when)

    def __init__(self, idp: Any, pool_id: str, client_id: str):
        self.idp, self.pool_id, self.client_id = idp, pool_id, client_id

    def ensure(self, username: str, groups: tuple[str, ...] = ()) -> str:
        """The user's sub, creating the user (and its group memberships) if needed."""
        with self._lock:
            if username in self._subs:
                return self._subs[username]
        with suppress(self.idp.exceptions.UsernameExistsException):
            self.idp.admin_create_user(
                UserPoolId=self.pool_id,
                Username=username,
                MessageAction="SUPPRESS",
                TemporaryPassword=local_password(username) + "-t",
            )
        self.idp.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=local_password(username), Permanent=True
        )
        for g in groups:
            self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=g)
        attrs = self.idp.admin_get_user(UserPoolId=self.pool_id, Username=username)["UserAttributes"]
        sub = next(a["Value"] for a in attrs if a["Name"] == "sub")
        with self._lock:
            self._subs[username] = sub
            self._names[sub] = username
        return sub

    def name_of(self, who: str) -> str:
        """A username, given a username or a sub this registry knows."""
        with self._lock:
            return self._names.get(who, who)

    def sign_in(self, username: str) -> dict[str, Any]:
        """InitiateAuth as the storefront does (unsigned): the AuthenticationResult."""
        return self.idp.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": local_password(username)},
        )["AuthenticationResult"]

    def token(self, who: str) -> str:
        """An access token for a user (username or sub), signed in once and reused."""
        name = self.name_of(who)
        with self._lock:
            known = name in self._subs
            cached = self._tokens.get(name)
        if not known:
            self.ensure(name)
        if cached and time.monotonic() - cached[1] < TOKEN_REUSE_S:
            return cached[0]
        token = self.sign_in(name)["AccessToken"]
        with self._lock:
            self._tokens[name] = (token, time.monotonic())
        return token


def notification_records(item: dict) -> list[dict]:
    """The message records of one order's Notifications item (libs/aws/src/dynamo/
    notification_store.rs): its `m<seq>` maps, each with the order id and its seq."""
    return [
        {**v, "order_id": item["order_id"], "seq": int(k[1:])}
        for k, v in item.items()
        if k[:1] == "m" and k[1:].isdigit() and isinstance(v, dict)
    ]


class Stack:
    # order id -> the user who placed it (who may read and cancel it), for every Stack
    _owners: ClassVar[dict[str, str]] = {}

    def __init__(self, path: str | os.PathLike[str] = local_aws.STACK_FILE):
        with open(path) as f:
            info = json.load(f)
        self.info = info
        self.outputs: dict[str, str] = info["outputs"]
        self.api_url: str = info["api_url"]
        self.api_key: str = info["api_key"]
        self.endpoint: str = info["endpoint"]
        self._session = local_aws.session()
        self._http = requests.Session()
        self.users = Users(self.client("cognito-idp"), self.outputs["UserPoolId"], self.outputs["UserPoolClientId"])

    def customer(self, username: str | None = None) -> str:
        """A customer who can sign in (a new one unless named): their id, the sub of the token."""
        return self.users.ensure(username or f"cust-{uuid.uuid4().hex[:12]}")

    def operator(self) -> str:
        return self.users.ensure(OPERATOR, ("operators",))

    def owner_of(self, order_id: str) -> str | None:
        """Who may read the order: its placer if placed through here, else the stored order's
        customer when this process knows that user (an order a test wrote to the table)."""
        if order_id in self._owners:
            return self._owners[order_id]
        try:
            item = self.table("OrdersTableName").get_item(Key={"order_id": order_id}).get("Item")
        except Exception:  # not an order id the table takes: nobody's
            return None
        customer = (item or {}).get("customer_id")  # none: the id holds no order (a marker)
        if customer and self.users.name_of(str(customer)) != customer:
            self._owners[order_id] = self.users.name_of(str(customer))
            return self._owners[order_id]
        return None

    def client(self, service: str):
        return self._session.client(service, endpoint_url=self.endpoint)

    def resource(self, service: str):
        return self._session.resource(service, endpoint_url=self.endpoint)

    @contextmanager
    def mapping_paused(self, function_output: str) -> Iterator[str]:
        """A function's event source mapping disabled (a consumer outage) while the block runs;
        enabled again afterwards, also when the block fails. Yields the mapping's UUID."""
        lam = self.client("lambda")
        fn = self.outputs[function_output]
        mapping = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"][0]["UUID"]

        def state() -> str:
            return lam.get_event_source_mapping(UUID=mapping)["State"]

        lam.update_event_source_mapping(UUID=mapping, Enabled=False)
        try:
            wait_for(state, lambda s: s == "Disabled", 60, "mapping disabled")
            yield mapping
        finally:
            lam.update_event_source_mapping(UUID=mapping, Enabled=True)
        wait_for(state, lambda s: s == "Enabled", 60, "mapping enabled")

    def queue_depth(self, output_key: str) -> tuple[int, int]:
        return local_aws.queue_depth(self.client("sqs"), self.outputs[output_key])

    def table(self, output_key: str):
        return self.resource("dynamodb").Table(self.outputs[output_key])

    def scan_all(self, output_key: str, **kwargs: Any) -> list[dict]:
        """Every item of a table a (consistent) scan returns, all pages: one page is at most
        1 MB, which a table several runs old passes, and an item past it would go unseen."""
        table, items = self.table(output_key), []
        kwargs = {"ConsistentRead": True, **kwargs}
        while True:
            page = table.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ API
    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        api_key: bool = True,
        user: str | None = None,
    ) -> Response:
        """A request as `user` (a username or a customer id), signed in; by default as the
        owner of the order the path names, the customer a `POST /orders` body names (taken out
        of the body: the token says who orders), else as the operator. `user=""` sends no
        token. An order placed through here is remembered with its owner."""
        placing = method == "POST" and path.rstrip("/") == "/orders"
        if user is None and placing and isinstance(body, dict) and "customer_id" in body:
            user = str(body["customer_id"])
            body = {k: v for k, v in body.items() if k != "customer_id"}
        hdrs = {"content-type": "application/json"}
        if api_key:
            hdrs["x-api-key"] = self.api_key
        if user is None:
            parts = path.split("?", 1)[0].strip("/").split("/")
            owner = self.owner_of(parts[1]) if len(parts) > 1 and parts[0] == "orders" else None
            user = owner or self.operator()
        if user:
            hdrs["authorization"] = f"Bearer {self.users.token(user)}"
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = self._http.request(method, self.api_url + path, data=data, headers=hdrs, timeout=30)
        try:
            parsed = r.json()
        except ValueError:
            parsed = None
        # A 202's order, or the one a 503 order_may_exist names, is this user's to look up.
        if placing and r.status_code in (202, 503) and isinstance(parsed, dict) and parsed.get("order_id") and user:
            self._owners[parsed["order_id"]] = self.users.name_of(user)
        return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, parsed, r.text)

    def set_stock(self, sku: str, available: int, shards: int | None = None) -> Response:
        """Creates the product (over `shards` stock shards, else the stack's default), or sets
        an existing one's stock against the version just read (the API refuses a blind
        overwrite: 428 without If-Match, 412 on a stale one)."""
        body: dict[str, int] = {"available": available}
        if shards is not None:
            body["shards"] = shards
        r = self.call("PUT", f"/products/{sku}", body)
        if r.status == 428:
            etag = self.call("GET", f"/products/{sku}").headers["etag"]
            r = self.call("PUT", f"/products/{sku}", {"available": available}, headers={"If-Match": etag})
        assert r.status in (200, 201), f"PUT /products/{sku}: {r.status} {r.text}"
        return r

    def adjust_stock(self, sku: str, delta: int) -> Response:
        return self.call("PATCH", f"/products/{sku}", {"delta": delta})

    def set_shards(self, sku: str, shards: int) -> Response:
        """Changes a product's shard count; a 503 (the change lost a race with reservations on
        a hot item) is retried, as any client of the API should."""
        return self.as_client(lambda: self.call("PATCH", f"/products/{sku}", {"shards": shards}))

    @staticmethod
    def as_client(send: Callable[[], Response], timeout: float = 60) -> Response:
        """Sends a request the way a careful client does: again while the API answers 503
        ("retrying the same request is safe": a call timed out or lost a race under load) or
        409 `idempotency_key_in_use` (with Retry-After), for up to `timeout` seconds. Only for
        requests that are safe to repeat (idempotent, or under an Idempotency-Key)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = send()
            except requests.ConnectionError:
                # No answer at all: the emulator closed the connection without one (its log:
                # "exception during call chain ... I/O operation on closed file"). An AWS SDK
                # retries that for a request safe to repeat; so does a careful client.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            if not (r.status == 503 or key_in_use(r)) or time.monotonic() > deadline:
                return r
            time.sleep(0.2)

    # Reads retry a 503 as the API asks ("safe to retry"): under a burst a read may time out
    # inside the function, and a poll that fails on it reports load, not a defect.
    def product(self, sku: str) -> dict:
        r = self.as_client(lambda: self.call("GET", f"/products/{sku}"))
        assert r.status == 200, f"GET /products/{sku}: {r.status} {r.text}"
        return r.body

    def place(self, customer_id: str, lines: list[tuple[str, int]], idempotency_key: str | None = None) -> Response:
        """Places an order signed in as the customer (`customer_id`: their id or username); the
        body names no customer, the token does."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = {"lines": [{"sku": s, "quantity": q} for s, q in lines]}
        return self.call("POST", "/orders", body, headers=headers, user=customer_id)

    def place_accepted(self, customer_id: str, lines: list[tuple[str, int]], key: str | None = None) -> Response:
        """Places an order as a careful client does: under an Idempotency-Key (its own, or a
        new one), retried while the API answers 503, so one call makes at most one order."""
        key = key or f"client-{uuid.uuid4().hex}"
        return self.as_client(lambda: self.place(customer_id, lines, idempotency_key=key))

    def order(self, order_id: str) -> dict:
        r = self.as_client(lambda: self.call("GET", f"/orders/{order_id}"))
        assert r.status == 200, f"GET /orders/{order_id}: {r.status} {r.text}"
        return r.body

    def statuses(self, order_ids: list[str]) -> dict[str, str]:
        """The orders' stored statuses, read from the Orders table in batches of 100 (consistent
        reads): a burst's hundreds of orders polled through the API would be the heaviest load
        on the emulator, slowing the pipeline the test waits for."""
        ddb = self.client("dynamodb")
        table = self.outputs["OrdersTableName"]
        out: dict[str, str] = {}
        for i in range(0, len(order_ids), 100):
            keys: list[dict] = [{"order_id": {"S": o}} for o in order_ids[i : i + 100]]
            while keys:
                got = ddb.batch_get_item(
                    RequestItems={
                        table: {
                            "Keys": keys,
                            "ConsistentRead": True,
                            "ProjectionExpression": "order_id, #s",
                            "ExpressionAttributeNames": {"#s": "status"},
                        }
                    }
                )
                # (an item without a status marks an id that holds no order: see OrdersTable)
                for item in got["Responses"].get(table, []):
                    if "status" in item:
                        out[item["order_id"]["S"]] = item["status"]["S"]
                keys = got.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        return out

    def wait_settled(self, order_ids: list[str], timeout: float, settled: set[str]) -> list[str]:
        """The orders' statuses, in order, once every one is in `settled`; only the orders not
        settled yet are read again."""
        final: dict[str, str] = {}

        def probe() -> list[str]:
            final.update(
                {o: s for o, s in self.statuses([o for o in order_ids if o not in final]).items() if s in settled}
            )
            return [o for o in order_ids if o not in final]

        wait_for(probe, lambda left: not left, timeout, f"all {len(order_ids)} orders to settle", interval=1)
        return [final[o] for o in order_ids]

    def wait_status(self, order_id: str, statuses: set[str], timeout: float = 60) -> dict:
        """The order as the API answers once it reached one of `statuses`: polled on the table
        (a GetItem, not an API call and a Lambda invocation each time), then read through the API."""
        what = f"order {order_id} to reach {sorted(statuses)}"
        wait_for(lambda: self.statuses([order_id]).get(order_id), lambda s: s in statuses, timeout, what)
        return wait_for(lambda: self.order(order_id), lambda o: o["status"] in statuses, 10, what + " (API)")

    # ------------------------------------------------------------------ state, read as an operator
    def notifications_for(self, order_id: str) -> list[dict]:
        """The order's message records (one item per order: see `notification_records`)."""
        item = self.notification_item(order_id)
        return notification_records(item) if item else []

    def notification_item(self, order_id: str) -> dict | None:
        table = self.table("NotificationsTableName")
        return table.get_item(Key={"order_id": order_id}, ConsistentRead=True).get("Item")
