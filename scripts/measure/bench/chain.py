"""Measurements of the bare chain (bench.bare): one hop at rest, the drain rate of a backlog
through one mapping and through three at once, and API Gateway -> a trivial function."""

from __future__ import annotations

import time
import uuid

import requests

import local_aws
from bench.bare import CONSUMERS, Bare
from bench.hdr import Latency


def hop_at_rest(bare: Bare, n: int, gap_s: float = 0.1) -> Latency:
    """SNS publish -> SQS -> mapping -> function handled it, one message at a time."""
    run = uuid.uuid4().hex[:6]
    sent: dict[str, float] = {}
    for i in range(n):
        tag = f"{run}-{i}"
        sent[tag] = time.time() * 1000
        bare.publish(CONSUMERS[i % len(CONSUMERS)], tag)
        time.sleep(gap_s)  # pacing: each message meets an idle chain
    handled = _wait_handled(bare, set(sent))
    lat = Latency("one hop at rest (SNS -> SQS -> function)")
    for tag, t in sent.items():
        lat.add_ms(handled[tag] - t)
    return lat


def _wait_handled(bare: Bare, tags: set[str], timeout: float = 120) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        handled = bare.handled()
        if tags <= handled.keys():
            return handled
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(tags - handled.keys())} messages never handled")
        time.sleep(0.5)


def drain_rate(bare: Bare, consumers: tuple[str, ...], per_queue: int) -> tuple[float, float]:
    """(messages/s, LocalStack requests/s) with which the mappings empty a backlog of per_queue
    messages each."""
    bare.set_enabled(consumers, False)
    for c in consumers:
        bare.fill(c, per_queue)
    served = total_requests()
    start = time.monotonic()
    bare.set_enabled(consumers, True)
    deadline = start + 600
    while any(bare.depth(c) for c in consumers):
        if time.monotonic() > deadline:
            raise TimeoutError("the backlog did not drain in 10 minutes")
        time.sleep(0.05)
    wall = time.monotonic() - start
    return per_queue * len(consumers) / wall, (total_requests() - served) / wall


def total_requests() -> int:
    return sum(x["count"] for x in local_aws.hostmode("requests")["requests"])


def api_to_trivial(bare: Bare, n: int) -> Latency:
    """GET through API Gateway (REST, Lambda proxy) to the trivial function, one client."""
    http = requests.Session()
    lat = Latency("API Gateway -> trivial function")
    for _ in range(n):
        t = time.perf_counter()
        r = http.get(bare.api_url, timeout=30)
        lat.add_ms((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return lat
