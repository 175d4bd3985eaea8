"""The Kalshi plugin inside a real daemon, against the fake exchange: events reach the store
and the detector, a spike becomes a signal, tickers change live, faults leave no duplicates,
nothing but the configured endpoints is contacted, bad keys stop start-up with one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import pytest
import trio
from cryptography.hazmat.primitives import serialization
from th_kalshi_fake.helpers import KEY_ID, crypto_book, eventually

from trade_hunter.plugins.errors import ConfigError, RpcError

TICKERS = "KXBTCD-26APR0317,KXPRES-28-DEM,NOPE"


async def live(start_daemon, fake, key_file, tickers=TICKERS, **env):
    crypto_book(fake)
    d = await start_daemon(ENABLE_KALSHI="true", KALSHI_API_KEY_ID=KEY_ID,
                           KALSHI_PRIVATE_KEY_PATH=str(key_file), KALSHI_MARKETS=tickers,
                           **fake.env(), **env)
    await eventually(lambda: d.health.get("kalshi", "feed").state == "connected")
    return d


async def stored(d, sql, params=()):
    await d.store.flush()
    return await d.store.aquery(sql, params)


async def test_events_reach_the_store_and_a_spike_becomes_a_signal(start_daemon, start_fake,
                                                                   key_file):
    fake = await start_fake()
    d = await live(start_daemon, fake, key_file)
    market = "KXPRES-28-DEM"
    ids = [await fake.trade(market, price="0.50", count="10") for _ in range(5)]
    ids.append(await fake.trade(market, price="0.56", count="600"))  # the spike
    with trio.fail_after(10):
        while not await stored(d, "SELECT id FROM signals WHERE market_id=?", (market,)):
            await trio.sleep(0.05)
    [(topic, tier, rule, title)] = await stored(
        d, "SELECT topic, tier, rule, title FROM signals WHERE market_id=?", (market,))
    assert (topic, rule) == ("elections", "hard") and tier in ("high conviction flow", "notable")
    assert title == "Who will win the 2028 presidential election? — Democratic party"
    rows = await stored(d, "SELECT ext_id, kind, volume, volume_kind, trade_side, source FROM"
                           " events WHERE market_id=? AND kind='T' ORDER BY id", (market,))
    assert [r[0] for r in rows] == ids
    assert {r[3:] for r in rows} == {("delta", "yes", "kalshi")} and rows[-1][2] == 600.0
    quotes = await stored(d, "SELECT market_id FROM events WHERE kind='Q' AND platform='kalshi'")
    assert sorted(q[0] for q in quotes) == [  # the snapshots of the three resolved markets
        "KXBTCD-26APR0317-T66999.99", "KXBTCD-26APR0317-T67999.99", market]
    [(mtitle, mtopic)] = await stored(d, "SELECT title, topic FROM markets WHERE market_id=?",
                                      ("KXBTCD-26APR0317-T66999.99",))
    assert (mtitle, mtopic) == ("Bitcoin price on Apr 3, 2026 at 5pm EDT? — $67,000 or above",
                                "crypto")
    assert d.pipeline.states[market].last_price == 0.56  # the detector saw them
    assert d.live.recent_signals(limit=5)[0].market_id == market
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        health = (await client.get("/api/health")).json()
        state = (await client.get("/api/state")).json()
    assert state["mode"] == "live"
    tape = {t["market_id"]: t for t in state["tape"]}
    assert (tape[market]["title"], tape[market]["price"], tape[market]["topic"]) == (
        title, 0.56, "elections")
    assert tape["KXBTCD-26APR0317-T66999.99"]["kind"] == "quote"
    assert [f["market_id"] for f in state["flow"] if f["k"] == "T"].count(market) == 6
    [feed] = [f for f in health["feeds"] if f["name"] == "kalshi"]
    assert feed["state"] == "connected"
    assert feed["detail"] == ("2 active, 1 unresolved: NOPE (unknown: not a market, event or "
                              "series ticker)")
    assert feed["counters"]["msg_trade"] == 6 and feed["counters"]["acks"] == 3
    assert feed["info"]["last_message_at"] and feed["info"]["markets"]
    assert all(f["name"] != "simulated" for f in health["feeds"])  # live mode: no simulation
    rows = {t: (s, m) for t, s, m in await stored(
        d, "SELECT ticker, status, markets FROM tracked_tickers")}
    assert rows["NOPE"][0] == "unresolved" and rows[market] == ("active", f'["{market}"]')


async def test_tickers_added_and_removed_live(start_daemon, start_fake, key_file):
    fake = await start_fake()
    fake.add_series("KXBTC15M", "Bitcoin 15 minutes", "Crypto", ["BTC"])
    [w1] = fake.rolling("KXBTC15M", start=float(int(fake.now())) - 60, count=1)
    d = await live(start_daemon, fake, key_file, tickers="KXPRES-28-DEM")
    await d.service.call("tickers.add", {"ticker": "kxbtc15m"})
    await fake.wait_for(lambda: fake.subscribed("trade", w1.ticker))
    await d.service.call("tickers.remove", {"ticker": "KXPRES-28-DEM"})
    await fake.wait_for(lambda: not fake.subscribed("trade", "KXPRES-28-DEM"))
    await fake.trade("KXPRES-28-DEM", price="0.5", count="3")  # no longer tracked
    trade_id = await fake.trade(w1.ticker, price="0.7", count="4")
    with trio.fail_after(10):
        while not await stored(d, "SELECT 1 FROM events WHERE ext_id=?", (trade_id,)):
            await trio.sleep(0.05)
    assert not await stored(d, "SELECT 1 FROM events WHERE kind='T' AND market_id=?",
                            ("KXPRES-28-DEM",))
    assert len(fake.ws.conns) == 1  # no reconnect for either change
    listing = await d.service.call("tickers.list")
    [item] = listing["tickers"]
    assert (item["ticker"], item["status"], item["markets"]) == ("KXBTC15M", "active",
                                                                 [w1.ticker])
    await eventually(lambda: d.health.get("kalshi").detail == "1 active, 0 unresolved")


async def test_a_dropped_connection_loses_and_duplicates_nothing(start_daemon, start_fake,
                                                                 key_file):
    fake = await start_fake()
    d = await live(start_daemon, fake, key_file, tickers="KXBTCD-26APR0317")
    market = "KXBTCD-26APR0317-T66999.99"
    ids = [await fake.trade(market, price="0.50", count="2")]
    await fake.drop()
    ids.append(await fake.trade(market, price="0.51", count="3"))  # while disconnected
    await fake.wait_for(lambda: len(fake.ws.conns) == 2 and fake.subscribed("trade", market))
    ids.append(await fake.trade(market, price="0.52", count="4"))
    with trio.fail_after(10):
        while len(await stored(d, "SELECT 1 FROM events WHERE kind='T'")) < 3:
            await trio.sleep(0.05)
    await trio.sleep(0.5)
    got = [r[0] for r in await stored(d, "SELECT ext_id FROM events WHERE kind='T'")]
    assert sorted(got) == sorted(ids)
    [(count,)] = await stored(d, "SELECT COUNT(*) FROM events")
    assert d.pipeline.processed == count  # no duplicate reached the pipeline either
    assert d.health.get("kalshi").counters["reconnects"] == 1


class Connections:
    """Every outgoing connection and name lookup of this process (audit hooks)."""

    def __init__(self) -> None:
        self.recording = False
        self.connects: list[object] = []
        self.lookups: list[object] = []
        self.lock = threading.Lock()
        sys.addaudithook(self.hook)

    def hook(self, event: str, args: tuple) -> None:
        if not self.recording:
            return
        with self.lock:
            if event == "socket.connect":
                self.connects.append(args[1])
            elif event == "socket.getaddrinfo":
                self.lookups.append(args[0])


CONNECTIONS = Connections()


async def test_nothing_but_the_configured_endpoints_is_contacted(start_daemon, start_fake,
                                                                 key_file):
    fake = await start_fake()
    CONNECTIONS.recording = True
    try:
        d = await live(start_daemon, fake, key_file)
        await fake.trade("KXPRES-28-DEM", price="0.5", count="1")
        await fake.drop()  # the reconnect goes to the same place
        await fake.wait_for(lambda: len(fake.ws.conns) == 2 and fake.subscribed("trade"))
        await d.service.call("kalshi.categories", {"q": "Crypto"})
    finally:
        CONNECTIONS.recording = False
    assert CONNECTIONS.connects, "the audit hook saw the connections"
    allowed = {("127.0.0.1", fake.rest_port), ("127.0.0.1", fake.ws_port)}
    assert {tuple(a[:2]) for a in CONNECTIONS.connects} <= allowed
    assert {("127.0.0.1", fake.ws_port)} < {tuple(a[:2]) for a in CONNECTIONS.connects}
    assert set(CONNECTIONS.lookups) <= {"127.0.0.1", b"127.0.0.1"}
    assert {r.host for r in fake.requests if r.kind == "rest"} == {
        f"127.0.0.1:{fake.rest_port}"}
    assert all(r.signed for r in fake.requests)  # the feed signs every call


async def test_category_search_in_live_mode(start_daemon, start_fake, key_file):
    fake = await start_fake()
    d = await live(start_daemon, fake, key_file)
    fake.markets["KXBTCD-26APR0317-T67999.99"].volume = 900
    found = await d.service.call("kalshi.categories", {"q": "crypto"})
    assert found["categories"] == ["Crypto"]
    assert [m["ticker"] for m in found["markets"]] == [
        "KXBTCD-26APR0317-T67999.99", "KXBTCD-26APR0317-T66999.99"]  # by volume
    top = found["markets"][0]
    assert top["title"] == "Bitcoin price on Apr 3, 2026 at 5pm EDT? — $68,000 or above"
    assert (top["last_price"], top["volume"], top["series_ticker"]) == (0.5, 900.0, "KXBTCD")
    listing = await d.service.call("kalshi.categories", {"q": ""})
    assert listing["categories"] == ["Crypto", "Elections"]
    # the generic per-feed search (the dashboard's) answers the same markets as hits
    generic = await d.service.call("feeds.search", {"feed": "kalshi", "q": "crypto"})
    assert [h["id"] for h in generic["results"]] == [m["ticker"] for m in found["markets"]]
    assert generic["results"][0] | {"closes_at": None} == {
        "id": "KXBTCD-26APR0317-T67999.99", "feed": "kalshi", "category": "Crypto",
        "title": top["title"], "price": 0.5, "volume": 900.0, "closes_at": None,
        "also": ["KXBTCD"]}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        response = await client.get("/api/feeds/kalshi/search", params={"q": "crypto"})
        assert response.status_code == 200 and response.json() == generic
        for query in ("?q=", ""):  # HTTP lists them too, as the README says
            response = await client.get("/api/kalshi/categories" + query)
            assert response.status_code == 200 and response.json() == listing
    with pytest.raises(RpcError) as err:
        await d.service.call("kalshi.categories", {"q": "Weather"})
    assert err.value.code == "invalid_params"
    assert err.value.data == {"valid": ["Crypto", "Elections"]}
    assert "unknown Kalshi category 'Weather'" in str(err.value)


async def test_category_search_without_live_mode_is_public_and_cached(start_daemon,
                                                                      start_fake):
    fake = await start_fake()
    crypto_book(fake)
    d = await start_daemon(**fake.env())  # ingest-only: no feed, no credentials
    assert "kalshi" not in d.components
    first = await d.service.call("kalshi.categories", {"q": "ELECTIONS"})
    assert [m["ticker"] for m in first["markets"]] == ["KXPRES-28-DEM"]
    assert first["markets"][0]["category"] == "Elections"
    made = len(fake.requests)
    assert made and not any(r.signed for r in fake.requests)  # public endpoints, unsigned
    again = await d.service.call("kalshi.categories", {"q": "elections"})
    assert again["markets"] == first["markets"] and len(fake.requests) == made  # cached
    fresh = await start_daemon(KALSHI_CATEGORY_TTL_SECONDS="0", **fake.env())
    await fresh.service.call("kalshi.categories", {"q": "Crypto"})
    before = len(fake.requests)
    await fresh.service.call("kalshi.categories", {"q": "Crypto"})
    assert len(fake.requests) > before  # TTL 0: fetched again


async def test_bad_key_or_url_stops_start_up(tmp_path, key_file):
    from trade_hunter.daemon.app import Daemon
    from trade_hunter.daemon.cli import build

    base = {"TRADE_HUNTER_HOME": str(tmp_path / "home"), "APP_PORT": "0",
            "THIRD_PARTY_PLUGINS": "false", "ENABLE_KALSHI": "true",
            "KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
    for change, variable in (({"KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "nope.pem")},
                              "KALSHI_PRIVATE_KEY_PATH"),
                             ({"KALSHI_API_KEY_ID": ""}, "KALSHI_API_KEY_ID"),
                             ({"KALSHI_WS_URL": "https://example.invalid/ws"}, "KALSHI_WS_URL"),
                             ({"KALSHI_API_BASE": "not a url"}, "KALSHI_API_BASE")):
        d = Daemon(*build({**base, **change}))
        with pytest.raises(ConfigError) as err:
            await d.run()
        assert err.value.variable == variable
        assert d.store._thread is None  # stopped before opening anything


@pytest.mark.parametrize("case", ["missing", "public key"])
def test_cli_exits_2_with_one_line(tmp_path, rsa_key, case):
    path = tmp_path / "key.pem"
    if case == "public key":
        path.write_bytes(rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "ENABLE_"))}
    env.update(TRADE_HUNTER_HOME=str(tmp_path / "home"), APP_PORT="0",
               THIRD_PARTY_PLUGINS="false", ENABLE_KALSHI="true", KALSHI_API_KEY_ID=KEY_ID,
               KALSHI_PRIVATE_KEY_PATH=str(path))
    result = subprocess.run([sys.executable, "-m", "trade_hunter.daemon.cli", "--no-replace"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    why = "no such file" if case == "missing" else "it is not a PEM private key"
    assert lines[0].startswith("trade-hunter: configuration error: KALSHI_PRIVATE_KEY_PATH=")
    assert why in lines[0] and KEY_ID not in result.stderr


async def test_tracked_tickers_survive_a_restart(tmp_path, start_fake, key_file):
    from trade_hunter.daemon.app import Daemon
    from trade_hunter.daemon.cli import build

    fake = await start_fake()
    crypto_book(fake)
    env = {"TRADE_HUNTER_HOME": str(tmp_path / "home"), "APP_PORT": "0",
           "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true", "ENABLE_KALSHI": "true",
           "KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(key_file), **fake.env()}

    async def run(seed: str, work) -> None:
        d = Daemon(*build({**env, "KALSHI_MARKETS": seed}))
        async with trio.open_nursery() as nursery:
            await nursery.start(d.run)
            await eventually(lambda: d.health.get("kalshi", "feed").state == "connected")
            await work(d)
            d.request_shutdown("test")

    async def first(d) -> None:
        await d.service.call("tickers.add", {"ticker": "KXBTCD-26APR0317"})
        await d.service.call("tickers.remove", {"ticker": "KXPRES-28-DEM"})
        await fake.wait_for(lambda: fake.subscribed("trade", "KXBTCD-26APR0317-T66999.99")
                            and not fake.subscribed("trade", "KXPRES-28-DEM"))

    async def second(d) -> None:
        await fake.wait_for(lambda: len(fake.ws.live) == 1
                            and fake.subscribed("trade", "KXBTCD-26APR0317-T66999.99"))
        assert [t.ticker for t in d.tickers.list()] == ["KXBTCD-26APR0317"]
        assert not fake.subscribed("trade", "KXPRES-28-DEM")

    await run("KXPRES-28-DEM", first)
    await run("KXPRES-28-DEM", second)  # the seed only counts on the very first start


def test_demo_environment_switches_default_endpoints_only():
    from types import SimpleNamespace

    from trade_hunter.plugins.builtin.kalshi.config import (
        DEMO_API,
        DEMO_WS,
        PROD_API,
        PROD_WS,
        endpoints,
    )

    def settings(**kw):
        return SimpleNamespace(**{"KALSHI_ENV": "prod", "KALSHI_API_BASE": PROD_API,
                                  "KALSHI_WS_URL": PROD_WS, **kw})
    assert endpoints(settings()) == (PROD_API, PROD_WS)
    assert endpoints(settings(KALSHI_ENV="demo")) == (DEMO_API, DEMO_WS)
    assert DEMO_API == "https://external-api.demo.kalshi.co/trade-api/v2"
    assert DEMO_WS == "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
    mine = "ws://127.0.0.1:9/trade-api/ws/v2"
    assert endpoints(settings(KALSHI_ENV="demo", KALSHI_WS_URL=mine)) == (DEMO_API, mine)


async def test_stop_closes_the_websocket_with_a_close_frame(start_daemon, start_fake, key_file):
    fake = await start_fake()
    d = await live(start_daemon, fake, key_file, tickers="KXPRES-28-DEM")
    await fake.wait_for(lambda: fake.subscribed("trade", "KXPRES-28-DEM"))
    await d.service.call("shutdown", {})  # what `th-ctl stop` asks for
    await fake.wait_for(lambda: not fake.ws.live)
    assert [c.close_code for c in fake.ws.conns] == [1000]  # a goodbye, not a dropped link


async def test_offline_category_listing_answers_alike_over_http_and_th_ctl(start_daemon):
    from trade_hunter.ctl.cli import parse_pairs
    from trade_hunter.ctl.client import CallError, Client

    with trio.socket.socket() as s:  # the exchange is unreachable: connection refused
        await s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    short = Path(tempfile.mkdtemp(prefix="thk-", dir="/tmp"))  # room for the socket path
    try:
        d = await start_daemon(short / "home",
                               KALSHI_API_BASE=f"http://127.0.0.1:{dead}/trade-api/v2")
        async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
            response = await client.get("/api/kalshi/categories?q=")
        assert response.status_code == 503
        with pytest.raises(CallError) as err:  # `th-ctl call kalshi.categories q=`
            await trio.to_thread.run_sync(lambda: Client(short / "home", timeout=10).call(
                "kalshi.categories", parse_pairs(["q="])))
        assert err.value.name == "not_available"
        assert err.value.message == response.json()["error"]
        assert "cannot reach" in err.value.message
    finally:
        shutil.rmtree(short, ignore_errors=True)
