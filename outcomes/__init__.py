"""Signal outcomes: grading what a market did after a moment, the time-matched baseline, the
scorecard, and the backtest over recorded trades (docs/outcomes.md)."""

from __future__ import annotations

# The repository root is not an import root: importing this folder as plain `outcomes` would
# load a second copy of the code.
if __name__ != "trade_hunter.outcomes":
    raise ImportError(
        f"import this package as 'trade_hunter.outcomes', not {__name__!r} (install the project)"
    )
