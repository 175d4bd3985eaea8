"""Per-minute rollups of a few markets' events, kept in memory for the long chart ranges.

A week of a busy market is hundreds of thousands of rows: scanning them for every chart
refresh costs far more than the 50 ms budget (``bench/market_series.py``). The history is
immutable but for its newest minutes, so each market's minutes are read once (one grouped
scan), then only the tail is re-read: the minutes from ``TAIL_SECONDS`` before the last
refresh on (late events, exchange times slightly out of order). The least recently charted
market is dropped past ``MARKETS``.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .reader import Reader

MARKETS = 8
TAIL_SECONDS = 180.0
MINUTE = 60.0
SIZE_EDGES = (1, 10, 100, 1000, 10000)  # trade-size bins: 1–9, 10–99, … contracts


@dataclass
class Bucket:
    """A span of one market's trades and quotes: a minute, or a chart bucket folded from its
    minutes (the same fields, summed or last)."""

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
class Minute(Bucket):
    """One minute, which also counts its trades per size bin (the flow statistics)."""

    sizes: list[int] = field(default_factory=lambda: [0] * len(SIZE_EDGES))
    """Trades per size bin (SIZE_EDGES)."""


@dataclass
class Fold:
    first: int                       # the first bucket folded
    buckets: dict[int, Bucket]       # epoch-aligned: the next refresh reuses all but the newest
    dirty: float | None = None       # redo the buckets from this minute's time on


@dataclass
class Entry:
    since: float                     # minutes from here on are loaded ...
    until: float                     # ... up to the refresh at this wall-clock time
    minutes: dict[int, Minute] = field(default_factory=dict)
    """Keyed by minute number (epoch minutes), kept in time order."""
    folds: OrderedDict[float, Fold] = field(default_factory=OrderedDict)
    """Per bucket width (the last few charted)."""


SIZE_SQL = "COALESCE(trade_size, volume, 0)"
SCAN_SQL = (
    "SELECT CAST(ts / 60 AS INTEGER) AS m, kind, trade_side, MAX(ts), yes_price, yes_bid,"
    f" yes_ask, SUM({SIZE_SQL}), SUM(yes_price * {SIZE_SQL}), COUNT(*), "
    + ", ".join(f"SUM({SIZE_SQL} >= {edge})" for edge in SIZE_EDGES[1:]) + " FROM events"
    " WHERE market_id = ? AND ts >= ? AND ts < ? GROUP BY m, kind, trade_side ORDER BY m"
)


def scan(store: Reader, market: str, start: float, end: float) -> dict[int, Minute]:
    """The minutes of ``[start, end)`` (minute-aligned bounds) in one grouped scan; SQLite
    returns the bare columns of each group's newest row (``MAX(ts)``)."""
    out: dict[int, Minute] = {}
    for m, kind, side, last, price, bid, ask, size, pv, n, *at_least in store.query(
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
            bounds = [n, *at_least, 0]  # trades at least as big as each edge
            for i in range(len(SIZE_EDGES)):
                minute.sizes[i] += bounds[i] - bounds[i + 1]
        if bid is not None and ask is not None and last >= minute.quote_at:
            minute.quote_at, minute.bid, minute.ask = last, bid, ask
    return out


class RollupCache:
    def __init__(self, store: Reader, markets: int = MARKETS) -> None:
        self.store, self.limit = store, markets
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.lock = threading.Lock()  # series requests run in worker threads

    def _refresh(self, market: str, first: float) -> Entry:
        """The market's minutes from ``first`` on, refreshed (under the lock). Each fold
        learns from which minute on its buckets must be redone (``Fold.dirty``)."""
        now = time.time()
        entry = self.entries.get(market)
        if entry is None:
            entry = self.entries[market] = Entry(
                since=first, until=now, minutes=scan(self.store, market, first, now + 86400))
        else:
            if first < entry.since:  # a longer range than charted so far
                older = scan(self.store, market, first, entry.since)
                entry.minutes = {**older, **entry.minutes}  # still in time order
                entry.since = first
                entry.folds.clear()
            tail = int((entry.until - TAIL_SECONDS) // MINUTE) * MINUTE
            for m in [m for m in reversed(entry.minutes) if m * MINUTE >= tail]:
                del entry.minutes[m]
            entry.minutes.update(scan(self.store, market, tail, now + 86400))
            entry.until = now
            for f in entry.folds.values():
                f.dirty = tail if f.dirty is None else min(f.dirty, tail)
        self.entries.move_to_end(market)
        while len(self.entries) > self.limit:
            self.entries.popitem(last=False)
        return entry

    def buckets(self, market: str, start: float, end: float, step: float) -> dict[str, Any]:
        """Blocking: the chart data of ``market`` in ``[start, end)`` in epoch-aligned buckets
        of ``step`` seconds (a whole number of minutes)."""
        first = int(start // step) * step  # the first bucket's start: whole minutes too
        b0 = int(first // step)
        with self.lock:
            entry = self._refresh(market, first)
            f = entry.folds.get(step)
            if f is None or f.first > b0:
                f = entry.folds[step] = Fold(b0, fold(entry.minutes.items(), step, since=first))
            elif f.dirty is not None:
                redo = int(f.dirty // step)  # buckets holding a re-read minute
                for b in [b for b in reversed(f.buckets) if b >= redo]:
                    del f.buckets[b]
                newer = []
                for m in reversed(entry.minutes):
                    if m * MINUTE < redo * step:
                        break
                    newer.append((m, entry.minutes[m]))
                f.buckets.update(fold(reversed(newer), step, since=redo * step))
            f.dirty = None
            entry.folds.move_to_end(step)
            while len(entry.folds) > 4:  # a few chart widths at a time
                entry.folds.popitem(last=False)
            chosen = [(b, x) for b, x in f.buckets.items() if b0 <= b and b * step < end]
        return render(chosen, step)

    def flow(self, market: str, start: float, end: float) -> dict[str, Any]:
        """Blocking: taker share and trade sizes over ``[start, end)`` (whole minutes)."""
        with self.lock:
            entry = self._refresh(market, int(start // MINUTE) * MINUTE)
            lo, hi = start // MINUTE, end / MINUTE
            sides: dict[str, list[float]] = {}
            sizes = [0] * len(SIZE_EDGES)
            for m, x in entry.minutes.items():
                if lo <= m < hi and x.trades:
                    for side, (size, _, n, _) in x.sides.items():
                        acc = sides.setdefault(side, [0, 0.0])
                        acc[0] += n
                        acc[1] += size
                    for i, count in enumerate(x.sizes):
                        sizes[i] += count
        return flow_payload({s: (int(n), v) for s, (n, v) in sides.items()}, sizes)


def flow_payload(sides: dict[str, tuple[int, float]], sizes: list[int]) -> dict[str, Any]:
    """Trade flow as the market page shows it: trades and contracts by taker side, the share
    of YES takers' contracts, and trades per size bin (``SIZE_EDGES``)."""
    by_side = {side: {"trades": n, "contracts": v} for side, (n, v) in sides.items()}
    total = sum(v for _, v in sides.values())
    labels = [f"{lo}–{hi - 1}" for lo, hi in itertools.pairwise(SIZE_EDGES)] + \
        [f"{SIZE_EDGES[-1]}+"]
    return {
        "trades": sum(n for n, _ in sides.values()), "contracts": total, "by_side": by_side,
        "yes_share": round(sides.get("yes", (0, 0.0))[1] / total, 4) if total else None,
        "sizes": [{"bin": label, "trades": sizes[i]} for i, label in enumerate(labels)],
    }


def fold(minutes: Any, step: float, *, since: float) -> dict[int, Bucket]:
    """Fold ``(minute, Minute)`` pairs in time order into buckets from ``since`` on."""
    out: dict[int, Bucket] = {}
    b, bucket_end, acc = -1, -math.inf, Bucket()
    for m, x in minutes:
        t = m * MINUTE
        if t < since:
            continue
        if t >= bucket_end:
            b = int(t // step)
            bucket_end = (b + 1) * step
            acc = out[b] = Bucket()
        if x.price is not None:
            acc.price_at, acc.price = x.price_at, x.price  # later minutes, later prices
        if x.bid is not None:
            acc.quote_at, acc.bid, acc.ask = x.quote_at, x.bid, x.ask
        if x.trades:
            acc.volume += x.volume
            acc.trades += x.trades
            for side, (size, pv, n, last) in x.sides.items():
                have = acc.sides.get(side)
                if have is None:
                    acc.sides[side] = [size, pv, n, last]
                else:
                    have[0] += size
                    have[1] += pv
                    have[2] += n
                    have[3] = last
    return out


def render(chosen: list[tuple[int, Bucket]], step: float) -> dict[str, Any]:
    """Buckets in the shape ``market_reads.series`` answers (trades per bucket and side)."""
    return {
        "price": [[x.price_at, x.price] for _, x in chosen if x.price is not None],
        "quotes": [[x.quote_at, x.bid, x.ask] for _, x in chosen if x.bid is not None],
        "volume": [[b * step, x.volume] for b, x in chosen if x.trades],
        "trades": [{"t": last, "price": round(pv / size, 6) if size else None, "size": size,
                    "side": None if side == "unknown" else side, "trades": int(n)}
                   for _, x in chosen for side, (size, pv, n, last) in x.sides.items()],
        "trade_count": sum(x.trades for _, x in chosen),
    }
