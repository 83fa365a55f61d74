"""A flash sale on one hot SKU, with its stock on one item and on eight shards (the count
changed while it sells): every unit sold at most once, none created or lost, and the API's
total consistent at every moment, through the API and read back from the Products table.
And a hot SKU nobody sharded: inventory spreads it over more shards by itself."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from conftest import log_lines, new_customer, new_sku, serial_only
from orders_client import wait_for

SETTLED = {"CONFIRMED", "REJECTED", "CANCELLED"}
STOCK = 30
ORDERS = 80  # 1-3 units each: about five times the stock


def shard_items(stack, sku: str) -> list[dict]:
    """The SKU's stock items: the product item and its shard items (`<sku>#shard#<k>`)."""
    items = stack.scan_all("ProductsTableName")
    return [i for i in items if i["sku"] == sku or i.get("for_sku") == sku]


def settled(stack, order_ids: list[str]) -> list[str]:
    """The orders' statuses once every one has settled (read from the table, 4 minutes at most)."""
    return stack.wait_settled(order_ids, 240, SETTLED)


# Under pinned faults once: on 8 shards, where takes span shards and the count changes mid-sale.
@pytest.mark.parametrize("shards", [1, pytest.param(8, marks=pytest.mark.also_under_faults)])
def test_flash_sale_sells_each_unit_once(stack, shards):
    sku = new_sku("FLASH")
    stack.set_stock(sku, STOCK, shards=shards)
    rng = random.Random(shards)
    quantities = [rng.randint(1, 3) for _ in range(ORDERS)]

    # While it sells, the API's total never moves: reservations and releases move units
    # between available and reserved, rebalances and count changes between shards. (A read
    # of several hot shards can lose to the writes in progress on them: 503, retried.)
    totals: list[int] = []
    unavailable = 0
    odd: list[str] = []  # a thread's assertion would be lost: kept and asserted below
    selling = threading.Event()
    selling.set()

    def watch():
        nonlocal unavailable
        while selling.is_set():
            r = stack.call("GET", f"/products/{sku}")
            if r.status == 503:
                unavailable += 1
                continue
            if r.status != 200:
                odd.append(f"{r.status} {r.text}")
                continue
            totals.append(r.body["available"] + r.body["reserved"])
            # A reader, not a load generator: dozens of reads per sale, each a Lambda invocation.
            time.sleep(0.2)

    def buy(i: int) -> str:
        r = stack.place_accepted(new_customer(), [(sku, quantities[i])])
        assert r.status == 202, r.text
        if i % 6 == 0:  # regret right after buying: a cancel before or after the reservation
            cancel = f"/orders/{r.body['order_id']}/cancel"
            c = stack.as_client(lambda: stack.call("POST", cancel, {"reason": "regret"}))
            assert c.status in (200, 202, 409), c.text
        return r.body["order_id"]

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    order_ids: list[str] = []
    bounds = [0, ORDERS // 3, 2 * ORDERS // 3, ORDERS]
    with ThreadPoolExecutor(max_workers=12) as pool:
        for wave, count in enumerate((None, 4, 8)):
            # With shards, the count changes while the previous wave is still reserving.
            change = pool.submit(stack.set_shards, sku, count) if shards > 1 and count else None
            order_ids += pool.map(buy, range(bounds[wave], bounds[wave + 1]))
            if change:
                assert change.result().status == 200, change.result().text
    final = settled(stack, order_ids)
    selling.clear()
    watcher.join(30)

    sold = sum(q for q, s in zip(quantities, final, strict=True) if s == "CONFIRMED")
    product = stack.product(sku)
    # A one-item SKU under this burst may be spread by inventory itself (below); never lowered.
    assert product["shards"] == shards if shards > 1 else product["shards"] in (1, 2, 4, 8), product
    assert final.count("REJECTED") > 0, "demand was five times the stock"
    assert 0 < sold <= STOCK
    assert (product["available"] + product["reserved"], product["reserved"]) == (STOCK, sold)
    assert not odd, odd
    assert len(totals) > unavailable, f"{len(totals)} reads, {unavailable} answered 503"
    assert set(totals) == {STOCK}, f"a read saw {sorted(set(totals))}"

    items = shard_items(stack, sku)
    assert len(items) == product["shards"], [i["sku"] for i in items]
    assert all(int(i["available"]) >= 0 and int(i["reserved"]) >= 0 for i in items), items
    assert sum(int(i["reserved"]) for i in items) == sold


HOT_STOCK = 100
HOT_ORDERS = 300  # one unit each, from 32 clients at once: three times the stock (the brief's burst)


@contextmanager
def batches_at_once(stack, function_output: str, n: int) -> Iterator[None]:
    """The function's event source mapping runs up to `n` batches at once (AWS's default 10;
    local deploys 2), each taken as soon as it is there (no batching window), while the block
    runs; restored afterwards. With a 1 s window (the stage that delivers as AWS may) a batch
    holds many records of the hot item, which run one after another in one container (lanes),
    and a 300-order burst met too few conflicts per container to spread the item."""
    serial_only("changing a mapping's settings")
    lam = stack.client("lambda")
    uuid_ = lam.list_event_source_mappings(FunctionName=stack.outputs[function_output])["EventSourceMappings"][0][
        "UUID"
    ]
    m = lam.get_event_source_mapping(UUID=uuid_)
    before, window = m["ScalingConfig"]["MaximumConcurrency"], m.get("MaximumBatchingWindowInSeconds", 0)
    lam.update_event_source_mapping(
        UUID=uuid_, ScalingConfig={"MaximumConcurrency": n}, MaximumBatchingWindowInSeconds=0
    )
    try:
        yield
    finally:
        lam.update_event_source_mapping(
            UUID=uuid_, ScalingConfig={"MaximumConcurrency": before}, MaximumBatchingWindowInSeconds=window
        )


def accepted(r) -> str:
    assert r.status == 202, f"POST /orders: {r.status} {r.text}"
    return r.body["order_id"]


@pytest.mark.serial  # changes inventory's mapping concurrency
def test_a_hot_sku_nobody_sharded_spreads_itself(stack, session_started_ms):
    """A burst on a SKU created on one stock item, consumed as AWS would by default (10 batches
    at once; the local deploy's 2 rarely collide on the item: 23 conflicts in 400 such orders):
    its reservations conflict, inventory raises its shard count by itself (logged, counted),
    and still every unit is sold exactly once."""
    sku = new_sku("HOT")
    stack.set_stock(sku, HOT_STOCK, shards=1)

    with batches_at_once(stack, "InventoryFunctionName", 10):
        with ThreadPoolExecutor(max_workers=32) as pool:
            order_ids = list(
                pool.map(lambda _: accepted(stack.place_accepted(new_customer(), [(sku, 1)])), range(HOT_ORDERS))
            )
        final = settled(stack, order_ids)
    product = stack.product(sku)
    assert product["shards"] > 1, f"never spread: {product}"
    # Nobody cancels, yet under this burst a placement can time out and be rolled back after
    # its OrderPlaced went out; the client's retry places it again under its key, while the
    # first one's reservation is being released: that order is cancelled (saying why), never
    # confirmed, and its unit goes back on sale. Every other order is decided on the stock.
    cancelled = [o for o, status in zip(order_ids, final, strict=True) if status == "CANCELLED"]
    for order_id in cancelled:
        reason = stack.order(order_id)["history"][-1].get("reason", "")
        assert reason.startswith("stock released"), (order_id, reason)
    assert final.count("CONFIRMED") == product["reserved"], (final, product)
    assert product["available"] + product["reserved"] == HOT_STOCK, product
    assert product["available"] <= len(cancelled), f"units unsold with nothing released: {product}"
    items = shard_items(stack, sku)
    assert len(items) == product["shards"], [i["sku"] for i in items]
    assert all(int(i["available"]) >= 0 and int(i["reserved"]) >= 0 for i in items), items

    def raised() -> list[dict]:
        return [
            x["fields"]
            for x in log_lines(stack, "InventoryFunctionName", session_started_ms)
            if x.get("fields", {}).get("message") == "hot SKU: stock shards raised" and x["fields"].get("sku") == sku
        ]

    # The raises are logged (lines reach the log a little late), each a doubling up to the count
    # the product has now. Not necessarily the last one: a raise whose answer was lost (an SDK
    # timeout under this load) took effect, and its retry found the count changed already.
    raises = wait_for(raised, bool, 30, "inventory's log lines of the raises")
    assert all(x["to"] == 2 * x["from"] for x in raises), raises
    assert max(x["to"] for x in raises) <= product["shards"], (raises, product)
    env = stack.client("lambda").get_function_configuration(FunctionName=stack.outputs["InventoryFunctionName"])[
        "Environment"
    ]["Variables"]
    # (Not necessarily 1 -> 2 among them: a CI run under fault rules logged only 2 -> 4.)
    assert all(x["conflicts"] >= int(env["HOT_SKU_CONFLICTS"]) for x in raises), raises
