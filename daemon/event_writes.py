"""The store's write closures for the event tables: events, markets, signals, detector
states, the low-water mark and analyst reads (``Store.submit``/``Store.run`` run them in the
writer thread). ``write_batch`` is one pipeline batch; ``write_read`` one analyst read."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from trade_hunter.plugins.models import AnalystRead, MarketEvent, SpikeSignal, to_json

from .store_errors import RowFailures, environmental

log = logging.getLogger("trade_hunter.daemon.store")  # the store's log, as before the split
Write = Callable[[sqlite3.Connection], Any]

EVENT_SQL = (
    "INSERT OR IGNORE INTO events (ts, received_at, platform, market_id, kind, yes_price,"
    " volume, volume_kind, trade_side, trade_size, yes_bid, yes_ask, source, ext_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
EVENT_ID_SQL = (
    "INSERT OR IGNORE INTO events (id, ts, received_at, platform, market_id, kind, yes_price,"
    " volume, volume_kind, trade_side, trade_size, yes_bid, yes_ask, source, ext_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
MARKET_SQL = (
    "INSERT INTO markets (market_id, platform, title, topic, last_seen) VALUES (?,?,?,?,?)"
    " ON CONFLICT(market_id) DO UPDATE SET last_seen=excluded.last_seen,"
    " title=CASE WHEN excluded.title != '' THEN excluded.title ELSE markets.title END,"
    " topic=COALESCE(excluded.topic, markets.topic)"
)


def event_row(e: MarketEvent) -> tuple[Any, ...]:
    return (e.timestamp, e.received_at, e.platform, e.market_id,
            "T" if e.event_kind == "trade" else "Q", e.yes_price, e.volume, e.volume_kind,
            e.trade_side, e.trade_size, e.yes_bid, e.yes_ask, e.source, e.ext_id)


ROWS_PER_STATEMENT = (200, 25, 1)  # statement sizes, largest first (each cached once)


def insert_events(conn: sqlite3.Connection, events: list[MarketEvent], first_id: int) -> None:
    """Insert ``events`` with consecutive ids from ``first_id``, up to 200 rows per statement
    (one multi-row ``VALUES``; the rest in statements of 25, then single rows).

    Why not ``executemany``: it steps once per row, and each step releases and retakes the
    GIL. While the event loop keeps the GIL busy, every retake waits for a switch interval
    (5 ms), so a busy daemon could starve its own writer (measured: 1,300 rows/s against a
    spinning thread, 25,000 rows/s this way; 10-20 % faster when idle too). A few fixed
    statement sizes keep SQLite's statement cache small: a 200-row statement is big."""
    start = 0
    for size in ROWS_PER_STATEMENT:
        sql = _STATEMENTS[size]
        while len(events) - start >= size:
            params: list[Any] = []
            add = params.extend
            for i, e in enumerate(events[start:start + size], first_id + start):
                add((i, e.timestamp, e.received_at, e.platform, e.market_id,
                     "T" if e.event_kind == "trade" else "Q", e.yes_price, e.volume,
                     e.volume_kind, e.trade_side, e.trade_size, e.yes_bid, e.yes_ask, e.source,
                     e.ext_id))
            conn.execute(sql, params)
            start += size


_ONE_EVENT = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
_STATEMENTS = {size: EVENT_ID_SQL.replace(_ONE_EVENT, ",".join([_ONE_EVENT] * size))
               for size in ROWS_PER_STATEMENT}


def signal_row(s: SpikeSignal, stored_at: float) -> tuple[Any, ...]:
    return (s.id, s.created_at, stored_at, s.market_id, s.platform, s.title, s.topic, s.tier,
            s.score, s.rule, int(s.demo), to_json(s))


SIGNAL_SQL = (
    "INSERT OR REPLACE INTO signals (id, created_at, stored_at, market_id, platform, title,"
    " topic, tier, score, rule, demo, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
STATE_SQL = (
    "INSERT INTO detector_state (detector, market_id, payload, updated_at, as_of)"
    " VALUES (?,?,?,?,?) ON CONFLICT(detector, market_id) DO UPDATE SET"
    " payload=excluded.payload, updated_at=excluded.updated_at, as_of=excluded.as_of"
)
KV_SQL = "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"
READ_SQL = (
    "INSERT OR REPLACE INTO analyst_reads (signal_id, status, label, confidence, provider,"
    " created_at, payload) VALUES (?,?,?,?,?,?,?)"
)


def write_batch(events: list[MarketEvent], signals: list[SpikeSignal],
                states: list[tuple[Any, ...]], extra: Iterable[Write] = (), *,
                first_id: int | None = None, markets: list[tuple[Any, ...]] | None = None,
                low_water: tuple[str, int] | None = None) -> Write:
    """One pipeline batch, committed together: events, their signals (and ``extra`` writes:
    outbox rows), detector states and the state low-water mark (see daemon/pipeline.py).

    ``states`` are ``(detector, market, payload[, as_of])``; ``first_id`` gives the events
    consecutive ids from it (allocated by ``Store.allocate_event_ids``), else SQLite numbers
    them; ``markets`` are the ``markets`` rows to upsert, by default one per market in
    ``events``. Its ``careful`` variant (run by the store when a batch failed) writes row by
    row and returns the ``RowFailures``, so one bad row never costs the others."""
    if markets is None:
        latest: dict[str, MarketEvent] = {e.market_id: e for e in events}
        markets = [(e.market_id, e.platform, e.title, e.topic, e.timestamp)
                   for e in latest.values()]

    def parts(now: float) -> list[tuple[str, list[Any], Any]]:
        """``(sql or '', rows, row names)``: each part's statement and rows."""
        return [
            (MARKET_SQL, markets, [m[0] for m in markets]),
            (SIGNAL_SQL, [signal_row(s, now) for s in signals], [f"signal {s.id}"
                                                                 for s in signals]),
            (STATE_SQL, [(s[0], s[1], s[2], now, s[3] if len(s) > 3 else 0) for s in states],
             [f"state {s[1]}" for s in states]),
            (KV_SQL, [(low_water[0], str(low_water[1]))] if low_water else [],
             [low_water] if low_water else []),
        ]

    def fn(conn: sqlite3.Connection) -> None:
        if first_id is None:
            conn.executemany(EVENT_SQL, [event_row(e) for e in events])
        else:
            insert_events(conn, events, first_id)
        for sql, rows, _ in parts(time.time()):
            if rows:
                conn.executemany(sql, rows)
        for write in extra:
            write(conn)

    def careful(conn: sqlite3.Connection) -> RowFailures:
        failed = RowFailures()

        def one(name: int | str, run: Callable[[], Any]) -> None:
            conn.execute("SAVEPOINT row")
            try:
                run()
            except Exception as exc:
                if environmental(exc):
                    raise  # the store rolls the whole transaction back and retries
                conn.execute("ROLLBACK TO row")
                conn.execute("RELEASE row")
                failed.ids.append(name)
                failed.error = failed.error or f"{type(exc).__name__}: {exc}"
            else:
                conn.execute("RELEASE row")
        for i, e in enumerate(events):
            if first_id is None:
                one(i, partial(conn.execute, EVENT_SQL, event_row(e)))
            else:
                one(first_id + i, partial(conn.execute, EVENT_ID_SQL,
                                          (first_id + i, *event_row(e))))
        for sql, rows, names in parts(time.time()):
            for row, name in zip(rows, names, strict=True):
                one(name, partial(conn.execute, sql, row))
        for n, write in enumerate(extra):
            one(f"write {n}", partial(write, conn))
        if failed:
            log.error("store: %d rows of a batch could not be written, the rest is stored "
                      "(%s); rows: %s", len(failed.ids), failed.error,
                      ", ".join(map(ascii, failed.ids[:50])))  # ascii: a name may hold a surrogate
        return failed

    fn.careful = careful  # type: ignore[attr-defined]
    return fn


def write_read(read: AnalystRead) -> Write:
    def fn(conn: sqlite3.Connection) -> None:
        conn.execute(READ_SQL, (read.signal_id, read.status, read.noise_or_signal,
                                read.confidence, read.provider, read.created_at or time.time(),
                                to_json(read)))
    return fn
