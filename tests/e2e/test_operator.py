"""`make dlq` as an operator reads it: each DLQ's depth, then its messages with the first failure
their consumer logged (the poison message of the session's PoisonBatch, conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from orders_client import wait_for

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.mark.after_all  # the poison message needs a minute to reach its DLQ: no test waits for it
def test_make_dlq_shows_a_dead_lettered_message_with_its_first_failure(poison):
    wait_for(lambda: poison.marker in poison.seen_in_dlq(), bool, 150, "the poison message in the notification DLQ")
    out = subprocess.run(["make", "-s", "dlq", "SHOW=10"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if poison.marker in line)
    queue = next(line for line in reversed(lines[:at]) if not line.startswith(" "))
    assert queue.split()[:2] == ["notification", "NotificationDLQ"], queue
    # (the receive count is the DLQ's own: every peek at it, this session's watcher's too, adds one)
    assert re.search(r"sent \S+ \S+Z, received \d+x$", lines[at - 1]), lines[at - 1]
    failure = lines[at + 1]
    assert failure.strip().startswith("first failure:") and "unparseable message body" in failure, failure
