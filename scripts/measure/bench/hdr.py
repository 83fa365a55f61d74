"""Latency samples in an HDR histogram (microseconds, 3 significant digits): percentiles without
keeping or sorting every sample, and a CDF for the plots."""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

HIGHEST_US = 10 * 60 * 1_000_000  # ten minutes


class Latency:
    def __init__(self, name: str):
        self.name = name
        self._h = HdrHistogram(1, HIGHEST_US, 3)

    def add_ms(self, ms: float) -> None:
        self._h.record_value(max(1, min(HIGHEST_US, round(ms * 1000))))

    @property
    def count(self) -> int:
        return self._h.get_total_count()

    def pct(self, p: float) -> float:
        """The p-th percentile in ms."""
        return self._h.get_value_at_percentile(p) / 1000

    def summary(self) -> dict[str, float]:
        return {
            "n": self.count,
            "p50": self.pct(50),
            "p90": self.pct(90),
            "p99": self.pct(99),
            "max": self._h.get_max_value() / 1000,
        }

    def cdf(self) -> tuple[list[float], list[float]]:
        """(ms, fraction at or below) at the histogram's recorded values."""
        xs, ys, total, seen = [], [], self.count, 0
        for item in self._h.get_recorded_iterator():
            seen += item.count_at_value_iterated_to
            xs.append(item.value_iterated_to / 1000)
            ys.append(seen / total)
        return xs, ys
