"""The HTTP API through quart-trio's test client, on a real daemon."""

from __future__ import annotations

import time

import msgspec
import pytest

from trade_hunter.daemon import protocol
from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.web import schemas
from trade_hunter.web.api import quart_path
from trade_hunter.web.app import create_app
from trade_hunter.web.state import state_payload

from ..conftest import make_daemon
from .conftest import spike_events, wait_signals

JSON = {"Content-Type": "application/json"}


async def test_state_has_every_panel_and_matches_its_schema(web):
    d, client = await web()
    d.ingest(spike_events("M-BTC", topic="crypto"))
    await wait_signals(d, 1)
    response = await client.get("/api/state")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    state = await response.get_json()
    assert {"mode", "status", "signals", "tuning", "flow", "tape", "tickers", "feeds",
            "counters"} <= set(state)
    msgspec.convert(state, schemas.StateResult)  # the documented schema is the real one
    [card] = state["signals"]
    assert card["market_id"] == "M-BTC" and card["topic"] == "crypto"
    assert "event" not in card
    assert card["read"] is None or card["read"]["signal_id"] == card["id"]  # inline read
    assert [f["market_id"] for f in state["flow"]] == ["M-BTC"] * 6
    assert state["flow"][0]["k"] == "T" and state["flow"][0]["size"] is None
    assert state["tape"][0]["market_id"] == "M-BTC"
    assert state["sparks"]["M-BTC"] == [0.4] * 5 + [0.5]
    assert state["status"]["events"] == 6 and state["status"]["signals"] == 1
    tuning = state["tuning"]  # the advisor's summary, or an empty state saying why
    assert {"available", "suggestions", "patterns", "detail"} <= set(tuning)
    assert tuning["available"] or tuning["detail"]
    assert state["filters"]["topics"][0] == "crypto"


async def test_health_lists_feeds_components_and_retention(web):
    _d, client = await web()
    health = await (await client.get("/api/health")).get_json()
    msgspec.convert(health, schemas.HealthResult)
    assert health["mode"] == "ingest-only"
    names = {c["name"] for c in health["components"]}
    assert {"pipeline", "web", "retention"} <= names
    assert "retention_days" in health["retention"]


async def test_signals_sort_limit_and_filters(web):
    d, client = await web()
    d.ingest(spike_events("A-CRYPTO", topic="crypto", size=300))
    d.ingest(spike_events("B-SPORTS", topic="sports", size=2000))
    d.ingest(spike_events("C-CRYPTO", topic="crypto", size=900))
    await wait_signals(d, 3)
    newest = (await (await client.get("/api/signals")).get_json())["signals"]
    assert [s["market_id"] for s in newest] == ["C-CRYPTO", "B-SPORTS", "A-CRYPTO"]
    by_score = (await (await client.get("/api/signals?sort=score")).get_json())["signals"]
    scores = [s["score"] for s in by_score]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3
    one = (await (await client.get("/api/signals?sort=score&limit=1")).get_json())["signals"]
    assert one[0]["id"] == by_score[0]["id"]
    crypto = (await (await client.get("/api/signals?topic=crypto")).get_json())["signals"]
    assert {s["market_id"] for s in crypto} == {"A-CRYPTO", "C-CRYPTO"}
    full = msgspec.convert({"signals": newest}, schemas.SignalsResult)
    assert full.signals[0].event.market_id == "C-CRYPTO"  # the full signal, event included
    # The same handler as th-ctl: the same signals (reads may land in between: compare ids).
    direct = await d.service.call("signals.list", {"sort": "score"})
    assert [s["id"] for s in direct["signals"]] == [s["id"] for s in by_score]


@pytest.mark.parametrize("query, needle", [
    ("sort=loudest", "sort"),
    ("limit=many", "limit"),
    ("limit=0", "limit"),
    ("colour=red", "colour"),
    ("sort=score&sort=newest", "sort"),
])
async def test_signals_reject_bad_query_strings(web, query, needle):
    _d, client = await web()
    response = await client.get(f"/api/signals?{query}")
    assert response.status_code == 422
    body = await response.get_json()
    assert set(body) >= {"error", "detail"} and needle in str(body)


async def test_tickers_add_list_remove_are_live_and_persisted(web):
    d, client = await web()
    added = await client.post("/api/kalshi/markets", json={"ticker": "kxbtc15m"})
    assert added.status_code == 200
    body = await added.get_json()
    assert body["added"] is True and body["ticker"]["ticker"] == "KXBTC15M"
    assert body["ticker"]["status"] == "pending"
    again = await (await client.post("/api/kalshi/markets", json={"ticker": "KXBTC15M"})
                   ).get_json()
    assert again["added"] is False
    listed = await (await client.get("/api/kalshi/markets")).get_json()
    msgspec.convert(listed, schemas.TickersResult)
    assert [t["ticker"] for t in listed["tickers"]] == ["KXBTC15M"]
    assert listed == await d.service.call("tickers.list")
    rows = await d.store.aquery("SELECT ticker FROM tracked_tickers")
    assert rows == [("KXBTC15M",)]
    state = await (await client.get("/api/state")).get_json()
    assert state["tickers"]["summary"] == {"total": 1, "pending": 1}

    removed = await client.post("/api/kalshi/markets/remove", json={"ticker": "KXBTC15M"})
    assert (await removed.get_json()) == {"ticker": "KXBTC15M", "removed": True}
    assert await d.store.aquery("SELECT ticker FROM tracked_tickers") == []
    gone = await client.post("/api/kalshi/markets/remove", json={"ticker": "KXBTC15M"})
    assert gone.status_code == 422
    assert (await gone.get_json())["error"] == "KXBTC15M is not tracked"


@pytest.mark.parametrize("body, status, needle", [
    (b'{"ticker": "not a ticker!"}', 422, "not a ticker"),
    (b'{"ticker": 15}', 422, "$.ticker"),
    (b'{}', 422, "ticker"),
    (b'{"ticker": "KXBTC", "extra": 1}', 422, "extra"),
    (b'{"ticker": ', 400, "malformed"),
    (b'["KXBTC"]', 422, "object"),
])
async def test_ticker_add_validates_its_body(web, body, status, needle):
    d, client = await web()
    response = await client.post("/api/kalshi/markets", data=body, headers=JSON)
    assert response.status_code == status
    assert needle in str(await response.get_json())
    assert d.tickers.list() == []


async def test_demo_spike_goes_through_the_pipeline(web):
    d, client = await web()
    response = await client.post("/api/demo/spike", data=b"", headers=JSON)
    assert response.status_code == 200
    body = await response.get_json()
    msgspec.convert(body, schemas.DemoSpikeResult)
    state = await (await client.get("/api/state")).get_json()
    [card] = state["signals"]
    assert card["id"] == body["signals"][0] and card["demo"] is True
    assert card["market_id"] == body["market_id"]
    await d.store.flush()
    assert await d.store.aquery("SELECT demo FROM signals WHERE id=?", (card["id"],)) == [(1,)]
    cooling = await client.post("/api/demo/spike", json={"market_id": body["market_id"]})
    assert cooling.status_code == 422 and "cooldown" in (await cooling.get_json())["error"]


async def test_every_http_method_of_the_table_is_routed(web):
    d, _client = await web()
    app = create_app(d.web_parts())
    routes = {(rule.rule, m) for rule in app.url_map.iter_rules() for m in rule.methods}
    table = [m for m in protocol.METHODS if m.http]
    assert table and all((quart_path(m.http[1]), m.http[0]) in routes for m in table)
    plugin = list(d.registries.rpc.routes.values())  # the Kalshi plugin's
    assert plugin and all((r.path, r.verb) in routes for r in plugin)


async def plugin_route(web, handler, **route):
    """A daemon without the Kalshi plugin, a stand-in plugin method and route registered the
    way ``th_register_rpc_methods`` does, and a client of an app that mounts them."""
    d, _client = await web(DISABLED_PLUGINS="kalshi")
    d.registries.rpc.add("kalshi.categories", handler, params={"q": "category"})
    d.registries.rpc.route("GET", "/api/kalshi/categories", "kalshi.categories", **route)
    return d, create_app(d.web_parts()).test_client()


async def test_category_search_is_the_kalshi_plugins_route(web):
    _d, client = await web(DISABLED_PLUGINS="kalshi")
    response = await client.get("/api/kalshi/categories?q=Crypto")
    assert response.status_code == 404  # not mounted: no plugin serves it
    d, client = await web()
    assert d.registries.rpc.routes[("GET", "/api/kalshi/categories")].plugin == "kalshi"
    too_long = await client.get("/api/kalshi/categories?q=" + "x" * 101)  # refused locally
    assert too_long.status_code == 422 and "100 characters" in str(await too_long.get_json())
    unknown = await client.get("/api/kalshi/categories?q=x&limit=1&extra=2")
    assert unknown.status_code == 422 and "extra" in str(await unknown.get_json())


async def test_category_search_calls_the_plugin_method(web):
    seen = []

    async def categories(ctx, q):
        seen.append(q)
        if q != "Crypto":
            raise RpcError(f"unknown category {q!r}", code="invalid_params",
                           data={"valid": ["Crypto", "Sports"]})
        return {"category": q, "series": [{"ticker": "KXBTC15M", "title": "Bitcoin 15 min"}]}

    _d, client = await plugin_route(web, categories)
    ok = await client.get("/api/kalshi/categories?q=Crypto")
    assert ok.status_code == 200
    assert (await ok.get_json())["series"][0]["ticker"] == "KXBTC15M"
    bad = await client.get("/api/kalshi/categories?q=Cooking")
    assert bad.status_code == 422
    assert (await bad.get_json())["detail"] == {"valid": ["Crypto", "Sports"]}
    assert seen == ["Crypto", "Cooking"]


async def test_a_fixed_route_parameter_cannot_be_sent(web):
    seen = []

    async def categories(ctx, q):
        seen.append(q)
        return {"q": q}

    _d, client = await plugin_route(web, categories, fixed={"q": "Crypto"})
    assert (await (await client.get("/api/kalshi/categories")).get_json()) == {"q": "Crypto"}
    sent = await client.get("/api/kalshi/categories?q=Sports")
    assert sent.status_code == 422 and seen == ["Crypto"]


async def test_a_plugin_route_that_cannot_work_is_left_out_and_logged(web, caplog):
    d, _client = await web(DISABLED_PLUGINS="kalshi")
    rpc = d.registries.rpc
    rpc._plugin = "sloppy"
    rpc.route("GET", "/api/sloppy/missing", "sloppy.missing")
    rpc.route("GET", "/api/state", "signals.list")
    rpc.route("POST", "/api/sloppy/add", "tickers.add", fixed={"colour": "red"})
    rpc.route("GET", "/api/sloppy/signals", "signals.list", fixed={"limit": 2})
    with pytest.raises(ValueError, match="fixed path under /api/"):
        rpc.route("GET", "/elsewhere", "signals.list")
    client = create_app(d.web_parts()).test_client()
    assert (await client.get("/api/sloppy/missing")).status_code == 404
    assert (await client.post("/api/sloppy/add", json={"ticker": "X"})).status_code == 404
    state = await (await client.get("/api/state")).get_json()
    assert "tickers" in state  # still the core's view
    for needle in ("calls an unknown method 'sloppy.missing'", "/api/state is already served",
                   "fixes unknown parameter(s) colour"):
        assert needle in caplog.text
    d.ingest(spike_events("M-1"))
    await wait_signals(d, 1)
    fixed = await client.get("/api/sloppy/signals")  # the one that works is served
    assert fixed.status_code == 200 and len((await fixed.get_json())["signals"]) == 1
    sent = await client.get("/api/sloppy/signals?limit=5")
    assert sent.status_code == 422 and "limit" in str(await sent.get_json())


async def test_not_available_plugin_errors_are_503(web):
    async def categories(ctx, q):
        raise RpcError("the Kalshi feed is not running", code="not_available")

    _d, client = await plugin_route(web, categories)
    response = await client.get("/api/kalshi/categories?q=Crypto")
    assert response.status_code == 503
    assert (await response.get_json())["code"] == "not_available"


async def test_errors_are_json_for_the_api_and_friendly_pages_elsewhere(web, caplog):
    async def crash(ctx, q):
        raise RuntimeError("secret internals")

    _d, client = await plugin_route(web, crash)
    response = await client.get("/api/kalshi/categories?q=x")
    assert response.status_code == 500
    text = (await response.get_data()).decode()
    assert "secret internals" not in text and "Traceback" not in text
    assert (await response.get_json())["error"] == "internal error"
    assert "secret internals" in caplog.text  # the traceback is in the log

    missing = await client.get("/api/nothing-here")
    assert missing.status_code == 404 and (await missing.get_json())["error"] == "not found"
    wrong_verb = await client.get("/api/demo/spike")
    assert wrong_verb.status_code == 405 and "error" in await wrong_verb.get_json()
    page = await client.get("/no-such-page")
    assert page.status_code == 404 and page.content_type.startswith("text/html")
    assert "Back to the dashboard" in (await page.get_data()).decode()


async def test_dashboard_page_and_assets_are_local(web):
    _d, client = await web()
    page = (await (await client.get("/")).get_data()).decode()
    for asset in ("/static/js/app.js", "/static/app.css", "/static/favicon.svg"):
        assert asset in page
        assert (await client.get(asset)).status_code == 200
    assert "http://" not in page and "https://" not in page  # nothing from the internet
    for module in ("app.js", "dom.js", "panels.js"):
        js = (await (await client.get(f"/static/js/{module}")).get_data()).decode()
        assert ".innerHTML" not in js  # external text only ever goes through textContent
        assert "https://" not in js and "http://" not in js.replace("http://www.w3.org/2000/svg", "")


def test_live_mode_shows_only_the_freshness_window(tmp_path):
    d = make_daemon(tmp_path)  # not started: the Kalshi plugin declares the live switch
    d.settings = d.settings.replace(ENABLE_KALSHI=True, FRESHNESS_WINDOW_SECONDS=60.0)
    now = time.time()
    old = [MarketEvent(platform="kalshi", market_id="OLD", yes_price=0.3, event_kind="trade",
                       received_at=now - 120, timestamp=now - 120, source="kalshi")]
    new = [MarketEvent(platform="kalshi", market_id="NEW", yes_price=0.6, event_kind="quote",
                       received_at=now - 5, timestamp=now - 5, source="kalshi")]
    d.live.add_events(old)
    d.live.add_events(new)
    state = state_payload(d.web_parts())
    assert state["mode"] == "live" and state["status"]["window_applies"] is True
    assert [m["market_id"] for m in state["tape"]] == ["NEW"]
    assert [e["market_id"] for e in state["flow"]] == ["NEW"]
    assert state["status"]["freshness_window"] == 60.0
    simulation = d.settings.replace(ENABLE_KALSHI=False)
    d.settings = simulation
    state = state_payload(d.web_parts())  # outside live mode every market stays on the tape
    assert {m["market_id"] for m in state["tape"]} == {"OLD", "NEW"}
    assert state["status"]["window_applies"] is False
