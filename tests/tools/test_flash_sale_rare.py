"""flash_sale.rare: how many first-attempt 503s a run may meet by chance at the allowed rate."""

from __future__ import annotations

import os
import sys
from math import comb

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "measure"))

from flash_sale.rare import most_by_chance


def tail_above(k: int, n: int, p: float) -> float:
    return 1 - sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize("n", [150, 300, 1000])
def test_a_system_at_the_rate_fails_at_most_one_run_in_100_and_no_bound_is_looser(n):
    k = most_by_chance(n, 0.005)
    assert tail_above(k, n, 0.005) < 0.01, "cries wolf"
    assert tail_above(k - 1, n, 0.005) >= 0.01, "a bound looser than chance needs"


def test_the_make_test_burst_allows_what_chance_gives_and_no_more():
    # 150 orders at 0.5%: 2 (the flake hunt's round 4) is chance; 4 is evidence of a worse rate.
    assert most_by_chance(150, 0.005) == 3
    assert most_by_chance(150, 0.0) == 0


def test_nonsense_is_refused():
    with pytest.raises(ValueError):
        most_by_chance(150, 1.5)
