"""The hot-SKU shapes measured on LocalStack next to the simulation of the same points.

Runs `libs/aws/examples/hot_sku_localstack.rs` (this repo's reserve code against LocalStack
with the extension's transaction-conflict model, window set to the simulation's transaction
time), simulates the same shard counts and rates with `hot_sku_sim`, and writes
`docs/hot-sku-localstack.png`, `docs/hot-sku-localstack.json` and a table in
`docs/hot-sku-sim.md`. `make shard-bench` (LocalStack up: `make up` or `make localstack`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import hot_sku_sim as sim

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- BEGIN shard_bench.py output -->", "<!-- END shard_bench.py output -->"
COLORS = {1: "tab:red", 4: "tab:orange", 16: "tab:blue"}


def measure(shards: str, rates: str, seconds: float, window_ms: float) -> list[dict]:
    cmd = ["cargo", "run", "-q", "--release", "-p", "orders-aws", "--features", "localstack-tests"]
    cmd += ["--example", "hot_sku_localstack", "--", "--shards", shards, "--rates", rates]
    cmd += ["--seconds", str(seconds), "--window-ms", str(window_ms)]
    env = {**os.environ, "LOCALSTACK_ENDPOINT": os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")}
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def simulated(points: list[dict], window_ms: float) -> dict[tuple[int, float], sim.Result]:
    def one(p: dict) -> sim.Result:
        return sim.simulate(sim.Params(shards=p["shards"], rate=p["rate"], tx_ms=window_ms, orders=4000))

    return {(p["shards"], p["rate"]): one(p) for p in points}


def plot(points: list[dict], sims: dict[tuple[int, float], sim.Result], window_ms: float, out: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for n in sorted({p["shards"] for p in points}):
        mine = [p for p in points if p["shards"] == n]
        rates = [p["rate"] for p in mine]
        s = [sims[(n, r)] for r in rates]
        m = [p["point"] for p in mine]
        c = COLORS.get(n)
        for ax, sim_y, ls_y in (
            (axes[0], [r.goodput for r in s], [x["reserved_per_s"] for x in m]),
            (axes[1], [r.conflicts for r in s], [x["conflicts_per_order"] for x in m]),
            (axes[2], [100 * r.redelivered for r in s], [100 * x["gave_up"] / max(1, x["orders"]) for x in m]),
        ):
            ax.plot(rates, sim_y, "--", color=c, label=f"{n}: simulated (DynamoDB model)")
            ax.plot(rates, ls_y, "o-", color=c, label=f"{n}: LocalStack measured")
    axes[0].plot(*([[1, max(p["rate"] for p in points)]] * 2), ":", color="grey", label="y = x")
    titles = ("reservations/s", "conflicts per order", "% of orders giving up (SQS redelivery)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("offered orders/s for the SKU")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"One hot SKU over 1, 4, 16 shards: LocalStack (conflict window {window_ms:g} ms) vs the simulation")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def table(points: list[dict], sims: dict[tuple[int, float], sim.Result], window_ms: float) -> str:
    rows = [
        f"Measured by `make shard-bench` (conflict window {window_ms:g} ms; in flight at most 80, the deployed",
        "consumer's 10 batches x 8 records); `sim` is `hot_sku_sim.py` at the same point.\n",
        "| shards | offered/s | reserved/s (sim) | conflicts/order (sim) | gave up % (sim) | p50 / p99 ms (sim) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        m, s = p["point"], sims[(p["shards"], p["rate"])]
        gave_up = 100 * m["gave_up"] / max(1, m["orders"])
        rows.append(
            f"| {p['shards']} | {m['offered']:.0f} | {m['reserved_per_s']:.0f} ({s.goodput:.0f}) "
            f"| {m['conflicts_per_order']:.2f} ({s.conflicts:.2f}) | {gave_up:.1f} ({100 * s.redelivered:.1f}) "
            f"| {m['p50_ms']:.0f} / {m['p99_ms']:.0f} ({s.p50_ms:.0f} / {s.p99_ms:.0f}) |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--shards", default="1,4,16")
    ap.add_argument("--rates", default="5,10,20,50,100,200")
    ap.add_argument("--seconds", type=float, default=8.0, help="arrivals per point")
    ap.add_argument("--window-ms", type=float, default=10.0, help="conflict window, and the simulation's tx time")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    points = measure(args.shards, args.rates, args.seconds, args.window_ms)
    sims = simulated(points, args.window_ms)
    (args.docs / "hot-sku-localstack.json").write_text(json.dumps(points, indent=1) + "\n")
    plot(points, sims, args.window_ms, args.docs / "hot-sku-localstack.png")
    text = table(points, sims, args.window_ms)
    sim.write_table(args.docs / "hot-sku-sim.md", text, BEGIN, END)
    print(text)


if __name__ == "__main__":
    main()
