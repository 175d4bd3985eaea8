"""Read-only SQL for the History view and the exports: signals over any time range, filtered,
sorted and paged by a keyset cursor (never OFFSET), counts per filter, and events in pages.

Every page is one bounded, self-contained query (``Store.query`` on the calling thread's read
connection), so a streamed export runs one page per worker-thread hop and never holds a
cursor across threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trade_hunter.plugins.models import AnalystRead, SpikeSignal, from_json

from .reader import Reader

SORTS = {  # sort → (ORDER BY columns, comparison for the next page)
    "newest": ("s.created_at DESC, s.id DESC", "(s.created_at, s.id) < (?, ?)", "created_at"),
    "oldest": ("s.created_at ASC, s.id ASC", "(s.created_at, s.id) > (?, ?)", "created_at"),
    "score": ("s.score DESC, s.id DESC", "(s.score, s.id) < (?, ?)", "score"),
}
SOURCE_SQL = "json_extract(CAST(s.payload AS TEXT), '$.source')"
FACETS = {"tier": "s.tier", "topic": "s.topic", "rule": "s.rule",
          "label": "COALESCE(r.label, 'none')", "source": SOURCE_SQL}
EVENT_PAGE = 2000


def parse_time(name: str, value: str | float | None) -> float | None:
    """Epoch seconds or an ISO 8601 date/time (naive: UTC) → epoch seconds; ``ValueError``
    naming ``name`` for anything else."""
    if value is None or isinstance(value, int | float):
        return value
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)  # 3.11: "Z" and offsets too
    except ValueError:
        raise ValueError(f"{name}: {value!r} is neither epoch seconds nor an ISO 8601 time"
                         ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class SignalFilter:
    since: float | None = None
    until: float | None = None
    market: str | None = None
    topic: str | None = None
    tier: str | None = None
    rule: str | None = None
    source: str | None = None
    label: str | None = None
    """An analyst label (signal, noise, uncertain), or ``none`` for signals without a read."""

    def where(self, skip: str = "") -> tuple[str, list[Any]]:
        """The WHERE clause and its parameters; ``skip`` leaves one facet out (its counts)."""
        terms: list[str] = ["1"]
        args: list[Any] = []
        if self.since is not None:
            terms.append("s.created_at >= ?")
            args.append(self.since)
        if self.until is not None:
            terms.append("s.created_at < ?")
            args.append(self.until)
        if self.market:
            terms.append("s.market_id = ?")
            args.append(self.market)
        for facet, column in FACETS.items():
            value = getattr(self, facet)
            if value and facet != skip:
                terms.append(f"{column} = ?")
                args.append(value)
        return " AND ".join(terms), args


def _base(flt: SignalFilter, skip: str = "") -> tuple[str, list[Any]]:
    where, args = flt.where(skip)
    return ("FROM signals s LEFT JOIN analyst_reads r ON r.signal_id = s.id WHERE " + where,
            args)


def encode_cursor(signal: SpikeSignal, sort: str) -> str:
    key = signal.score if SORTS[sort][2] == "score" else signal.created_at
    return f"{key!r}:{signal.id}"


def decode_cursor(cursor: str) -> tuple[float, int]:
    """``"<key>:<id>"`` → its parts; ``ValueError`` for anything else."""
    key, _, sid = cursor.rpartition(":")
    return float(key), int(sid)


def signals_page(store: Reader, flt: SignalFilter, *, sort: str = "newest", limit: int = 50,
                 cursor: str | None = None
                 ) -> tuple[list[tuple[SpikeSignal, AnalystRead | None]], str | None]:
    """One page of matching signals and the cursor of the next page (``None``: the last)."""
    order, after, _ = SORTS[sort]
    base, args = _base(flt)
    if cursor:
        base += f" AND {after}"
        args += list(decode_cursor(cursor))
    rows = store.query(f"SELECT s.payload, r.payload {base} ORDER BY {order} LIMIT ?",
                       [*args, limit + 1])
    items = [(from_json(s, SpikeSignal), from_json(r, AnalystRead) if r else None)
             for s, r in rows[:limit]]
    if len(rows) > limit and items:
        return items, encode_cursor(items[-1][0], sort)
    return items, None


def counts(store: Reader, flt: SignalFilter) -> dict[str, Any]:
    """How many signals match, and per value of each facet with the other filters applied
    (what choosing that value would give)."""
    base, args = _base(flt)
    out: dict[str, Any] = {"total": store.query(f"SELECT COUNT(*) {base}", args)[0][0]}
    for facet, column in FACETS.items():
        fbase, fargs = _base(flt, skip=facet)
        rows = store.query(f"SELECT {column} AS v, COUNT(*) {fbase} GROUP BY v ORDER BY 2 DESC",
                           fargs)
        out[facet] = {str(v): n for v, n in rows if v is not None}
    return out


EVENT_COLUMNS = ("id", "ts", "received_at", "platform", "market_id", "kind", "yes_price",
                 "yes_bid", "yes_ask", "volume", "volume_kind", "trade_side", "trade_size",
                 "source")


def events_page(store: Reader, *, market: str | None, since: float, until: float,
                after: tuple[float, int] | None = None,
                limit: int = EVENT_PAGE) -> list[tuple[Any, ...]]:
    """Up to ``limit`` events (``EVENT_COLUMNS``) in time order after the ``(ts, id)`` key
    ``after``, on the ``(market_id, ts)`` index with a market, else on ``(ts)``."""
    terms: list[str] = ["ts >= ?", "ts < ?"]
    args: list[Any] = [since, until]
    if market:
        terms.insert(0, "market_id = ?")
        args.insert(0, market)
    if after is not None:
        terms.append("(ts, id) > (?, ?)")
        args += list(after)
    return store.query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE "
                       f"{' AND '.join(terms)} ORDER BY ts, id LIMIT ?", [*args, limit])


def latest_signals(store: Reader, limit: int) -> list[tuple[SpikeSignal, AnalystRead | None]]:
    """The ``limit`` most recent stored signals with their reads, oldest first (the live
    view's window after a restart)."""
    rows = store.query("SELECT s.payload, r.payload FROM signals s LEFT JOIN analyst_reads r"
                       " ON r.signal_id = s.id ORDER BY s.id DESC LIMIT ?", (limit,))
    return [(from_json(s, SpikeSignal), from_json(r, AnalystRead) if r else None)
            for s, r in reversed(rows)]
