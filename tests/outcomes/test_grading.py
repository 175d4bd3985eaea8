"""Outcome classes and horizons on hand-built price paths (numbers worked out by hand)."""

from __future__ import annotations

import pytest

from trade_hunter.outcomes.baseline import PricePath, Tally, baseline, draw
from trade_hunter.outcomes.grading import classify, grade

T0 = 1_767_312_000.0  # 2026-01-02 00:00 UTC


def classes(outcomes):
    return [o.outcome for o in outcomes]


def test_up_signal_continues_then_reverses():
    # signal at 0.50 going up; +30 s 0.55, +4 min 0.53, +10 min 0.45, +50 min 0.50
    times = [T0, T0 + 30, T0 + 240, T0 + 600, T0 + 3000]
    prices = [0.50, 0.55, 0.53, 0.45, 0.50]
    out = grade("up", T0, 0.50, times, prices, data_end=T0 + 7200, start=1)
    assert classes(out) == ["continued", "continued", "reversed", "flat"]
    assert [o.change for o in out] == [0.05, 0.03, -0.05, 0.0]
    assert [o.favorable for o in out] == [0.05, 0.05, 0.05, 0.05]
    assert [o.adverse for o in out] == [0.0, 0.0, 0.05, 0.05]


def test_down_signal_and_the_flat_band_both_sides():
    times = [T0, T0 + 50, T0 + 290]
    prices = [0.40, 0.395, 0.394]  # −0.5¢ is flat (within the band), −0.6¢ is not
    out = grade("down", T0, 0.40, times, prices, data_end=T0 + 600, start=1,
                horizons=(60, 300))
    assert classes(out) == ["flat", "continued"]
    assert classify("down", 0.006) == "reversed"
    assert classify("flat", 0.02) == "moved"
    assert classify("up", 0.535 - 0.53) == "flat"  # float noise never decides the band


def test_no_later_event_is_no_data_never_guessed():
    times, prices = [T0], [0.5]
    out = grade("up", T0, 0.5, times, prices, data_end=T0 + 120, start=1)
    # +1 m is covered (nothing traded: the price stayed), +5 m and later are not
    assert classes(out) == ["flat", "no data", "no data", "no data"]
    assert out[1].price is None and out[1].change is None


def test_a_close_caps_the_horizon():
    times = [T0, T0 + 100, T0 + 200]
    prices = [0.90, 0.97, 0.99]
    out = grade("up", T0, 0.90, times, prices, data_end=T0 + 10_000, close_time=T0 + 150,
                start=1)
    assert classes(out) == ["flat", "continued", "continued", "continued"]
    assert out[1].capped and out[1].price == 0.97  # graded at the close, not at +5 m
    assert not out[0].capped


def test_baseline_draws_moved_trades_of_the_same_market_and_day():
    path = PricePath()
    path.add(T0 - 10, 0.50, True)         # the day before: never drawn
    for i in range(40):
        path.add(T0 + 60 * i, 0.50 + 0.01 * (i % 2), True)  # alternating: every one moved
    path.add(T0 + 2500, 0.51, False)      # a quote: never drawn
    path.add(T0 + 2600, 0.51, True)       # a trade without a move: never drawn
    i = 5
    picked = draw(path, i, "M", k=10)
    assert len(picked) == 10 and i not in picked
    assert all(path.trades[j] and path.moves[j] != 0 and path.times[j] >= T0 for j in picked)
    assert picked == draw(path, i, "M", k=10)  # seeded by market and moment
    tallies = baseline(path, i, "M", data_end=T0 + 10_000, k=10, horizons=(60,))
    # each drawn move is followed 60 s later by the opposite 1¢ move: all reversed
    assert tallies[0].reversed == 10 and tallies[0].continued == 0
    assert tallies[0].abs_move == pytest.approx(0.10)


def test_tally_counts_classes():
    t = Tally()
    for o in grade("up", T0, 0.5, [T0, T0 + 10], [0.5, 0.6], data_end=T0 + 4000, start=1):
        t.add(o)
    assert (t.continued, t.reversed, t.flat, t.no_data) == (4, 0, 0, 0)
    assert t.graded == 4
