"""Sends the poison scenario's batch (conftest.PoisonBatch) and writes what it sent as JSON to the
file named by its argument: scripts/make/e2e.sh runs it before the parallel phase, so the
poison message's 2.5 minutes to the DLQ pass while the other tests run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "support")]

from conftest import PoisonBatch, the_stack  # noqa: E402

if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(PoisonBatch.send(the_stack())))
