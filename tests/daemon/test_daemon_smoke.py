from __future__ import annotations

import time

import httpx
import trio

from trade_hunter.plugins.models import MarketEvent


async def test_daemon_serves_state_and_persists_a_signal(start_daemon):
    d = await start_daemon()
    t0 = time.time() - 60  # recent: retention deletes anything older than RETENTION_DAYS
    events = [MarketEvent(platform="t", market_id="M1", title="Will it rain?", yes_price=0.40,
                          volume=10.0, event_kind="trade", trade_side="yes", source="test",
                          timestamp=t0 + i) for i in range(5)]
    events.append(MarketEvent(platform="t", market_id="M1", title="Will it rain?",
                              yes_price=0.50, volume=500.0, event_kind="trade",
                              trade_side="yes", source="test", timestamp=t0 + 10))
    d.ingest(events)
    await d.store.flush()
    with trio.fail_after(5):
        while not await d.store.aquery("SELECT id FROM signals"):
            await d.store.flush()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        state = (await client.get("/api/state")).json()
        health = (await client.get("/api/health")).json()
    assert state["mode"] == "ingest-only"
    assert {"mode", "signals", "flow", "tape", "feeds", "counters"} <= set(state)
    [signal] = state["signals"]
    assert signal["market_id"] == "M1" and signal["tier"] == "high conviction flow"
    assert {"id", "title", "score", "topic", "created_at"} <= set(signal)
    assert len(state["flow"]) == 6
    assert health["mode"] == "ingest-only"


async def test_demo_spike_on_a_known_market_keeps_its_title_and_topic(start_daemon):
    d = await start_daemon()
    d.ingest([MarketEvent(platform="t", market_id="KNOWN", title="Will the Fed cut rates?",
                          topic="macro", yes_price=0.3, volume=5.0, source="test",
                          timestamp=time.time())])
    await d.store.flush()
    with trio.fail_after(5):
        while "KNOWN" not in d.live.tape:
            await trio.sleep(0.01)
    result = await d.service.call("demo.spike", {"market_id": "KNOWN"})
    [signal] = [s for s in d.live.signals.values() if s.id in result["signals"]]
    assert signal.title == "Will the Fed cut rates?" and signal.topic == "macro"
    assert signal.demo


async def test_reads_show_their_status_even_when_done(start_daemon):
    d = await start_daemon()  # the local heuristic analyst answers every signal
    sid = (await d.service.call("demo.spike"))["signals"][0]
    with trio.fail_after(10):
        while True:
            [listed] = (await d.service.call("signals.list", {"limit": 1}))["signals"]
            if listed["read"] and listed["read"]["status"] != "pending":
                break
            await trio.sleep(0.05)
    assert listed["id"] == sid and listed["read"]["status"] == "done"
    assert listed["read"]["provider"] == "heuristic"


async def test_the_detector_and_the_store_report_running(start_daemon):
    d = await start_daemon()
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        health = (await client.get("/api/health")).json()
    states = {c["name"]: c["state"] for c in health["components"]}
    assert states["spike"] == "running" and states["store"] == "running"
