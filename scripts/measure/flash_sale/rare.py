"""How many 503s a burst may meet by chance when they are rare. "At most 0.5% of first attempts"
is a rate; a run of 150 orders is a sample of it. Counted strictly (more than 0.75 of 150), a
system at exactly that rate fails a run more often than not (one or more 503s: 53%), and the
flake hunt saw it fail on 2. A run fails when its count is evidence of a higher rate: more than
would happen by chance in 99 of 100 runs at the rate (a one-sided binomial test)."""

from __future__ import annotations

from math import comb


def most_by_chance(n: int, rate: float, confidence: float = 0.99) -> int:
    """The largest count of `n` independent tries, each failing with `rate`, that a system at
    `rate` reaches or stays under in `confidence` of runs."""
    if not 0 <= rate < 1 or not 0 < confidence < 1:
        raise ValueError(f"rate {rate} and confidence {confidence} must be in [0, 1) and (0, 1)")
    k, cdf = 0, (1 - rate) ** n
    while cdf < confidence and k < n:
        k += 1
        cdf += comb(n, k) * rate**k * (1 - rate) ** (n - k)
    return k
