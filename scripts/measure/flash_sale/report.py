"""The flash sale's plot: over time, the POSTs answered and the orders decided per second, the
orders in flight, the records deferred and given up, and the SKU's shard count; beside it, the
distribution of time to decision."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to a file
import matplotlib.pyplot as plt

from flash_sale.load import Post
from flash_sale.observe import Decision, LogFigures


def per_second(times: list[float], t0: float) -> tuple[list[int], list[int]]:
    c = Counter(int(t - t0) for t in times if t >= t0)
    xs = list(range(max(c) + 1)) if c else []
    return xs, [c.get(x, 0) for x in xs]


def plot(path: Path, t0: float, posts: list[Post], ds: list[Decision], progress: list[tuple[float, int]],
         figures: LogFigures, summary: dict[str, Any]) -> None:  # fmt: skip
    fig, (rate, cdf) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=[2, 1])
    xs, ys = per_second([p.answered for p in posts if p.order_id], t0)
    rate.bar(xs, ys, width=1.0, align="edge", alpha=0.35, color="tab:blue", label="POSTs accepted / s")
    xs, ys = per_second([d.decided for d in ds if d.decided is not None], t0)
    rate.step(xs, ys, where="post", color="tab:green", label="orders decided / s")
    for times, color, label in ((figures.deferral_times, "tab:orange", "records deferred / s"),
                                (figures.giveup_times, "tab:red", "records given up / s")):  # fmt: skip
        if times:
            xs, ys = per_second(times, t0)
            rate.step(xs, ys, where="post", color=color, linewidth=0.8, label=label)
    accepted = sorted(p.answered - t0 for p in posts if p.order_id)
    decided = sorted(d.decided - t0 for d in ds if d.decided is not None)
    horizon = max(accepted[-1:] + decided[-1:] + [1.0])
    grid = [i * 0.5 for i in range(int(horizon * 2) + 2)]
    inflight = [sum(a <= t for a in accepted) - sum(d <= t for d in decided) for t in grid]
    rate.plot(grid, inflight, color="black", linewidth=1, label="orders in flight (accepted, undecided)")
    rate.set_xlabel("seconds since the first POST")
    rate.set_ylabel("per second / orders")
    if figures.shard_changes or summary["shards_at_start"] != summary["shards_at_end"]:
        shards = rate.twinx()
        steps = [(0.0, summary["shards_at_start"])] + [(t - t0, n) for t, n in sorted(figures.shard_changes)]
        steps.append((horizon, steps[-1][1]))
        shards.step([s[0] for s in steps], [s[1] for s in steps], where="post", color="tab:purple",
                    linestyle="--", label="stock shards")  # fmt: skip
        shards.set_ylabel("stock shards of the SKU")
        shards.set_ylim(0, max(s[1] for s in steps) + 1)
        shards.legend(loc="center right")
    rate.legend(loc="upper right", fontsize=8)
    rate.set_title(f"{summary['orders']} orders from {summary['clients']} clients, {summary['units']} units, "
                   f"faults {summary['faults']:g}")  # fmt: skip

    ttd = sorted(d.decided - d.created for d in ds if d.decided is not None)
    if ttd:
        cdf.plot(ttd, [(i + 1) / len(ttd) for i in range(len(ttd))], color="tab:green")
    cdf.set_xlabel("time to decision (s, POST accepted -> CONFIRMED / REJECTED)")
    cdf.set_ylabel("share of orders")
    cdf.set_ylim(0, 1.01)
    cdf.grid(alpha=0.3)
    t = summary["time_to_decision_s"]
    cdf.set_title(f"p50 {t['p50']} s, p99 {t['p99']} s, max {t['max']} s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
