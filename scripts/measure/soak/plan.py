"""The load, fixed by the seed: SKUs with their stock, orders (1-5 lines, a third of them on a
hot SKU with too little stock), which of them the client cancels, and relative restocks."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field


@dataclass
class OrderPlan:
    idx: int
    customer: str
    key: str
    lines: list[tuple[str, int]]
    # None, "pending" (cancelled right after the 202) or "confirmed" (once confirmed)
    cancel: str | None = None


@dataclass
class RestockPlan:
    idx: int
    sku: str
    delta: int
    key: str
    after_order: int  # sent once this many orders were placed


@dataclass
class Plan:
    run: str
    seed: int
    stock: dict[str, int]
    hot: str
    orders: list[OrderPlan] = field(default_factory=list)
    restocks: list[RestockPlan] = field(default_factory=list)


def make_plan(n: int, seed: int, skus: int = 30) -> Plan:
    rng = random.Random(seed)
    # The names are new each run (the stack keeps earlier runs' orders and keys); the seed
    # fixes everything else.
    run = f"S{seed}-{uuid.uuid4().hex[:8].upper()}"
    normal = [f"SOAK-{run}-{i:02d}" for i in range(skus)]
    hot = f"SOAK-{run}-HOT"
    plan = Plan(run=run, seed=seed, stock={}, hot=hot)
    demand = dict.fromkeys([*normal, hot], 0)
    for i in range(n):
        count = rng.randint(1, 5)
        chosen = rng.sample(normal, count - 1) if i % 3 == 0 else rng.sample(normal, count)
        if i % 3 == 0:
            chosen.append(hot)
        lines = [(sku, rng.randint(1, 3)) for sku in chosen]
        for sku, q in lines:
            demand[sku] += q
        roll = rng.random()
        cancel = "pending" if roll < 0.08 else "confirmed" if roll < 0.12 else None
        plan.orders.append(OrderPlan(i, f"soak-{run}-c{i:05d}", f"soak-{run}-k{i:05d}", lines, cancel))
    # Normal SKUs have a little more than their demand (most orders confirm, some do not, as
    # restocks come late); the hot SKU a quarter of its demand.
    for sku in normal:
        plan.stock[sku] = max(1, int(demand[sku] * rng.uniform(0.9, 1.3)))
    plan.stock[hot] = max(1, demand[hot] // 4)
    for j in range(max(2, n // 25)):
        sku = hot if j % 4 == 0 else rng.choice(normal)
        after = rng.randrange(n)
        plan.restocks.append(RestockPlan(j, sku, rng.randint(1, 10), f"soak-{run}-r{j:04d}", after))
    plan.restocks.sort(key=lambda r: r.after_order)
    return plan
