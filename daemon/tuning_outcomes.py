"""How the signals a suggestion would drop and keep *did*: their continuation at +5 minutes
and their lift over the time-matched baseline (``trade_hunter.outcomes``), from the stored
outcomes of the replayed signals, beside the analyst labels the suggestion is chosen by."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from trade_hunter.outcomes.grading import HORIZON_NAMES
from trade_hunter.outcomes.scorecard import HorizonScore, ScoredSignal, score_group

HORIZON = 1  # +5 minutes (HORIZONS[1])
Key = tuple[str, float]


def split(kept: Iterable[Key], dropped: Iterable[Key],
          outcomes: Mapping[Key, ScoredSignal]) -> dict[str, Any] | None:
    """``{"horizon", "kept", "dropped"}`` (each: signals, graded, continuation, baseline
    continuation, lift and its interval), or None when no replayed signal has an outcome."""
    sides = {name: [outcomes[k] for k in keys if k in outcomes]
             for name, keys in (("kept", kept), ("dropped", dropped))}
    if not any(sides.values()):
        return None
    out: dict[str, Any] = {"horizon": HORIZON_NAMES[HORIZON]}
    for name, rows in sides.items():
        h = score_group(name, rows, 0.0).horizons[HORIZON]
        out[name] = {"signals": len(rows), "graded": h.graded, "continuation": h.continuation,
                     "baseline_continuation": h.baseline_continuation, "lift": h.lift,
                     "lift_low": h.lift_low, "lift_high": h.lift_high}
    return out


def text(summary: dict[str, Any]) -> str:
    """``at +5m the kept 6 continued 50% (lift +0.0 [−33.3, +33.3], 6 graded); the dropped
    4 continued 0% (lift −50.0 [−50.0, −50.0], 4 graded)``."""
    parts = [f"the {name} {_side(summary[name])}" for name in ("kept", "dropped")]
    return f"at +{summary['horizon']} " + "; ".join(parts)


def _side(s: dict[str, Any]) -> str:
    if not s["graded"]:
        return f"{s['signals']}: none graded yet"
    cont = "—" if s["continuation"] is None else f"{100 * s['continuation']:.0f}%"
    return f"{s['signals']} continued {cont} (lift {_lift(s)}, {s['graded']} graded)"


def _lift(s: dict[str, Any]) -> str:
    if s["lift"] is None:
        return "—"
    point = _pts(s["lift"])
    if s["lift_low"] is None:
        return f"{point}, n too small for an interval"
    return f"{point} [{_pts(s['lift_low'])}, {_pts(s['lift_high'])}]"


def _pts(x: float) -> str:
    return f"{x:+.1f}".replace("-", "\u2212")


__all__ = ["HorizonScore", "split", "text"]
