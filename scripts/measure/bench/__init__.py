"""`make bench`: the pipeline measured against the emulator's own ceiling, in one run."""

import sys
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
