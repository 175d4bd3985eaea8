"""What a cross-venue divergence did after its signal: did the gap close within each horizon,
and which venue moved. Pure, over the two markets' price paths (times and YES prices in time
order), like :func:`.grading.grade` for one market.

The moment is the signal: time ``t0``, market a's price ``a0`` and market b's ``b0`` (b's own
YES price; compared as ``1 - b`` when the pair maps YES to NO). Both prices are carried
forward from the events strictly after ``t0``. Per horizon ``h`` (end ``t0 + h``, covered by
``data_end`` or ``no data``):

* ``converged`` when at some moment in ``(t0, end]`` — or already at ``t0``, for the note that
  says it closed — the gap was at most ``close_gap`` (the rule's ``DIVERGENCE_MIN_GAP``), else
  ``open``;
* ``gap``: a minus b's mapped price at the end; ``change``: how much the gap's size changed
  (negative: it narrowed); ``a_move`` / ``b_move``: each venue's price change (b's mapped to
  a's YES) at the end;
* ``moved``: the venue whose move exceeds the flat band (``a`` or ``b``), ``both``, or
  ``neither``.
"""

from __future__ import annotations

from collections.abc import Sequence

from .grading import FLAT_BAND, HORIZONS, HorizonOutcome

Path = tuple[Sequence[float], Sequence[float]]
"""(times, prices) of one market, in time order."""


def _mapped(price: float, mapping: str) -> float:
    return 1 - price if mapping == "no" else price


def moved_side(a_move: float, b_move: float, band: float = FLAT_BAND) -> str:
    a, b = abs(round(a_move, 6)) > band, abs(round(b_move, 6)) > band
    return "both" if a and b else "a" if a else "b" if b else "neither"


def grade_divergence(t0: float, a0: float, b0: float, mapping: str, a_path: Path,
                     b_path: Path, *, data_end: float, close_gap: float,
                     horizons: Sequence[int] = HORIZONS,
                     band: float = FLAT_BAND) -> list[HorizonOutcome]:
    """The divergence signal at ``t0`` graded at each horizon (see the module docstring)."""
    # Both paths' events after t0, merged in time order: (time, which leg, price).
    steps = sorted([(t, 0, p) for t, p in zip(*a_path, strict=True) if t > t0]
                   + [(t, 1, p) for t, p in zip(*b_path, strict=True) if t > t0])
    mb0 = _mapped(b0, mapping)
    gap0 = a0 - mb0
    a, mb = a0, mb0
    closed = abs(round(gap0, 6)) <= close_gap
    out: list[HorizonOutcome] = []
    i = 0
    for h in horizons:
        end = t0 + h
        if end > data_end:
            out.append(HorizonOutcome(horizon=h))
            continue
        while i < len(steps) and steps[i][0] <= end:
            _, leg, price = steps[i]
            if leg == 0:
                a = price
            else:
                mb = _mapped(price, mapping)
            closed = closed or abs(round(a - mb, 6)) <= close_gap
            i += 1
        gap = round(a - mb, 6)
        a_move, b_move = round(a - a0, 6), round(mb - mb0, 6)
        out.append(HorizonOutcome(
            horizon=h, outcome="converged" if closed else "open", price=a, change=round(
                abs(gap) - abs(gap0), 6), gap=gap, a_move=a_move, b_move=b_move,
            moved=moved_side(a_move, b_move, band)))
    return out
