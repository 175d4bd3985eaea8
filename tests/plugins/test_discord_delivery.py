"""Discord delivery end to end: a real daemon (pipeline, store, outbox) posting to the local
fake Discord. Every mode and route, follow-ups, bursts under rate limits, dead and slow
webhooks, and a restart with pending deliveries.

Time: Trio's MockClock with a 20 ms autojump threshold. It jumps over idle waits (backoff,
retry_after, rate-limit windows) like ``autojump_clock``, but not over the few milliseconds
the store's writer thread takes (with a zero threshold every thread hop would look idle and
the virtual clock would race ahead of the work).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trade_hunter.daemon.app import Daemon
from trade_hunter.plugins.models import Alert, AnalystRead, MarketEvent, SpikeSignal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import make_daemon, run_daemon
from fake_discord import FakeDiscord

NO_ANALYSTS = "anthropic,perplexity,heuristic"  # follow-ups here come from the test


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.02)


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeDiscord:
    server = FakeDiscord()
    await nursery.start(server.serve)
    return server


async def until(check: Callable[[], bool], timeout: float = 120.0) -> None:
    with trio.fail_after(timeout):
        while not check():
            await trio.sleep(0.5)


def spike_events(market: str, topic: str) -> list[MarketEvent]:
    """Five ordinary trades, then a big one with a price jump: exactly one signal."""
    t0 = time.time() - 60
    kw: dict[str, Any] = {"platform": "test", "market_id": market, "topic": topic,
                          "title": f"Will {market} happen?", "event_kind": "trade",
                          "trade_side": "yes", "source": "test"}
    events = [MarketEvent(yes_price=0.40, volume=10.0, timestamp=t0 + i, **kw)
              for i in range(5)]
    events.append(MarketEvent(yes_price=0.50, volume=500.0, timestamp=t0 + 10, **kw))
    return events


async def fire(d: Daemon, market: str, topic: str = "crypto") -> SpikeSignal:
    d.ingest(spike_events(market, topic))
    await until(lambda: any(s.market_id == market for s in d.live.signals.values()), 10)
    return next(s for s in d.live.signals.values() if s.market_id == market)


def follow_up(d: Daemon, signal: SpikeSignal, label: str, confidence: str) -> None:
    """What the analyst service does with a read: outbox rows in the read's batch, wake."""
    read = AnalystRead(signal_id=signal.id or 0, noise_or_signal=label, confidence=confidence,
                       direction="up", rationale=f"{label} with {confidence} confidence",
                       provider="scripted", created_at=time.time())
    for write in d.outbox.rows_for(Alert(kind="analyst", signal=signal, read=read)):
        d.store.submit(write)
    d.outbox.wake()


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return [m["body"]["embeds"][0]["title"] for m in messages]


async def outbox_rows(d: Daemon) -> list[tuple[Any, ...]]:
    await d.store.flush()
    return await d.store.aquery("SELECT notifier, kind, signal_id, status, attempts FROM outbox"
                                " ORDER BY id")


# --------------------------------------------------------------------------- modes, routes
async def test_mode_all_sends_the_alert_then_the_follow_up_on_the_topic_route(
        start_daemon, fake, clock):
    default, crypto = fake.add_webhook("general"), fake.add_webhook("crypto-desk")
    d = await start_daemon(DISCORD_WEBHOOK_URL=default, DISCORD_WEBHOOK_ROUTES=f"crypto={crypto}",
                           DISABLED_PLUGINS=NO_ANALYSTS)
    btc = await fire(d, "BTC-1", "crypto")
    await fire(d, "FED-1", "macro")
    await until(lambda: len(fake.messages) == 2)
    assert titles(fake.delivered("crypto-desk")) == ["Will BTC-1 happen?"]
    assert titles(fake.delivered("general")) == ["Will FED-1 happen?"]
    follow_up(d, btc, "signal", "high")
    await until(lambda: len(fake.messages) == 3)
    assert titles(fake.delivered("crypto-desk"))[1] == \
        "Analyst read: signal · Will BTC-1 happen?"
    assert all(m["body"]["allowed_mentions"] == {"parse": []} for m in fake.messages)
    assert [r[3] for r in await outbox_rows(d)] == ["sent"] * 3
    health = d.health.get("discord").as_dict()
    assert health["state"] == "running" and health["counters"]["sent"] == 3
    assert health["info"]["pending"] == 0


async def test_detector_only_never_sends_follow_ups(start_daemon, fake, clock):
    d = await start_daemon(DISCORD_WEBHOOK_URL=fake.add_webhook("general"),
                           DISCORD_ALERT_MODE="detector-only", DISABLED_PLUGINS=NO_ANALYSTS)
    sig = await fire(d, "BTC-2")
    await until(lambda: len(fake.messages) == 1)
    follow_up(d, sig, "signal", "high")
    await trio.sleep(5)
    assert len(fake.messages) == 1
    assert [r[1] for r in await outbox_rows(d)] == ["detector"]  # no row for the follow-up


async def test_analyst_signals_only_sends_confident_signal_reads_alone(start_daemon, fake,
                                                                       clock):
    d = await start_daemon(DISCORD_WEBHOOK_URL=fake.add_webhook("general"),
                           DISCORD_ALERT_MODE="analyst-signals-only",
                           DISCORD_ANALYST_MIN_CONFIDENCE="medium",
                           DISABLED_PLUGINS=NO_ANALYSTS)
    noisy, weak, strong = [await fire(d, m) for m in ("N-1", "W-1", "S-1")]
    follow_up(d, noisy, "noise", "high")
    follow_up(d, weak, "signal", "low")
    follow_up(d, strong, "signal", "medium")
    await until(lambda: len(fake.messages) == 1)
    await trio.sleep(5)
    assert titles(fake.messages) == ["Analyst read: signal · Will S-1 happen?"]
    assert [(r[1], r[2]) for r in await outbox_rows(d)] == [("analyst", strong.id)]


async def test_a_topic_without_a_route_or_default_is_not_sent(start_daemon, fake, clock):
    d = await start_daemon(DISCORD_WEBHOOK_ROUTES=f"sports={fake.add_webhook('sports')}",
                           DISABLED_PLUGINS=NO_ANALYSTS)
    await fire(d, "FED-2", "macro")
    await fire(d, "NBA-1", "sports")
    await until(lambda: len(fake.messages) == 1)
    await trio.sleep(3)
    assert titles(fake.messages) == ["Will NBA-1 happen?"]


# --------------------------------------------------------------------------- reliability
async def test_a_burst_is_delivered_once_each_in_order_through_errors_and_429s(
        start_daemon, fake, clock):
    url = fake.add_webhook("general")
    d = await start_daemon(DISCORD_WEBHOOK_URL=url, DISABLED_PLUGINS=NO_ANALYSTS)
    fake.fail(url, "502", ("429", 3.0), "500")
    markets = [f"BURST-{i:02d}" for i in range(12)]
    for market in markets:
        await fire(d, market)
    await until(lambda: len(fake.messages) == 12)
    await trio.sleep(5)  # nothing more arrives: no duplicates
    assert titles(fake.messages) == [f"Will {m} happen?" for m in markets]
    statuses = [r.status for r in fake.requests]
    assert statuses.count(429) == 1 and statuses.count(200) == 12  # only the scripted 429
    rows = await outbox_rows(d)
    assert [r[3] for r in rows] == ["sent"] * 12
    counters = d.health.get("discord").counters
    assert counters == {"sent": 12, "retries": 2, "rate_limited": 1}


async def test_a_dead_webhook_is_reported_and_other_routes_keep_flowing(start_daemon, fake,
                                                                         clock):
    default, crypto = fake.add_webhook("general"), fake.add_webhook("crypto-desk")
    fake.fail(crypto, "404")
    d = await start_daemon(DISCORD_WEBHOOK_URL=default, DISCORD_WEBHOOK_ROUTES=f"crypto={crypto}",
                           DISABLED_PLUGINS=NO_ANALYSTS)
    await fire(d, "BTC-3", "crypto")
    await fire(d, "BTC-4", "crypto")
    await fire(d, "FED-3", "macro")
    await until(lambda: len(fake.messages) == 1)
    await until(lambda: d.health.get("discord").counters.get("dropped") == 2)
    assert titles(fake.messages) == ["Will FED-3 happen?"]
    assert len([r for r in fake.requests if r.webhook_id in crypto]) == 1  # not retried
    health = d.health.get("discord").as_dict()
    assert health["state"] == "degraded" and "crypto" in health["detail"]
    assert "404 10015 Unknown Webhook" in health["info"]["webhooks"]["crypto"]
    assert sorted(r[3] for r in await outbox_rows(d)) == ["dead", "dead", "sent"]


async def test_a_slow_webhook_holds_up_neither_detection_nor_other_routes(
        start_daemon, fake, clock):
    default, crypto = fake.add_webhook("general"), fake.add_webhook("crypto-desk")
    fake.fail(crypto, ("slow", 1000.0), ("slow", 1000.0))
    d = await start_daemon(DISCORD_WEBHOOK_URL=default, DISCORD_WEBHOOK_ROUTES=f"crypto={crypto}",
                           DISABLED_PLUGINS=NO_ANALYSTS)
    await fire(d, "BTC-5", "crypto")
    await trio.sleep(1)  # its delivery is now hanging on the crypto webhook
    began = trio.current_time()
    for i in range(5):  # detection goes on while Discord hangs
        await fire(d, f"FED-{10 + i}", "macro")
    assert trio.current_time() - began < 10  # not behind the 15 s Discord timeouts
    await until(lambda: len(fake.delivered("general")) == 5, 30)
    assert not fake.delivered("crypto-desk")
    await until(lambda: len(fake.delivered("crypto-desk")) == 1)  # after the timeouts
    assert d.health.get("discord").counters["retries"] == 2


async def test_pending_deliveries_survive_a_restart_and_are_sent_exactly_once(
        fake, clock, tmp_path, nursery):
    url = fake.add_webhook("general")
    env = {"DISCORD_WEBHOOK_URL": url, "DISABLED_PLUGINS": NO_ANALYSTS}

    async def stop(d: Daemon, done: trio.Event) -> None:
        d.request_shutdown("test restart")
        await done.wait()

    fake.fail(url, *["502"] * 1000)  # Discord is down
    first = make_daemon(tmp_path, **env)
    done = await run_daemon(nursery, first)
    await fire(first, "R-1")
    await fire(first, "R-2")
    await until(lambda: first.health.get("discord").counters.get("retries", 0) >= 2)
    await stop(first, done)
    assert not fake.messages

    fake.hooks[FakeDiscord._id(url)].script.clear()  # Discord is back
    second = make_daemon(tmp_path, **env)
    done = await run_daemon(nursery, second)
    await until(lambda: len(fake.messages) == 2)
    await trio.sleep(5)
    assert titles(fake.messages) == ["Will R-1 happen?", "Will R-2 happen?"]
    rows = await outbox_rows(second)
    assert [r[3] for r in rows] == ["sent", "sent"]
    assert rows[0][4] >= 3  # two failures before the restart, then delivered
    await stop(second, done)

    third = make_daemon(tmp_path, **env)
    done = await run_daemon(nursery, third)
    await trio.sleep(10)
    assert len(fake.messages) == 2  # nothing delivered is sent again
    await stop(third, done)


async def test_the_analysts_own_read_arrives_as_the_follow_up(start_daemon, fake, clock):
    """No test hand-off here: the built-in local analyst reads the signal, the analyst queue
    commits the read with its outbox row, and Discord gets it after the alert."""
    d = await start_daemon(DISCORD_WEBHOOK_URL=fake.add_webhook("general"),
                           DISABLED_PLUGINS="anthropic,perplexity")
    sig = await fire(d, "BTC-9")
    await until(lambda: len(fake.messages) == 2)
    alert, follow = titles(fake.messages)
    assert alert == "Will BTC-9 happen?"
    read = d.live.reads[sig.id]
    assert follow == f"Analyst read: {read.noise_or_signal} · Will BTC-9 happen?"
    fields = {f["name"]: f["value"] for f in fake.messages[1]["body"]["embeds"][0]["fields"]}
    assert (fields["Label"], fields["Confidence"]) == (read.noise_or_signal, read.confidence)
    assert [(r[1], r[3]) for r in await outbox_rows(d)] == [("detector", "sent"),
                                                            ("analyst", "sent")]
