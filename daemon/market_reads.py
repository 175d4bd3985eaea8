"""Read-only SQL for one market's page: its known history, chart series and trade flow.

Every query is bounded by the market and a time range and walks ``events_market_ts``
(market_id, ts) or ``signals_market_created``; the chart series is bucketed in SQL so a week of
a busy market comes back as at most ``MAX_POINTS`` rows (``bench/market_series.py``). Runs in
worker threads on the store's per-thread read connections (``Store.query``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from trade_hunter.outcomes.grading import grade, horizon_name
from trade_hunter.plugins.models import AnalystRead, SpikeSignal, from_json

from .market_rollup import MINUTE, SIZE_EDGES, SIZE_SQL, RollupCache, flow_payload
from .reader import Reader

MAX_POINTS = 2000
RANGES: dict[str, float] = {"15m": 900.0, "1h": 3600.0, "6h": 21600.0, "1d": 86400.0,
                            "1w": 604800.0}
SIGNAL_LIMIT = 200
ROLLUP_FROM = 10.0  # buckets this wide or wider are read from minute rollups (6 h and up)


class FirstSeen:
    """When each market's known history starts: its first stored event (cached; retention
    only ever removes the oldest events, and then the history is days long anyway)."""

    def __init__(self, store: Reader) -> None:
        self.store = store
        self.known: dict[str, float] = {}

    def lookup(self, markets: Iterable[str]) -> dict[str, float]:
        """Blocking: the first event time of each market that has one stored."""
        for market in set(markets) - self.known.keys():
            row = self.store.query("SELECT MIN(ts) FROM events WHERE market_id = ?", (market,))
            if row and row[0][0] is not None:
                self.known[market] = float(row[0][0])
        return {m: self.known[m] for m in markets if m in self.known}


def _step(start: float, end: float, resolution: int) -> float:
    """Bucket width: the range over ``resolution`` buckets, never under one second."""
    return max((end - start) / max(min(resolution, MAX_POINTS), 1), 1.0)


def series(store: Reader, market: str, start: float, end: float,
           resolution: int = 600, rollups: RollupCache | None = None) -> dict[str, Any]:
    """The chart data of ``market`` over ``[start, end)``: the yes price (last in each
    bucket), bid/ask where known, traded contracts per bucket, and the trades: each one when
    they fit in ``MAX_POINTS``, else per bucket and taker side (contracts summed, price
    volume-weighted). Buckets of a minute or more come from ``rollups`` when given."""
    step = _step(start, end, resolution)
    if rollups is not None and step >= ROLLUP_FROM:
        step = math.ceil(step / MINUTE) * MINUTE  # whole minutes: a minute is never split
        data = rollups.buckets(market, start, end, step)
        if data["trade_count"] <= MAX_POINTS:  # few enough to send each one
            data["trades"] = _raw_trades(store, market, start, end)
        return {"market_id": market, "start": start, "end": end, "step": step, **data,
                "trades_aggregated": data["trade_count"] > MAX_POINTS,
                "signals": graded(signal_marks(store, market, start, end), data["price"], end)}
    where = "market_id = ? AND ts >= ? AND ts < ?"
    args = (start, step, market, start, end)
    # SQLite returns the bare columns of the row holding MAX(ts): the last value per bucket.
    prices = store.query(
        "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, MAX(ts), yes_price FROM events"
        f" WHERE {where} AND yes_price IS NOT NULL GROUP BY b ORDER BY b", args)
    quotes = store.query(
        "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, MAX(ts), yes_bid, yes_ask FROM events"
        f" WHERE {where} AND yes_bid IS NOT NULL AND yes_ask IS NOT NULL GROUP BY b"
        " ORDER BY b", args)
    volume = store.query(
        "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, SUM(COALESCE(trade_size, volume, 0)),"
        f" COUNT(*) FROM events WHERE {where} AND kind = 'T' GROUP BY b ORDER BY b", args)
    trade_count = sum(n for _, _, n in volume)
    if trade_count <= MAX_POINTS:
        trades = _raw_trades(store, market, start, end)
        aggregated = False
    else:
        rows = store.query(
            "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, trade_side, MAX(ts),"
            " SUM(COALESCE(trade_size, volume, 0)),"
            " SUM(yes_price * COALESCE(trade_size, volume, 0)), COUNT(*) FROM events"
            f" WHERE {where} AND kind = 'T' AND yes_price IS NOT NULL"
            " GROUP BY b, trade_side ORDER BY b", args)
        trades = [{"t": t, "price": round(pv / s, 6) if s else None, "size": s, "side": side,
                   "trades": n} for _, side, t, s, pv, n in rows]
        aggregated = True
    return {
        "market_id": market, "start": start, "end": end, "step": step,
        "price": [[t, p] for _, t, p in prices],
        "quotes": [[t, bid, ask] for _, t, bid, ask in quotes],
        "volume": [[start + b * step, v] for b, v, _ in volume],
        "trades": trades, "trades_aggregated": aggregated, "trade_count": trade_count,
        "signals": graded(signal_marks(store, market, start, end),
                          [[t, p] for _, t, p in prices], end),
    }


def _raw_trades(store: Reader, market: str, start: float, end: float) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT ts, yes_price, COALESCE(trade_size, volume, 0), trade_side FROM events"
        " WHERE market_id = ? AND ts >= ? AND ts < ? AND kind = 'T' ORDER BY ts, id",
        (market, start, end))
    return [{"t": t, "price": p, "size": s, "side": side} for t, p, s, side in rows]


def market_signals(store: Reader, market: str, start: float = 0.0, end: float = math.inf,
                   limit: int = SIGNAL_LIMIT) -> list[tuple[SpikeSignal, AnalystRead | None]]:
    """The market's signals in ``[start, end)``, newest first, each with its analyst read."""
    rows = store.query(
        "SELECT s.payload, r.payload FROM signals s"
        " LEFT JOIN analyst_reads r ON r.signal_id = s.id"
        " WHERE s.market_id = ? AND s.created_at >= ? AND s.created_at < ?"
        " ORDER BY s.created_at DESC, s.id DESC LIMIT ?",
        (market, start, end if math.isfinite(end) else 1e18, limit))
    return [(from_json(s, SpikeSignal), from_json(r, AnalystRead) if r else None)
            for s, r in rows]


def graded(marks: list[dict[str, Any]], price: list[list[float]], end: float
           ) -> list[dict[str, Any]]:
    """Each marker's outcome at +1/5/15/60 minutes (``outcomes.grading``), on the chart's own
    price path: at its bucket resolution, so a long range grades to the minute. A horizon past
    the range's end (or now) is ``no data``."""
    times, prices = [t for t, _ in price], [p for _, p in price]
    known = min(end, time.time())
    for m in marks:
        if m["price"] is None:
            continue
        m["outcomes"] = [
            {"horizon": horizon_name(o.horizon), "t": m["t"] + o.horizon,
             "outcome": o.outcome, "price": o.price, "change": o.change}
            for o in grade(m["direction"], m["t"], m["price"], times, prices, data_end=known)]
    return marks


def signal_marks(store: Reader, market: str, start: float, end: float) -> list[dict[str, Any]]:
    """The chart's signal markers: when, which tier, at what price, how strong."""
    return [{"id": s.id, "t": s.created_at, "tier": s.tier, "price": s.yes_price,
             "score": s.score, "rule": s.rule, "direction": s.direction, "notify": s.notify,
             "escalation": s.escalation}
            for s, _ in reversed(market_signals(store, market, start, end))]


def flow_stats(store: Reader, market: str, start: float, end: float,
               rollups: RollupCache | None = None) -> dict[str, Any]:
    """Taker share (contracts and trades by side) and the trade-size distribution, from the
    minute rollups when given (whole minutes), else from the events."""
    if rollups is not None:
        return rollups.flow(market, start, end)
    where = "market_id = ? AND ts >= ? AND ts < ? AND kind = 'T'"
    sides = store.query(f"SELECT trade_side, COUNT(*), SUM({SIZE_SQL}) FROM events WHERE {where}"
                        " GROUP BY trade_side", (market, start, end))
    at_least = store.query("SELECT COUNT(*), " + ", ".join(
        f"SUM({SIZE_SQL} >= {edge})" for edge in SIZE_EDGES[1:]) + f" FROM events WHERE {where}",
        (market, start, end))[0]
    bounds = [c or 0 for c in at_least] + [0]
    return flow_payload({str(side or "unknown"): (n, v or 0.0) for side, n, v in sides},
                        [bounds[i] - bounds[i + 1] for i in range(len(SIZE_EDGES))])


def settlement_of(store: Reader, market: str) -> tuple[str | None, float] | None:
    """``(result, checked_at)`` from the settlement polling (``daemon/settlement.py``):
    ``result`` is ``yes``/``no`` once settled, ``None`` while the venue says it is not;
    ``None`` when nobody asked."""
    rows = store.query("SELECT result, checked_at FROM settlements WHERE market_id = ?",
                       (market,))
    return (rows[0][0], rows[0][1]) if rows else None


def market_row(store: Reader, market: str) -> dict[str, Any] | None:
    """The market's stored facts: title, topic, platform, first and last event, last quote."""
    rows = store.query("SELECT platform, title, topic, last_seen FROM markets"
                       " WHERE market_id = ?", (market,))
    # Two queries: SQLite answers a lone MIN or MAX from the index, both together by a scan.
    first = store.query("SELECT MIN(ts) FROM events WHERE market_id = ?", (market,))[0][0]
    if not rows and first is None:
        return None
    platform, title, topic, last_seen = rows[0] if rows else (None, "", None, None)
    last = store.query(
        "SELECT ts, yes_price, yes_bid, yes_ask, source FROM events WHERE market_id = ?"
        " ORDER BY ts DESC LIMIT 1", (market,))
    out: dict[str, Any] = {
        "market_id": market, "platform": platform, "title": title, "topic": topic,
        "last_seen": last_seen, "first_event_at": first,
        "last_event_at": last[0][0] if last else None,
    }
    if last:
        _, price, bid, ask, source = last[0]
        out.update(last_price=price, bid=bid, ask=ask, source=source)
    return out


def market_titles(store: Reader) -> list[tuple[Any, ...]]:
    """Every known market's (platform, market id, title): what pair suggestions match."""
    return store.query("SELECT platform, market_id, title FROM markets")
