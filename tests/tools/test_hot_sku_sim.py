"""The hot-SKU reservation simulator (scripts/measure/hot_sku_sim.py): the behaviours its figures rest on."""

from pathlib import Path

import pytest

from hot_sku_sim import BEGIN, END, Params, knee, simulate, sweep, write_table

ORDERS = 3_000  # counted orders per point: enough to tell the behaviours apart, fast enough for a test


def run(shards: int, rate: float, **kw):
    return simulate(Params(shards=shards, rate=rate, orders=kw.pop("orders", ORDERS), **kw))


def test_at_low_load_every_order_is_reserved_at_the_first_try_almost_always():
    r = run(16, 10)
    assert r.redelivered == 0 and r.reserved == 1.0
    assert r.goodput == pytest.approx(10, rel=0.06)  # Poisson noise over 3,000 arrivals is ~2%
    assert r.conflicts < 0.02
    assert r.p50_ms == pytest.approx(10)  # one transaction, no wait


def test_first_attempt_conflicts_match_the_share_of_time_the_item_is_busy():
    # One shard at 5 orders/s, 10 ms per transaction: the item is busy 5% of the time, so about
    # 5% of orders meet a transaction in progress (and nearly all of them then get through).
    r = run(1, 5, orders=6_000)
    assert 0.035 < r.conflicts < 0.07
    assert r.redelivered == 0


def test_one_shard_never_exceeds_the_per_item_write_limit_and_saturates_near_it():
    # A 0.2 ms transaction would allow 5,000 transactions/s by conflicts alone: the 1,000 WCU/s
    # of the item's partition (2 WCU per transactional write) is what binds, at 500/s.
    for rate in (1_000, 3_000):
        r = run(1, rate, tx_ms=0.2)
        assert r.goodput <= 500 * 1.02, rate
        assert r.throttles > 0.1, rate
    assert r.goodput >= 450


def test_one_shard_at_10_ms_saturates_at_one_transaction_at_a_time():
    # The conflict rule allows one transaction in progress per item: 100/s at 10 ms each, far
    # below the 500/s write limit, which never throttles.
    r = run(1, 2_000)
    assert 90 <= r.goodput <= 100 * 1.02
    assert r.throttles == 0
    assert r.redelivered > 0.9


def test_more_shards_never_give_lower_goodput_at_high_load():
    for rate in (1_000, 5_000):
        g1, g4, g16 = (run(n, rate).goodput for n in (1, 4, 16))
        assert g4 > 2 * g1 and g16 > 2 * g4, (rate, g1, g4, g16)


def test_conflicts_per_order_grow_with_load():
    loads = (10, 100, 1_000, 5_000)
    for n, rs in sweep([1, 4, 16], loads, orders=1_500).items():
        conflicts = [r.conflicts for r in rs]
        assert conflicts == sorted(conflicts) and conflicts[-1] > 10 * conflicts[0], (n, conflicts)


def test_the_knee_moves_up_with_the_shards_and_stays_under_the_ceiling():
    loads = (5, 10, 20, 50, 100, 200, 500, 1_000, 2_000)
    knees = {n: knee(rs) for n, rs in sweep([1, 4, 16], loads, orders=1_500).items()}
    assert knees[1] < knees[4] < knees[16] < 16 * 100, knees


def test_conflicts_are_retried_as_the_code_does_then_the_message_fails():
    # retry_conflicts: 5 attempts in all, so at most 4 retries, then the SQS message fails.
    r = run(1, 1_000)
    assert r.max_attempts == 5
    assert r.retries <= 4
    assert r.conflicts == pytest.approx(r.retries + r.redelivered)  # the 5th conflict is not retried
    # Throttling the SDK retries (3 attempts) inside each of those 5: at most 15 attempts.
    t = run(1, 3_000, tx_ms=0.2)
    assert 5 < t.max_attempts <= 15
    # Throttling returned as a cancellation reason: the conflict loop alone, 5 attempts.
    c = run(1, 3_000, tx_ms=0.2, throttle="cancel")
    assert c.max_attempts == 5


def test_conflict_waits_follow_the_codes_backoff():
    # Waits of U[0,1) x 20, 40, 80, 160 ms between 5 attempts of 10 ms: a reservation that took
    # retries lands between 10 ms and 350 ms after its order; without the waits it would be <= 50 ms.
    r = run(1, 1_000)
    assert 150 < r.p99_ms <= 5 * 10 + 20 + 40 + 80 + 160


def test_a_run_is_deterministic_for_its_seed():
    assert run(4, 500, seed=7) == run(4, 500, seed=7)
    assert run(4, 500, seed=7) != run(4, 500, seed=8)


def test_the_table_replaces_only_its_own_section(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\nprose\n\n{BEGIN}\nold\n{END}\n\nmore prose\n")
    write_table(doc, "new\n")
    assert doc.read_text() == f"# Title\n\nprose\n\n{BEGIN}\nnew\n{END}\n\nmore prose\n"
