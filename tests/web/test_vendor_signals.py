"""Vendor alerts are first-class: a relayed alert becomes a stored vendor signal beside our
detector's (source, alert type, trader, metadata, title, price), shown on the dashboard with
its source, sent to the notifier (the local fake Discord) and read by the analyst; events
that are not alerts make none."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import trio

from trade_hunter.daemon.live_view import Live
from trade_hunter.daemon.vendor import vendor_signal
from trade_hunter.plugins.builtin.relays import ingest, polyalerthub
from trade_hunter.plugins.models import SpikeSignal, from_json, to_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
from fake_discord import FakeDiscord

FIXTURES = Path(__file__).parent / "fixtures" / "polyalerthub"
KINDS = ("price_alert", "whale_trade", "trader_position", "market_event")


def fixture(kind: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{kind}.json").read_text())


def test_each_alert_kind_makes_a_vendor_signal():
    for kind in KINDS:
        [event] = polyalerthub.parse(fixture(kind), {})
        signal = vendor_signal(event)
        assert signal is not None and signal.vendor is not None, kind
        assert (signal.source, signal.rule, signal.detector) == ("polyalerthub", "vendor",
                                                                 "vendor")
        assert signal.vendor.alert_type == kind
        assert (signal.market_id, signal.title) == (event.market_id, event.title)
        assert signal.yes_price == event.yes_price and signal.created_at == event.timestamp
    [whale] = polyalerthub.parse(fixture("whale_trade"), {})
    signal = vendor_signal(whale)
    assert signal.vendor.trader == "0x7c3a91d2e4b5f60718293a4b5c6d7e8f90a1b2c3"
    assert signal.vendor.metadata["details"]["usd_value"] == 48000
    assert signal.vendor.metadata["trade_side"] == "buy"
    assert signal.volume_delta == 48000.0
    stored = from_json(to_json(signal), SpikeSignal)
    assert stored.vendor == signal.vendor  # the stored JSON reads back (dashboard restore)


def test_a_plain_alert_without_type_is_one_and_events_are_not():
    [alert] = polyalerthub.parse({"platform": "p", "market_id": "m", "title": "t"}, {})
    assert vendor_signal(alert).vendor.alert_type == "alert"
    [quote] = polyalerthub.parse({"platform": "p", "market_id": "m", "title": "t",
                                  "event_kind": "quote", "yes_price": 0.5}, {})
    assert vendor_signal(quote) is None  # a price tick, not an alert
    [ours] = ingest.parse({"source": "s", "platform": "p", "market_id": "m", "title": "t",
                           "yes_price": 0.5, "volume": 1}, {})
    assert vendor_signal(ours) is None


async def until(check: Any, timeout: float = 15.0) -> None:
    with trio.fail_after(timeout):
        while not await check():
            await trio.sleep(0.05)


async def test_relayed_alerts_are_stored_shown_notified_and_read(start_daemon, nursery):
    fake = FakeDiscord()
    await nursery.start(fake.serve)
    d = await start_daemon(DISCORD_WEBHOOK_URL=fake.add_webhook("general"),
                           DISABLED_PLUGINS="kalshi,anthropic,perplexity")  # heuristic reads
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        answer = await client.post("/api/alerts/polyalerthub",
                                   json=[fixture(k) for k in KINDS])
        assert answer.json() == {"accepted": 4, "duplicates": 0}

        async def all_delivered() -> bool:  # ours too: the whale trade may fire our detector
            await d.store.flush()
            count = await d.store.aquery("SELECT COUNT(*) FROM signals")
            return count[0][0] >= 4 and len(fake.messages) >= count[0][0]

        await until(all_delivered)
        await d.store.flush()
        state = (await client.get("/api/state")).json()
    everything = await d.store.aquery("SELECT id, rule, tier, payload FROM signals"
                                      " ORDER BY id")
    rows = [r for r in everything if r[1] == "vendor"]
    assert [r[2] for r in rows] == ["watch"] * 4
    signals = [from_json(r[3], SpikeSignal) for r in rows]
    assert {s.source for s in signals} == {"polyalerthub"}
    ours = [from_json(r[3], SpikeSignal) for r in everything if r[1] != "vendor"]
    assert all(s.vendor is None and s.detector != "vendor" for s in ours)  # beside ours
    assert [s.vendor.alert_type for s in signals] == list(KINDS)
    assert signals[2].vendor.trader == "TheWhaleOfThames" and signals[2].yes_price == 0.42
    assert signals[3].yes_price is None and signals[3].title == "Fed cuts 25 bps in December?"
    cards = [s for s in state["signals"] if s.get("vendor")]
    assert len(cards) == 4 and "polyalerthub" in state["filters"]["sources"]
    assert {c["vendor"]["alert_type"] for c in cards} == set(KINDS)
    embeds = [m["body"]["embeds"][0] for m in fake.messages]
    vendor_fields = [f["value"] for e in embeds for f in e["fields"]
                     if f["name"] == "Vendor alert"]
    assert "polyalerthub · whale_trade · by 0x7c3a91d2e4b5f60718293a4b5c6d7e8f90a1b2c3" \
        in vendor_fields and len(vendor_fields) == 4
    assert "Alert relayed from polyalerthub (whale_trade), not our detector's." in {
        e["description"] for e in embeds}

    async def all_read() -> bool:
        await d.store.flush()
        reads = await d.store.aquery("SELECT COUNT(*) FROM analyst_reads")
        return reads[0][0] >= len(everything)

    await until(all_read)
    restored = Live()  # what the dashboard shows after a restart
    await trio.to_thread.run_sync(restored.restore, d.store)
    assert [s.vendor.alert_type for s in restored.signals.values() if s.vendor] == list(KINDS)
    ids = {r[0] for r in rows}
    read_ids = {r[0] for r in await d.store.aquery("SELECT signal_id FROM analyst_reads")}
    assert ids <= read_ids
