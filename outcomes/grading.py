"""What the market did after a moment: the price at each horizon, the largest move each way,
and a class (continued / reversed / flat / no data). Pure functions over one market's price
path, shared by the live grader and the backtest (docs/outcomes.md says what each term means).

A *price path* is the market's priced events in time order as two parallel lists (event times,
yes prices). A moment is graded from the events strictly after it:

* the horizon's end is ``t0 + h``, or the market's close when that comes first;
* the price there is the last known price at or before the end (the moment's own price when no
  event came in between: the market did not move);
* the end must be covered by data: ``data_end`` is the time up to which the recording (or the
  live feed) is known to be complete; an end beyond it is ``no data``, never guessed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Literal

import msgspec

HORIZONS: tuple[int, ...] = (60, 300, 900, 3600)
"""Seconds after the moment: +1, +5, +15 and +60 minutes."""
HORIZON_NAMES: tuple[str, ...] = ("1m", "5m", "15m", "60m")
FLAT_BAND = 0.005
"""A change within half a cent (either way) is ``flat`` (the ``OUTCOME_FLAT_BAND`` setting)."""

Class = Literal["continued", "reversed", "flat", "moved", "converged", "open", "no data"]
"""``moved`` is for undirected moments (a volume-only signal): the price left the flat band,
but there was no direction to continue or reverse. ``converged`` / ``open`` grade a
cross-venue divergence (:mod:`.divergence`): the gap closed within the horizon, or not."""
DirectionName = Literal["up", "down", "flat"]


class HorizonOutcome(msgspec.Struct, kw_only=True, omit_defaults=True):
    horizon: int
    """Seconds after the moment."""
    outcome: Class = "no data"
    price: float | None = None
    """The last known price at or before the horizon's end."""
    change: float | None = None
    """``price`` minus the moment's price, in dollars (signed: up is positive)."""
    favorable: float | None = None
    """The largest move in the moment's direction within the horizon (≥ 0; up when undirected)."""
    adverse: float | None = None
    """The largest move against it (≥ 0)."""
    capped: bool = False
    """The market closed before the horizon: graded at the close."""
    gap: float | None = None
    """Divergences only: market a's price minus market b's mapped price at the end."""
    a_move: float | None = None
    """Divergences only: market a's price change at the end."""
    b_move: float | None = None
    """Divergences only: market b's (mapped) price change at the end."""
    moved: str | None = None
    """Divergences only: which venue moved beyond the flat band: ``a``, ``b``, ``both`` or
    ``neither``."""


def horizon_name(seconds: int) -> str:
    return HORIZON_NAMES[HORIZONS.index(seconds)] if seconds in HORIZONS else f"{seconds}s"


def classify(direction: str, change: float, band: float = FLAT_BAND) -> Class:
    # Rounded to a micro-dollar first, so float noise never decides the band (0.535 - 0.53).
    change = round(change, 6)
    if abs(change) <= band:
        return "flat"
    if direction == "up":
        return "continued" if change > 0 else "reversed"
    if direction == "down":
        return "continued" if change < 0 else "reversed"
    return "moved"


def grade(direction: str, t0: float, p0: float, times: Sequence[float],
          prices: Sequence[float], *, data_end: float, close_time: float | None = None,
          horizons: Sequence[int] = HORIZONS, band: float = FLAT_BAND,
          start: int | None = None) -> list[HorizonOutcome]:
    """Grade the moment ``(t0, p0)`` of a market whose price path is ``times``/``prices``.

    ``start`` is the index of the first event after the moment (found by time when omitted;
    give it when several events share the moment's timestamp and the moment is one of them).
    """
    if start is None:
        start = bisect_right(times, t0)
    sign = -1.0 if direction == "down" else 1.0
    out: list[HorizonOutcome] = []
    i = start
    price = p0
    best = worst = 0.0
    for h in horizons:
        end = t0 + h
        capped = False
        if close_time is not None and close_time < end:
            end, capped = max(close_time, t0), True
        if end > data_end:
            out.append(HorizonOutcome(horizon=h))
            continue
        # Walk forward (horizons ascend, so each event is visited once over all horizons).
        n = len(times)
        while i < n and times[i] <= end:
            price = prices[i]
            moved = (price - p0) * sign
            if moved > best:
                best = moved
            elif moved < worst:
                worst = moved
            i += 1
        change = round(price - p0, 6)
        out.append(HorizonOutcome(
            horizon=h, outcome=classify(direction, change, band), price=price, change=change,
            favorable=round(best, 6), adverse=round(-worst, 6) + 0.0, capped=capped))
    return out
