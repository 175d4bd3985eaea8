"""The Polymarket plugin inside a real daemon beside the Kalshi plugin, each against its local
fake: live mode with both (no simulation), ``th-ctl add-ticker --feed polymarket``, events in
the store with titles, and nothing but the configured endpoints contacted."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import trio
from cryptography.hazmat.primitives.asymmetric import rsa
from th_polymarket_fake.helpers import fed_book

sys.path.insert(0, str(Path(__file__).parents[1] / "kalshi"))  # the Kalshi fake, to run beside
from th_kalshi_fake import FakeKalshi
from th_kalshi_fake.helpers import KEY_ID, crypto_book, write_key


class Connections:
    """Every outgoing connection of this process while recording (audit hooks)."""

    def __init__(self) -> None:
        self.recording = False
        self.connects: list[tuple] = []
        self.lock = threading.Lock()
        sys.addaudithook(self.hook)

    def hook(self, event: str, args: tuple) -> None:
        if self.recording and event == "socket.connect":
            with self.lock:
                self.connects.append(args[1])


CONNECTIONS = Connections()


async def th_ctl(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    th = str(Path(sys.executable).parent / "th-ctl")
    return await trio.to_thread.run_sync(lambda: subprocess.run(
        [th, "--home", str(home), *args], check=False, capture_output=True, text=True,
        timeout=60))


async def stored(d, sql, params=()):
    await d.store.flush()
    return await d.store.aquery(sql, params)


async def test_beside_kalshi_in_one_daemon(nursery, start_daemon, start_fake, tmp_path):
    poly = await start_fake()
    fed_book(poly)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kalshi = await FakeKalshi(key.public_key(), KEY_ID).start(nursery)
    crypto_book(kalshi)
    home = tmp_path / "home"
    CONNECTIONS.recording = True
    try:
        d = await start_daemon(
            home, ENABLE_KALSHI="true", KALSHI_API_KEY_ID=KEY_ID,
            KALSHI_PRIVATE_KEY_PATH=str(write_key(tmp_path / "k.pem", key)),
            KALSHI_MARKETS="KXPRES-28-DEM", ENABLE_POLYMARKET="true",
            POLYMARKET_MARKETS="bitcoin-above-100k-on-dec-31", ENABLE_SIMULATION="true",
            **kalshi.env(), **poly.env())
        with trio.fail_after(30):
            while not (d.health.get("kalshi", "feed").state == "connected"
                       and d.health.get("polymarket", "feed").state == "connected"):
                await trio.sleep(0.05)
        added = await th_ctl(home, "add-ticker", "--feed", "polymarket",
                             "fed-decision-in-december")
        assert added.returncode == 0, added.stderr
        assert "now tracking fed-decision-in-december" in added.stdout
        want = poly.markets["fed-cut-25-bps-december"].yes_token
        await poly.wait_for(lambda: want in poly.subscribed())
        await poly.trade("fed-cut-25-bps-december", price="0.64", size="150")
        await kalshi.trade("KXPRES-28-DEM", price="0.41", count="7")
        with trio.fail_after(30):
            while len(await stored(d, "SELECT 1 FROM events WHERE kind='T'")) < 2:
                await trio.sleep(0.05)
        await poly.drop()  # the reconnect goes to the same place
        await poly.wait_for(lambda: len(poly.ws.live) == 1 and want in poly.subscribed()
                            and len(poly.ws.conns) == 2)
    finally:
        CONNECTIONS.recording = False
    rows = await stored(d, "SELECT e.platform, e.market_id, m.title, e.source, e.volume FROM "
                           "events e JOIN markets m USING (market_id) WHERE e.kind='T'")
    assert ("polymarket", "fed-cut-25-bps-december", "Will the Fed cut 25 bps in December?",
            "polymarket", 150.0) in rows
    assert any(r[0] == "kalshi" for r in rows)
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        health = (await client.get("/api/health")).json()
        state = (await client.get("/api/state")).json()
        tracked = (await client.get("/api/feeds/polymarket/tracked")).json()
    assert state["mode"] == "live"
    names = {f["name"]: f for f in health["feeds"]}
    assert "simulated" not in names  # simulation suppressed while live feeds run
    assert names["polymarket"]["detail"] == "2 active, 0 unresolved"
    assert names["polymarket"]["counters"]["msg_last_trade_price"] == 1
    assert sorted(t["ticker"] for t in tracked["tickers"]) == [
        "bitcoin-above-100k-on-dec-31", "fed-decision-in-december"]
    allowed = {("127.0.0.1", p) for p in (poly.gamma_port, poly.ws_port, kalshi.rest_port,
                                          kalshi.ws_port)}
    contacted = {tuple(a[:2]) for a in CONNECTIONS.connects if isinstance(a, tuple)}
    assert contacted <= allowed | {("127.0.0.1", _port(d))}  # the th-ctl subprocess aside
    assert {("127.0.0.1", poly.gamma_port), ("127.0.0.1", poly.ws_port)} <= contacted


def _port(d) -> int:
    return int(d.dashboard_url.rstrip("/").rsplit(":", 1)[1])
