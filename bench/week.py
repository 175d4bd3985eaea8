"""A week of stored history, the database the dashboard and start-up figures run against.

By default 2,000,000 events over the 2,000 bench markets (bench/frames.py tickers, so live
frames continue the same markets), spread over the last seven days less an hour (retention
deletes nothing), two trades for each quote; 20,000 signals with analyst reads; and the
detector states a running daemon has (31 minutes of price history per market). Written with
``executemany`` straight into the daemon's schema: this is set-up, not a measurement.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from trade_hunter.daemon.schema import migrate
from trade_hunter.daemon.store import connect
from trade_hunter.plugins.models import (
    TOPICS,
    AnalystRead,
    MarketEvent,
    SignalContext,
    SpikeSignal,
    to_json,
)

from .feed import warm_states
from .frames import FrameSource

WEEK = 7 * 86400.0
EVENT_SQL = ("INSERT INTO events (ts, received_at, platform, market_id, kind, yes_price, volume,"
             " volume_kind, trade_side, trade_size, yes_bid, yes_ask, source, ext_id)"
             " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
SIGNAL_SQL = ("INSERT INTO signals (id, created_at, stored_at, market_id, platform, title, topic,"
              " tier, score, rule, demo, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
READ_SQL = ("INSERT INTO analyst_reads (signal_id, status, label, confidence, provider,"
            " created_at, payload) VALUES (?,?,?,?,?,?,?)")
STATE_SQL = ("INSERT INTO detector_state (detector, market_id, payload, updated_at)"
             " VALUES ('spike', ?, ?, ?)")


def title(market: str) -> str:
    return f"Will {market} settle yes?"


def build_week(db: Path, *, events: int = 2_000_000, markets: int = 2_000,
               signals: int = 20_000, seed: int = 42) -> float:
    """Write the week into ``db`` (a new file); returns the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    source = FrameSource(markets=markets, start=time.time())
    ids = source.tickers
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(db, writer=True)
    conn.execute("PRAGMA synchronous=OFF")  # a throwaway file: speed over durability
    migrate(conn)
    now = time.time()
    start = now - WEEK + 3600
    step = (now - 60 - start) / max(events, 1)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO markets (market_id, platform, title, topic, last_seen)"
                     " VALUES (?,?,?,?,?)",
                     [(m, "kalshi", title(m), TOPICS[i % len(TOPICS)], now)
                      for i, m in enumerate(ids)])
    chunk = 100_000
    for first in range(0, events, chunk):
        rows = []
        for n in range(first, min(events, first + chunk)):
            ts = start + n * step
            trade = n % 3 != 0
            price = round(rng.uniform(0.05, 0.95), 2)
            size = float(rng.randint(1, 200))
            rows.append((ts, ts, "kalshi", ids[rng.randrange(markets)], "T" if trade else "Q",
                         price, size if trade else 50_000.0 + n,
                         "delta" if trade else "cumulative",
                         rng.choice(("yes", "no")) if trade else None,
                         size if trade else None, None if trade else price - 0.01,
                         None if trade else price + 0.01, "kalshi",
                         f"{n:032x}" if trade else None))
        conn.executemany(EVENT_SQL, rows)
    sig_rows, read_rows = [], []
    for sid in range(1, signals + 1):
        market = ids[rng.randrange(markets)]
        created = start + rng.random() * (now - start)
        signal = SpikeSignal(
            market_id=market, platform="kalshi", title=title(market),
            topic=TOPICS[sid % len(TOPICS)], source="kalshi", tier="notable", score=4.2,
            rule="outlier", volume_delta=500, baseline=40, volume_multiple=12.5,
            price_move=0.04, price_score=1.3, direction="up", yes_price=0.55,
            event=MarketEvent(platform="kalshi", market_id=market, yes_price=0.55,
                              timestamp=created), context=SignalContext(),
            created_at=created, id=sid)
        sig_rows.append((sid, created, created, market, "kalshi", signal.title, signal.topic,
                         signal.tier, signal.score, signal.rule, 0, to_json(signal)))
        read = AnalystRead(signal_id=sid, noise_or_signal="signal", direction="up",
                           confidence="medium", rationale="bench", provider="heuristic",
                           created_at=created)
        read_rows.append((sid, "done", "signal", "medium", "heuristic", created, to_json(read)))
    conn.executemany(SIGNAL_SQL, sig_rows)
    conn.executemany(READ_SQL, read_rows)
    states = warm_states(source.history(1860.0))
    conn.executemany(STATE_SQL, [(m, payload, now) for m, payload in states.items()])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started
