"""The chaos soak (`make soak`): orders, cancels and restocks through injected AWS errors,
process kills, a consumer outage and an API crash, then a recount of every invariant."""

import sys
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
