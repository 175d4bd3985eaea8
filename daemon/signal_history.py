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

from trade_hunter.outcomes.grading import HORIZON_NAMES, HORIZONS
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
OUTCOMES = ("continued", "reversed", "flat", "moved", "no data", "pending")
"""A signal's outcome at a horizon: the grader's class (``outcomes.grading``), ``pending``
while the horizon waits for its data, ``no data`` when grading ended without it."""


def outcome_sql(horizon: int) -> str:
    """The outcome at ``horizon`` seconds of the joined ``outcomes`` row ``o`` (the horizons
    are stored as JSON, one object per horizon). ``no data`` stays ``pending`` until the
    grader is done with the signal (``complete``): the data may still come."""
    return ("COALESCE(NULLIF((SELECT json_extract(h.value, '$.outcome')"
            " FROM json_each(CAST(o.horizons AS TEXT)) h"
            f" WHERE json_extract(h.value, '$.horizon') = {int(horizon)}), 'no data'),"
            " CASE WHEN o.complete = 1 THEN 'no data' ELSE 'pending' END)")


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
    outcome: str | None = None
    """One of :data:`OUTCOMES` at ``horizon``."""
    horizon: int = 300
    """Seconds after the signal (one of ``outcomes.grading.HORIZONS``) for ``outcome``."""

    def facets(self) -> dict[str, str]:
        """Each facet's SQL expression (the outcome's depends on the horizon)."""
        return FACETS | {"outcome": outcome_sql(self.horizon)}

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
        for facet, column in self.facets().items():
            value = getattr(self, facet)
            if value and facet != skip:
                terms.append(f"{column} = ?")
                args.append(value)
        return " AND ".join(terms), args


def _base(flt: SignalFilter, skip: str = "", *, grouped: bool = False
          ) -> tuple[str, list[Any]]:
    where, args = flt.where(skip)
    joins = " LEFT JOIN incident_signals x ON x.signal_id = s.id" if grouped else ""
    return ("FROM signals s LEFT JOIN analyst_reads r ON r.signal_id = s.id"
            " LEFT JOIN outcomes o ON o.signal_id = s.id" + joins + " WHERE " + where, args)


# ---------------------------------------------------------------------- grouped by incident
GROUP = "COALESCE('i' || x.incident_id, 's' || s.id)"
"""A signal's group: its incident (``daemon/incidents.py``), else itself."""
GROUP_SORTS = {  # sort → (the group's key, its tie-breaking id, direction)
    "newest": ("MAX(s.created_at)", "MAX(s.id)", "DESC"),
    "oldest": ("MIN(s.created_at)", "MIN(s.id)", "ASC"),
    "score": ("MAX(s.score)", "MAX(s.id)", "DESC"),
}


@dataclass
class SignalGroup:
    incident: tuple[int, str] | None
    """``(id, key)`` of the incident, ``None`` for a signal in none."""
    signals: list[tuple[SpikeSignal, AnalystRead | None]]
    """Its signals matching the filters, newest first."""


def groups_page(store: Reader, flt: SignalFilter, *, sort: str = "newest", limit: int = 50,
                cursor: str | None = None) -> tuple[list[SignalGroup], str | None]:
    """One page of groups (an incident's matching signals together, other signals alone),
    ordered by their newest (oldest, strongest) signal and paged by the same kind of keyset
    cursor as :func:`signals_page`."""
    key, tie, way = GROUP_SORTS[sort]
    base, args = _base(flt, grouped=True)
    having = ""
    if cursor:
        having = f" HAVING ({key}, {tie}) {'<' if way == 'DESC' else '>'} (?, ?)"
        args = [*args, *decode_cursor(cursor)]
    rows = store.query(f"SELECT {GROUP}, {key}, {tie} {base} GROUP BY 1{having}"
                       f" ORDER BY 2 {way}, 3 {way} LIMIT ?", [*args, limit + 1])
    page, more = rows[:limit], len(rows) > limit
    if not page:
        return [], None
    base, args = _base(flt, grouped=True)
    marks = ",".join("?" * len(page))
    members: dict[str, list[tuple[SpikeSignal, AnalystRead | None]]] = {}
    for g, sp, rp in store.query(
            f"SELECT {GROUP}, s.payload, r.payload {base} AND {GROUP} IN ({marks})"
            " ORDER BY s.created_at DESC, s.id DESC", [*args, *(r[0] for r in page)]):
        members.setdefault(g, []).append(
            (from_json(sp, SpikeSignal), from_json(rp, AnalystRead) if rp else None))
    ids = [int(g[1:]) for g, _, _ in page if g.startswith("i")]
    keys = dict(store.query(f"SELECT id, key FROM incidents WHERE id IN "
                            f"({','.join('?' * len(ids))})", ids)) if ids else {}
    groups = [SignalGroup((int(g[1:]), keys.get(int(g[1:]), "")) if g.startswith("i")
                          else None, members.get(g, [])) for g, _, _ in page]
    last = page[-1]
    return groups, (f"{last[1]!r}:{last[2]}" if more else None)


def group_count(store: Reader, flt: SignalFilter) -> int:
    base, args = _base(flt, grouped=True)
    return int(store.query(f"SELECT COUNT(DISTINCT {GROUP}) {base}", args)[0][0])


def outcome_classes(store: Reader, ids: list[int]) -> dict[int, dict[str, str]]:
    """Per signal id, its outcome (:data:`OUTCOMES`) at every horizon by name ("5m"), by the
    same SQL as the filter, so an export's cells and the History counts always agree."""
    cols = ", ".join(outcome_sql(h) for h in HORIZONS)
    out: dict[int, dict[str, str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = store.query(f"SELECT s.id, {cols} FROM signals s LEFT JOIN outcomes o"
                           f" ON o.signal_id = s.id WHERE s.id IN ({','.join('?' * len(chunk))})",
                           chunk)
        out.update({r[0]: dict(zip(HORIZON_NAMES, r[1:], strict=True)) for r in rows})
    return out


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
    for facet, column in flt.facets().items():
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
