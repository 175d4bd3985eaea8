"""The spike detector against docs/detector.md, with numbers computed by hand (in comments)."""

from __future__ import annotations

import msgspec
import pytest

from trade_hunter.plugins.builtin.spike import SpikeDetector, SpikeState
from trade_hunter.plugins.models import MarketEvent


def ev(ts: float, price: float | None = None, volume: float | None = None,
       kind: str = "delta", event_kind: str = "trade", side: str | None = "yes",
       market: str = "M", **kw) -> MarketEvent:
    return MarketEvent(platform="t", market_id=market, title="Will it rain in Paris?",
                       yes_price=price, volume=volume, volume_kind=kind, event_kind=event_kind,
                       trade_side=side if event_kind == "trade" else None, timestamp=ts,
                       source="test", **kw)


def primed(window: list[float], price: float = 0.50, **thresholds) -> tuple[SpikeDetector, SpikeState]:
    """A detector and a state whose baseline window and last price are set directly."""
    d = SpikeDetector(thresholds)
    s = d.new_state()
    s.window = list(window)
    s.last_price = price
    return d, s


def test_defaults_match_the_contract():
    d = SpikeDetector()
    assert d.thresholds == {"SPIKE_MIN_VOLUME_DELTA": 120, "SPIKE_MIN_PRICE_MOVE": 0.03,
                            "SPIKE_SCORE_THRESHOLD": 3.0, "SPIKE_BASELINE_POINTS": 24,
                            "SPIKE_COOLDOWN_SECONDS": 300}


def test_first_event_quantities_and_no_trigger():
    d = SpikeDetector()
    s = d.new_state()
    # vd=100; no window → baseline = 120/2 = 60; no previous price → move 0;
    # vm = 100/60 = 1.6667; score = 1.6667*0.75 = 1.25; hard needs vd ≥ 120, outlier vd ≥ 132.
    assert d.process(ev(1000, 0.50, 100), s) is None
    assert s.window == [100] and s.last_price == 0.50


def test_hard_move_scores_and_tiers_notable():
    d = SpikeDetector()
    s = d.new_state()
    d.process(ev(1000, 0.50, 100), s)
    sig = d.process(ev(1001, 0.55, 300), s)
    # baseline = mean([100]) = 100; vm = 3.0; move 0.05 → price_score 0.05/0.03 = 1.6667
    # score = 3*0.75 + 1.6667*1.25 = 2.25 + 2.0833 = 4.3333 → hard (300≥120, 0.05≥0.03)
    # tier: not high (score < 6); notable (score ≥ 4)
    assert sig is not None
    assert sig.rule == "hard" and sig.tier == "notable"
    assert sig.volume_delta == 300 and sig.baseline == 100 and sig.volume_multiple == 3.0
    assert sig.price_move == pytest.approx(0.05) and sig.price_score == pytest.approx(1.6667)
    assert sig.score == pytest.approx(4.3333, abs=1e-4)
    assert sig.direction == "up" and sig.yes_price == 0.55
    assert s.window == [100, 300]


def test_outlier_move_at_exact_threshold_is_watch():
    d, s = primed([10.0] * 24)
    # baseline 10; vd 40 → vm 4.0; move 0 → score 3.0 = threshold; 40 ≥ 2.2*10 → outlier
    sig = d.process(ev(1000, 0.50, 40), s)
    assert sig is not None and sig.rule == "outlier" and sig.tier == "watch"
    assert sig.score == pytest.approx(3.0) and sig.direction == "flat"


def test_outlier_just_below_threshold_does_not_fire():
    d, s = primed([10.0] * 24)
    # vd 39 → vm 3.9 → score 2.925 < 3.0
    assert d.process(ev(1000, 0.50, 39), s) is None


def test_outlier_needs_volume_above_2_2_times_baseline():
    d, s = primed([10.0] * 24, SPIKE_SCORE_THRESHOLD=1.0)
    # vd 21 < 22 = 2.2*10 (score 1.575 ≥ 1.0 is not enough alone)
    assert d.process(ev(1000, 0.50, 21), s) is None
    d, s = primed([10.0] * 24, SPIKE_SCORE_THRESHOLD=1.0)
    sig = d.process(ev(1000, 0.50, 22), s)
    assert sig is not None and sig.rule == "outlier"


def test_outlier_with_small_price_move_is_notable():
    d, s = primed([10.0] * 24)
    # vd 50 → vm 5; move 0.01 → ps 0.3333; score 3.75 + 0.4167 = 4.1667 → notable
    sig = d.process(ev(1000, 0.51, 50), s)
    assert sig is not None and sig.rule == "outlier" and sig.tier == "notable"
    assert sig.score == pytest.approx(4.1667, abs=1e-4)


def test_hard_rule_with_low_score_is_watch():
    d, s = primed([100.0])
    # vd 120, move 0.03: vm 1.2, ps 1.0, score 0.9 + 1.25 = 2.15 < 3 but the hard rule fires
    sig = d.process(ev(1000, 0.53, 120), s)
    assert sig is not None and sig.rule == "hard" and sig.tier == "watch"
    assert sig.score == pytest.approx(2.15)


def test_price_move_exactly_at_minimum_is_not_lost_to_float_noise():
    d, s = primed([100.0], price=0.58)
    # |0.55 - 0.58| is 0.0299999… in binary; it must count as 0.03
    sig = d.process(ev(1000, 0.55, 120), s)
    assert sig is not None and sig.rule == "hard" and sig.direction == "down"


@pytest.mark.parametrize(("volume", "new_price", "tier"), [
    # baseline 100. vd 500 → vm 5; move 0.06 → ps 2; score 3.75 + 2.5 = 6.25; 0.06 ≥ 0.0525
    (500, 0.56, "high conviction flow"),
    # move 0.05 < 1.75*0.03 = 0.0525: score 3.75 + 2.0833 = 5.83 → notable
    (500, 0.55, "notable"),
    # vm 2.4, move 0.04 ≥ 1.2*0.03: score 1.8 + 1.6667 = 3.4667 < 4 → notable by the 2nd clause
    (240, 0.54, "notable"),
    # vm 2.39 < 2.4 → watch
    (239, 0.54, "watch"),
])
def test_tier_boundaries(volume, new_price, tier):
    d, s = primed([100.0])
    sig = d.process(ev(1000, new_price, volume), s)
    assert sig is not None and sig.tier == tier


def test_high_conviction_needs_volume_multiple_of_three():
    # window [200]: vd 580 → vm 2.9 (< 3); move 0.10 → ps 3.3333; score 2.175 + 4.1667 = 6.34
    d, s = primed([200.0])
    sig = d.process(ev(1000, 0.60, 580), s)
    assert sig is not None and sig.score >= 6 and sig.tier == "notable"


def test_no_volume_no_signal_even_on_a_big_move():
    d, s = primed([100.0])
    assert d.process(ev(1000, 0.90, None, event_kind="quote"), s) is None
    assert d.process(ev(1001, 0.20, 0), s) is None


def test_cooldown_in_event_time():
    d, s = primed([100.0])
    assert d.process(ev(1000, 0.56, 500), s) is not None
    # 299 s later: still cooling (event time, not wall clock)
    assert d.process(ev(1299, 0.62, 500), s) is None
    # exactly 300 s after the signal: allowed again
    assert d.process(ev(1300, 0.68, 900), s) is not None
    assert s.last_signal_at == 1300


def test_cumulative_volume_deltas_first_reading_and_reset():
    d = SpikeDetector()
    s = d.new_state()
    q = {"kind": "cumulative", "event_kind": "quote"}
    assert d.volume_delta(ev(1, 0.5, 1000, **q), s) == 0      # first reading counts 0
    assert d.volume_delta(ev(2, 0.5, 1150, **q), s) == 150
    assert d.volume_delta(ev(3, 0.5, 1100, **q), s) == 0      # reset: counts 0 …
    assert s.last_cumulative == 1100                            # … and is the new reference
    assert d.volume_delta(ev(4, 0.5, 1200, **q), s) == 100
    assert d.volume_delta(ev(5, 0.5, None, **q), s) == 0      # missing volume
    assert s.last_cumulative == 1200


def test_cumulative_readings_count_zero_once_a_market_has_trades():
    d = SpikeDetector()
    s = d.new_state()
    d.process(ev(1, 0.5, 1000, kind="cumulative", event_kind="quote"), s)
    d.process(ev(2, 0.5, 50), s)                                # a per-trade volume
    assert s.has_delta
    # the ticker's running total includes that trade: counted once, reference updated
    assert d.process(ev(3, 0.5, 1050, kind="cumulative", event_kind="quote"), s) is None
    assert s.last_cumulative == 1050 and s.window == [50]


def test_negative_delta_counts_zero():
    d = SpikeDetector()
    s = d.new_state()
    assert d.volume_delta(ev(1, 0.5, -5), s) == 0


def test_event_without_price_does_not_hide_the_next_move():
    d, s = primed([100.0], price=0.50)
    assert d.process(ev(1000, None, 10, event_kind="trade"), s) is None
    assert s.last_price == 0.50
    # move measured from the last known price 0.50: 0.06
    sig = d.process(ev(1001, 0.56, 500), s)
    assert sig is not None and sig.price_move == pytest.approx(0.06)


def test_baseline_is_from_before_the_event_and_window_is_bounded():
    d = SpikeDetector({"SPIKE_BASELINE_POINTS": 3})
    s = d.new_state()
    for i, v in enumerate([10, 20, 30, 40]):
        d.process(ev(i, 0.5, v), s)
    assert s.window == [20, 30, 40]
    assert d.baseline(s) == 30


def test_baseline_floor_is_one():
    d = SpikeDetector({"SPIKE_MIN_VOLUME_DELTA": 1})
    s = d.new_state()
    assert d.baseline(s) == 1.0        # 1/2 = 0.5 → floor 1.0
    s.window = [0.2]
    assert d.baseline(s) == 1.0


def test_min_price_move_floor_in_price_score():
    d, s = primed([100.0], SPIKE_MIN_PRICE_MOVE=0.001, SPIKE_MIN_VOLUME_DELTA=50)
    # hard (100 ≥ 50, 0.02 ≥ 0.001); price_score = 0.02 / max(0.001, 0.01) = 2.0; vd 100 → vm 1; score 0.75 + 2.5 = 3.25
    sig = d.process(ev(1000, 0.52, 100), s)
    assert sig is not None and sig.price_score == pytest.approx(2.0)
    assert sig.score == pytest.approx(3.25)


def test_signal_context_history_by_time():
    d = SpikeDetector()
    s = d.new_state()
    t0 = 100_000.0
    d.process(ev(t0, 0.40, 10, side="no"), s)                       # 30 min before
    d.process(ev(t0 + 1500, 0.42, 10, side="no"), s)                # 5 min before
    d.process(ev(t0 + 1750, 0.44, None, event_kind="quote",
                 yes_bid=0.43, yes_ask=0.46), s)                     # 50 s before
    sig = d.process(ev(t0 + 1800, 0.55, 600, side="yes"), s)
    assert sig is not None
    c = sig.context
    assert c.price_change_30m == pytest.approx(0.15)   # vs 0.40 at t0 (at the 30-min cutoff)
    assert c.price_change_5m == pytest.approx(0.13)    # vs 0.42 (last sample ≤ t-300)
    assert c.price_change_1m == pytest.approx(0.13)    # vs 0.42 (0.44 came 50 s before)
    assert c.yes_trades == 0 and c.no_trades == 2      # the trades before the spike
    assert c.spread == pytest.approx(0.03)             # from the last quote
    assert [e.yes_price for e in c.recent_events] == [0.40, 0.42, 0.44]
    assert c.mean_volume_1h == pytest.approx(20 / 3, abs=1e-3)


def test_state_round_trips_through_json_and_behaves_the_same():
    d = SpikeDetector()
    a = d.new_state()
    for i, (p, v) in enumerate([(0.5, 10), (0.51, 20), (0.49, 15)]):
        d.process(ev(1000 + i, p, v), a)
    b = msgspec.json.decode(msgspec.json.encode(a), type=SpikeState)
    assert b == a
    nxt = ev(1010, 0.60, 400)
    sa, sb = d.process(nxt, a), d.process(nxt, b)
    assert sa is not None and sb is not None and sa.score == sb.score and a == b


def test_with_thresholds_returns_an_independent_copy():
    d = SpikeDetector()
    e = d.with_thresholds(SPIKE_SCORE_THRESHOLD=5.0)
    assert e.threshold == 5.0 and d.threshold == 3.0
    assert e.thresholds["SPIKE_MIN_VOLUME_DELTA"] == 120
