"""The gated profile (the default) inside a real daemon: a quiet volume-only signal is stored
but never queued for notifiers, an escalation reaches them as an update of its alert, and the
new per-market state (flow, escalations, close time) survives a restart."""

from __future__ import annotations

import time

import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.cli import build
from trade_hunter.plugins.builtin.spike_gated import GatedState
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.testing import FakesPlugin, RecordingNotifier, ScriptedFeed

from ..conftest import run_daemon


def trade(ts: float, price: float, size: float, **kw) -> MarketEvent:
    return MarketEvent(platform="t", market_id="GATED-1", title="Gated market", yes_price=price,
                       volume=size, event_kind="trade", trade_side="yes", trade_size=size,
                       source="fakes", timestamp=ts, **kw)


def daemon(home, feed, notifier) -> Daemon:
    raw = {"TRADE_HUNTER_HOME": str(home), "APP_PORT": "0", "ENABLE_SIMULATION": "false",
           "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true",
           "DISABLED_PLUGINS": "heuristic"}  # the default profile: gated
    settings, host, registries = build(raw, [("fakes", FakesPlugin(feed=feed,
                                                                   notifier=notifier))])
    assert settings["SPIKE_PROFILE"] == "gated"
    return Daemon(settings, host, registries)


async def stored_signals(d: Daemon) -> list[dict]:
    with trio.fail_after(15):
        while True:
            state = await d.service.call("signals.list", {"limit": 20})
            if len(state["signals"]) >= 3:
                return state["signals"]
            await trio.sleep(0.05)


async def test_quiet_escalation_and_restart(tmp_path):
    now = time.time() - 120
    warm = [trade(now + i, 0.50, 20, closes_at=now + 86_400) for i in range(10)]
    script = [warm, 0.05,
              trade(now + 20, 0.53, 100),   # ×5 and 3¢: score 5.0, a notable alert
              0.05,
              trade(now + 30, 0.75, 600),   # score ≥ 2 × 5.0 in the cooldown: escalation
              0.05,
              trade(now + 40, 0.75, 2000)]  # volume without a move: quiet watch
    notifier = RecordingNotifier()
    d = daemon(tmp_path, ScriptedFeed(script), notifier)
    async with trio.open_nursery() as nursery:
        done = await run_daemon(nursery, d)
        with trio.fail_after(15):
            alerts = await notifier.wait_for(2, kind="detector")
        signals = await stored_signals(d)
        await trio.sleep(0.3)  # nothing else arrives: the quiet one was never queued
        assert [a.signal.escalation for a in notifier.alerts] == [0, 1]
        first, update = (a.signal for a in alerts)
        assert update.escalates == first.created_at
        assert round(update.move_since_signal, 6) == 0.25
        spike = {h["name"]: h for h in d.health.as_list()}["spike"]
        assert spike["state"] == "running" and spike["detail"].startswith("gated: ")
        assert "warm-up 10 points; band 0.1–0.9; close guard 900 s" in spike["detail"]
        assert spike["info"]["thresholds"]["SPIKE_PROFILE"] == "gated"
        quiet = [s for s in signals if s.get("notify") is False]
        assert len(quiet) == 1 and quiet[0]["tier"] == "watch"
        assert quiet[0]["direction"] == "flat"
        d.request_shutdown("restart")
        await done.wait()

    again = daemon(tmp_path, ScriptedFeed([]), RecordingNotifier())
    async with trio.open_nursery() as nursery:
        done = await run_daemon(nursery, again)
        assert again.pipeline is not None
        state = again.pipeline.states["GATED-1"]
        assert isinstance(state, GatedState)
        assert state.escalations == 1 and state.closes_at == now + 86_400
        assert len(state.flow) == 13 * 4 and state.quiet_at == now + 40
        again.request_shutdown("done")
        await done.wait()
