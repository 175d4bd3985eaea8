"""Fault injection through SQLite itself: a full database (``PRAGMA max_page_count`` lowered
on the writer's live connection, then raised) and a read-only one (``PRAGMA query_only``).
Meanwhile ingest answers 503 with Retry-After, the store is ``degraded`` (health, th-ctl
status), nothing acknowledged or queued is lost, and writing resumes by itself."""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from trade_hunter.daemon.event_writes import write_batch
from trade_hunter.daemon.store import Store
from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.models import MarketEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def events(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"source": "faults", "platform": "test", "market_id": f"{prefix}-{i % 5}",
             "title": "Will the disk fill up? " + "x" * 200, "yes_price": 0.5,
             "volume": 1.0, "id": f"{prefix}-{i}"} for i in range(n)]


def on_writer(store: Store, sql: str) -> None:
    """Run ``sql`` on the writer's own connection (SQLite serialises it with the writer)."""
    assert store._conn is not None
    store._conn.execute(sql)


async def wait_until(predicate: Any) -> None:
    with trio.fail_after(30):  # a bound for a hung test, not a timing assertion
        while not predicate():
            await trio.sleep(0.02)


async def count(store: Store, prefix: str) -> int:
    rows = await store.aquery("SELECT COUNT(*) FROM events WHERE ext_id LIKE ?", (f"{prefix}-%",))
    return int(rows[0][0])


@pytest.mark.parametrize("fault, repair, cause", [
    ("PRAGMA max_page_count = {pages}", "PRAGMA max_page_count = 1073741823", "disk is full"),
    ("PRAGMA query_only = 1", "PRAGMA query_only = 0", "read-only"),
])
async def test_a_full_or_read_only_store_degrades_refuses_and_recovers(
        start_daemon, caplog, fault, repair, cause):
    caplog.set_level(logging.WARNING, "trade_hunter.daemon.store")
    d = await start_daemon(DISABLED_PLUGINS="kalshi")
    async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=60) as client:
        first = await client.post("/api/events", json=events("before", 50))
        assert first.status_code == 200 and await count(d.store, "before") == 50
        pages = (await d.store.aquery("PRAGMA page_count"))[0][0]
        on_writer(d.store, fault.format(pages=pages))

        answers: list[httpx.Response] = []
        async with trio.open_nursery() as nursery:
            async def stuck() -> None:  # its batch cannot commit: it waits, then says so
                answers.append(await client.post("/api/events", json=events("held", 300)))
            nursery.start_soon(stuck)
            await wait_until(lambda: d.store.degraded)
            assert cause in d.store.degraded
            refused = await client.post("/api/events", json=events("refused", 5))
            assert refused.status_code == 503 and refused.headers["Retry-After"]
            assert refused.json()["code"] == "store_degraded"
            health = (await client.get("/api/health")).json()
            store = next(c for c in health["components"] if c["name"] == "store")
            assert store["state"] == "degraded" and cause in store["detail"]
            status = await d.service.call("status")
            assert any(c["name"] == "store" and c["state"] == "degraded"
                       for c in status["components"])
            with pytest.raises(RpcError) as busy:  # a control write says so, not waits
                await d.service.call("demo.spike")
            assert busy.value.code == "not_available" and cause in str(busy.value)

            on_writer(d.store, repair)
            await wait_until(lambda: not d.store.degraded)
        # the held request was never acknowledged before its commit ...
        held = answers[0]
        assert held.status_code in (200, 503), held.text
        if held.status_code == 503:
            assert held.json()["code"] == "not_stored_yet"
        # ... and nothing it queued was dropped: all stored once the cause cleared
        await d.store.flush()
        assert await count(d.store, "held") == 300
        assert await count(d.store, "refused") == 0
        again = await client.post("/api/events", json=events("after", 5))
        assert again.status_code == 200 and await count(d.store, "after") == 5
        health = (await client.get("/api/health")).json()
        store = next(c for c in health["components"] if c["name"] == "store")
        assert store["state"] == "running"
    warnings = [r.getMessage() for r in caplog.records if "store degraded" in r.getMessage()]
    assert len(warnings) == 1 and cause in warnings[0]
    assert any("store recovered" in r.getMessage() for r in caplog.records)


def event(market: str, ext_id: str | None = None) -> MarketEvent:
    return MarketEvent(platform="t", market_id=market, title="t", yes_price=0.5, volume=1.0,
                       timestamp=time.time(), source="rows", ext_id=ext_id)


async def test_a_bad_row_costs_only_itself(tmp_path, caplog):
    store = Store(tmp_path / "trade-hunter.db")
    await trio.to_thread.run_sync(store.open)
    try:
        good = [event(f"G-{i}") for i in range(10)]
        bad = event("BAD-\ud800")  # cannot be encoded: SQLite refuses this row alone
        first = store.allocate_event_ids(11)
        results: list[Any] = []
        store.submit(write_batch(good[:5] + [bad] + good[5:], [], [], first_id=first),
                     done=results.append)
        store.submit(write_batch([event("OTHER")], [], []))  # another write of the batch
        await store.flush()
        rows = await store.aquery("SELECT id, market_id FROM events ORDER BY id")
        assert [r[1] for r in rows] == [e.market_id for e in good] + ["OTHER"]
        assert first + 5 not in {r[0] for r in rows}
        assert results[0].ids == [first + 5, "BAD-\ud800"]  # its event and market rows
        assert store.write_errors == 2 and "surrogates" in store.last_write_error
        logged = [r for r in caplog.records if "could not be written" in r.getMessage()]
        assert len(logged) == 1 and str(first + 5) in logged[0].getMessage()
    finally:
        await trio.to_thread.run_sync(store.close)


def test_environment_and_row_errors_are_told_apart(tmp_path):
    from trade_hunter.daemon.store_errors import environmental
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.execute("CREATE TABLE t (a UNIQUE)")
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as row:
        conn.execute("INSERT INTO t VALUES (1)")
    conn.execute("PRAGMA query_only = 1")
    with pytest.raises(sqlite3.OperationalError) as readonly:
        conn.execute("INSERT INTO t VALUES (2)")
    assert not environmental(row.value) and environmental(readonly.value)
