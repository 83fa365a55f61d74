"""`make flash-sale`: a burst of orders on one SKU, watched to the last decision (see __main__)."""

import sys
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "support"))
