"""The end of `make up`: signs in a demo operator and a demo customer (users of the stack's
local user pool), seeds demo stock as the operator, places an order as the customer and follows
it to the end, printing what each would see and how to get their tokens."""

import json
import sys
import time
import uuid
from pathlib import Path

# The client the e2e tests share (local_aws, orders_client, ...) lives in tests/support/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))

from orders_client import DEMO_CUSTOMER, OPERATOR, Stack, wait_for

SKU = "DEMO-WIDGET"


def main() -> int:
    stack = Stack()
    print(f"==> users: {OPERATOR} (group operators) and {DEMO_CUSTOMER} in user pool {stack.outputs['UserPoolId']}")
    stack.operator()
    customer = stack.customer(DEMO_CUSTOMER)
    print(f"==> seed, as {OPERATOR}: PUT /products/{SKU} {{available: 100}}")
    stack.set_stock(SKU, 100)
    if "--seed-only" in sys.argv:
        return 0

    started = time.monotonic()
    key = f"demo-{uuid.uuid4()}"
    r = stack.place(customer, [(SKU, 2)], idempotency_key=key)
    print(f"==> POST /orders as {DEMO_CUSTOMER} -> {r.status} Location: {r.headers.get('location')}")
    print("    " + json.dumps(r.body))
    if r.status != 202:
        return 1
    order_id = r.body["order_id"]

    seen = ["PENDING"]

    def progress():
        o = stack.order(order_id)
        if o["status"] != seen[-1]:
            seen.append(o["status"])
            print(f"    {time.monotonic() - started:5.1f}s  {o['status']}")
        return o

    order = wait_for(
        progress, lambda o: o["status"] in {"CONFIRMED", "REJECTED", "CANCELLED"}, 90, f"order {order_id} to settle"
    )
    print(f"==> order {order_id} is {order['status']} after {time.monotonic() - started:.1f}s")
    print("    " + json.dumps(order))
    # The customer hears the final status (and "received" before it, unless it came later).
    final = {"CONFIRMED": "order_confirmed", "REJECTED": "order_rejected"}.get(order["status"], "order_cancelled")
    notes = wait_for(
        lambda: stack.notifications_for(order_id),
        lambda n: any(x.get("kind") == final and x.get("state") == "SENT" for x in n),
        60,
        f"the {final} notification",
    )
    print("==> notifications")
    for n in sorted(notes, key=lambda n: int(n.get("seq", 0))):
        print(f"    [{n.get('kind')}] {n.get('state')} {n.get('sent_at', '')}")
    print(f"==> product {SKU}: {json.dumps(stack.product(SKU))}")
    # Copy-pasteable: the README's "Try it" starts from these two lines.
    print(f"\nexport API={stack.api_url} KEY={stack.api_key}")
    print(f"export TOKEN=$(make -s token USER={DEMO_CUSTOMER})   # or USER={OPERATOR}: may set stock")
    print('curl -H "x-api-key: $KEY" -H "Authorization: Bearer $TOKEN" "$API/orders"')
    return 0 if order["status"] == "CONFIRMED" else 1


if __name__ == "__main__":
    sys.exit(main())
