"""One tap for a whole parallel e2e run (scripts/make/e2e.sh): subscribes to the stack's topics,
checks every message against its contract and appends it to the JSON-lines file named by its
argument, until SIGTERM; then unsubscribes and deletes its queue. Each test worker reads the file
(tap.FileTap) instead of subscribing a tap of its own, which would add the same deliveries once
per worker to the emulator's load. The file appears once the subscriptions exist."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "support")]

from conftest import the_stack  # noqa: E402
from tap import Tap  # noqa: E402

if __name__ == "__main__":
    path = Path(sys.argv[1])
    partial = path.with_suffix(".starting")
    partial.unlink(missing_ok=True)
    tap = Tap(the_stack(), check_contracts=True, record=partial)
    partial.rename(path)  # the subscriptions exist: the run may start
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    tap.close()
