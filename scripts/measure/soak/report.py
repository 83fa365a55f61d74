"""The soak's report: `.build/soak/report.html`, a timeline (orders accepted and ended per
second, faults injected per second, kills, the outage and the API crash) and the figures."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to a file
import matplotlib.pyplot as plt


def timeline_png(t0: float, accepted: list[float], ended: list[float], faults: list[float],
                 events: list[dict[str, Any]]) -> bytes:  # fmt: skip
    def per_second(times: list[float], window: int = 5) -> tuple[list[int], list[float]]:
        """Events per second, averaged over `window` s (per-second counts are too jagged to read)."""
        c = Counter(int(t - t0) // window for t in times if t >= t0)
        xs = list(range(max(c) + 1)) if c else []
        return [x * window for x in xs], [c.get(x, 0) / window for x in xs]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, height_ratios=[2, 1])
    for times, label in ((accepted, "orders accepted (202)"), (ended, "orders ended (terminal status)")):
        xs, ys = per_second(times)
        top.plot(xs, ys, label=label, linewidth=1)
    xs, ys = per_second(faults)
    bottom.bar(xs, ys, width=5.0, align="edge", color="tab:red", label="faults injected")
    for e in events:
        x = e["time"] - t0
        if "end" in e:
            for ax in (top, bottom):
                ax.axvspan(x, e["end"] - t0, color="grey", alpha=0.2)
            top.annotate(e["kind"], (x, 0), xytext=(2, 2), textcoords="offset points", fontsize=8)
        else:
            for ax in (top, bottom):
                ax.axvline(x, color="black", linestyle="--", linewidth=0.8)
            top.annotate(e["kind"], (x, 0), rotation=90, fontsize=8, xytext=(2, 10), textcoords="offset points")
    top.set_ylabel("orders / s (5 s mean)")
    bottom.set_ylabel("faults / s (5 s mean)")
    bottom.set_xlabel("seconds since the load started")
    top.legend(loc="upper right")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write(path: Path, title: str, summary: list[tuple[str, str]], png: bytes, violations: dict[str, list[str]],
          tables: dict[str, list[list[str]]]) -> None:  # fmt: skip
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary)
    parts = [f"<h1>{html.escape(title)}</h1>", f"<table>{rows}</table>",
             f'<img alt="timeline" src="data:image/png;base64,{base64.b64encode(png).decode()}">']  # fmt: skip
    parts.append("<h2>Violations</h2>")
    if not any(violations.values()):
        parts.append("<p>none</p>")
    for kind, items in violations.items():
        if items:
            lis = "".join(f"<li>{html.escape(i)}</li>" for i in items[:50])
            parts.append(f"<h3>{html.escape(kind)} ({len(items)})</h3><ul>{lis}</ul>")
    for name, table in tables.items():
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table[1:])
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table[0]) if table else ""
        parts.append(f"<h2>{html.escape(name)}</h2><table><tr>{head}</tr>{body}</table>")
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{style}</style>"
                    + "".join(parts))  # fmt: skip
