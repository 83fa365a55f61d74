"""Small client for the deployed pipeline, shared by `make demo`/`make up` and the e2e tests.

Reads .build/stack.json (written by deploy-local.sh) and talks to the stack only through its
API and AWS APIs, as a user or an operator would.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

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


class Stack:
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
    ) -> Response:
        hdrs = {"content-type": "application/json"}
        if api_key:
            hdrs["x-api-key"] = self.api_key
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = self._http.request(method, self.api_url + path, data=data, headers=hdrs, timeout=30)
        try:
            parsed = r.json()
        except ValueError:
            parsed = None
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
            r = send()
            if not (r.status == 503 or key_in_use(r)) or time.monotonic() > deadline:
                return r
            time.sleep(0.2)

    def product(self, sku: str) -> dict:
        r = self.call("GET", f"/products/{sku}")
        assert r.status == 200, f"GET /products/{sku}: {r.status} {r.text}"
        return r.body

    def place(self, customer_id: str, lines: list[tuple[str, int]], idempotency_key: str | None = None) -> Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = {"customer_id": customer_id, "lines": [{"sku": s, "quantity": q} for s, q in lines]}
        return self.call("POST", "/orders", body, headers=headers)

    def place_accepted(self, customer_id: str, lines: list[tuple[str, int]], key: str | None = None) -> Response:
        """Places an order as a careful client does: under an Idempotency-Key (its own, or a
        new one), retried while the API answers 503, so one call makes at most one order."""
        key = key or f"client-{uuid.uuid4().hex}"
        return self.as_client(lambda: self.place(customer_id, lines, idempotency_key=key))

    def order(self, order_id: str) -> dict:
        r = self.call("GET", f"/orders/{order_id}")
        assert r.status == 200, f"GET /orders/{order_id}: {r.status} {r.text}"
        return r.body

    def wait_status(self, order_id: str, statuses: set[str], timeout: float = 60) -> dict:
        return wait_for(
            lambda: self.order(order_id),
            lambda o: o["status"] in statuses,
            timeout,
            f"order {order_id} to reach {sorted(statuses)}",
        )

    # ------------------------------------------------------------------ state, read as an operator
    def notifications_for(self, order_id: str) -> list[dict]:
        table = self.table("NotificationsTableName")
        items: list[dict] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = table.scan(**kwargs)
            items += [i for i in page["Items"] if i.get("order_id") == order_id]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
