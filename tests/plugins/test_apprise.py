"""The apprise notifier through the real outbox and the real apprise library, delivering to
a local JSON webhook (apprise's ``json://`` service posts ``{"title", "message", "type", …}``):
routes, retries after a refusal, a restart with pending rows, notify-test, bad URLs."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from trade_hunter.plugins.errors import ConfigError, RpcError
from trade_hunter.plugins.models import MarketEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import make_daemon, run_daemon


class FakeWebhook:
    """A JSON webhook on 127.0.0.1:0: records every POST by path, answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fake.status == 200:
                    fake.received.append((self.path, json.loads(body)))
                self.send_response(fake.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def messages(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.received if p == f"/{path}"]


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    fake = FakeWebhook()
    yield fake
    fake.server.shutdown()


def spike(market: str, topic: str = "general") -> list[MarketEvent]:
    t0 = time.time() - 60
    kw: dict[str, Any] = {"platform": "test", "market_id": market, "title": f"{market} title",
                          "event_kind": "trade", "trade_side": "yes", "source": "test",
                          "topic": topic}
    return [MarketEvent(yes_price=0.40, volume=10.0, timestamp=t0 + i, **kw) for i in range(5)] \
        + [MarketEvent(yes_price=0.50, volume=500.0, timestamp=t0 + 10, **kw)]


async def until(check: Any, timeout: float = 30.0) -> None:
    with trio.fail_after(timeout):
        while not check():
            await trio.sleep(0.05)


def env(hook: FakeWebhook, **more: str) -> dict[str, str]:
    return {"APPRISE_URLS": hook.url("all"), "APPRISE_ANALYST_FOLLOWUP": "false",
            "DISABLED_PLUGINS": "kalshi,anthropic,perplexity,heuristic", **more}


async def test_alerts_reach_the_json_webhook_with_topic_routes(hook, start_daemon):
    d = await start_daemon(**env(hook, APPRISE_ROUTES=f"crypto={hook.url('crypto')}"))
    d.ingest(spike("KXA-1"))
    d.ingest(spike("KXBTC-1", topic="crypto"))
    await until(lambda: hook.messages("all") and hook.messages("crypto"))
    [general], [crypto] = hook.messages("all"), hook.messages("crypto")
    assert "KXA-1 title" in general["title"] and "Market: KXA-1" in general["message"]
    assert "KXBTC-1" in crypto["message"] and "informational only" in crypto["message"]
    assert f"Market page: {d.dashboard_url.rstrip('/')}/market/KXA-1" in general["message"]
    health = d.health.get("apprise").as_dict()
    assert health["info"]["routes"] == [
        {"route": "default", "services": [f"json://127.0.0.1:{hook.port}/all"]},
        {"route": "crypto", "services": [f"json://127.0.0.1:{hook.port}/crypto"]}]

    answer = await d.service.call("notify.test", {"notifier": "apprise"})
    assert answer["results"] == [{"notifier": "apprise", "ok": True, "answer": "delivered",
                                  "seconds": answer["results"][0]["seconds"]}]
    assert hook.messages("all")[-1]["title"].startswith("[TEST] ")
    with pytest.raises(RpcError):
        await d.service.call("notify.test", {"notifier": "nope"})


async def test_a_refused_row_survives_a_restart_and_is_sent_once(hook, tmp_path):
    hook.status = 500
    home = tmp_path / "home"
    async with trio.open_nursery() as nursery:
        d = make_daemon(home, **env(hook))
        stopped = await run_daemon(nursery, d)
        d.ingest(spike("KXR-1"))
        await until(lambda: d.store.query(
            "SELECT attempts FROM outbox WHERE attempts > 0 AND status='pending'"))
        answer = await d.service.call("notify.test", {})
        assert answer["results"][0]["ok"] is False
        assert "not accepted by json://127.0.0.1" in answer["results"][0]["answer"]
        d.request_shutdown("test restart")
        await stopped.wait()

        hook.status = 200
        d2 = make_daemon(home, **env(hook))
        stopped = await run_daemon(nursery, d2)
        await until(lambda: d2.store.query("SELECT 1 FROM outbox WHERE status='sent'"))
        await trio.sleep(0.3)  # a second send would land within this
        [message] = hook.messages("all")
        assert message["title"].endswith("KXR-1 title")
        d2.request_shutdown("test finished")
        await stopped.wait()


async def test_bad_urls_stop_start_up_naming_the_variable(tmp_path):
    d = make_daemon(tmp_path / "home", APPRISE_URLS="json://ok.test/x, nosuch://secret-token/y")
    with pytest.raises(ConfigError) as err:
        await d.run()
    assert "APPRISE_URLS" in str(err.value) and "nosuch://…" in str(err.value)
    assert "secret-token" not in str(err.value)


async def test_an_incident_arrives_as_one_message_listing_its_markets(hook, start_daemon):
    # The Kalshi plugin stays loaded (its feed is off): it says what a market's event is.
    d = await start_daemon(**env(hook, ALERT_GROUP_WAIT_SECONDS="1",
                                 DISABLED_PLUGINS="anthropic,perplexity,heuristic",
                                 DASHBOARD_PUBLIC_URL="https://hunter.example.com/th/"))
    # One hand-off: both signals come out of one pipeline batch, before the group wait ends.
    d.ingest([msgspec.structs.replace(e, platform="kalshi")
              for market in ("KXHIGHNY-25DEC06-B40", "KXHIGHNY-25DEC06-B41")
              for e in spike(market)])
    await until(lambda: hook.messages("all"))
    [message] = hook.messages("all")
    assert message["title"] == "KXHIGHNY-25DEC06: 2 signals on 2 markets"
    assert "KXHIGHNY-25DEC06-B40" in message["message"]
    assert "KXHIGHNY-25DEC06-B41" in message["message"]
    # the configured public address, not the bound one
    assert " · https://hunter.example.com/th/market/KXHIGHNY-25DEC06-B40\n" in message["message"]
