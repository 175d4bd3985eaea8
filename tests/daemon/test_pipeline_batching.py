"""Batched persistence (issue 8): nothing accepted is lost, ``Store.flush()`` still means
"everything accepted so far is committed", and detector states written as checkpoints are
restored exactly after a crash by replaying the events committed after them."""

from __future__ import annotations

import random
import time
from pathlib import Path

import msgspec
import pytest
import trio

from trade_hunter.daemon.live_view import Live
from trade_hunter.daemon.pipeline import STATE_CHUNK, STATE_SECONDS, Pipeline
from trade_hunter.daemon.store import Store
from trade_hunter.plugins.builtin.spike import SpikeDetector
from trade_hunter.plugins.models import MarketEvent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def events(markets: list[str], count: int, rng: random.Random, t0: float) -> list[MarketEvent]:
    out = []
    for i in range(count):
        trade = rng.random() < 0.6
        out.append(MarketEvent(
            platform="t", market_id=rng.choice(markets), title="Will it?", source="test",
            yes_price=round(rng.uniform(0.05, 0.95), 2), event_kind="trade" if trade else "quote",
            volume=float(rng.choice((1, 5, 20, 400))) if trade else 1000.0 + i,
            volume_kind="delta" if trade else "cumulative",
            trade_side="yes" if trade else None, timestamp=t0 + i))
    return out


async def open_store(path: Path) -> Store:
    store = Store(path)
    await trio.to_thread.run_sync(store.open)
    return store


def encoded(states: dict) -> dict[str, bytes]:
    return {m: msgspec.json.encode(s) for m, s in states.items()}


async def test_held_back_events_commit_on_store_flush(tmp_path):
    store = await open_store(tmp_path / "db.sqlite")
    try:
        pipeline = Pipeline(SpikeDetector(), store, Live(), clock=Clock())
        batch = events(["A", "B"], 50, random.Random(1), time.time() - 100)
        pipeline._process(batch)  # what the ingest loop does: the write is held back
        assert pipeline.processed == 50
        assert (await store.aquery("SELECT COUNT(*) FROM events"))[0][0] == 0
        await store.flush()
        rows = await store.aquery("SELECT id, ts, market_id FROM events ORDER BY id")
        assert [(ts, m) for _, ts, m in rows] == [(e.timestamp, e.market_id) for e in batch]
        assert [r[0] for r in rows] == list(range(1, 51))  # ids allocated in memory, in order
    finally:
        await trio.to_thread.run_sync(store.close)


async def test_settled_waits_for_the_held_back_batch_and_later_writes_follow_it(tmp_path):
    store = await open_store(tmp_path / "db.sqlite")
    try:
        clock = Clock()
        pipeline = Pipeline(SpikeDetector(), store, Live(), clock=clock)
        order: list[str] = []
        pipeline._process(events(["A"], 10, random.Random(1), time.time() - 100))
        pipeline.submit_after(lambda conn: order.append("after the batch"))
        store.submit(lambda conn: order.append("queued straight to the store"))
        with trio.move_on_after(0.05) as waiting:  # held back: settled() does not hurry it
            await pipeline.settled()
        assert waiting.cancelled_caught and order == ["queued straight to the store"]
        clock.now += 1.0  # the batch is due: the next arrival flushes it
        pipeline._process(events(["B"], 1, random.Random(2), time.time() - 50))
        await pipeline.settled()
        assert order == ["queued straight to the store", "after the batch"]
        assert (await store.aquery("SELECT COUNT(*) FROM events"))[0][0] == 11
        pipeline.submit_after(lambda conn: order.append("nothing held back"))
        await store.flush()
        assert order[-1] == "nothing held back"
    finally:
        await trio.to_thread.run_sync(store.close)


async def test_a_running_daemon_commits_every_event_of_many_small_batches(start_daemon):
    d = await start_daemon()
    rng = random.Random(2)
    sent = 0
    for _ in range(300):
        batch = events([f"M{i}" for i in range(40)], rng.randint(1, 30), rng, time.time() - 50)
        d.ingest(batch)
        sent += len(batch)
        if rng.random() < 0.3:
            await trio.lowlevel.checkpoint()
    with trio.fail_after(20):
        while d.pipeline is None or d.pipeline.processed < sent:
            await trio.sleep(0.01)
    await d.store.flush()
    assert (await d.store.aquery("SELECT COUNT(*), COUNT(DISTINCT id) FROM events"))[0] == \
        (sent, sent)
    assert d.store.commits < 300  # batched: far fewer commits than hand-offs


async def test_checkpointed_states_are_restored_exactly_after_a_crash(tmp_path):
    rng = random.Random(3)
    markets = [f"M{i:04d}" for i in range(STATE_CHUNK + 40)]
    clock = Clock()
    store = await open_store(tmp_path / "db.sqlite")
    pipeline = Pipeline(SpikeDetector(), store, Live(), clock=clock)
    t0 = time.time() - 3600
    # Every market dirty at once; then, past the checkpoint interval, more traffic: one
    # write checkpoints STATE_CHUNK of them (the oldest dirty first), the rest stay behind.
    pipeline._process(events(markets, 3 * len(markets), rng, t0))
    pipeline.flush()
    clock.now += STATE_SECONDS + 1
    pipeline._process(events(markets[:5] + markets[-5:], 200, rng, t0 + 10_000))
    pipeline.flush()
    await store.run(lambda conn: None)  # a commit, without the flush hook's extra write
    stored = dict(await store.aquery("SELECT market_id, as_of FROM detector_state"))
    assert len(stored) == STATE_CHUNK  # a bounded chunk, not every dirty market
    # More traffic, new markets among it; their states are never written.
    pipeline._process(events(markets + ["NEW-1", "NEW-2"], 400, rng, t0 + 20_000))
    pipeline.flush()
    await store.run(lambda conn: None)
    assert not {"NEW-1", "NEW-2"} & {r[0] for r in await store.aquery(
        "SELECT market_id FROM detector_state")}
    expected = encoded(pipeline.states)
    signals = pipeline.store.next_signal_id
    # The crash: no final checkpoint. A new process opens the same database.
    await trio.to_thread.run_sync(store.close)
    again = await open_store(tmp_path / "db.sqlite")
    try:
        restored = Pipeline(SpikeDetector(), again, Live())
        await trio.to_thread.run_sync(restored.load_states)
        assert restored.replayed > 300  # the traffic after the checkpoints
        assert encoded(restored.states) == expected
        assert again.next_signal_id == signals  # replay stores nothing, fires nothing new
        assert (await again.aquery("SELECT COUNT(*) FROM signals"))[0][0] == signals - 1
    finally:
        await trio.to_thread.run_sync(again.close)


async def test_a_clean_shutdown_checkpoints_everything(start_daemon, tmp_path):
    home = tmp_path / "home"
    d = await start_daemon(home)
    batch = events(["A", "B", "C"], 60, random.Random(4), time.time() - 100)
    d.ingest(batch)
    with trio.fail_after(10):
        while d.pipeline is None or d.pipeline.processed < 60:
            await trio.sleep(0.01)
    expected = encoded(d.pipeline.states)
    d.request_shutdown("test")
    with trio.fail_after(10):
        while d.store._thread is not None:
            await trio.sleep(0.01)
    d2 = await start_daemon(home)
    assert d2.pipeline is not None and d2.pipeline.replayed == 0  # nothing to replay
    assert encoded(d2.pipeline.states) == expected


@pytest.mark.parametrize("legacy_rows", [True, False])
async def test_a_database_without_a_low_water_mark(tmp_path, legacy_rows):
    """States written before checkpoints existed (or none at all): nothing is replayed."""
    store = await open_store(tmp_path / "db.sqlite")
    try:
        pipeline = Pipeline(SpikeDetector(), store, Live(), clock=Clock())
        pipeline._process(events(["A"], 20, random.Random(5), time.time() - 100))
        pipeline.flush(states="all")
        await store.flush()
        await store.run(lambda conn: conn.execute("DELETE FROM kv"))
        if not legacy_rows:
            await store.run(lambda conn: conn.execute("DELETE FROM detector_state"))
        fresh = Pipeline(SpikeDetector(), store, Live())
        loaded = await trio.to_thread.run_sync(fresh.load_states)
        assert (loaded, fresh.replayed) == ((1, 0) if legacy_rows else (0, 0))
    finally:
        await trio.to_thread.run_sync(store.close)


async def test_multi_row_inserts_keep_every_field_and_skip_duplicates(tmp_path):
    from trade_hunter.daemon.event_writes import event_row, insert_events

    store = await open_store(tmp_path / "db.sqlite")
    try:
        batch = events(["A", "B", "C"], 437, random.Random(6), time.time() - 500)  # 200+200+25+12
        for i, e in enumerate(batch):
            e.ext_id = f"t{i % 400}" if e.event_kind == "trade" else None  # repeats after 400
        await store.run(lambda conn: insert_events(conn, batch, 1))
        rows = await store.aquery("SELECT id, ts, received_at, platform, market_id, kind,"
                                  " yes_price, volume, volume_kind, trade_side, trade_size,"
                                  " yes_bid, yes_ask, source, ext_id FROM events ORDER BY id")
        seen: set[str] = set()
        expected = []
        for i, e in enumerate(batch, 1):
            if e.ext_id is not None:
                if e.ext_id in seen:
                    continue  # INSERT OR IGNORE: the first of an id is kept
                seen.add(e.ext_id)
            expected.append((i, *event_row(e)))
        assert rows == expected and len(rows) < 437
    finally:
        await trio.to_thread.run_sync(store.close)


async def test_every_submitted_event_is_counted_committed(tmp_path):
    store = await open_store(tmp_path / "db.sqlite")
    try:
        pipeline = Pipeline(SpikeDetector(), store, Live(), clock=Clock())
        for n in (3, 50, 7000):
            pipeline._process(events(["A", "B"], n, random.Random(n), time.time() - 9000))
        await store.flush()
        assert pipeline.submitted == pipeline.committed == 7053
    finally:
        await trio.to_thread.run_sync(store.close)
