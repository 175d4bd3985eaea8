"""The time-matched baseline: random moments of the same market on the same day, graded like
a signal, so "better than chance" has a reference.

A baseline moment is a *trade* of the signal's market on the signal's UTC day whose price
differs from the market's previous known price (a moment with a direction, as a directed signal
has one), other than the signal's own event. Up to ``k`` of them are drawn without
replacement, with a generator seeded by the market and the moment, so the live grader and the
backtest draw the same moments from the same history.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

import msgspec

from .grading import FLAT_BAND, HORIZONS, HorizonOutcome, grade

DAY = 86400.0
BASELINE_K = 20
"""Moments drawn per signal (the ``OUTCOME_BASELINE_K`` setting)."""


class Tally(msgspec.Struct, array_like=True):
    """Baseline moments graded at one horizon, by class, with their summed absolute change."""

    continued: int = 0
    reversed: int = 0
    flat: int = 0
    no_data: int = 0
    abs_move: float = 0.0

    def add(self, outcome: HorizonOutcome) -> None:
        if outcome.outcome == "continued":
            self.continued += 1
        elif outcome.outcome == "reversed":
            self.reversed += 1
        elif outcome.outcome == "flat":
            self.flat += 1
        else:
            self.no_data += 1
            return
        self.abs_move += abs(outcome.change or 0.0)

    @property
    def graded(self) -> int:
        return self.continued + self.reversed + self.flat


class PricePath:
    """One market's priced events in time order, with each event's move and whether it was a
    trade (the baseline draws from moved trades)."""

    __slots__ = ("moves", "prices", "times", "trades")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.prices: list[float] = []
        self.moves: list[float] = []
        self.trades: list[bool] = []

    def add(self, ts: float, price: float, is_trade: bool) -> int:
        """Append an event (times must not decrease); returns its index."""
        last = self.prices[-1] if self.prices else None
        self.times.append(ts)
        self.prices.append(price)
        self.moves.append(0.0 if last is None else round(price - last, 6))
        self.trades.append(is_trade)
        return len(self.times) - 1

    @classmethod
    def of(cls, events: Iterable[tuple[float, float, bool]]) -> PricePath:
        path = cls()
        for ts, price, is_trade in events:
            path.add(ts, price, is_trade)
        return path

    def index_of(self, ts: float, price: float) -> int | None:
        """The index of the last event at ``ts`` with ``price`` (a stored signal's event)."""
        lo, hi = bisect_left(self.times, ts), bisect_right(self.times, ts)
        for i in range(hi - 1, lo - 1, -1):
            if self.prices[i] == price:
                return i
        return None

    def grade_at(self, i: int, *, data_end: float, close_time: float | None = None,
                 direction: str | None = None, band: float = FLAT_BAND,
                 horizons: Sequence[int] = HORIZONS) -> list[HorizonOutcome]:
        """Grade event ``i`` (its own move's direction unless one is given)."""
        if direction is None:
            move = self.moves[i]
            direction = "up" if move > 0 else "down" if move < 0 else "flat"
        return grade(direction, self.times[i], self.prices[i], self.times, self.prices,
                     data_end=data_end, close_time=close_time, horizons=horizons, band=band,
                     start=i + 1)


def grade_signal(path: PricePath, i: int, market_id: str, direction: str, t0: float, p0: float,
                 *, data_end: float, close_time: float | None = None, k: int = BASELINE_K,
                 band: float = FLAT_BAND) -> tuple[list[HorizonOutcome], list[Tally]]:
    """A signal whose event is ``path``'s index ``i``: its outcome per horizon (from the events
    after it) and its time-matched baseline. The backtest and the live grader both use it."""
    return (grade(direction, t0, p0, path.times, path.prices, data_end=data_end,
                  close_time=close_time, band=band, start=i + 1),
            baseline(path, i, market_id, data_end=data_end, close_time=close_time, k=k,
                     band=band))


def seed_for(market_id: str, t0: float) -> str:
    return f"{market_id}@{t0:.6f}"


def draw(path: PricePath, i: int, market_id: str, k: int = BASELINE_K) -> list[int]:
    """Indices of up to ``k`` baseline moments for the moment at index ``i``."""
    t0 = path.times[i]
    day = t0 - t0 % DAY
    lo, hi = bisect_left(path.times, day), bisect_left(path.times, day + DAY)
    moves, trades = path.moves, path.trades
    candidates = [j for j in range(lo, hi) if j != i and trades[j] and moves[j] != 0.0]
    if len(candidates) <= k:
        return candidates
    return sorted(random.Random(seed_for(market_id, t0)).sample(candidates, k))


def baseline(path: PricePath, i: int, market_id: str, *, data_end: float,
             close_time: float | None = None, k: int = BASELINE_K, band: float = FLAT_BAND,
             horizons: Sequence[int] = HORIZONS) -> list[Tally]:
    """The baseline tallies (one per horizon) for the moment at index ``i``."""
    tallies = [Tally() for _ in horizons]
    for j in draw(path, i, market_id, k):
        for tally, outcome in zip(tallies, path.grade_at(
                j, data_end=data_end, close_time=close_time, band=band, horizons=horizons),
                strict=True):
            tally.add(outcome)
    return tallies
