"""A busy hour end to end, on real time kept short: one daemon gets a scripted hour of trades
(quiet markets and spikes on markets of a few events); a user silences a topic and snoozes a
market through the HTTP API; the local fake Discord sees one message per incident, edited as
it grows, instead of one per signal; a local apprise JSON webhook receives the same alerts;
the daemon is restarted while an incident update is pending and nothing is lost or sent
twice; ``th-ctl digest --now`` (the real console script on the control socket) sends the
digest to both."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.plugins.models import MarketEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_discord_delivery as delivery
from conftest import make_daemon, run_daemon
from test_apprise import FakeWebhook
from test_discord_delivery import NO_ANALYSTS, until

fake = delivery.fake  # the local fake Discord (a real HTTP server in the test's nursery)
TH_CTL = str(Path(sys.executable).with_name("th-ctl"))
NY, BTC = "KXHIGHNY-26DEC06", "KXBTCD-26DEC06"
SNOOZED, PLAIN = "KXSNZ-26DEC06-A", "UX-PLAIN"


def trade(market: str, ts: float, price: float, size: float, topic: str,
          platform: str = "kalshi") -> MarketEvent:
    return MarketEvent(platform=platform, market_id=market, title=f"{market} title",
                       topic=topic, event_kind="trade", yes_price=price, volume=size,
                       trade_size=size, trade_side="yes", timestamp=ts, source="busy")


def quiet_hour(now: float) -> list[MarketEvent]:
    """Twelve markets trading steadily through the last hour (480 trades): no spike."""
    return sorted((trade(f"KXBUSY-26DEC06-M{m:02d}", now - 3600 + 90 * i + m, 0.30 + m / 100,
                         5 + (i * 7 + m) % 11, "general")
                   for m in range(12) for i in range(40)), key=lambda e: e.timestamp)


def spike(market: str, topic: str, platform: str = "kalshi") -> list[MarketEvent]:
    """Five ordinary trades, then 500 contracts ten cents higher: one signal."""
    t0 = time.time() - 60
    return [trade(market, t0 + i, 0.40, 10, topic, platform) for i in range(5)] + \
        [trade(market, t0 + 10, 0.50, 500, topic, platform)]


async def signals(d: Daemon, n: int) -> None:
    """Wait until ``n`` signals are stored (committed)."""
    async def count() -> int:
        await d.store.flush()
        return int((await d.store.aquery("SELECT COUNT(*) FROM signals"))[0][0])
    with trio.fail_after(30):
        while await count() < n:
            await trio.sleep(0.05)


def titles(fake: Any) -> list[str]:
    return [m["body"]["embeds"][0]["title"] for m in fake.messages]


async def test_a_busy_hour(fake, tmp_path, nursery):
    hook = FakeWebhook()
    home = tmp_path / "home"
    env = {"DISCORD_WEBHOOK_URL": fake.add_webhook("alerts"), "APPRISE_URLS": hook.url("all"),
           "APPRISE_ANALYST_FOLLOWUP": "false", "DISCORD_ANALYST_FOLLOWUP": "false",
           "DISABLED_PLUGINS": NO_ANALYSTS, "ALERT_GROUP_WAIT_SECONDS": "1",
           "ALERT_REPEAT_SECONDS": "5", "ALERT_GROUP_WINDOW_SECONDS": "600",
           "DIGEST_AT": "", "CONTROL_TRANSPORT": "unix"}
    try:
        first = make_daemon(home, **env)
        stopped = await run_daemon(nursery, first)
        first.ingest(quiet_hour(time.time()))

        # The user mutes crypto for the night and one noisy market for two hours.
        async with httpx.AsyncClient(base_url=first.dashboard_url.rstrip("/")) as web:
            r = await web.post("/api/silences", json={"matchers": "topic=crypto",
                                                      "duration": "8h", "comment": "night"})
            assert r.status_code == 200, r.text
            r = await web.post("/api/snoozes", json={"target": SNOOZED, "duration": "2h"})
            assert r.status_code == 200, r.text

        # The busy part: two markets of one event (one batch: both join before the group
        # wait ends), a crypto event, the snoozed market, an ungrouped market.
        first.ingest(spike(f"{NY}-B40", "macro") + spike(f"{NY}-B41", "macro"))
        first.ingest(spike(f"{BTC}-T100", "crypto") + spike(f"{BTC}-T101", "crypto"))
        first.ingest(spike(SNOOZED, "macro"))
        first.ingest(spike(PLAIN, "sports", platform="test"))
        await signals(first, 6)
        await until(lambda: len(fake.messages) == 2, 60)
        assert sorted(titles(fake)) == [f"{NY}: 2 signals on 2 markets", f"{PLAIN} title"]

        # The incident grows; the daemon stops within the repeat interval (its update not
        # due yet; apprise may still be sending), and restarts on the same home.
        first.ingest(spike(f"{NY}-B42", "macro"))
        await signals(first, 7)
        first.request_shutdown("busy-hour restart")
        await stopped.wait()
        second = make_daemon(home, **env)
        stopped = await run_daemon(nursery, second)
        ny = next(m for m in fake.messages if m["body"]["embeds"][0]["title"].startswith(NY))
        await until(lambda: ny.get("edits", 0) == 1, 60)  # sent once, after the restart
        assert ny["body"]["embeds"][0]["title"] == f"{NY}: 3 signals on 3 markets"
        await until(lambda: len(hook.messages("all")) == 3, 60)
        assert sorted(m["title"] for m in hook.messages("all")) == sorted(
            [f"{NY}: 2 signals on 2 markets", f"high conviction flow: {PLAIN} title",
             f"{NY}: 3 signals on 3 markets (update 1)"])

        second.ingest(spike(f"{NY}-B43", "macro"))  # grows again: the same message
        await until(lambda: ny.get("edits", 0) == 2, 60)
        assert ny["body"]["embeds"][0]["title"] == f"{NY}: 4 signals on 4 markets"
        await until(lambda: len(hook.messages("all")) == 4, 60)

        # The digest, now, through the real th-ctl on the control socket.
        done = await trio.run_process(
            [TH_CTL, "digest", "--now", "--json"], capture_stdout=True, capture_stderr=True,
            env={**os.environ, "TRADE_HUNTER_HOME": str(home)})
        answer = json.loads(done.stdout)
        assert sorted((r["notifier"], r["ok"]) for r in answer["results"]) == [
            ("apprise", True), ("discord", True)]
        assert "8 signals today" in answer["body"]
        assert "Muted: 2 alerts by 2 silences" in answer["body"]
        await until(lambda: len(hook.messages("all")) == 5, 30)

        # One Discord message per incident and per lone signal, plus the digest; the same
        # alerts (each incident update a message of its own) on the apprise channel.
        assert sorted(titles(fake)) == sorted([f"{NY}: 4 signals on 4 markets",
                                               f"{PLAIN} title", answer["title"]])
        assert len([r for r in fake.requests if r.version == "v10"]) == 3  # posts, no repeats
        assert sorted(m["title"] for m in hook.messages("all")) == sorted([
            f"{NY}: 2 signals on 2 markets", f"high conviction flow: {PLAIN} title",
            f"{NY}: 3 signals on 3 markets (update 1)",
            f"{NY}: 4 signals on 4 markets (update 2)", answer["title"]])
        # The muted ones reached no channel as alerts (the digest still lists every signal).
        alerts = json.dumps([m["body"] for m in fake.messages if m["body"]["embeds"][0][
            "title"] != answer["title"]]) + json.dumps(
            [m for m in hook.messages("all") if m["title"] != answer["title"]])
        assert BTC not in alerts and SNOOZED not in alerts

        # Nothing lost: every signal stored, every alert row delivered or muted.
        assert second.store.query("SELECT COUNT(*) FROM signals")[0][0] == 8
        statuses = dict(second.store.query("SELECT status, COUNT(*) FROM outbox GROUP BY 1"))
        assert set(statuses) == {"sent", "muted"} and statuses["muted"] == 4
        assert len(second.live.signals) == 8  # the dashboard's window came back too
        second.request_shutdown("test finished")
        await stopped.wait()
    finally:
        hook.server.shutdown()
