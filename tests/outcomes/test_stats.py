"""The lift and its interval on constructed cases with known answers."""

from __future__ import annotations

import pytest

from trade_hunter.outcomes import stats
from trade_hunter.outcomes.baseline import Tally
from trade_hunter.outcomes.grading import HORIZONS, HorizonOutcome
from trade_hunter.outcomes.scorecard import ScoredSignal, build


def test_lift_point_and_interval():
    # 100 signals: 60 continued, 40 reversed; their baselines: 50 % continued
    sig_c = [1] * 60 + [0] * 40
    sig_r = [0] * 60 + [1] * 40
    base_c, base_r = [5] * 100, [5] * 100
    point, low, high = stats.lift(sig_c, sig_r, base_c, base_r)
    assert point == pytest.approx(10.0)
    # binomial SE of a 60 % share over 100 is 4.9 points: the 95 % interval is about ±9.6
    assert low == pytest.approx(0.4, abs=2.0) and high == pytest.approx(19.6, abs=2.0)
    assert stats.lift([], [], [], []) == (None, None, None)


def test_brier_and_skill():
    assert stats.brier([0.8, 0.3], [1, 0]) == pytest.approx((0.04 + 0.09) / 2)
    assert stats.skill(0.1, 0.2) == pytest.approx(0.5)
    assert stats.skill(None, 0.2) is None


def row(tier, direction, cls, base, market="M", result=None, price=0.5):
    outcome = HorizonOutcome(horizon=300, outcome=cls, price=price,
                             change={"continued": 0.02, "reversed": -0.02}.get(cls, 0.0))
    horizons = [HorizonOutcome(horizon=h) for h in HORIZONS]
    horizons[1] = outcome
    tallies = [Tally() for _ in HORIZONS]
    tallies[1] = base
    return ScoredSignal(market_id=market, created_at=0.0, direction=direction, yes_price=price,
                        tier=tier, rule="hard", horizons=horizons, baseline=tallies,
                        result=result)


def test_scorecard_groups_shares_and_settlement():
    rows = [row("notable", "up", "continued", Tally(continued=1, reversed=3), result="yes"),
            row("notable", "up", "reversed", Tally(continued=1, reversed=3), result="no"),
            row("watch", "flat", "flat", Tally(), result="yes"),
            row("watch", "down", "continued", Tally(continued=2, reversed=2, flat=4),
                market="N", result="no", price=0.7)]
    card = build(rows, "tier", market_hours={"M": 2.0, "N": 2.0}, rounds=0)
    notable, watch = card.groups
    assert (notable.group, notable.signals, notable.per_market_hour) == ("notable", 2, 0.5)
    five = notable.horizons[1]
    assert five.continuation == 0.5 and five.baseline_continuation == 0.25
    assert five.lift == 25.0 and five.waiting == 0
    assert notable.horizons[0].waiting == 2  # +1 m has no data
    assert notable.settled == 2 and notable.hit_rate == 0.5
    w5 = watch.horizons[1]
    assert watch.directed == 1 and w5.graded == 2 and w5.flat == 0.5
    assert w5.baseline_flat == 0.5 and w5.baseline_continuation == 0.5
    assert watch.settled == 1 and watch.hit_rate == 1.0
    assert watch.implied_hit_rate == pytest.approx(0.3)  # a down signal at 70¢: NO implied 30 %
    assert card.total is not None and card.total.signals == 4
    by_market = build(rows, "market", market_hours={"M": 2.0, "N": 4.0}, rounds=0)
    assert [(g.group, g.signals, g.per_market_hour) for g in by_market.groups] == [
        ("M", 3, 1.5), ("N", 1, 0.25)]
    with pytest.raises(ValueError, match="group_by"):
        build(rows, "colour")


def test_large_groups_use_the_delta_interval_which_agrees_with_the_bootstrap():
    import random

    rng = random.Random(3)
    n = 1500
    sig = [rng.random() < 0.55 for _ in range(n)]
    moved = [rng.random() < 0.7 for _ in range(n)]
    sig_c = [int(s and m) for s, m in zip(sig, moved, strict=True)]
    sig_r = [int(not s and m) for s, m in zip(sig, moved, strict=True)]
    base_c = [rng.randint(0, 10) for _ in range(n)]
    base_r = [rng.randint(0, 10) for _ in range(n)]
    point, low, high = stats.lift(sig_c, sig_r, base_c, base_r)  # n > 1000: delta method
    stats.BOOTSTRAP_MAX_SIGNALS, saved = 10**9, stats.BOOTSTRAP_MAX_SIGNALS
    try:
        _, b_low, b_high = stats.lift(sig_c, sig_r, base_c, base_r)  # forced bootstrap
    finally:
        stats.BOOTSTRAP_MAX_SIGNALS = saved
    assert low < point < high
    assert low == pytest.approx(b_low, abs=0.6) and high == pytest.approx(b_high, abs=0.6)
