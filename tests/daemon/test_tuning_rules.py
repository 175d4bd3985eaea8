"""The advisor's pure logic: replay, evidence, patterns and suggestions on hand-built
histories (numbers worked out by hand in the comments)."""

from __future__ import annotations

from collections.abc import Callable

from trade_hunter.daemon import tuning_rules as advisor
from trade_hunter.daemon.tuning_rules import Evidence, Past, advise, past_signals
from trade_hunter.plugins.builtin.spike import SpikeDetector
from trade_hunter.plugins.models import AnalystRead, MarketEvent

T0 = 1_800_000_000.0


def trade(market: str, ts: float, price: float, volume: float) -> MarketEvent:
    return MarketEvent(platform="t", market_id=market, title=f"Will {market} resolve yes?",
                       yes_price=price, volume=volume, event_kind="trade", trade_side="yes",
                       timestamp=ts, source="test")


def rounds(market: str, spikes: list[float], spike_volume: float, move: float
           ) -> list[MarketEvent]:
    """Before each spike (at ``T0 + s``), 24 quiet trades of 10 (the baseline is exactly
    10 at every spike); each spike moves the price by ``move`` (up, down, up, …)."""
    events, price = [], 0.50
    for i, s in enumerate(spikes):
        events += [trade(market, T0 + s - 250 + k * 10, price, 10.0) for k in range(24)]
        price = round(price + (move if i % 2 == 0 else -move), 2)
        events.append(trade(market, T0 + s, price, spike_volume))
    return events


def live(events: list[MarketEvent], label: Callable[[str, int], str]
         ) -> tuple[list[Past], Callable[..., list[MarketEvent]]]:
    """Run the real detector as the pipeline would; label the n-th signal of each market."""
    detector, states, rows, count = SpikeDetector(), {}, [], {}
    for e in sorted(events, key=lambda e: e.timestamp):
        state = states.setdefault(e.market_id, detector.new_state(e.market_id))
        signal = detector.process(e, state)
        if signal is not None:
            n = count[e.market_id] = count.get(e.market_id, -1) + 1
            rows.append((signal, AnalystRead(signal_id=0, noise_or_signal=label(  # type: ignore[arg-type]
                e.market_id, n))))

    def events_for(market: str, since: float, until: float) -> list[MarketEvent]:
        return [e for e in sorted(events, key=lambda e: e.timestamp)
                if e.market_id == market and since <= e.timestamp < until]
    return past_signals(rows), events_for


def test_outlier_noise_suggests_a_higher_score_threshold():
    # N: 4 spikes of 45 on a baseline of 10, no price move → outlier rule, score
    #    4.5 × 0.75 = 3.375 ≥ 3 (45 < 120: never hard). Read as noise.
    # S: 3 spikes of 100, 2c moves → outlier, score 10 × 0.75 + (0.02 / 0.03) × 1.25 = 8.33.
    # SPIKE_SCORE_THRESHOLD 3.5 (the first half-step above 3.375) drops N, keeps S:
    # alerts 7 → 3 (−57 %). Volume and price-move knobs cannot tell them apart (no hard-rule
    # signal); cooldowns would drop S's repeats too.
    events = rounds("N", [300, 700, 1100, 1500], 45.0, 0.0) + \
        rounds("S", [300, 700, 1100], 100.0, 0.02)
    past, events_for = live(events, lambda m, n: "noise" if m == "N" else "signal")
    assert [p.signal.rule for p in past] == ["outlier"] * 7

    report = advise(SpikeDetector(), past, events_for, T0, T0 + 3600)
    [s] = report.suggestions
    assert (s.knob, s.current, s.proposed) == ("SPIKE_SCORE_THRESHOLD", 3.0, 3.5)
    assert s.evidence.text() == ("\u221257 % alerts (7 → 3); drops 4 of 4 noise, keeps 3 of 3 "
                                 "signal; replay reproduces 7 of 7 past signals")
    assert s.why == "4 of 7 analysed outlier-rule signals were read as noise"
    assert report.baseline == {"alerts": 7, "reproduced": 7, "past": 7}
    assert [p.text() for p in report.patterns] == ["market N: 4 of 4 noise",
                                                   "tier watch: 4 of 4 noise",
                                                   "price level 10-90c: 4 of 7 noise",
                                                   "rule outlier: 4 of 7 noise",
                                                   "spread unknown: 4 of 7 noise",
                                                   "topic general: 4 of 7 noise"]


def test_repeats_on_one_market_suggest_a_longer_cooldown():
    # R: 7 hard-rule spikes (600 contracts, 5c) every 320 s, just past the 300 s cooldown,
    #    read as noise. G: the same spikes every 1000 s, read as signal.
    # Cooldown 900: R fires at 0, 960, 1920 (drops 4 of 7); G's 1000 s gaps all still fire.
    # 1200 would drop more noise but also G's second spike (2 of 3 signal < 80 %).
    # Alerts 10 → 6 (−40 %).
    events = rounds("R", [300 + 320 * i for i in range(7)], 600.0, 0.05) + \
        rounds("G", [300, 1300, 2300], 600.0, 0.05)
    past, events_for = live(events, lambda m, n: "noise" if m == "R" else "signal")
    assert len(past) == 10

    report = advise(SpikeDetector(), past, events_for, T0, T0 + 7200)
    [s] = report.suggestions
    assert (s.knob, s.current, s.proposed) == ("SPIKE_COOLDOWN_SECONDS", 300.0, 900.0)
    assert s.evidence.as_dict() == {"alerts_now": 10, "alerts_proposed": 6,
                                    "total": {"noise": 7, "signal": 3},
                                    "kept": {"noise": 3, "signal": 3},
                                    "reproduced": 10, "past": 10, "new": 0}
    assert s.evidence.text().startswith("\u221240 % alerts (10 → 6); drops 4 of 7 noise")
    assert s.why.startswith("noise repeats on the same markets: 6 signals read as noise")


def test_replay_counts_only_the_window_and_starts_fresh():
    events = rounds("R", [300, 700], 600.0, 0.05)
    strict = {"SPIKE_MIN_VOLUME_DELTA": 700, "SPIKE_SCORE_THRESHOLD": 1000}
    fired = advisor.replay(SpikeDetector(), [{}, strict], [("R", events)], start=T0 + 500)
    assert fired == [{("R", T0 + 700)}, set()]


def test_too_few_reads_gives_a_message_not_a_guess():
    events = rounds("R", [300, 700], 600.0, 0.05)
    past, events_for = live(events, lambda m, n: "noise")
    report = advise(SpikeDetector(), past, events_for, T0, T0 + 3600)
    assert report.suggestions == []
    assert report.message == ("not enough analysed signals yet: 2 analysed (2 noise) in the "
                              "window; suggestions need 6 with at least 2 noise")


def test_evidence_text_and_merit_rules():
    ev = Evidence(alerts_now=10, alerts_proposed=12, total={"noise": 2, "signal": 5},
                  kept={"noise": 0, "signal": 4}, reproduced=7, past=9, new=3)
    assert ev.text() == ("+20 % alerts (10 → 12); drops 2 of 2 noise, keeps 4 of 5 signal; "
                         "replay reproduces 7 of 9 past signals and adds 3 new")
    assert advisor.merit(ev) == 2 - 2 * 1
    # Keeping under 80 % of signal, or dropping signal as fast as noise, is never suggested.
    assert advisor.merit(Evidence(10, 5, {"noise": 4, "signal": 5}, {"noise": 0, "signal": 3},
                                  9, 9, 0)) is None
    assert advisor.merit(Evidence(10, 8, {"noise": 2, "signal": 10},
                                  {"noise": 1, "signal": 9}, 9, 9, 0)) is None


def test_demo_and_unlabelled_signals():
    events = rounds("R", [300], 600.0, 0.05)
    detector, state = SpikeDetector(), SpikeDetector().new_state("R")
    signals = [s for e in events if (s := detector.process(e, state)) is not None]
    demo = signals[0].__copy__()
    demo.demo = True
    past = past_signals([(signals[0], None), (demo, None),
                         (signals[0], AnalystRead(signal_id=1, status="skipped"))])
    assert [p.label for p in past] == [None, None]


def test_suggestions_report_how_the_kept_and_dropped_signals_did():
    # The cooldown case above (R: noise every 320 s; G: signal every 1000 s). Stored outcomes:
    # every R signal reversed by +5m, every G signal continued; each with a baseline of one
    # continued and one reversed moment (50 %). Cooldown 900 keeps R's 1st, 4th, 7th and G's
    # three: 3 of 6 continued (50 %, lift 0); it drops 4 R signals: 0 % (lift −50, and every
    # resample of four reversed signals gives −50).
    from trade_hunter.outcomes.baseline import Tally
    from trade_hunter.outcomes.grading import HORIZONS, HorizonOutcome
    from trade_hunter.outcomes.scorecard import ScoredSignal

    events = rounds("R", [300 + 320 * i for i in range(7)], 600.0, 0.05) + \
        rounds("G", [300, 1300, 2300], 600.0, 0.05)
    past, events_for = live(events, lambda m, n: "noise" if m == "R" else "signal")

    def scored(p: Past) -> ScoredSignal:
        s = p.signal
        cls = "reversed" if s.market_id == "R" else "continued"
        return ScoredSignal(market_id=s.market_id, created_at=s.created_at,
                            direction=s.direction, yes_price=s.yes_price,
                            horizons=[HorizonOutcome(horizon=h, outcome=cls, change=0.02)
                                      for h in HORIZONS],
                            baseline=[Tally(continued=1, reversed=1) for _ in HORIZONS])
    outcomes = {p.key: scored(p) for p in past}

    report = advise(SpikeDetector(), past, events_for, T0, T0 + 7200, outcomes=outcomes)
    [s] = report.suggestions
    assert s.knob == "SPIKE_COOLDOWN_SECONDS"
    got = s.evidence.outcomes
    assert got["horizon"] == "5m"
    kept, dropped = got["kept"], got["dropped"]
    assert (kept["signals"], kept["graded"], kept["continuation"], kept["lift"]) == \
        (6, 6, 0.5, 0.0)
    assert kept["baseline_continuation"] == 0.5
    assert (dropped["signals"], dropped["continuation"], dropped["lift"]) == (4, 0.0, -50.0)
    assert (dropped["lift_low"], dropped["lift_high"]) == (-50.0, -50.0)
    assert s.evidence.text().endswith(
        "; the dropped 4 continued 0% (lift \u221250.0 [\u221250.0, \u221250.0], 4 graded)")
    assert "at +5m the kept 6 continued 50% (lift +0.0 [" in s.evidence.text()
    assert s.evidence.as_dict()["outcomes"] == got
    # Without stored outcomes the evidence is as before.
    plain = advise(SpikeDetector(), past, events_for, T0, T0 + 7200).suggestions[0]
    assert plain.evidence.outcomes is None and "outcomes" not in plain.evidence.as_dict()
