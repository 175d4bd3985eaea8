from __future__ import annotations

import sqlite3
import time

import pytest
import trio

from trade_hunter.daemon import schema
from trade_hunter.daemon.event_writes import write_batch, write_read
from trade_hunter.daemon.retention import CHUNK, Retention
from trade_hunter.daemon.store import Store
from trade_hunter.plugins.builtin.spike import SpikeDetector
from trade_hunter.plugins.models import AnalystRead, MarketEvent


@pytest.fixture
async def store(tmp_path):
    s = Store(tmp_path / "db.sqlite")
    await trio.to_thread.run_sync(s.open)
    yield s
    await trio.to_thread.run_sync(s.close)


def event(ts: float, market: str = "M", **kw) -> MarketEvent:
    fields = {"yes_price": 0.5, "volume": 1.0, "source": "test", **kw}
    return MarketEvent(platform="t", market_id=market, title="T", timestamp=ts, **fields)


async def test_wal_mode_and_schema_version(store):
    assert (await store.aquery("PRAGMA journal_mode"))[0][0] == "wal"
    assert (await store.aquery("PRAGMA user_version"))[0][0] == len(schema.MIGRATIONS)


def test_migrations_run_forward_once(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert schema.migrate(conn) == len(schema.MIGRATIONS)
    assert schema.migrate(conn) == len(schema.MIGRATIONS)  # idempotent
    conn.execute(f"PRAGMA user_version = {len(schema.MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        schema.migrate(conn)


async def test_batch_commits_events_signals_and_states_together(store):
    d = SpikeDetector()
    state = d.new_state()
    events = [event(time.time(), volume=10.0), event(time.time(), yes_price=0.6, volume=500.0)]
    signals = [s for e in events if (s := d.process(e, state)) is not None]
    assert len(signals) == 1
    signals[0].id = store.allocate_signal_id()
    store.submit(write_batch(events, signals, [("spike", "M", b"{}")]))
    await store.flush()
    assert (await store.aquery("SELECT COUNT(*) FROM events"))[0][0] == 2
    assert (await store.aquery("SELECT id, tier FROM signals"))[0] == (1, signals[0].tier)
    assert (await store.aquery("SELECT payload FROM detector_state"))[0][0] == b"{}"
    assert (await store.aquery("SELECT title FROM markets"))[0][0] == "T"


async def test_a_failing_write_does_not_lose_its_batch(store):
    store.submit(write_batch([event(time.time())], [], []))
    store.submit(lambda conn: conn.execute("INSERT INTO nowhere VALUES (1)"))
    store.submit(write_batch([event(time.time())], [], []))
    await store.flush()
    assert (await store.aquery("SELECT COUNT(*) FROM events"))[0][0] == 2
    assert store.write_errors == 1 and "nowhere" in store.last_write_error
    with pytest.raises(sqlite3.OperationalError):
        await store.run(lambda conn: conn.execute("SELECT * FROM nowhere"))


async def test_duplicate_ext_ids_are_stored_once(store):
    store.submit(write_batch([event(1.0e9, ext_id="a"), event(1.0e9, ext_id="a"),
                              event(1.0e9, ext_id="b")], [], []))
    await store.flush()
    assert (await store.aquery("SELECT COUNT(*) FROM events"))[0][0] == 2


async def test_kalshi_trade_ids_are_left_to_the_feed_and_relay_keys_use_the_index(store):
    from trade_hunter.daemon.event_keys import StoredKeys, index_condition
    from trade_hunter.plugins.builtin.kalshi.parse import PLATFORM

    # the feed's source name, as the index the migrations built says it
    assert f"source <> '{PLATFORM}'" in index_condition(store)
    store.submit(write_batch([event(1.0e9, ext_id="t1", source="kalshi"),
                              event(1.0e9, ext_id="t1", source="kalshi"),
                              event(1.0e9, ext_id="k", source="relay")], [], []))
    await store.flush()  # the feed de-duplicates in memory; the database does not re-check
    assert (await store.aquery("SELECT COUNT(*) FROM events"))[0][0] == 3
    keys = StoredKeys(store)
    plan = await store.aquery(f"EXPLAIN QUERY PLAN {keys._query()}", ("relay", "k"))
    assert "INDEX events_ext_id (source=? AND ext_id=?)" in " ".join(r[-1] for r in plan)
    found = await trio.to_thread.run_sync(keys.find, {("relay", "k"), ("relay", "new"),
                                                       ("kalshi", "t1")})
    assert found == {("relay", "k")}  # the feed's ids are not idempotency keys


def test_migration_3_keeps_relay_keys_unique_and_the_stored_rows(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    for number, script in enumerate(schema.MIGRATIONS[:2], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    insert = ("INSERT INTO events (ts, received_at, platform, market_id, kind, volume_kind,"
              " source, ext_id) VALUES (1, 1, 'kalshi', 'M', 'T', 'delta', ?, ?)")
    conn.execute(insert, ("kalshi", "t1"))
    conn.execute(insert, ("relay", "r1"))
    assert schema.migrate(conn) == len(schema.MIGRATIONS)
    conn.execute(insert, ("kalshi", "t1"))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, ("relay", "r1"))
    assert conn.execute("SELECT source, ext_id FROM events ORDER BY id").fetchall() == [
        ("kalshi", "t1"), ("relay", "r1"), ("kalshi", "t1")]
    conn.close()


async def test_history_reads_round_trip(store):
    now = time.time()
    store.submit(write_batch([event(now - 10, trade_side="yes", event_kind="trade"),
                              event(now - 5, market="N")], [], []))
    store.submit(write_read(AnalystRead(signal_id=7, noise_or_signal="noise", provider="x")))
    await store.flush()
    events = await trio.to_thread.run_sync(store.events_between, now - 60, now)
    assert [(e.market_id, e.event_kind, e.title) for e in events] == [
        ("M", "trade", "T"), ("N", "quote", "T")]
    assert (await store.aquery("SELECT label FROM analyst_reads"))[0][0] == "noise"


async def test_writer_commits_within_250ms_without_flush(store):
    store.submit(write_batch([event(time.time())], [], []))
    with trio.fail_after(2):
        while not (await store.aquery("SELECT COUNT(*) FROM events"))[0][0]:
            await trio.sleep(0.01)


async def test_retention_deletes_old_rows_in_chunks_and_reports(store):
    old, now = time.time() - 10 * 86400, time.time()
    store.submit(write_batch([event(old + i) for i in range(CHUNK + 5)] + [event(now)], [], []))
    await store.flush()
    retention = Retention(store, days=7)
    deleted = await retention.run_once()
    assert deleted == CHUNK + 5
    assert (await store.aquery("SELECT COUNT(*) FROM events"))[0][0] == 1
    status = retention.status
    assert status["rows_deleted"] == CHUNK + 5 and status["last_run"] is not None
    assert status["oldest_kept"] == pytest.approx(now)
