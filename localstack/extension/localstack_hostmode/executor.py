"""``hostmode``: a LocalStack Lambda runtime executor that runs ``provided.*`` zip functions as
host processes (no Docker).

One :class:`HostModeRuntimeExecutor` is one Lambda execution environment. LocalStack's assignment
service creates one per concurrent invocation and reuses it warm, so the mapping to AWS is direct:

- ``start``  : start a Runtime API server on 127.0.0.1, spawn ``<code>/bootstrap`` with the
  Lambda environment, wait for its first ``/next`` (the init phase, at most 10 s like AWS).
- ``invoke`` : hand the event to the waiting ``/next`` and wait for ``/response`` or ``/error``,
  at most the function's timeout. A timeout kills the process (``Sandbox.Timedout``); a process
  that dies mid-invocation is ``Runtime.ExitError``; an init failure is returned on the first
  invocation. After any of these the next invocation starts a fresh process (a new init), as
  AWS resets the sandbox.
- ``stop``   : kill the process group and close the server.

The bootstrap's stdout and stderr are collected and returned with every result, framed with
START / END / REPORT lines, and LocalStack ships them to CloudWatch Logs
(``/aws/lambda/<name>``). With ``LoggingConfig.LogFormat=JSON`` the platform lines are JSON
records as in AWS; lines the function writes are shipped as they are (text or JSON).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import platform
import select
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

from . import callers, chaos
from .processes import REGISTRY, RUN_ENV, kill_group, peak_rss_mb
from .runtime_api import Invocation, RuntimeApiServer, Session

LOG = logging.getLogger(__name__)

EXECUTOR_NAME = "hostmode"
SUPPORTED_RUNTIMES = ("provided.al2023", "provided.al2", "provided")
INIT_TIMEOUT_S = 10.0  # AWS: init phase limit for on-demand functions
LOG_TAIL_BYTES = 64 * 1024
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine()
)
# Environment given to every function process besides the Lambda variables (AWS sets these).
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LANG": "en_US.UTF-8",
    "LD_LIBRARY_PATH": "/lib64:/usr/lib64:/opt/lib",
}
# Variables LocalStack adds for its Docker init that mean nothing to a host process.
DROP_ENV = ("LOCALSTACK_RUNTIME_ENDPOINT", "LOCALSTACK_RUNTIME_ID", "LOCALSTACK_USER")


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class OutputCapture:
    """Collects a process's combined stdout/stderr from a pipe.

    A reader thread drains the pipe continuously (so a chatty function never blocks on a full
    pipe); :meth:`drain` reads whatever is left under the same lock. Because a runtime writes its
    log lines *before* it posts its answer, draining after the answer arrived yields every line of
    that invocation, without sleeping.
    """

    def __init__(self, fd: int):
        self._fd = fd
        os.set_blocking(fd, False)
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._tail = bytearray()
        self._eof = False
        self._thread = threading.Thread(target=self._loop, name="lambda-output", daemon=True)
        self._thread.start()

    def _read_available(self) -> None:  # caller holds the lock
        while not self._eof:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EBADF:
                    self._eof = True
                    return
                raise
            if not data:
                self._eof = True
                return
            self._buf += data
            self._tail += data
            if len(self._tail) > LOG_TAIL_BYTES:
                del self._tail[: len(self._tail) - LOG_TAIL_BYTES]

    def _loop(self) -> None:
        while not self._eof:
            try:
                select.select([self._fd], [], [], 0.5)
            except (OSError, ValueError):
                break
            with self._lock:
                self._read_available()

    def drain(self) -> str:
        """All output since the previous call, complete lines only unless the pipe ended."""
        with self._lock:
            self._read_available()
            if self._eof:
                out, self._buf = bytes(self._buf), bytearray()
            else:
                cut = self._buf.rfind(b"\n") + 1
                out = bytes(self._buf[:cut])
                del self._buf[:cut]
        return out.decode("utf-8", errors="replace")

    def tail(self) -> str:
        with self._lock:
            return bytes(self._tail).decode("utf-8", errors="replace")

    def close(self) -> None:
        with self._lock:
            self._read_available()
            self._eof = True
            with contextlib.suppress(OSError):
                os.close(self._fd)


class HostModeRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self._invoke_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._server: RuntimeApiServer | None = None
        self._env: dict[str, str] = {}
        self._proc: subprocess.Popen | None = None
        self._session: Session | None = None
        self._output: OutputCapture | None = None
        self._spawned_at = 0.0
        self._init_ms: float | None = None  # reported once, with the first invocation
        self._init_reported = False
        self._stopped = False
        self._log_tail = ""
        self._spawn_error: bytes | None = None
        self._last_mem_mb: int | None = None
        self._leftover = ""  # output of a previous process not yet shipped
        self.function_name = function_version.id.function_name
        chaos.track(self)

    # -- RuntimeExecutor interface ------------------------------------------------------------

    @staticmethod
    def _unsupported(function_version: FunctionVersion) -> str | None:
        cfg = function_version.config
        runtime = cfg.runtime or ""
        if cfg.package_type != "Zip" or runtime not in SUPPORTED_RUNTIMES:
            return (
                f"LAMBDA_RUNTIME_EXECUTOR={EXECUTOR_NAME} runs only zip functions on "
                f"{', '.join(SUPPORTED_RUNTIMES)} as host processes; got package type "
                f"{cfg.package_type!r}, runtime {runtime!r}"
            )
        return None

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        # An unsupported runtime is refused when an environment starts (every invoke fails with
        # the reason), not here: a version that fails preparation cannot be deleted in
        # LocalStack 2026.3 ("Unable to find version manager"), which would wedge stacks.
        cfg = function_version.config
        if reason := cls._unsupported(function_version):
            LOG.warning("hostmode: %s: %s", function_version.qualified_arn, reason)
            return
        if cfg.layers:
            LOG.warning(
                "hostmode: %s has layers; they are not extracted (no /opt) in host mode", function_version.qualified_arn
            )
        arch = (cfg.architectures or ["x86_64"])[0]
        if arch != HOST_ARCH:
            LOG.warning(
                "hostmode: %s is declared %s but runs directly on this %s host; its bootstrap must be a host binary",
                function_version.qualified_arn,
                arch,
                HOST_ARCH,
            )
        if cfg.code:
            cfg.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # nothing beyond LocalStack's own unzipped code cache

    @classmethod
    def validate_environment(cls) -> bool:
        return True

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        # the function runs on this host: LocalStack is on loopback
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        # LocalStack's Docker init callback; unused here, but part of the interface
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    def get_logs(self) -> str:
        if self._output:
            return self._output.tail()
        return self._log_tail

    def start(self, env_vars: dict[str, str]) -> None:
        if reason := self._unsupported(self.function_version):
            raise ValueError(reason)
        self._server = RuntimeApiServer("127.0.0.1", 0)
        self._server.start()
        code = self.function_version.config.code
        code.prepare_for_execution()
        self._code_dir = Path(code.get_unzipped_code_location())
        env = dict(BASE_ENV)
        env.update({k: str(v) for k, v in env_vars.items() if v is not None})
        for k in DROP_ENV:
            env.pop(k, None)
        callers.register(env.get("AWS_ACCESS_KEY_ID"), self.function_version.id.function_name)
        env["AWS_LAMBDA_RUNTIME_API"] = self._server.address
        env["LAMBDA_TASK_ROOT"] = str(self._code_dir)
        env["LAMBDA_RUNTIME_DIR"] = str(self._code_dir)
        if os.environ.get(RUN_ENV):
            env[RUN_ENV] = os.environ[RUN_ENV]
        self._env = env
        self._spawn()
        # the init phase: wait for the first /next (or an init error / exit), like AWS does
        # before it sends the first event; failures are reported by that first invoke
        self._wait_init(time.monotonic() + INIT_TIMEOUT_S)

    def stop(self) -> None:
        self._stopped = True
        self._kill()
        if self._output is not None:
            self._output.close()
        if self._server:
            self._server.stop()

    def busy(self) -> bool:
        """An invocation is in flight."""
        return self._invoke_lock.locked()

    def crash(self) -> dict | None:
        """SIGKILLs the process as a crash would (chaos.kill); None when none is running. The
        invocation in flight sees the process exit; the next one starts a new process."""
        with self._state_lock:
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return None
        busy = self.busy()
        kill_group(proc.pid)
        LOG.warning("hostmode chaos: killed %s (pid %s, busy %s)", self.function_name, proc.pid, busy)
        return {"function": self.function_name, "pid": proc.pid, "busy": busy}

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self._invoke_lock:
            return self._invoke(payload)

    # -- process lifecycle ----------------------------------------------------------------------

    def _spawn(self) -> None:
        with self._state_lock:
            if self._stopped:
                raise RuntimeError("execution environment is stopped")
            session = Session()
            self._session = session
            assert self._server is not None, "started with the environment"
            self._server.session = session
            self._init_ms = None
            self._init_reported = False
            self._spawn_error = None
            if self._output is not None:
                # ship what the previous process wrote last with the next invocation's logs
                self._leftover += self._output.drain()
                self._output.close()
                self._output = None
            self._spawned_at = time.perf_counter()
            self._last_mem_mb = None
            bootstrap = self._code_dir / "bootstrap"
            if not bootstrap.is_file():
                self._spawn_error = _error_json(
                    "Runtime.InvalidEntrypoint",
                    "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
                )
                session.exited = True
                return
            r, w = os.pipe()
            try:
                proc = subprocess.Popen(
                    [str(bootstrap)],
                    cwd=str(self._code_dir),
                    env=self._env,
                    stdin=subprocess.DEVNULL,
                    stdout=w,
                    stderr=w,
                    start_new_session=True,  # own process group: killed as a whole
                    close_fds=True,
                )
            except OSError as e:
                os.close(r)
                os.close(w)
                self._spawn_error = _error_json(
                    "Runtime.InvalidEntrypoint", f"fork/exec {bootstrap}: {(e.strerror or str(e)).lower()}"
                )
                session.exited = True
                return
            os.close(w)
            REGISTRY.add(proc)
            self._proc = proc
            self._output = OutputCapture(r)
            threading.Thread(
                target=self._reap, args=(proc, session), name=f"lambda-reap-{proc.pid}", daemon=True
            ).start()
            LOG.debug("hostmode: started %s pid %s", self.function_version.qualified_arn, proc.pid)

    @staticmethod
    def _reap(proc: subprocess.Popen, session: Session) -> None:
        proc.wait()
        REGISTRY.remove(proc.pid)
        # anything it forked into its group goes with it
        kill_group(proc.pid)
        with session.cond:
            session.exited = True
            session.cond.notify_all()

    def _kill(self) -> None:
        with self._state_lock:
            proc, session, output = self._proc, self._session, self._output
            self._proc = None
        if proc is not None:
            kill_group(proc.pid)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("hostmode: pid %s did not exit after SIGKILL", proc.pid)
            REGISTRY.remove(proc.pid)
        if session is not None:
            session.close()
        if output is not None:
            self._log_tail = output.tail()

    def _alive(self) -> bool:
        s = self._session
        return self._proc is not None and s is not None and not s.exited

    def _wait_init(self, deadline: float) -> str:
        """Wait for the init phase to end. Returns "ready", "init_error", "exited" or "timeout"."""
        s = self._session
        assert s is not None, "called after _spawn"
        with s.cond:
            while True:
                if s.init_error is not None:
                    return "init_error"
                if s.ready:
                    if self._init_ms is None:
                        self._init_ms = (time.perf_counter() - self._spawned_at) * 1000
                    return "ready"
                if s.exited:
                    return "exited"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout"
                s.cond.wait(remaining)

    def _exit_description(self) -> str:
        proc = self._proc
        rc = proc.poll() if proc else None
        if rc is None:
            return "Runtime exited without providing a reason"
        if rc < 0:
            try:
                name = signal.Signals(-rc).name[3:].lower()
            except ValueError:
                name = str(-rc)
            name = {"kill": "killed", "term": "terminated", "segv": "segmentation fault"}.get(name, name)
            return f"Runtime exited with error: signal: {name}"
        return f"Runtime exited with error: exit status {rc}"

    # -- invocation ---------------------------------------------------------------------------

    def _invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout_s = float(self.function_version.config.timeout)
        t_start = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)

        if not self._alive() and self._spawn_error is None and not self._has_init_outcome():
            # a previous invocation crashed, timed out or failed init: a fresh sandbox
            self._kill()
            self._spawn()

        state = self._wait_init(deadline) if self._spawn_error is None else "spawn_error"
        init_ms = None
        if state == "ready" and not self._init_reported:
            init_ms = self._init_ms
            self._init_reported = True

        if state != "ready":
            if state == "timeout":
                return self._timed_out(request_id, timeout_s, t_start)
            body: bytes | None
            if state == "spawn_error":
                body, etype = self._spawn_error, "Runtime.InvalidEntrypoint"
                self._spawn_error = None  # the next invoke tries again
            elif state == "init_error":
                s = self._session
                assert s is not None, "init_error comes from the session"
                body = s.init_error
                etype = s.init_error_type or _error_type_of(body) or "Runtime.Unknown"
            else:  # exited during init
                etype = "Runtime.ExitError"
                body = _error_json(etype, f"RequestId: {request_id} Error: {self._exit_description()}")
            logs = self._collect()
            self._kill()
            self._clear_session()
            duration = (time.perf_counter() - t_start) * 1000
            return InvocationResult(
                request_id,
                body,
                is_error=True,
                logs=self._frame(
                    request_id,
                    logs + _error_log_line(body or b"", etype),
                    duration,
                    None,
                    status="error",
                    error_type=etype,
                ),
            )

        session = self._session
        assert session is not None, "ready implies a session"
        inv = Invocation(
            request_id=request_id,
            payload=(payload.get("payload") or "").encode(),
            invoked_arn=payload.get("invoked-function-arn", ""),
            deadline_ms=deadline_ms,
            trace_id=payload.get("trace-id", ""),
        )
        session.submit(inv)
        with session.cond:
            while inv.outcome is None and not session.exited:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                session.cond.wait(remaining)
            outcome, exited = inv.outcome, session.exited
        duration = (time.perf_counter() - t_start) * 1000
        mem = self._peak_mb()

        if outcome == "response":
            return InvocationResult(
                request_id,
                inv.body,
                is_error=False,
                logs=self._frame(request_id, self._collect(), duration, init_ms, mem=mem),
            )
        if outcome == "error":
            etype = inv.error_type or _error_type_of(inv.body) or "Unhandled"
            return InvocationResult(
                request_id,
                inv.body,
                is_error=True,
                logs=self._frame(
                    request_id, self._collect(), duration, init_ms, mem=mem, status="error", error_type=etype
                ),
            )
        if exited:
            etype = "Runtime.ExitError"
            message = f"RequestId: {request_id} Error: {self._exit_description()}"
            mem = self._last_mem_mb
            logs = self._collect() + f"{message}\n{etype}\n"
            self._kill()
            self._clear_session()
            return InvocationResult(
                request_id,
                _error_json(etype, message),
                is_error=True,
                logs=self._frame(request_id, logs, duration, init_ms, mem=mem, status="error", error_type=etype),
            )
        return self._timed_out(request_id, timeout_s, t_start, init_ms)

    def _peak_mb(self) -> int | None:
        """Peak RSS of the current process; the last figure seen once it is gone."""
        if self._proc is not None:
            mb = peak_rss_mb(self._proc.pid)
            if mb:
                self._last_mem_mb = mb
        return self._last_mem_mb

    def _has_init_outcome(self) -> bool:
        """True when the current session ended init with an error not yet reported."""
        s = self._session
        return s is not None and s.init_error is not None

    def _clear_session(self) -> None:
        # make the next invoke start a fresh process
        with self._state_lock:
            if self._session is not None:
                self._session.exited = True
                self._session.init_error = None

    def _timed_out(self, request_id, timeout_s, t_start, init_ms=None):
        mem = self._peak_mb()
        self._kill()
        logs = self._collect()
        logs += f"{_iso_now()} {request_id} Task timed out after {timeout_s:.2f} seconds\n"
        self._clear_session()
        duration = (time.perf_counter() - t_start) * 1000
        return InvocationResult(
            request_id,
            _error_json(
                "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
            ),
            is_error=True,
            logs=self._frame(request_id, logs, duration, init_ms, mem=mem, status="timeout"),
        )

    # -- logs -----------------------------------------------------------------------------------

    def _collect(self) -> str:
        out, self._leftover = self._leftover, ""
        if self._output is not None:
            out += self._output.drain()
        if out and not out.endswith("\n"):
            out += "\n"
        return out

    def _frame(
        self,
        request_id: str,
        body: str,
        duration_ms: float,
        init_ms: float | None,
        mem: int | None = None,
        status: str = "success",
        error_type: str | None = None,
    ) -> str:
        cfg = self.function_version.config
        version = self.function_version.id.qualifier
        memory = int(cfg.memory_size)
        used = mem or 0
        billed = max(1, math.ceil(duration_ms))
        if self._env.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":

            def rec(kind, record):
                return json.dumps({"time": _iso_now(), "type": kind, "record": record}) + "\n"

            metrics = {
                "durationMs": round(duration_ms, 2),
                "billedDurationMs": billed,
                "memorySizeMB": memory,
                "maxMemoryUsedMB": used,
            }
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 2)
            report = {"requestId": request_id, "metrics": metrics, "status": status}
            if error_type:
                report["errorType"] = error_type
            return (
                rec("platform.start", {"requestId": request_id, "version": version})
                + body
                + rec("platform.runtimeDone", {"requestId": request_id, "status": status})
                + rec("platform.report", report)
            )
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {billed} ms\tMemory Size: {memory} MB\tMax Memory Used: {used} MB\t"
        )
        if init_ms is not None:
            line += f"Init Duration: {init_ms:.2f} ms\t"
        if status != "success":
            line += f"Status: {status}\t"
            if error_type:
                line += f"Error Type: {error_type}\t"
        return (
            f"START RequestId: {request_id} Version: {version}\n"
            + body
            + f"END RequestId: {request_id}\n"
            + line
            + "\n"
        )


def _error_type_of(body: bytes | None) -> str | None:
    try:
        value = json.loads(body or b"")
    except ValueError:
        return None
    return value.get("errorType") if isinstance(value, dict) else None


def _error_log_line(body: bytes, error_type: str) -> str:
    try:
        msg = json.loads(body).get("errorMessage", "")
    except (ValueError, AttributeError):
        msg = ""
    return f"{msg}\n{error_type}\n" if msg else f"{error_type}\n"
