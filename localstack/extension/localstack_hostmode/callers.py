"""Which access keys belong to which function: the executor records the execution-role
credentials LocalStack hands each environment, so the request handlers can tell a function's own
calls (faultable) from the event source mapping's, LocalStack's and yours (never faulted)."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_functions: dict[str, str] = {}  # access key id -> function name


def register(access_key_id: str | None, function_name: str) -> None:
    if access_key_id:
        with _lock:
            _functions[access_key_id] = function_name


def function_for(access_key_id: str | None) -> str | None:
    if not access_key_id:
        return None
    return _functions.get(access_key_id)
