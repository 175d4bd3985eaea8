"""Discord's crash window: a delivery interrupted between the call and the commit of its
``sent`` mark is re-sent after a restart, marked as a possible repeat (at-least-once)."""

from __future__ import annotations

import sqlite3
import sys
import types
from pathlib import Path
from typing import Any

import trio

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.config import core_registry, load_settings
from trade_hunter.daemon.host import BUILTINS, PluginHost, Registries
from trade_hunter.plugins import hookimpl
from trade_hunter.plugins.builtin.notifiers.discord_embeds import build_payload
from trade_hunter.plugins.models import Alert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import base_env, run_daemon


class Recorder:
    """Records each alert; ``hang`` makes the call never return (the daemon stops in it)."""

    def __init__(self, hang: bool) -> None:
        self.hang, self.calls = hang, []
        self.called = trio.Event()

    async def notify(self, alert: Alert) -> None:
        self.calls.append(alert)
        self.called.set()
        if self.hang:
            await trio.sleep_forever()


def daemon(home: Path, notifier: Recorder) -> Daemon:
    plugin = types.ModuleType("th_test_recorder")

    @hookimpl
    def th_register_notifiers(registry: Any) -> None:
        registry.add("recorder", lambda ctx: notifier)

    plugin.th_register_notifiers = th_register_notifiers  # type: ignore[attr-defined]
    sys.modules[plugin.__name__] = plugin
    host = PluginHost()
    host.load(third_party=False, builtins=(*BUILTINS, plugin.__name__),
              disabled={"anthropic", "perplexity", "heuristic", "kalshi"})
    registries = Registries(settings=core_registry())
    host.collect(registries)
    return Daemon(load_settings(registries.settings.items.values(), base_env(home)), host,
                  registries)


async def test_an_interrupted_delivery_is_resent_as_a_possible_repeat(tmp_path):
    home = tmp_path / "home"
    first = Recorder(hang=True)
    try:
        async with trio.open_nursery() as nursery:
            d = daemon(home, first)
            stopped = await run_daemon(nursery, d)
            await d.service.call("demo.spike")
            with trio.fail_after(30):
                await first.called.wait()  # the call is under way: the service may have it
            d.request_shutdown("crash window")
            await stopped.wait()
        assert [a.possible_repeat for a in first.calls] == [False]
        conn = sqlite3.connect(home / "trade-hunter.db")
        [(status,)] = conn.execute("SELECT status FROM outbox").fetchall()
        conn.close()
        assert status == "sending"

        again = Recorder(hang=False)
        async with trio.open_nursery() as nursery:
            d = daemon(home, again)
            stopped = await run_daemon(nursery, d)
            with trio.fail_after(30):
                await again.called.wait()
            await d.store.flush()
            rows = await d.store.aquery("SELECT status FROM outbox")
            second = await d.service.call("demo.spike", {"market_id": "OTHER"})
            with trio.fail_after(30):
                while len(again.calls) < 2:
                    await trio.sleep(0.01)
            d.request_shutdown("done")
            await stopped.wait()
        assert rows == [("sent",)]
        resent, fresh = again.calls
        assert resent.signal.id == first.calls[0].signal.id and resent.possible_repeat
        assert fresh.signal.id == second["signals"][0] and not fresh.possible_repeat
        payload = build_payload(resent)["embeds"][0]
        assert payload["title"].startswith("(possible repeat)")
        assert "possible repeat" in payload["footer"]["text"]
        assert "possible repeat" not in build_payload(fresh)["embeds"][0]["title"]
    finally:
        sys.modules.pop("th_test_recorder", None)
