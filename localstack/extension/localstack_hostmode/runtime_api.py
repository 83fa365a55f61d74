"""A minimal Lambda Runtime API server (the HTTP interface a `provided.*` bootstrap talks to).

One server per execution environment, bound to 127.0.0.1 on a free port. It serves:

- ``GET  /2018-06-01/runtime/invocation/next``            long-poll for the next event
- ``POST /2018-06-01/runtime/invocation/{id}/response``   the function's result
- ``POST /2018-06-01/runtime/invocation/{id}/error``      a function error
- ``POST /2018-06-01/runtime/init/error``                 an initialisation error

It is a small hand-written HTTP/1.1 server rather than ``http.server`` because latency matters:
every response is written with a single ``sendall`` (headers and body together) on a socket with
Nagle disabled. Writing headers and body separately lets Nagle + the client's delayed ACK add
~40-70 ms to every invocation.

The server does not know about processes. The executor owns a :class:`Session` per bootstrap
process; the server routes every request to the current session.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)

API_PREFIX = "/2018-06-01/runtime"
# AWS: 6 MB for synchronous responses (6291556 bytes are accepted).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 4
MAX_HEADER_LINE = 65536


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    deadline_ms: int
    trace_id: str = ""
    client_context: str | None = None
    cognito_identity: str | None = None
    # filled in by the runtime's answer
    outcome: str | None = None  # "response" | "error"
    body: bytes = b""
    error_type: str | None = None


_SHUTDOWN = object()


@dataclass
class Session:
    """State shared between one bootstrap process and the executor.

    ``cond`` guards every field and is notified on each change, so the executor can wait for
    "ready", "answered", "init error" or "process exited" on one condition variable.
    """

    cond: threading.Condition = field(default_factory=threading.Condition)
    ready: bool = False  # the runtime has called /next at least once (init done)
    init_error: bytes | None = None
    init_error_type: str | None = None
    pending: list = field(default_factory=list)  # Invocation or _SHUTDOWN waiting for /next
    current: Invocation | None = None  # handed out by /next, not answered yet
    closed: bool = False
    exited: bool = False  # set by the executor when the process is gone

    def submit(self, inv: Invocation) -> None:
        with self.cond:
            self.pending.append(inv)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.pending.append(_SHUTDOWN)
            self.cond.notify_all()


def _json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


class RuntimeApiServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(16)
        self.host, self.port = self._sock.getsockname()[:2]
        self.session: Session | None = None
        self._stopped = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"lambda-runtime-api-{self.port}", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self.session:
            self.session.close()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    # -- connection handling -------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                break
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._conns_lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve_conn, args=(conn,), name="lambda-runtime-api-conn", daemon=True).start()

    def _serve_conn(self, conn: socket.socket) -> None:
        rfile = conn.makefile("rb", buffering=65536)
        try:
            while not self._stopped.is_set():
                req = self._read_request(rfile, conn)
                if req is None:
                    return
                method, path, version, headers, body = req
                result = self._dispatch(method, path, headers, body)
                if result is None:  # session shut down while waiting in /next
                    return
                status, extra_headers, resp_body = result
                keep_alive = headers.get("connection", "").lower() != "close" and (
                    version == "HTTP/1.1" or headers.get("connection", "").lower() == "keep-alive"
                )
                head = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}"]
                for k, v in extra_headers.items():
                    head.append(f"{k}: {v}")
                head.append(f"Content-Length: {len(resp_body)}")
                if not keep_alive:
                    head.append("Connection: close")
                data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + resp_body
                conn.sendall(data)  # one write: headers and body together
                if not keep_alive:
                    return
        except (OSError, ValueError) as e:
            LOG.debug("runtime API connection ended: %s", e)
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            try:
                rfile.close()
                conn.close()
            except OSError:
                pass

    @staticmethod
    def _read_request(rfile, conn):
        line = rfile.readline(MAX_HEADER_LINE)
        while line in (b"\r\n", b"\n"):
            line = rfile.readline(MAX_HEADER_LINE)
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(parts) != 3:
            raise ValueError(f"bad request line {line!r}")
        method, target, version = parts
        headers: dict[str, str] = {}
        while True:
            h = rfile.readline(MAX_HEADER_LINE)
            if not h:
                return None
            if h in (b"\r\n", b"\n"):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size_line = rfile.readline(MAX_HEADER_LINE)
                if not size_line:
                    return None
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until an empty line
                    while rfile.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(rfile.read(size))
                rfile.readline(MAX_HEADER_LINE)  # CRLF after the chunk
            body = b"".join(chunks)
        else:
            length = int(headers.get("content-length") or 0)
            body = rfile.read(length) if length else b""
        path = target.split("?", 1)[0]
        return method, path, version, headers, body

    # -- the Runtime API ---------------------------------------------------------------------

    def _dispatch(self, method: str, path: str, headers: dict, body: bytes):
        session = self.session
        if session is None or not path.startswith(API_PREFIX + "/"):
            return (
                404,
                {"Content-Type": "application/json"},
                _json({"errorMessage": "not found", "errorType": "NotFound"}),
            )
        rest = path[len(API_PREFIX) + 1 :]

        if rest == "invocation/next":
            if method != "GET":
                return _method_not_allowed()
            return self._next(session)

        if rest == "init/error":
            if method != "POST":
                return _method_not_allowed()
            with session.cond:
                if session.ready:
                    return (
                        403,
                        {"Content-Type": "application/json"},
                        _json(
                            {
                                "errorMessage": "init/error is only valid during initialisation",
                                "errorType": "InvalidStateTransition",
                            }
                        ),
                    )
                session.init_error = body or b"{}"
                session.init_error_type = headers.get("lambda-runtime-function-error-type")
                session.cond.notify_all()
            return 202, {"Content-Type": "application/json"}, _json({"status": "OK"})

        if rest.startswith("invocation/"):
            parts = rest.split("/")
            if len(parts) == 3 and parts[2] in ("response", "error"):
                if method != "POST":
                    return _method_not_allowed()
                return self._answer(session, parts[1], parts[2], headers, body)

        return (
            404,
            {"Content-Type": "application/json"},
            _json({"errorMessage": f"unknown path {path}", "errorType": "NotFound"}),
        )

    @staticmethod
    def _next(session: Session):
        with session.cond:
            if not session.ready:
                session.ready = True
                session.cond.notify_all()
            while not session.pending:
                session.cond.wait()
            inv = session.pending.pop(0)
            if inv is _SHUTDOWN:
                return None
            session.current = inv
        hdrs = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.invoked_arn,
        }
        if inv.trace_id:
            hdrs["Lambda-Runtime-Trace-Id"] = inv.trace_id
        if inv.client_context:
            hdrs["Lambda-Runtime-Client-Context"] = inv.client_context
        if inv.cognito_identity:
            hdrs["Lambda-Runtime-Cognito-Identity"] = inv.cognito_identity
        return 200, hdrs, inv.payload

    @staticmethod
    def _answer(session: Session, request_id: str, kind: str, headers: dict, body: bytes):
        with session.cond:
            inv = session.current
            if inv is None or inv.request_id != request_id or inv.outcome is not None:
                return (
                    400,
                    {"Content-Type": "application/json"},
                    _json({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
                )
            if kind == "response" and len(body) > MAX_RESPONSE_BYTES:
                inv.outcome = "error"
                inv.error_type = "Function.ResponseSizeTooLarge"
                inv.body = _json(
                    {
                        "errorMessage": "Response payload size exceeded maximum allowed payload "
                        f"size ({MAX_RESPONSE_BYTES} bytes).",
                        "errorType": "Function.ResponseSizeTooLarge",
                    }
                )
                session.current = None
                session.cond.notify_all()
                return (
                    413,
                    {"Content-Type": "application/json"},
                    _json(
                        {"errorMessage": "Exceeded maximum allowed payload size", "errorType": "RequestEntityTooLarge"}
                    ),
                )
            inv.outcome = kind
            inv.body = body
            if kind == "error":
                inv.error_type = headers.get("lambda-runtime-function-error-type")
            session.current = None
            session.cond.notify_all()
        return 202, {"Content-Type": "application/json"}, _json({"status": "OK"})


def _method_not_allowed():
    return (
        405,
        {"Content-Type": "application/json"},
        _json({"errorMessage": "method not allowed", "errorType": "MethodNotAllowed"}),
    )
