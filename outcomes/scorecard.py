"""The scorecard: graded signals grouped (by tier, rule, topic, …), each group's outcome shares
beside its time-matched baseline's, the lift with its interval, settlement hit rates and the
analyst's Brier score. Built from :class:`ScoredSignal` rows, whether they come from the
store (live) or from a backtest run; never re-grades anything."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import msgspec

from . import stats
from .baseline import Tally
from .grading import HORIZONS, HorizonOutcome, horizon_name

GROUP_ROUNDS_MIN = 200
GROUPS = ("tier", "rule", "topic", "source", "market", "analyst_label", "analyst_confidence",
          "all")


class ScoredSignal(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One signal with everything graded about it so far."""

    market_id: str
    created_at: float
    direction: str
    yes_price: float | None = None
    tier: str = ""
    rule: str = ""
    topic: str = ""
    source: str = ""
    signal_id: int | None = None
    analyst_label: str | None = None
    analyst_confidence: str | None = None
    probability_yes: float | None = None
    horizons: list[HorizonOutcome] = []
    """One per horizon of HORIZONS (``no data`` until graded)."""
    baseline: list[Tally] = []
    """The time-matched baseline, one tally per horizon."""
    result: str | None = None
    """How the market settled: ``yes`` / ``no``; None while unknown."""


class HorizonScore(msgspec.Struct, kw_only=True):
    horizon: str
    graded: int
    waiting: int
    """Signals without data for this horizon yet (or ever: the recording ended)."""
    continued: float | None
    reversed: float | None
    flat: float | None
    """Shares of the graded signals (undirected ones count as neither continued nor reversed)."""
    continuation: float | None
    """continued / (continued + reversed): the share that moved the signal's way."""
    mean_abs_move: float | None
    """Mean |price change| in cents at the horizon."""
    baseline_graded: int
    baseline_continuation: float | None
    baseline_flat: float | None
    baseline_mean_abs_move: float | None
    lift: float | None
    """continuation − baseline_continuation, in percentage points."""
    lift_low: float | None
    lift_high: float | None
    converged: float | None = None
    """Divergence signals: the share of the graded ones whose gap closed within the horizon
    (``None`` when the group has none)."""


class GroupScore(msgspec.Struct, kw_only=True):
    group: str
    signals: int
    directed: int
    """Signals with a price direction (the others cannot continue or reverse)."""
    per_market_hour: float | None
    horizons: list[HorizonScore]
    settled: int
    hit_rate: float | None
    """Share of settled directed signals whose direction matched the settlement."""
    implied_hit_rate: float | None
    """What the market's own price at the signal implied for that hit rate (the reference)."""
    analyst_scored: int
    brier: float | None
    brier_market: float | None
    brier_skill: float | None


class Scorecard(msgspec.Struct, kw_only=True):
    group_by: str
    signals: int
    market_hours: float
    since: float | None = None
    until: float | None = None
    groups: list[GroupScore] = []
    total: GroupScore | None = None


def _key(group_by: str) -> Callable[[ScoredSignal], str]:
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    if group_by == "all":
        return lambda s: "all"
    field = "market_id" if group_by == "market" else group_by
    return lambda s: str(getattr(s, field) or "—")


def build(rows: Iterable[ScoredSignal], group_by: str = "tier", *,
          market_hours: Mapping[str, float] | None = None, since: float | None = None,
          until: float | None = None, rounds: int = stats.BOOTSTRAP) -> Scorecard:
    """Group the rows and score each group (and all of them as ``total``).

    ``market_hours``: per market, the hours in which it traded (the rate's denominator); a
    group by market uses its own, a group by topic or source the hours of its markets, every
    other grouping all of them.
    """
    key = _key(group_by)
    hours = dict(market_hours or {})
    groups: dict[str, list[ScoredSignal]] = defaultdict(list)
    all_rows = list(rows)
    for row in all_rows:
        groups[key(row)].append(row)
    total_hours = sum(hours.values())

    def denominator(members: list[ScoredSignal]) -> float:
        if group_by in ("market", "topic", "source"):
            return sum(hours.get(m, 0.0) for m in {s.market_id for s in members})
        return total_hours

    # Many small groups (by market) share one budget of resamples: a scorecard stays fast,
    # and a group of a dozen signals has an interval far wider than the resampling error.
    per_group = max(GROUP_ROUNDS_MIN, min(rounds, rounds * 4 // max(1, len(groups))))
    scored = [score_group(name, members, denominator(members), per_group)
              for name, members in groups.items()]
    scored.sort(key=lambda g: (_order(group_by, g.group), -g.signals, g.group))
    return Scorecard(group_by=group_by, signals=len(all_rows), market_hours=total_hours,
                     since=since, until=until, groups=scored,
                     total=score_group("all", all_rows, total_hours, rounds))


def _order(group_by: str, name: str) -> int:
    orders = {"tier": ("high conviction flow", "notable", "watch"),
              "analyst_label": ("signal", "uncertain", "noise"),
              "analyst_confidence": ("high", "medium", "low")}
    order = orders.get(group_by, ())
    return order.index(name) if name in order else len(order)


def score_group(name: str, rows: list[ScoredSignal], hours: float,
                rounds: int = stats.BOOTSTRAP) -> GroupScore:
    directed = [s for s in rows if s.direction in ("up", "down")]
    settled = [(s, s.yes_price) for s in directed
               if s.result in ("yes", "no") and s.yes_price is not None]
    hits = [float((s.direction == "up") == (s.result == "yes")) for s, _ in settled]
    implied = [p if s.direction == "up" else 1 - p for s, p in settled]
    scored = [(s.probability_yes, s.yes_price, 1 if s.result == "yes" else 0) for s in rows
              if s.probability_yes is not None and s.result in ("yes", "no")
              and s.yes_price is not None]
    results = [r for _, _, r in scored]
    brier = stats.brier([p for p, _, _ in scored], results)
    brier_market = stats.brier([m for _, m, _ in scored], results)
    return GroupScore(
        group=name, signals=len(rows), directed=len(directed),
        per_market_hour=round(len(rows) / hours, 4) if hours else None,
        horizons=[_horizon(rows, i, h, rounds) for i, h in enumerate(HORIZONS)],
        settled=len(settled), hit_rate=_mean(hits), implied_hit_rate=_mean(implied),
        analyst_scored=len(scored), brier=brier, brier_market=brier_market,
        brier_skill=stats.skill(brier, brier_market))


def _horizon(rows: list[ScoredSignal], i: int, h: int, rounds: int) -> HorizonScore:
    counts = {"continued": 0, "reversed": 0, "flat": 0, "moved": 0, "converged": 0, "open": 0}
    moves: list[float] = []
    sig_c, sig_r, base_c, base_r = [], [], [], []
    base = Tally()
    waiting = 0
    for s in rows:
        outcome = s.horizons[i] if i < len(s.horizons) else None
        if outcome is None or outcome.outcome == "no data":
            waiting += 1
        else:
            counts[outcome.outcome] += 1
            moves.append(abs(outcome.change or 0.0))
        if s.direction not in ("up", "down"):
            continue  # no direction: neither in the lift nor in its baseline
        cls = outcome.outcome if outcome is not None else "no data"
        sig_c.append(int(cls == "continued"))
        sig_r.append(int(cls == "reversed"))
        tally = s.baseline[i] if i < len(s.baseline) else Tally()
        base_c.append(tally.continued)
        base_r.append(tally.reversed)
        base.continued += tally.continued
        base.reversed += tally.reversed
        base.flat += tally.flat
        base.abs_move += tally.abs_move
    graded = len(moves)
    point, low, high = stats.lift(sig_c, sig_r, base_c, base_r, rounds=rounds)
    return HorizonScore(
        horizon=horizon_name(h), graded=graded, waiting=waiting,
        continued=_ratio(counts["continued"], graded), reversed=_ratio(counts["reversed"], graded),
        flat=_ratio(counts["flat"], graded),
        continuation=stats.share(counts["continued"], counts["reversed"]),
        mean_abs_move=round(100 * sum(moves) / graded, 3) if graded else None,
        baseline_graded=base.graded,
        baseline_continuation=stats.share(base.continued, base.reversed),
        baseline_flat=_ratio(base.flat, base.graded),
        baseline_mean_abs_move=round(100 * base.abs_move / base.graded, 3) if base.graded
        else None,
        lift=_round(point), lift_low=_round(low), lift_high=_round(high),
        converged=_ratio(counts["converged"], counts["converged"] + counts["open"]))


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
