"""`make token USER=...`: an access token of the local stack's user pool for USER (created on
first use; `operator` is in the operators group), printed alone, for curl's Authorization
header. Local pools only: the password is derived from the name (orders_client.local_password)."""

import argparse
import sys
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

from orders_client import OPERATOR, Stack


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("user", nargs="?", default="demo-customer")
    ap.add_argument("--id", action="store_true", help="print the ID token instead (the API refuses it)")
    args = ap.parse_args()
    stack = Stack()
    if args.user == OPERATOR:
        stack.operator()
    else:
        stack.customer(args.user)
    result = stack.users.sign_in(args.user)
    print(result["IdToken" if args.id else "AccessToken"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
