"""Per-minute rollups of a few markets' events, kept in memory for the long chart ranges.

A week of a busy market is hundreds of thousands of rows: scanning them for every chart
refresh costs far more than the 50 ms budget (``bench/market_series.py``). The history is
immutable but for its newest minutes, so each market's minutes are read once (one grouped
scan), then only the tail is re-read: the minutes from ``TAIL_SECONDS`` before the last
refresh on (late events, exchange times slightly out of order). The least recently charted
market is dropped past ``MARKETS``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .store import Store

MARKETS = 8
TAIL_SECONDS = 180.0
MINUTE = 60.0


@dataclass
class Minute:
    price_at: float = 0.0
    price: float | None = None
    quote_at: float = 0.0
    bid: float | None = None
    ask: float | None = None
    volume: float = 0.0
    trades: int = 0
    # taker side → [contracts, price × contracts, trades, last trade time]
    sides: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Entry:
    since: float                     # minutes from here on are loaded ...
    until: float                     # ... up to the refresh at this wall-clock time
    minutes: dict[int, Minute] = field(default_factory=dict)


SCAN_SQL = (
    "SELECT CAST(ts / 60 AS INTEGER) AS m, kind, trade_side, MAX(ts), yes_price, yes_bid,"
    " yes_ask, SUM(COALESCE(trade_size, volume, 0)),"
    " SUM(yes_price * COALESCE(trade_size, volume, 0)), COUNT(*) FROM events"
    " WHERE market_id = ? AND ts >= ? AND ts < ? GROUP BY m, kind, trade_side"
)


def scan(store: Store, market: str, start: float, end: float) -> dict[int, Minute]:
    """The minutes of ``[start, end)`` (minute-aligned bounds) in one grouped scan; SQLite
    returns the bare columns of each group's newest row (``MAX(ts)``)."""
    out: dict[int, Minute] = {}
    for m, kind, side, last, price, bid, ask, size, pv, n in store.query(
            SCAN_SQL, (market, start, end)):
        minute = out.get(m)
        if minute is None:
            minute = out[m] = Minute()
        if price is not None and last >= minute.price_at:
            minute.price_at, minute.price = last, price
        if kind == "T":
            minute.volume += size or 0.0
            minute.trades += n
            minute.sides[side or "unknown"] = [size or 0.0, pv or 0.0, n, last]
        if bid is not None and ask is not None and last >= minute.quote_at:
            minute.quote_at, minute.bid, minute.ask = last, bid, ask
    return out


class RollupCache:
    def __init__(self, store: Store, markets: int = MARKETS) -> None:
        self.store, self.limit = store, markets
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.lock = threading.Lock()  # series requests run in worker threads
        self.scanned_rows = 0

    def minutes(self, market: str, start: float, end: float) -> list[tuple[int, Minute]]:
        """Blocking: the minutes of ``market`` in ``[start, end)``, oldest first."""
        first = int(start // MINUTE) * MINUTE
        now = time.time()
        with self.lock:
            entry = self.entries.get(market)
            if entry is None:
                entry = Entry(since=first, until=now,
                              minutes=scan(self.store, market, first, now + 86400))
                self.entries[market] = entry
            else:
                if first < entry.since:  # a longer range than charted so far
                    entry.minutes.update(scan(self.store, market, first, entry.since))
                    entry.since = first
                tail = int((entry.until - TAIL_SECONDS) // MINUTE) * MINUTE
                for m in [m for m in entry.minutes if m * MINUTE >= tail]:
                    del entry.minutes[m]
                entry.minutes.update(scan(self.store, market, tail, now + 86400))
                entry.until = now
            self.entries.move_to_end(market)
            while len(self.entries) > self.limit:
                self.entries.popitem(last=False)
            lo, hi = int(start // MINUTE), end / MINUTE
            return sorted((m, x) for m, x in entry.minutes.items() if lo <= m < hi)


def buckets(minutes: list[tuple[int, Minute]], start: float, step: float
            ) -> dict[str, Any]:
    """Fold minutes into chart buckets of ``step`` seconds (≥ a minute): the same shape as
    ``market_reads.series`` answers, trades grouped per bucket and taker side."""
    price: dict[int, tuple[float, float]] = {}
    quotes: dict[int, tuple[float, float, float]] = {}
    volume: dict[int, float] = {}
    sides: dict[tuple[int, str], list[float]] = {}
    b, bucket_end = -1, -math.inf  # minutes come in order: a bucket is a run of them
    for m, x in minutes:
        t = m * MINUTE
        if t >= bucket_end:
            b = max(int((t - start) // step), 0)
            bucket_end = start + (b + 1) * step
        if x.price is not None:
            price[b] = (x.price_at, x.price)  # later minutes hold later prices
        if x.bid is not None:
            quotes[b] = (x.quote_at, x.bid, x.ask)  # type: ignore[assignment]
        if x.trades:
            volume[b] = volume.get(b, 0.0) + x.volume
            for side, (size, pv, n, last) in x.sides.items():
                acc = sides.get((b, side))
                if acc is None:
                    sides[(b, side)] = [size, pv, n, last]
                else:
                    acc[0] += size
                    acc[1] += pv
                    acc[2] += n
                    acc[3] = last
    return {
        "price": [[t, p] for _, (t, p) in sorted(price.items())],
        "quotes": [[t, bid, ask] for _, (t, bid, ask) in sorted(quotes.items())],
        "volume": [[start + b * step, v] for b, v in sorted(volume.items())],
        "trades": [{"t": last, "price": round(pv / size, 6) if size else None, "size": size,
                    "side": None if side == "unknown" else side, "trades": int(n)}
                   for (_, side), (size, pv, n, last) in sorted(sides.items())],
        "trade_count": int(sum(acc[2] for acc in sides.values())),
    }
