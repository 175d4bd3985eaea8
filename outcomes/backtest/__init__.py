"""``trade-hunter backtest``: the daemon's parsing and detector over recorded Kalshi data,
graded and scored like live signals, with no network (except ``--kalshi``) and no writes to
the user's home (except ``--kalshi``'s download cache)."""
