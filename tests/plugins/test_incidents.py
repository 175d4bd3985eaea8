"""Incidents end to end on Trio's virtual clock: a real daemon groups signals on markets of one
Kalshi event into one Discord message (posted after the group wait, edited at most every
repeat interval through ``PATCH …/messages/{id}``), falls back to a new message naming the
incident when an edit fails, sends a pending group once after a restart and still edits
its message after one."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.incidents import group_key
from trade_hunter.plugins.builtin.kalshi.identifiers import event_of as kalshi_event_of
from trade_hunter.plugins.models import MarketEvent, SpikeSignal, VendorAlert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_discord_delivery as delivery
from conftest import make_daemon, run_daemon
from fake_discord import FakeDiscord
from test_discord_delivery import NO_ANALYSTS, until

# The Discord delivery tests' fixtures: the virtual clock and the local fake Discord.
clock, fake = delivery.clock, delivery.fake
EVENT = "KXHIGHNY-25DEC06"
GROUPING = {"ALERT_GROUP_WAIT_SECONDS": "10", "ALERT_REPEAT_SECONDS": "60",
            "ALERT_GROUP_WINDOW_SECONDS": "600", "DISABLED_PLUGINS": NO_ANALYSTS}


def kalshi_spike(market: str) -> list[MarketEvent]:
    t0 = time.time() - 60
    kw: dict[str, Any] = {"platform": "kalshi", "market_id": market, "topic": "general",
                          "title": f"{market} title", "event_kind": "trade",
                          "trade_side": "yes", "source": "test"}
    return [MarketEvent(yes_price=0.40, volume=10.0, timestamp=t0 + i, **kw) for i in range(5)] \
        + [MarketEvent(yes_price=0.50, volume=500.0, timestamp=t0 + 10, **kw)]


async def fire(d: Daemon, market: str) -> None:
    d.ingest(kalshi_spike(market))
    await until(lambda: any(s.market_id == market for s in d.live.signals.values()), 10)


def posts(fake: FakeDiscord) -> list[Any]:
    return [r for r in fake.requests if r.version == "v10"]


def title(message: dict[str, Any]) -> str:
    return message["body"]["embeds"][0]["title"]


def test_group_keys():
    def sig(**kw: Any) -> SpikeSignal:
        event = MarketEvent(platform="kalshi", market_id="X", yes_price=0.5, source="t")
        base: dict[str, Any] = {"market_id": "KXA-25DEC06-B40", "platform": "kalshi",
                                "title": "", "topic": "general", "source": "kalshi",
                                "tier": "watch", "score": 1.0, "rule": "hard",
                                "volume_delta": 1.0, "baseline": 1.0, "volume_multiple": 1.0,
                                "price_move": 0.1, "price_score": 1.0, "direction": "up",
                                "yes_price": 0.5, "event": event}
        return SpikeSignal(**(base | kw))
    def event_of(platform: str, market_id: str) -> str | None:  # as Watchlist.event_of does
        return kalshi_event_of(market_id) if platform == "kalshi" else None

    assert group_key(sig(), event_of) == "KXA-25DEC06"
    assert group_key(sig()) is None                         # no feed says what an event is
    assert group_key(sig(market_id="KXA"), event_of) is None  # a bare ticker has no event
    assert group_key(sig(platform="demo"), event_of) is None
    vendor = VendorAlert(alert_type="whale_trade", metadata={"group": "fed-dec"})
    assert group_key(sig(vendor=vendor, source="polyalerthub")) == "polyalerthub:fed-dec"
    assert group_key(sig(vendor=VendorAlert(alert_type="x"))) is None


async def test_one_message_per_incident_edited_as_it_grows(start_daemon, fake, clock):
    url = fake.add_webhook("general")
    d = await start_daemon(DISCORD_WEBHOOK_URL=url, **GROUPING)
    await fire(d, f"{EVENT}-B40")
    await fire(d, f"{EVENT}-B41")
    await trio.sleep(5)
    assert fake.messages == []  # the group wait: more signals may join
    await until(lambda: len(fake.messages) == 1)
    [message] = fake.messages
    assert title(message) == f"{EVENT}: 2 signals on 2 markets"
    assert "incident #1" in message["body"]["embeds"][0]["footer"]["text"]
    # each market links to its page on the dashboard (the bound address by default)
    base = d.dashboard_url.rstrip("/")
    assert sorted(f["value"].rsplit(" · ", 1)[1]
                  for f in message["body"]["embeds"][0]["fields"]) == [
        f"[market page]({base}/market/{EVENT}-B40)", f"[market page]({base}/market/{EVENT}-B41)"]

    await fire(d, f"{EVENT}-B42")
    await trio.sleep(30)
    assert message.get("edits", 0) == 0  # the repeat interval has not passed
    await until(lambda: message.get("edits", 0) == 1)
    assert title(message) == f"{EVENT}: 3 signals on 3 markets"
    assert len(posts(fake)) == 1  # one message, edited

    await fire(d, "KXHIGHCHI-25DEC06-B30")  # another event: its own message
    await until(lambda: len(fake.messages) == 2)
    assert title(fake.messages[1]) == "KXHIGHCHI-25DEC06: 1 signal on 1 market"

    # The message was deleted in the channel: the edit fails, a new message names it.
    fake.delete_message(message["message"]["id"])
    await fire(d, f"{EVENT}-B43")
    await until(lambda: len(fake.messages) == 2 and
                fake.messages[-1]["body"].get("content", "").startswith("Update of"))
    latest = fake.messages[-1]
    assert latest["body"]["content"] == f"Update of incident #1 ({EVENT})"
    assert title(latest) == f"{EVENT}: 4 signals on 4 markets"

    # Long after the window, the same event opens a new incident.
    await trio.sleep(700)
    await fire(d, f"{EVENT}-B44")
    await until(lambda: any(title(m) == f"{EVENT}: 1 signal on 1 market"
                            for m in fake.messages))
    rows = await d.store.aquery("SELECT id, key, notified FROM incidents ORDER BY id")
    assert [(r[1], r[2]) for r in rows] == [(EVENT, 4), ("KXHIGHCHI-25DEC06", 1), (EVENT, 1)]


async def test_a_pending_group_is_sent_once_after_a_restart(fake, clock, tmp_path, nursery):
    url = fake.add_webhook("general")
    env = {"DISCORD_WEBHOOK_URL": url, **GROUPING}
    first = make_daemon(tmp_path, **env)
    done = await run_daemon(nursery, first)
    await fire(first, f"{EVENT}-B40")
    await fire(first, f"{EVENT}-B41")
    first.request_shutdown("test restart")  # inside the group wait: nothing sent yet
    await done.wait()
    assert fake.messages == []

    second = make_daemon(tmp_path, **env)
    done = await run_daemon(nursery, second)
    await until(lambda: len(fake.messages) == 1)
    assert title(fake.messages[0]) == f"{EVENT}: 2 signals on 2 markets"
    await trio.sleep(120)
    second.request_shutdown("test restart")
    await done.wait()

    third = make_daemon(tmp_path, **env)
    done = await run_daemon(nursery, third)
    await trio.sleep(120)
    assert len(fake.messages) == 1  # an incident already notified is not sent again
    # It grows after the restart: its message id was kept, so the same message is edited.
    await fire(third, f"{EVENT}-B42")
    await until(lambda: fake.messages[0].get("edits", 0) == 1)
    assert title(fake.messages[0]) == f"{EVENT}: 3 signals on 3 markets"
    assert len(fake.messages) == 1
    third.request_shutdown("test finished")
    await done.wait()
