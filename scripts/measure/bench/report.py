"""The benchmark's table (results.md, results.json) and plots (latency CDF, throughput vs offered
load), written under docs/bench/ with the machine and date."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import local_aws


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}"


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=local_aws.ROOT, capture_output=True, text=True
    ).stdout.strip()


def write(results: dict, out: str) -> None:
    out_dir = local_aws.ROOT / out
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = results["runs"]
    hop, api = results["hop"], results["api"]
    per_order = results["deliveries_per_order"]
    ceiling = results["drain_three"] / per_order
    best = max(runs, key=lambda r: r.achieved)
    floor = api.pct(50) + 2 * hop.pct(50)
    per_order_requests = sum(results["requests_per_order"].values())
    request_ceiling = results["bare_requests_per_s"] / per_order_requests
    at_rest = runs[0].latency
    summary = {
        "date": datetime.date.today().isoformat(),
        "commit": commit(),
        "machine": machine(),
        "mapping_concurrency": results["concurrency"],
        "hop_at_rest_ms": hop.summary(),
        "api_to_trivial_ms": api.summary(),
        "one_mapping_msgs_per_s": round(results["drain_one"], 1),
        "three_mappings_msgs_per_s": round(results["drain_three"], 1),
        "sqs_deliveries_per_order": round(per_order, 2),
        "ceiling_orders_per_s": round(ceiling, 1),
        "best_orders_per_s": round(best.achieved, 1),
        "best_run": best.name,
        "throughput_vs_ceiling": round(best.achieved / ceiling, 2),
        "bare_requests_per_s": round(results["bare_requests_per_s"], 1),
        "requests_per_order_total": round(per_order_requests, 1),
        "request_ceiling_orders_per_s": round(request_ceiling, 1),
        "throughput_vs_request_ceiling": round(best.achieved / request_ceiling, 2),
        "floor_ms": round(floor, 1),
        "post_to_confirmed_at_rest_ms": at_rest.summary(),
        "p50_vs_floor": round(at_rest.pct(50) / floor, 2),
        "requests_per_order": {
            k: round(v, 2) for k, v in sorted(results["requests_per_order"].items(), key=lambda kv: -kv[1])
        },
        "functions": [vars(f) for f in results["functions"]],
        "runs": [
            {
                "name": r.name,
                "offered": r.offered,
                "orders": r.orders,
                "achieved": round(r.achieved, 1),
                "unconfirmed": r.unconfirmed,
                "localstack_cpu_busy": round(r.localstack_busy, 2),
                "latency_ms": r.latency.summary(),
            }
            for r in runs
        ],
    }
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "results.md").write_text(_table(summary))
    _cdf(out_dir / "latency-cdf.png", [hop, api, *[r.latency for r in runs]], summary)
    _throughput(out_dir / "throughput.png", runs, ceiling, request_ceiling, summary)
    print(_table(summary))
    print(f"wrote {out}/results.md, results.json, latency-cdf.png, throughput.png")


def _table(s: dict) -> str:
    def ms(d: dict) -> str:
        return f"{d['p50']:.1f} / {d['p90']:.1f} / {d['p99']:.1f}"

    lines = [
        f"Measured {s['date']} at {s['commit']} on {s['machine']}; LocalStack host mode, IAM enforced,",
        f"batching window 0, mappings at MaximumConcurrency {s['mapping_concurrency']}, debug builds.",
        "",
        "| what | figure |",
        "|---|---|",
        f"| one hop at rest (SNS -> SQS -> trivial function), p50 / p90 / p99 ms | {ms(s['hop_at_rest_ms'])} |",
        f"| API Gateway -> trivial function, p50 / p90 / p99 ms | {ms(s['api_to_trivial_ms'])} |",
        f"| one mapping draining a backlog | {s['one_mapping_msgs_per_s']:.0f} msgs/s |",
        f"| three mappings at once (the ceiling's base) | {s['three_mappings_msgs_per_s']:.0f} msgs/s |",
        f"| SQS deliveries per order (counted in the closed loops) | {s['sqs_deliveries_per_order']} |",
        f"| ceiling: three mappings / deliveries per order | {s['ceiling_orders_per_s']} orders/s |",
        f"| pipeline, best run ({s['best_run']}) | {s['best_orders_per_s']} orders/s = "
        f"**{s['throughput_vs_ceiling']:.0%} of the ceiling** |",
        f"| LocalStack requests served while three mappings drain | {s['bare_requests_per_s']:.0f} requests/s |",
        f"| requests LocalStack serves per order (table below) | {s['requests_per_order_total']} |",
        f"| request ceiling: requests/s / requests per order | {s['request_ceiling_orders_per_s']} orders/s; "
        f"the best run is **{s['throughput_vs_request_ceiling']:.0%} of it** |",
        f"| floor: API -> trivial + two bare hops (p50) | {s['floor_ms']} ms |",
        f"| POST -> CONFIRMED at rest (1 client), p50 / p90 / p99 ms | {ms(s['post_to_confirmed_at_rest_ms'])} = "
        f"**{s['p50_vs_floor']:.2f} x the floor** |",
        "",
        "| pipeline run | offered orders/s | confirmed | achieved orders/s | p50 ms | p90 ms | p99 ms | unconfirmed "
        "| LocalStack CPU busy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s["runs"]:
        lat = r["latency_ms"]
        offered = f"{r['offered']:g}" if r["offered"] else "closed loop"
        lines.append(
            f"| {r['name']} | {offered} | {r['orders']} | {r['achieved']} | {lat['p50']:.0f} | {lat['p90']:.0f} | "
            f"{lat['p99']:.0f} | {r['unconfirmed']} | {r['localstack_cpu_busy']:.0%} |"
        )
    lines += [
        "",
        "Requests LocalStack served per confirmed order in the closed loops (internal: LocalStack",
        "calling itself, e.g. SNS delivering to SQS, Lambda shipping logs; the benchmark's tap queue",
        "adds its deliveries and its receives; the sweeper's scheduled runs fall in too):",
        "",
        "| request | per order |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.2f} |" for k, v in s["requests_per_order"].items()]
    lines.append(f"| **total** | **{sum(s['requests_per_order'].values()):.1f}** |")
    if s["functions"]:
        lines += [
            "",
            "Per function, release builds (`ls-hello` is a trivial `lambda_runtime` function):",
            "",
            "| function | cold init p50 ms | RSS after invocations MB | invocations (errors) | arm64 zip MB |",
            "|---|---|---|---|---|",
        ]
        for f in s["functions"]:
            z = f"{f['zip_mb']:.2f}" if f["zip_mb"] is not None else "not built"
            lines.append(
                f"| {f['name']} | {f['init_ms_p50']:.1f} | {f['rss_mb']:.1f} | "
                f"{f['invocations']} ({f['errors']}) | {z} |"
            )
    return "\n".join(lines) + "\n"


def _cdf(path: Path, latencies: list, s: dict) -> None:
    fig, ax = plt.subplots(figsize=(9, 5))
    for lat in latencies:
        if lat.count:
            xs, ys = lat.cdf()
            ax.step(xs, ys, where="post", label=f"{lat.name} (p50 {lat.pct(50):.0f} ms)")
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log scale)")
    ax.set_ylabel("fraction at or below")
    ax.set_title(f"Latency CDF: bare chain, API and POST -> CONFIRMED ({s['date']}, {s['commit']})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _throughput(path: Path, runs: list, ceiling: float, request_ceiling: float, s: dict) -> None:
    open_runs = [r for r in runs if r.offered]
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [r.offered for r in open_runs]
    ax.plot(xs, [r.achieved for r in open_runs], "o-", label="confirmed orders/s (open loop)")
    ax.plot(xs, xs, ":", color="grey", label="offered = achieved")
    ax.axhline(ceiling, color="red", linestyle="--", label=f"ceiling {ceiling:.0f} orders/s (bare chain messages)")
    ax.axhline(
        request_ceiling,
        color="orange",
        linestyle="--",
        label=f"request ceiling {request_ceiling:.1f} orders/s (LocalStack requests)",
    )
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(xs, [r.latency.pct(50) for r in open_runs], "s--", color="green", alpha=0.6, label="p50 latency")
    ax2.set_ylabel("POST -> CONFIRMED p50, ms (log)")
    ax2.set_yscale("log")
    ax.set_xlabel("offered orders/s")
    ax.set_ylabel("orders/s (log)")
    ax.set_title(f"Throughput vs offered load ({s['date']}, {s['commit']})")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper left")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
