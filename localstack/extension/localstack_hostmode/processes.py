"""Book-keeping of every function process the executor starts, so that none outlives LocalStack.

Each bootstrap runs in its own session / process group (``start_new_session=True``), so killing
the group also ends whatever the bootstrap forked. Every live process is:

- kept in :data:`REGISTRY` (killed by the executor's ``stop``, the ``on_infra_shutdown`` hook and
  ``atexit``),
- written to ``$LOCALSTACK_HOSTMODE_PIDDIR/fn-<pid>`` as ``<pid> <start time>`` so that
  ``make down`` can sweep leftovers even after LocalStack itself was killed hard (the start time
  guards against killing a recycled pid),
- marked with ``LOCALSTACK_HOSTMODE_RUN=<run id>`` in its environment, which children inherit, for
  the same sweep.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import threading

LOG = logging.getLogger(__name__)

PIDDIR_ENV = "LOCALSTACK_HOSTMODE_PIDDIR"
RUN_ENV = "LOCALSTACK_HOSTMODE_RUN"


def proc_start_time(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    # the command name (field 2) may contain spaces; fields after the last ')' are fixed
    rest = stat.rsplit(")", 1)[1].split()
    return rest[19]


def peak_rss_mb(pid: int) -> int | None:
    """VmHWM (peak resident set) of a live process, in MB (rounded up)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    kb = int(line.split()[1])
                    return max(1, (kb + 1023) // 1024)
    except (OSError, ValueError, IndexError):
        return None
    return None


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (the bootstrap and anything it forked)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError as e:  # not ours: never expected, never fatal
        LOG.warning("cannot kill process group %s: %s", pid, e)


class ProcessRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen] = {}

    @staticmethod
    def _pidfile(pid: int) -> str | None:
        piddir = os.environ.get(PIDDIR_ENV)
        return os.path.join(piddir, f"fn-{pid}") if piddir else None

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs[proc.pid] = proc
        path = self._pidfile(proc.pid)
        if path:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(f"{proc.pid} {proc_start_time(proc.pid) or ''}\n")
            except OSError as e:
                LOG.warning("cannot write pid file %s: %s", path, e)

    def remove(self, pid: int) -> None:
        with self._lock:
            self._procs.pop(pid, None)
        path = self._pidfile(pid)
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def live(self) -> list[int]:
        with self._lock:
            return list(self._procs)

    def kill_all(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for p in procs:
            kill_group(p.pid)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("function process %s did not exit after SIGKILL", p.pid)
            self.remove(p.pid)
        if procs:
            LOG.info("hostmode: killed %d function process(es)", len(procs))


REGISTRY = ProcessRegistry()
atexit.register(REGISTRY.kill_all)
