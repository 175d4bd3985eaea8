"""The store's side of signal outcomes: the SQL of the ``outcomes``, ``market_hours`` and
``settlements`` tables (schema migration 4), as write closures for the store's writer and
blocking reads for worker threads. The grading itself is ``trade_hunter.outcomes``; the
component that drives it is ``daemon/grader.py``."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from trade_hunter.outcomes.baseline import Tally
from trade_hunter.outcomes.grading import HORIZONS, HorizonOutcome, horizon_name
from trade_hunter.outcomes.scorecard import ScoredSignal, build
from trade_hunter.plugins.models import SpikeSignal

from .reader import Reader
from .store import Store, Write

HOUR = 3600.0
HOURS_MARK = "outcomes.market_hours.as_of"
"""kv key: the last event id counted into ``market_hours``."""

_horizons = msgspec.json.Decoder(list[HorizonOutcome])
_tallies = msgspec.json.Decoder(list[Tally])
_encode = msgspec.json.encode

OUTCOME_SQL = (
    "INSERT INTO outcomes (signal_id, market_id, created_at, direction, yes_price, tier, rule,"
    " topic, source, demo, horizons, baseline, graded, complete, graded_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(signal_id) DO UPDATE SET"
    " horizons=excluded.horizons, baseline=excluded.baseline, graded=excluded.graded,"
    " complete=excluded.complete, graded_at=excluded.graded_at"
)


def outcome_row(signal: SpikeSignal, horizons: list[HorizonOutcome], baseline: list[Tally],
                complete: bool) -> tuple[Any, ...]:
    return (signal.id, signal.market_id, signal.created_at, signal.direction,
            signal.yes_price, signal.tier, signal.rule, signal.topic, signal.source,
            int(signal.demo), _encode(horizons), _encode(baseline),
            sum(h.outcome != "no data" for h in horizons), int(complete), time.time())


def write_outcomes(rows: list[tuple[Any, ...]]) -> Write:
    def fn(conn: sqlite3.Connection) -> None:
        conn.executemany(OUTCOME_SQL, rows)
    return fn


def open_signals(store: Store) -> list[tuple[bytes, bytes | None]]:
    """Stored signals not graded to the end yet: ``(signal payload, outcome horizons)``."""
    return [(r[0], r[1]) for r in store.query(
        "SELECT s.payload, o.horizons FROM signals s"
        " LEFT JOIN outcomes o ON o.signal_id = s.id"
        " WHERE o.signal_id IS NULL OR o.complete = 0 ORDER BY s.id")]


def decode_horizons(blob: bytes | None) -> list[HorizonOutcome]:
    return _horizons.decode(blob) if blob else []


def data_end(store: Store) -> float | None:
    """The newest event time stored: the time up to which the history is known."""
    return store.query("SELECT MAX(ts) FROM events")[0][0]  # type: ignore[no-any-return]


def market_path(store: Store, market_id: str, start: float, end: float
                ) -> list[tuple[float, float, bool]]:
    """The market's priced events in ``[start, end]``: ``(ts, yes price, is a trade)``."""
    return [(r[0], r[1], r[2] == "T") for r in store.query(
        "SELECT ts, yes_price, kind FROM events WHERE market_id = ? AND ts >= ? AND ts <= ?"
        " AND yes_price IS NOT NULL ORDER BY ts, id", (market_id, start, end))]


def outcome_dicts(horizons: list[HorizonOutcome] | None,
                  divergence: Any = None) -> list[dict[str, Any]]:
    """A signal's outcomes for the API and the cards: every horizon, ``no data`` included. A
    divergence's also carry the gap and which venue moved (by name)."""
    out = [{"horizon": horizon_name(h.horizon), "seconds": h.horizon, "outcome": h.outcome,
            "price": h.price, "change": h.change, "favorable": h.favorable,
            "adverse": h.adverse, "capped": h.capped} for h in horizons or ()]
    if divergence is not None:
        venues = {"a": divergence.a_platform, "b": divergence.b_platform,
                  "both": "both venues", "neither": "neither venue"}
        for row, h in zip(out, horizons or (), strict=True):
            if h.moved is not None:
                row.update(gap=h.gap, a_move=h.a_move, b_move=h.b_move,
                           moved=venues.get(h.moved, h.moved))
    return out


def outcomes_of(store: Reader, ids: Iterable[int]) -> dict[int, list[HorizonOutcome]]:
    wanted = list(ids)
    out: dict[int, list[HorizonOutcome]] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for sid, blob in store.query(
                f"SELECT signal_id, horizons FROM outcomes WHERE signal_id IN ({marks})", chunk):
            out[sid] = decode_horizons(blob)
    return out


# ---------------------------------------------------------------------- market hours
def new_market_hours(store: Store, chunk: int) -> tuple[int, int, list[tuple[str, float]]]:
    """``(from id, to id, rows)``: the (market, clock hour) pairs with a trade among up to
    ``chunk`` events committed since the last count (ids commit in order: the pipeline
    allocates them)."""
    mark = store.query("SELECT value FROM kv WHERE key = ?", (HOURS_MARK,))
    low = int(mark[0][0]) if mark else 0
    high = min(low + chunk, store.query("SELECT COALESCE(MAX(id), 0) FROM events")[0][0])
    if high <= low:
        return low, low, []
    rows = store.query(
        "SELECT DISTINCT market_id, CAST(ts / 3600 AS INTEGER) * 3600 FROM events"
        " WHERE id > ? AND id <= ? AND kind = 'T'", (low, high))
    return low, high, [(m, float(h)) for m, h in rows]


def write_market_hours(rows: list[tuple[str, float]], high: int) -> Write:
    def fn(conn: sqlite3.Connection) -> None:
        conn.executemany("INSERT OR IGNORE INTO market_hours (market_id, hour_start)"
                         " VALUES (?, ?)", rows)
        conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)",
                     (HOURS_MARK, str(high)))
    return fn


def market_hours(store: Store, since: float | None, until: float | None) -> dict[str, float]:
    """Per market, the clock hours in ``[since, until)`` in which it traded."""
    return {m: float(n) for m, n in store.query(
        "SELECT market_id, COUNT(*) FROM market_hours WHERE hour_start >= ? AND hour_start < ?"
        " GROUP BY market_id", (_low(since), _high(until)))}


# ---------------------------------------------------------------------- settlements
def write_settlement(market_id: str, result: str | None, checked_at: float) -> Write:
    def fn(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT OR REPLACE INTO settlements (market_id, result, checked_at)"
                     " VALUES (?, ?, ?)", (market_id, result, checked_at))
    return fn


def unsettled_markets(store: Store, platforms: list[str], checked_before: float, limit: int
                      ) -> list[tuple[str, str]]:
    """``(market, platform)`` of markets with graded signals, of ``platforms``, not settled
    and not asked since ``checked_before``; never asked first, then the longest ago."""
    marks = ",".join("?" * len(platforms))
    return [(m, p) for m, p in store.query(
        "SELECT o.market_id, m.platform FROM (SELECT DISTINCT market_id FROM outcomes"
        " WHERE demo = 0) o JOIN markets m ON m.market_id = o.market_id"
        " LEFT JOIN settlements st ON st.market_id = o.market_id"
        f" WHERE st.result IS NULL AND COALESCE(st.checked_at, 0) < ? AND m.platform IN ({marks})"
        " ORDER BY COALESCE(st.checked_at, 0), o.market_id LIMIT ?", (checked_before, *platforms, limit))]


def settlements(store: Store) -> dict[str, tuple[str | None, float]]:
    return {m: (r, t) for m, r, t in store.query(
        "SELECT market_id, result, checked_at FROM settlements")}


# ---------------------------------------------------------------------- the scorecard's rows
VENDOR_GROUPS = ("rule", "source")
"""Groupings that keep vendor signals (alerts relayed from other services, rule ``vendor``)
apart; every other grouping leaves them out, so they never dilute the detector's figures."""


def scored_signals(store: Store, since: float | None, until: float | None, *,
                   vendor: bool = False) -> list[ScoredSignal]:
    """Every graded signal (demo spikes, and vendor signals unless ``vendor``, excluded)
    created in ``[since, until)``, with its analyst read and the market's settlement: the
    scorecard's input, read, never re-graded."""
    rows = store.query(
        "SELECT o.signal_id, o.market_id, o.created_at, o.direction, o.yes_price, o.tier,"
        " o.rule, o.topic, o.source, o.horizons, o.baseline, r.label, r.confidence,"
        " json_extract(CAST(r.payload AS TEXT), '$.probability_yes'), st.result"
        " FROM outcomes o LEFT JOIN analyst_reads r ON r.signal_id = o.signal_id"
        " AND r.status = 'done'"
        " LEFT JOIN settlements st ON st.market_id = o.market_id"
        " WHERE o.demo = 0 AND (? OR o.rule <> 'vendor')"
        " AND o.created_at >= ? AND o.created_at < ? ORDER BY o.signal_id",
        (int(vendor), _low(since), _high(until)))
    out = []
    for (sid, market, created, direction, price, tier, rule, topic, source, horizons,
         baseline, label, confidence, probability, result) in rows:
        out.append(ScoredSignal(
            signal_id=sid, market_id=market, created_at=created, direction=direction,
            yes_price=price, tier=tier, rule=rule, topic=topic, source=source,
            analyst_label=label, analyst_confidence=confidence,
            probability_yes=probability if isinstance(probability, int | float) else None,
            horizons=_horizons.decode(horizons), baseline=_tallies.decode(baseline),
            result=result))
    return out


def waiting_signals(store: Store) -> tuple[int, int]:
    """Signals (not demo) still waiting for a horizon, and those graded at every horizon whose
    baseline waits for its day to end (plus the longest horizon)."""
    rows = store.query(
        "SELECT COALESCE(SUM(o.signal_id IS NULL OR o.graded < ?), 0),"
        " COALESCE(SUM(o.graded >= ? AND o.complete = 0), 0)"
        " FROM signals s LEFT JOIN outcomes o ON o.signal_id = s.id"
        " WHERE s.demo = 0 AND (o.signal_id IS NULL OR o.complete = 0)",
        (len(HORIZONS), len(HORIZONS)))
    return int(rows[0][0]), int(rows[0][1])


def _low(since: float | None) -> float:
    return since if since is not None else float("-inf")


def _high(until: float | None) -> float:
    return until if until is not None else float("inf")


def scorecard(store: Store, since: float | None, until: float | None, group_by: str
              ) -> dict[str, Any]:
    """The scorecard of the stored outcomes as plain data (blocking: run it in a thread;
    the daemon serves it through ``daemon/scorecards.py``)."""
    card = build(scored_signals(store, since, until, vendor=group_by in VENDOR_GROUPS),
                 group_by,
                 market_hours=market_hours(store, since, until), since=since, until=until)
    return msgspec.to_builtins(card)  # type: ignore[no-any-return]
