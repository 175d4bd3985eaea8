"""The divergence rule's open divergences, kept in ``divergence_open`` (schema migration 9).

Written with the signal that changes them, in the same store batch (``Pipeline.signal_writes``):
the first signal of a divergence and each escalation upsert the pair's row (since, the gap
that fired, the escalation count, the signal id), the "converged" note deletes it. At start
:func:`restore` reads the rows back into the rule's watches and each leg's last stored price
and title, so the first new event of either leg judges the pair as if nothing had stopped:
no second first signal for a standing gap, and a "converged" note when it has closed. A
gap not yet old enough to fire is not kept (it is timed afresh).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from trade_hunter.plugins.models import SpikeSignal

from .divergence import DivergenceRule, Leg, Watch

Write = Callable[[sqlite3.Connection], Any]


def rows_for_signal(signal: SpikeSignal) -> Iterable[Write]:
    """The store write that goes with a divergence signal (none for other signals)."""
    d = signal.divergence
    if d is None or signal.rule != "divergence":
        return []
    if d.converged:
        return [lambda conn: conn.execute("DELETE FROM divergence_open WHERE pair_id=?",
                                          (d.pair_id,))]
    row = (d.pair_id, signal.created_at - d.seconds,
           signal.escalates if signal.escalates is not None else signal.created_at,
           abs(d.gap), d.gap, signal.escalation, signal.id)
    return [lambda conn: conn.execute(
        "INSERT OR REPLACE INTO divergence_open (pair_id, since, fired_at, fired_gap, gap,"
        " escalations, signal_id) VALUES (?, ?, ?, ?, ?, ?, ?)", row)]


def restore(rule: DivergenceRule, store: Any) -> int:
    """Load the open divergences of pairs that still exist (blocking); rows of removed pairs
    are dropped. Returns how many were restored."""
    rows = store.query("SELECT pair_id, since, fired_at, fired_gap, escalations, signal_id"
                       " FROM divergence_open")
    gone = [(r[0],) for r in rows if r[0] not in rule.pairs.pairs]
    if gone:
        store.submit(lambda conn: conn.executemany(
            "DELETE FROM divergence_open WHERE pair_id=?", gone))
    restored = 0
    for pair_id, since, fired_at, fired_gap, escalations, signal_id in rows:
        pair = rule.pairs.pairs.get(pair_id)
        if pair is None:
            continue
        rule.watches[pair_id] = Watch(since, fired_at, fired_gap, escalations, signal_id)
        for platform, market in ((pair.a_platform, pair.a_market),
                                 (pair.b_platform, pair.b_market)):
            _restore_leg(rule, store, platform, market)
        restored += 1
    return restored


def _restore_leg(rule: DivergenceRule, store: Any, platform: str, market: str) -> None:
    if (platform, market) in rule.legs:
        return
    last = store.last_prices([market]).get(market)
    if last is None:
        return
    known = store.query("SELECT title, topic FROM markets WHERE market_id=?", (market,))
    title, topic = known[0] if known else ("", None)
    rule.legs[(platform, market)] = Leg(price=last[0], title=title, topic=topic)
