"""Write docs/SIGNAL-QUALITY.md: the detector's scorecard on the shipped development data.

``python -m trade_hunter.outcomes.quality_doc`` prints it; ``--write`` replaces the file.
Every figure is measured here, in one run; the verdicts are derived from the intervals.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from . import scorecard
from .backtest.readers import read_events, read_markets
from .backtest.runner import Run, run_with
from .render import pct, render

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "kalshi-trades-KXINXU-2026-01"
TRADES = DATA / "trades-KXINXU-2026-01.csv.gz"
MARKETS = DATA / "markets-KXINXU-2026-01.csv"
SPLIT = datetime(2026, 1, 16, tzinfo=UTC).timestamp()
"""The month's two halves: before and after 2026-01-16 00:00 UTC."""

NEUTRAL = {"SPIKE_WARMUP_POINTS": "0", "SPIKE_PRICE_BAND": "0", "SPIKE_CLOSE_GUARD_SECONDS": "0",
           "SPIKE_VOLUME_ONLY": "notify"}
"""The gated profile with every gate open: each gate alone is this plus that gate."""
CONFIGS: list[tuple[str, dict[str, str]]] = [
    ("classic (the seed's rules)", {"SPIKE_PROFILE": "classic"}),
    ("**gated (the defaults)**", {}),
    ("gated, every gate open", NEUTRAL),
    ("warm-up alone (10 points)", {**NEUTRAL, "SPIKE_WARMUP_POINTS": "10"}),
    ("price band alone (0.10)", {**NEUTRAL, "SPIKE_PRICE_BAND": "0.10"}),
    ("close guard alone (900 s)", {**NEUTRAL, "SPIKE_CLOSE_GUARD_SECONDS": "900"}),
    ("no move, no signal alone (off)", {**NEUTRAL, "SPIKE_VOLUME_ONLY": "off"}),
    ("gated + flow tiers (0.8 / 0.3)", {"SPIKE_FLOW_ONE_SIDED": "0.8", "SPIKE_FLOW_CHURN": "0.3"}),
    ("gated + escalation ×1.5", {"SPIKE_ESCALATE_FACTOR": "1.5"}),
    ("gated + escalation ×3", {"SPIKE_ESCALATE_FACTOR": "3"}),
    ("gated + cooldown 900 s", {"SPIKE_COOLDOWN_SECONDS": "900"}),
    ("gated + cooldown 1800 s, volume-only off",
     {"SPIKE_COOLDOWN_SECONDS": "1800", "SPIKE_VOLUME_ONLY": "off"}),
    ("gated + score threshold 5", {"SPIKE_SCORE_THRESHOLD": "5"}),
    ("gated + minimum move 0.05", {"SPIKE_MIN_PRICE_MOVE": "0.05"}),
]


def total(result: Run, rows: Sequence[scorecard.ScoredSignal] | None = None
          ) -> scorecard.GroupScore:
    card = scorecard.build(result.scored if rows is None else rows, "all",
                           market_hours=result.market_hours)
    assert card.total is not None
    return card.total


def lift(h: scorecard.HorizonScore) -> str:
    if h.lift is None:
        return "—"
    if h.lift_low is None:
        return f"{h.lift:+.1f}"
    return f"{h.lift:+.1f} [{h.lift_low:+.1f}, {h.lift_high:+.1f}]"


def verdict(h: scorecard.HorizonScore) -> str:
    if h.lift is None or h.lift_low is None or h.lift_high is None:
        return "too few to say"
    if h.lift_low > 0:
        return "better than chance"
    if h.lift_high < 0:
        return "worse than chance"
    side = "below" if h.lift < 0 else "above"
    return f"not distinguishable from chance (the estimate is {side} it, the interval spans 0)"


def escalations(runs: list[tuple[str, Run]]) -> str:
    counts = {name: r.escalations for name, r in runs}
    return (f"{counts['gated + escalation ×1.5']} updates at ×1.5, "
            f"{counts['**gated (the defaults)**']} at ×2, {counts['gated + escalation ×3']} at ×3")


def gate_deltas(runs: list[tuple[str, Run]]) -> str:
    """The 5-minute lift of each gate alone minus every gate open, as "name +x.x" parts."""
    open_lift = total(runs[2][1]).horizons[1].lift or 0.0
    parts = []
    for name, r in runs[3:7]:
        lift_5 = total(r).horizons[1].lift
        if lift_5 is not None:
            parts.append(f"{lift_5 - open_lift:+.1f} ({name.split(' alone')[0]})")
    return ", ".join(parts)


def table_row(name: str, r: Run) -> str:
    t = total(r)
    halves = [total(r, [s for s in r.scored if (s.created_at < SPLIT) == first])
              for first in (True, False)]
    quiet = sum(1 for s in r.signals if not s.notify)
    h5, h15 = t.horizons[1], t.horizons[2]
    return (f"| {name} | {t.signals} | {quiet} | {r.escalations} | {t.per_market_hour:.2f} | "
            f"{pct(h5.continuation)} vs {pct(h5.baseline_continuation)} | {lift(h5)} | "
            f"{halves[0].horizons[1].lift:+.1f} / {halves[1].horizons[1].lift:+.1f} | "
            f"{lift(h15)} | {pct(t.hit_rate)} vs {pct(t.implied_hit_rate)} |")


def build_doc() -> str:
    events = list(read_events(TRADES))
    markets = read_markets(MARKETS)
    runs = [(name, run_with([msgspec.structs.replace(e) for e in events], markets, o))
            for name, o in CONFIGS]
    default = runs[1][1]
    t = total(default)
    h5, h15 = t.horizons[1], t.horizons[2]
    classic = total(runs[0][1])
    by_tier = msgspec.to_builtins(scorecard.build(default.scored, "tier",
                                                  market_hours=default.market_hours))
    by_rule = msgspec.to_builtins(scorecard.build(default.scored, "rule",
                                                  market_hours=default.market_hours))
    first = datetime.fromtimestamp(default.first or 0, UTC).date()
    last = datetime.fromtimestamp(default.last or 0, UTC).date()
    lines = [
        "# Signal quality on the development data",
        "",
        ("Generated by `python -m trade_hunter.outcomes.quality_doc --write` (do not edit by "
        "hand). Data: `data/kalshi-trades-KXINXU-2026-01/` — real Kalshi S&P 500 range markets "
        f"(KXINXU), {default.events:,} trades of {default.markets} markets, {first} to {last}, "
        f"{sum(default.market_hours.values()):.0f} market-hours (hours in which a market traded)."),
        ("This is one month of one series: the figures are development figures, not a promise "
        "about other data. Informational only; never trading advice."),
        "",
        ("How to read it: a signal *continued* when the last traded price 5 (15) minutes later "
        "had moved its way by more than half a cent, *reversed* when it had moved the other "
        "way. `cont` is continued ÷ (continued + reversed). The baseline is up to 20 random "
        "trades of the same market on the same day that moved the price, graded the same way. "
        "The lift is the signals' share minus the baseline's, in percentage points, with a 95 % "
        "bootstrap interval over signals. Halves: the 5-minute lift before and after "
        "2026-01-16. Settlement: how often a signal's direction matched how the market "
        "settled, beside what the market's own price implied at that moment."),
        "",
        "## The reading",
        "",
        (f"- **The default (gated) detector's signals are {verdict(h5)} at 5 minutes** "
        f"(lift {lift(h5)} points) and {verdict(h15)} at 15 minutes ({lift(h15)})."),
        (f"- Gated raises {t.signals} signals ({t.per_market_hour:.2f} per market-hour) where "
        f"classic raises {classic.signals} ({classic.per_market_hour:.2f}); "
        f"{sum(1 for s in default.signals if not s.notify)} of the gated ones are quiet "
        "(volume without a price move: stored and graded, not notified), and bigger moves "
        f"during a cooldown became {default.escalations} escalations of an earlier signal "
        "instead of new alerts."),
        ("- On this market the moments right after a burst of trading mostly give back part of "
        "the move: the last traded price bounces between bid and ask, and the baseline of "
        "random moved trades shows the same reversal. Signals reverse at least as often. No "
        "gate or threshold tried below turns that into a continuation the baseline lacks; "
        "larger thresholds (bigger moves, higher scores) reverse *more*. Trade-flow evidence "
        "(one-sided taker flow, clusters of large trades) did not separate better signals from "
        "worse ones, so by default it is shown on each signal but does not move the tier."),
        (f"- Direction against settlement: {pct(t.hit_rate, 1)} of the settled directed signals "
        f"pointed the way the market settled, where the price at the signal implied "
        f"{pct(t.implied_hit_rate, 1)}: the signals carry no settlement information the price "
        "did not already have."),
        (f"- The defaults are chosen to cut noise, not to claim an edge. With every gate open "
        f"the gated profile raises {total(runs[2][1]).signals} signals; each gate alone changes "
        f"the 5-minute lift by {gate_deltas(runs)} points (all well inside the interval), and "
        "removes what it is for: ticks at 1–9¢ and 91–99¢, a new market's first events, the "
        "mechanical convergence of the last 15 minutes before the close, volume without a "
        "price move. Each is set at a round value; longer cooldowns or higher thresholds cut "
        "more signals but their lift is no better (last rows of the table)."),
        ("- What this means for a user: treat an alert as *something is happening here*, worth a "
        "look, not as a prediction of the next minutes. The live scorecard "
        "(`th-ctl scorecard`) measures the same thing on your own markets."),
        "",
        "## Classic, gated, and each gate alone",
        "",
        ("| configuration | signals | quiet | escalations | per market-hour | 5 m cont vs base "
        "| 5 m lift [95 % CI] | 5 m lift, halves | 15 m lift [95 % CI] | settlement vs implied |"),
        "|---|---|---|---|---|---|---|---|---|---|",
        *[table_row(name, r) for name, r in runs],
        "",
        "## The default detector's scorecard",
        "",
        "```text",
        render(by_tier, "Development data"),
        "",
        render(by_rule, "Development data", horizons=("5m", "15m")),
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--write", action="store_true", help="replace docs/SIGNAL-QUALITY.md")
    args = p.parse_args(argv)
    doc = build_doc()
    if args.write:
        (REPO / "docs" / "SIGNAL-QUALITY.md").write_text(doc, encoding="utf-8")
        print("docs/SIGNAL-QUALITY.md written")
    else:
        sys.stdout.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
