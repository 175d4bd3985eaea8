"""The gated profile (docs/detector.md): each gate on both sides of its threshold, escalation,
trade-flow evidence, exact volume deltas, persistence, and the profile switch."""

from __future__ import annotations

import msgspec
import pytest

from trade_hunter.plugins.builtin.spike import SpikeDetector, make_detector
from trade_hunter.plugins.builtin.spike_gated import (
    GatedDetector,
    GatedState,
    cluster_p,
    flow_share,
)

from .test_spike import ev


def warm(d: GatedDetector, n: int = 10, price: float = 0.50, size: float = 20,
         t0: float = 1000.0) -> GatedState:
    """A state with ``n`` ordinary trades of ``size`` at ``price`` (baseline = size)."""
    s = d.new_state()
    for i in range(n):
        assert d.process(ev(t0 + i, price, size, trade_size=size), s) is None
    return s


def test_profile_switch_and_classic_untouched():
    assert type(make_detector({"SPIKE_PROFILE": "classic"})) is SpikeDetector
    gated = make_detector({"SPIKE_PROFILE": "gated", "SPIKE_WARMUP_POINTS": 3})
    assert isinstance(gated, GatedDetector) and gated.warmup == 3
    assert gated.thresholds["SPIKE_PROFILE"] == "gated"
    assert gated.with_thresholds(SPIKE_SCORE_THRESHOLD=5.0).warmup == 3


def test_warmup_silences_the_outlier_rule_and_needs_a_large_hard_move():
    d = GatedDetector({"SPIKE_WARMUP_POINTS": 3})
    s = d.new_state()
    d.process(ev(1000, 0.50, 10), s)
    # 2nd event: vd 200 ≥ 120 and move 0.03 ≥ 0.03 → classic fires (hard); gated is warming
    # up (1 point < 3) and 0.03 < 2 × 0.03
    assert d.process(ev(1001, 0.53, 200), s) is None
    assert SpikeDetector().process(ev(1001, 0.53, 200), _primed_classic()) is not None
    # still warming up (2 points) but the move is large: 0.07 ≥ 0.06
    sig = d.process(ev(1002, 0.60, 200), s)
    assert sig is not None and sig.rule == "hard" and sig.context.baseline_points == 2


def _primed_classic():
    c = SpikeDetector()
    s = c.new_state()
    c.process(ev(1000, 0.50, 10), s)
    return s


def test_volume_without_a_move_is_quiet_watch_or_off():
    d = GatedDetector()
    s = warm(d)
    sig = d.process(ev(2000, 0.50, 500), s)  # 25× the baseline, no move
    assert sig is not None and sig.tier == "watch" and sig.direction == "flat"
    assert sig.notify is False
    off = GatedDetector({"SPIKE_VOLUME_ONLY": "off"})
    assert off.process(ev(2000, 0.50, 500), warm(off)) is None
    loud = GatedDetector({"SPIKE_VOLUME_ONLY": "notify"})
    assert loud.process(ev(2000, 0.50, 500), warm(loud)).notify is True
    # half a cent is still no move; 0.6¢ is one
    assert d.process(ev(2000, 0.505, 500), warm(d)).notify is False
    moved = d.process(ev(2000, 0.506, 500), warm(d))
    assert moved.notify is True and moved.direction == "up"


@pytest.mark.parametrize(("before", "after", "fires"), [
    (0.95, 0.99, False),   # both above 1 − 0.10
    (0.03, 0.08, False),   # both below 0.10
    (0.05, 0.12, True),    # crosses into the band
    (0.50, 0.95, True),    # leaves it: the price before was inside
    (0.10, 0.15, True),    # on the edge is inside
])
def test_price_band(before, after, fires):
    d = GatedDetector()
    s = warm(d, price=before)
    assert (d.process(ev(2000, after, 500), s) is not None) is fires


def test_close_guard_both_sides_and_time_left():
    d = GatedDetector({"SPIKE_CLOSE_GUARD_SECONDS": 900})
    s = warm(d)
    s.closes_at = 2000 + 899.0
    assert d.process(ev(2000, 0.60, 500), s) is None
    s = warm(d)
    sig = d.process(ev(2000, 0.60, 500, closes_at=2900.0), s)  # one event says it is enough
    assert sig is not None and sig.context.seconds_to_close == 900.0
    assert s.closes_at == 2900.0


def test_escalation_updates_instead_of_silence():
    d = GatedDetector()
    s = warm(d)
    first = d.process(ev(2000, 0.53, 100), s)
    # baseline 20 → vm 5; move 0.03 → ps 1; score 3.75 + 1.25 = 5.0 (notable)
    assert first is not None and first.escalation == 0 and first.score == pytest.approx(5.0)
    # in the cooldown: a score below 2 × 5.0 and no higher tier → nothing
    assert d.process(ev(2010, 0.56, 100), s) is None
    # a much bigger move: score ≥ 10 → an update of the first signal
    esc = d.process(ev(2020, 0.75, 600), s)
    assert esc is not None and esc.escalation == 1 and esc.escalates == 2000
    assert esc.move_since_signal == pytest.approx(0.25)  # from 0.50, just before the signal
    again = d.process(ev(2030, 0.30, 3000), s)
    assert again is not None and again.escalation == 2
    assert again.move_since_signal == pytest.approx(-0.20)
    # after the cooldown a new signal starts afresh
    new = d.process(ev(2000 + 300, 0.45, 3000), s)
    assert new is not None and new.escalation == 0


def test_flow_share_and_large_trade_cluster():
    d = GatedDetector()
    s = d.new_state()
    for i in range(30):  # 30 small NO-taker trades, then 10 large YES-taker ones
        d.process(ev(1000 + i, 0.50, 10, side="no", trade_size=10), s)
    for i in range(10):
        d.process(ev(1100 + i, 0.50, 100, side="yes", trade_size=100), s)
    # last 20 trades: 10 × 10 NO, 10 × 100 YES → 1000 / 1100 on the up side
    assert flow_share(s.flow, "up") == pytest.approx(1000 / 1100, abs=1e-4)
    assert flow_share(s.flow, "down") == pytest.approx(100 / 1100, abs=1e-4)
    assert flow_share(s.flow, "flat") is None
    # all 10 recent trades are at or above the 80th percentile: P = 0.2 ** 10
    assert cluster_p(s.flow) == pytest.approx(0.0, abs=1e-4)
    sig = d.process(ev(1200, 0.56, 500, trade_size=500), s)
    assert sig is not None and sig.context.flow_share == pytest.approx(0.9091, abs=1e-4)


def test_flow_tier_adjustment_when_enabled():
    d = GatedDetector({"SPIKE_FLOW_ONE_SIDED": 0.8, "SPIKE_FLOW_CHURN": 0.3})
    s = warm(d)  # ten YES-taker trades: one-sided up
    assert d.process(ev(2000, 0.53, 100), s).tier == "high conviction flow"  # notable + 1
    s = warm(d)
    assert d.process(ev(2000, 0.47, 100), s).tier == "watch"  # a down move against YES flow


def test_cumulative_deltas_are_exact():
    d = GatedDetector()
    s = d.new_state()
    d.process(ev(1000, 0.5, 1000.1, kind="cumulative", event_kind="quote"), s)
    d.process(ev(1001, 0.5, 2460.06, kind="cumulative", event_kind="quote"), s)
    assert s.window == [1459.96]  # not 1459.9599999999998


def test_state_survives_a_round_trip():
    d = GatedDetector()
    s = warm(d)
    d.process(ev(2000, 0.53, 100, closes_at=9999.0), s)
    back = msgspec.json.decode(msgspec.json.encode(s), type=GatedState)
    assert back == s and back.escalations == 0 and back.signal_score == pytest.approx(5.0)
    assert back.closes_at == 9999.0 and len(back.flow) == len(s.flow) > 0


def test_a_quiet_signal_never_holds_back_a_move():
    d = GatedDetector()
    s = warm(d)
    quiet = d.process(ev(2000, 0.50, 500), s)
    assert quiet is not None and quiet.notify is False
    assert d.process(ev(2005, 0.50, 900), s) is None  # quiet ones have their own cooldown
    moved = d.process(ev(2010, 0.56, 500), s)  # a real move right after: a new alert
    assert moved is not None and moved.escalation == 0 and moved.notify is True
