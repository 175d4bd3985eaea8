"""The fakes shipped for plugin authors work through the real daemon."""

from __future__ import annotations

import time

import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.cli import build
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.testing import FakesPlugin, RecordingNotifier, ScriptedFeed


def trade(ts: float, price: float, size: float) -> MarketEvent:
    return MarketEvent(platform="t", market_id="FAKE-1", title="Fake market", yes_price=price,
                       volume=size, event_kind="trade", trade_side="yes", source="fakes",
                       timestamp=ts)


async def test_scripted_feed_spike_reaches_the_recording_notifier(tmp_path):
    now = time.time()
    quiet = [trade(now - 30 + i, 0.40, 10) for i in range(10)]
    notifier = RecordingNotifier(fail_first=1, retry_after=0.05)
    feed = ScriptedFeed([quiet, 0.05, trade(now, 0.48, 700)])
    raw = {"TRADE_HUNTER_HOME": str(tmp_path), "APP_PORT": "0", "ENABLE_SIMULATION": "false",
           "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true",
           "DISABLED_PLUGINS": "heuristic"}
    settings, host, registries = build(raw, [("fakes", FakesPlugin(feed=feed,
                                                                   notifier=notifier))])
    assert {p["name"]: p["status"] for p in host.report()}["fakes"] == "loaded"
    d = Daemon(settings, host, registries)
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        with trio.fail_after(15):
            [alert] = await notifier.wait_for(1, kind="detector")
        assert alert.signal.market_id == "FAKE-1" and alert.signal.rule == "hard"
        assert notifier.calls == 2  # one scripted failure, then delivered through the outbox
        assert feed.sent == 11
        d.request_shutdown("done")


async def test_no_alert_is_delivered_twice_under_a_burst(tmp_path):
    """Many signals in quick succession: each detector alert reaches the notifier once
    (a delivery pass can read a row as pending while its 'sent' mark is committing)."""
    notifier = RecordingNotifier()
    raw = {"TRADE_HUNTER_HOME": str(tmp_path), "APP_PORT": "0", "ENABLE_SIMULATION": "false",
           "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true"}
    settings, host, registries = build(raw, [("fakes", FakesPlugin(notifier=notifier))])
    d = Daemon(settings, host, registries)
    async with trio.open_nursery() as nursery:
        await nursery.start(d.run)
        ids = []
        for _ in range(40):
            ids += (await d.service.call("demo.spike"))["signals"]
            await trio.sleep(0.002)
        with trio.fail_after(20):
            alerts = await notifier.wait_for(len(ids), kind="detector")
            await notifier.wait_for(len(ids), kind="analyst")  # the heuristic's follow-ups
        await trio.sleep(0.3)
        sent = [a.signal.id for a in notifier.alerts if a.kind == "detector"]
        assert sorted(sent) == sorted(ids) and len(alerts) == len(ids)
        d.request_shutdown("done")
