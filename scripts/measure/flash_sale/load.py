"""The burst: N orders for one SKU, sent by C client threads over a window of W seconds (order i is
due at i * W / N; a client that falls behind sends at once), each under its own Idempotency-Key
and retried as a careful client does (503 and 409 `idempotency_key_in_use`, same key, for up to a
minute). What matters is the first answer: a 503 there is the API failing under the burst."""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from orders_client import Stack, key_in_use

RETRY_S = 60.0


@dataclass
class Post:
    idx: int
    quantity: int
    customer: str
    key: str
    due: float = 0.0
    sent: float = 0.0  # first attempt (epoch s)
    first_status: int | None = None  # None: no answer (connection error, client timeout)
    status: int | None = None  # after the retries
    attempts: int = 0
    answered: float = 0.0
    order_id: str | None = None
    errors: list[str] = field(default_factory=list)


def plan(n: int, run: str, seed: int, max_units: int, customers: int) -> list[Post]:
    """`n` orders from `customers` shoppers (each a user of the stack's pool), keys their own."""
    rng = random.Random(seed)
    return [
        Post(
            i,
            rng.randint(1, max_units),
            f"flash-{run}-c{i % customers:03d}",
            f"flash-{run}-{i:04d}-{uuid.uuid4().hex[:8]}",
        )
        for i in range(n)
    ]


def sign_in(stack: Stack, posts: list[Post]) -> None:
    """Every shopper created and signed in before the sale opens (as they would be)."""
    names = sorted({p.customer for p in posts})
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(stack.users.token, names))


def run(posts: list[Post], sku: str, clients: int, window_s: float) -> None:
    local = threading.local()
    start = time.time() + 0.5

    def stack() -> Stack:
        if not hasattr(local, "stack"):
            local.stack = Stack()  # one HTTP session per client
        return local.stack

    def send(p: Post) -> None:
        p.due = start + p.idx * window_s / max(len(posts), 1)
        time.sleep(max(0.0, p.due - time.time()))
        body = {"customer_id": p.customer, "lines": [{"sku": sku, "quantity": p.quantity}]}
        give_up = time.monotonic() + RETRY_S
        p.sent = time.time()
        while True:
            p.attempts += 1
            try:
                r = stack().call("POST", "/orders", body, headers={"Idempotency-Key": p.key})
                status, again = r.status, r.status == 503 or key_in_use(r)
                if r.status == 202:
                    p.order_id = r.body["order_id"]
                elif not again:
                    p.errors.append(f"{r.status} {r.text[:200]}")
            except requests.RequestException as e:
                status, again = None, True
                p.errors.append(type(e).__name__)
            if p.attempts == 1:
                p.first_status = status
            p.status = status
            if not again or time.monotonic() > give_up:
                p.answered = time.time()
                return
            time.sleep(random.uniform(0.1, 0.5))

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(send, posts))
