"""Signal outcomes: grading what a market did after a moment, the time-matched baseline, the
scorecard, and the backtest over recorded trades (docs/outcomes.md)."""
