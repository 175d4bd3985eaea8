"""SQLite schema with forward migrations (``PRAGMA user_version`` is the schema version).

Append a new script to MIGRATIONS to change the schema; never edit a released one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        received_at REAL NOT NULL,
        platform TEXT NOT NULL,
        market_id TEXT NOT NULL,
        kind TEXT NOT NULL,            -- 'T' trade, 'Q' quote
        yes_price REAL,
        volume REAL,
        volume_kind TEXT NOT NULL,
        trade_side TEXT,
        trade_size REAL,
        yes_bid REAL,
        yes_ask REAL,
        source TEXT NOT NULL,
        ext_id TEXT
    );
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_market_ts ON events (market_id, ts);
    CREATE UNIQUE INDEX events_ext_id ON events (source, ext_id) WHERE ext_id IS NOT NULL;

    CREATE TABLE markets (
        market_id TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        title TEXT NOT NULL,
        topic TEXT,
        last_seen REAL NOT NULL
    );

    CREATE TABLE signals (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        stored_at REAL NOT NULL,
        market_id TEXT NOT NULL,
        platform TEXT NOT NULL,
        title TEXT NOT NULL,
        topic TEXT NOT NULL,
        tier TEXT NOT NULL,
        score REAL NOT NULL,
        rule TEXT NOT NULL,
        demo INTEGER NOT NULL DEFAULT 0,
        payload BLOB NOT NULL          -- the SpikeSignal as JSON
    );
    CREATE INDEX signals_created ON signals (created_at);
    CREATE INDEX signals_stored ON signals (stored_at);
    CREATE INDEX signals_score ON signals (score);

    CREATE TABLE analyst_reads (
        signal_id INTEGER PRIMARY KEY,
        status TEXT NOT NULL,
        label TEXT,
        confidence TEXT,
        provider TEXT,
        created_at REAL NOT NULL,
        payload BLOB NOT NULL          -- the AnalystRead as JSON
    );

    CREATE TABLE tracked_tickers (
        ticker TEXT PRIMARY KEY,
        added_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        detail TEXT NOT NULL DEFAULT '',
        markets TEXT NOT NULL DEFAULT '[]'
    );

    CREATE TABLE detector_state (
        detector TEXT NOT NULL,
        market_id TEXT NOT NULL,
        payload BLOB NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (detector, market_id)
    ) WITHOUT ROWID;

    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        notifier TEXT NOT NULL,
        kind TEXT NOT NULL,            -- 'detector' or 'analyst'
        signal_id INTEGER NOT NULL,
        payload BLOB NOT NULL,         -- the Alert as JSON
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | dead
        last_error TEXT NOT NULL DEFAULT '',
        UNIQUE (notifier, kind, signal_id)
    );
    CREATE INDEX outbox_pending ON outbox (status, next_at);

    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: detector states say which event they are up to (checkpointed states, replay)
    """
    ALTER TABLE detector_state ADD COLUMN as_of INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: the Kalshi feed's trade ids leave the unique index. Events stay unique by
    # (source, ext_id) where idempotency keys must survive restarts (relayed ones); the feed
    # de-duplicates its trade ids in memory (a backfill overlaps the live stream by a second),
    # and an index over random trade ids cost a fifth of the ingest rate (bench/,
    # docs/PERFORMANCE.md). Relays may not call themselves ``kalshi``. A stored schema fact:
    # lookups read this condition from the database (daemon/event_keys.py); another such
    # feed would need a new migration, not a constant.
    """
    DROP INDEX events_ext_id;
    CREATE UNIQUE INDEX events_ext_id ON events (source, ext_id) WHERE ext_id IS NOT NULL AND source <> 'kalshi';
    """,
    # 4: tracked identifiers belong to a feed (daemon/watchlist.py); the existing rows and
    # their first-start seed flag were the Kalshi feed's
    """
    CREATE TABLE tracked_by_feed (
        feed TEXT NOT NULL,
        ticker TEXT NOT NULL,
        added_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        detail TEXT NOT NULL DEFAULT '',
        markets TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (feed, ticker)
    );
    INSERT INTO tracked_by_feed (feed, ticker, added_at, status, detail, markets)
        SELECT 'kalshi', ticker, added_at, status, detail, markets FROM tracked_tickers;
    DROP TABLE tracked_tickers;
    ALTER TABLE tracked_by_feed RENAME TO tracked_tickers;
    UPDATE kv SET key = 'watchlist_seeded:kalshi' WHERE key = 'tickers_seeded';
    """,
    # 5: signal outcomes (daemon/grader.py), the market-hours denominator, settlements
    """
    CREATE TABLE outcomes (
        signal_id INTEGER PRIMARY KEY,
        market_id TEXT NOT NULL,
        created_at REAL NOT NULL,      -- the signal's event time
        direction TEXT NOT NULL,
        yes_price REAL,
        tier TEXT NOT NULL,
        rule TEXT NOT NULL,
        topic TEXT NOT NULL,
        source TEXT NOT NULL,
        demo INTEGER NOT NULL DEFAULT 0,
        horizons BLOB NOT NULL,        -- [HorizonOutcome] as JSON, one per horizon
        baseline BLOB NOT NULL,        -- [Tally] as JSON, one per horizon
        graded INTEGER NOT NULL DEFAULT 0,   -- horizons graded so far (of 4)
        complete INTEGER NOT NULL DEFAULT 0, -- and the baseline's day is over: final
        graded_at REAL NOT NULL
    );
    CREATE INDEX outcomes_created ON outcomes (created_at);

    CREATE TABLE market_hours (
        id INTEGER PRIMARY KEY,
        market_id TEXT NOT NULL,
        hour_start REAL NOT NULL,      -- a UTC clock hour in which the market traded
        UNIQUE (market_id, hour_start)
    );
    CREATE INDEX market_hours_start ON market_hours (hour_start);

    CREATE TABLE settlements (
        market_id TEXT PRIMARY KEY,
        result TEXT,                   -- 'yes' / 'no'; NULL while unknown
        checked_at REAL NOT NULL
    );
    """,
    # 6: a market's signals by time (market page, History filtered by market)
    """
    CREATE INDEX signals_market_created ON signals (market_id, created_at);
    """,
    # 7: alert workflow: silences and snoozes (daemon/silences.py), acknowledged signals
    """
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,            -- 'silence' or 'snooze'
        matchers TEXT NOT NULL,        -- JSON [[name, value], ...]; a snooze: [["market", T]]
        comment TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        ends_at REAL NOT NULL,
        expired_at REAL                -- set when expired early
    );
    CREATE INDEX silences_ends ON silences (ends_at);
    CREATE TABLE acks (
        signal_id INTEGER PRIMARY KEY,
        acked_at REAL NOT NULL
    );
    CREATE INDEX outbox_muted ON outbox (created_at) WHERE status = 'muted';
    CREATE TABLE incidents (           -- daemon/incidents.py
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,             -- the event ticker, or source:group for relays
        first_at REAL NOT NULL,
        last_at REAL NOT NULL,
        notified INTEGER NOT NULL DEFAULT 0,   -- signals included in a notification
        notified_at REAL,
        updates INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX incidents_last ON incidents (last_at);
    CREATE TABLE incident_signals (
        signal_id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL
    );
    CREATE INDEX incident_signals_incident ON incident_signals (incident_id);
    """,
    # 8: cross-venue pairs of equivalent markets (daemon/pairs.py); mapping says which side of
    # market b matches YES of market a
    """
    CREATE TABLE market_pairs (
        id INTEGER PRIMARY KEY,
        a_platform TEXT NOT NULL,
        a_market TEXT NOT NULL,
        b_platform TEXT NOT NULL,
        b_market TEXT NOT NULL,
        mapping TEXT NOT NULL CHECK (mapping IN ('yes', 'no')),
        created_at REAL NOT NULL,
        UNIQUE (a_platform, a_market, b_platform, b_market)
    );
    """,
    # 9: the divergence rule's open divergences (daemon/divergence_store.py): one row per pair
    # whose divergence signal fired and has not converged, so a restart neither re-fires it
    # nor forgets to say "converged"
    """
    CREATE TABLE divergence_open (
        pair_id INTEGER PRIMARY KEY,
        since REAL NOT NULL,
        fired_at REAL NOT NULL,
        fired_gap REAL NOT NULL,
        gap REAL NOT NULL,
        escalations INTEGER NOT NULL,
        signal_id INTEGER NOT NULL
    );
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest schema; returns the version it is at."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema {version} is newer than this Trade Hunter ({len(MIGRATIONS)})")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # One transaction per step: a crash mid-migration leaves the previous version intact.
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(MIGRATIONS)
