"""Crashes on demand: SIGKILL a function's execution environments, as a crash of the runtime
(out of memory, a segfault, the host going away) would, so tests and the soak can check that
nothing is lost when a function dies in the middle of a batch.

``POST /_hostmode/kill {"function": "<name or part of it>", "busy_only": true}`` kills the
process of every matching environment (only those with an invocation in flight when
``busy_only``). The invocation in flight fails with ``Runtime.ExitError`` as on AWS, and the
environment's next invocation starts a new process (a cold start). ``GET /_hostmode/kills``
lists what was killed, when.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from typing import Any, Protocol


class Crashable(Protocol):
    def crash(self) -> dict[str, Any] | None: ...


_ENVIRONMENTS: weakref.WeakSet = weakref.WeakSet()
_KILLS: deque[dict[str, Any]] = deque(maxlen=1000)
_LOCK = threading.Lock()


def track(environment: Crashable) -> None:
    """Registers a live execution environment (the executor calls this when it is created)."""
    with _LOCK:
        _ENVIRONMENTS.add(environment)


def kill(function: str, busy_only: bool = False) -> list[dict[str, Any]]:
    """SIGKILLs the matching environments' processes; returns what was killed."""
    if not function:
        raise ValueError("'function' must name the function (or part of its name)")
    with _LOCK:
        environments = list(_ENVIRONMENTS)
    killed = []
    for env in environments:
        if function not in getattr(env, "function_name", ""):
            continue
        if busy_only and not env.busy():
            continue
        if (done := env.crash()) is not None:
            done["time"] = time.time()
            killed.append(done)
    with _LOCK:
        _KILLS.extend(killed)
    return killed


def kills() -> list[dict[str, Any]]:
    with _LOCK:
        return list(_KILLS)
