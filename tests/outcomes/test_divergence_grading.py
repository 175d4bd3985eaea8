"""Divergence outcomes on hand-built price paths of two venues (worked out by hand): did the
gap close within each horizon, which venue moved, the YES↔NO mapping, no data, the
scorecard's converged share and its text rendering."""

from __future__ import annotations

from trade_hunter.outcomes.baseline import Tally
from trade_hunter.outcomes.divergence import grade_divergence, moved_side
from trade_hunter.outcomes.render import render
from trade_hunter.outcomes.scorecard import ScoredSignal, build

T0 = 1_767_312_000.0  # 2026-01-02 00:00 UTC


def classes(outcomes):
    return [o.outcome for o in outcomes]


def test_the_gap_closes_when_venue_b_comes_to_a():
    # a (kalshi) 0.40 throughout; b (polymarket) 0.55 → 0.52 at +2 min → 0.43 at +10 min
    a = ([T0 - 5, T0 + 400], [0.40, 0.40])
    b = ([T0 - 5, T0 + 120, T0 + 600], [0.55, 0.52, 0.43])
    out = grade_divergence(T0, 0.40, 0.55, "yes", a, b, data_end=T0 + 3600, close_gap=0.05)
    assert classes(out) == ["open", "open", "converged", "converged"]
    assert [o.gap for o in out] == [-0.15, -0.12, -0.03, -0.03]
    assert [o.change for o in out] == [0.0, -0.03, -0.12, -0.12]  # the gap's size, narrowing
    assert [o.b_move for o in out] == [0.0, -0.03, -0.12, -0.12]
    assert [o.a_move for o in out] == [0.0, 0.0, 0.0, 0.0]
    assert [o.moved for o in out] == ["neither", "b", "b", "b"]


def test_a_gap_that_closed_within_the_horizon_counts_even_if_it_reopened():
    a = ([T0 + 100, T0 + 200], [0.52, 0.38])   # a meets b at +100 s, then leaves again
    b = ([], [])
    out = grade_divergence(T0, 0.40, 0.55, "yes", a, b, data_end=T0 + 400, close_gap=0.05,
                           horizons=(60, 300, 900))
    assert classes(out) == ["open", "converged", "no data"]
    assert out[1].gap == -0.17 and out[1].moved == "a" and out[1].a_move == -0.02
    assert out[2].gap is None  # beyond data_end: never guessed


def test_yes_to_no_mapping_compares_the_complement_and_both_moving():
    # YES of a is NO of b: b at 0.30 means 0.70 for a's YES; a 0.50 → gap -0.20
    a = ([T0 + 30], [0.58])
    b = ([T0 + 40], [0.38])                    # mapped 0.62: both moved, 0.04 apart
    [out] = grade_divergence(T0, 0.50, 0.30, "no", a, b, data_end=T0 + 60, close_gap=0.05,
                             horizons=(60,))
    assert (out.outcome, out.gap, out.a_move, out.b_move, out.moved) == (
        "converged", -0.04, 0.08, -0.08, "both")


def test_the_converged_note_is_converged_at_once():
    out = grade_divergence(T0, 0.50, 0.52, "yes", ([], []), ([], []), data_end=T0 + 3600,
                           close_gap=0.05)
    assert classes(out) == ["converged"] * 4 and {o.moved for o in out} == {"neither"}


def test_moved_side_uses_the_flat_band():
    assert moved_side(0.005, -0.004) == "neither"
    assert moved_side(0.006, 0.0) == "a" and moved_side(0.0, -0.01) == "b"


def test_the_scorecard_by_rule_shows_the_converged_share():
    def div(outcomes):
        from trade_hunter.outcomes.grading import HorizonOutcome
        return ScoredSignal(market_id="K", created_at=T0, direction="flat", rule="divergence",
                            horizons=[HorizonOutcome(horizon=h, outcome=o, change=0.0)
                                      for h, o in zip((60, 300, 900, 3600), outcomes,
                                                      strict=True)])
    rows = [div(["open", "open", "converged", "converged"]),
            div(["open", "converged", "converged", "no data"]),
            ScoredSignal(market_id="X", created_at=T0, direction="up", rule="hard",
                         baseline=[Tally()] * 4)]
    card = build(rows, "rule", rounds=200)
    by = {g.group: g for g in card.groups}
    assert [h.converged for h in by["divergence"].horizons] == [0.0, 0.5, 1.0, 1.0]
    assert [h.graded for h in by["divergence"].horizons] == [2, 2, 2, 1]
    assert all(h.converged is None for h in by["hard"].horizons)
    import msgspec
    text = render(msgspec.to_builtins(card))
    assert "divergence: gap closed within +1m 0%, +5m 50%, +15m 100%, +60m 100%" in text
