"""Helpers for the Kalshi feed tests (imported by the tests and the conftest)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trio
from cryptography.hazmat.primitives import serialization

from trade_hunter.plugins.registry import TrackedTicker

from . import FakeKalshi

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11b2a5f4c7e1"
T0 = 1_775_190_000.0  # 2026-04-03 04:20 UTC: a plausible "now" for the virtual clock


def virtual_now() -> float:
    """Wall-clock time that follows trio's (autojump) clock."""
    return T0 + trio.current_time()


def write_key(path: Path, key: Any, fmt: str = "pkcs8") -> Path:
    encoding = serialization.PrivateFormat.PKCS8 if fmt == "pkcs8" \
        else serialization.PrivateFormat.TraditionalOpenSSL  # PKCS#1 "BEGIN RSA PRIVATE KEY"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, encoding,
                                       serialization.NoEncryption()))
    return path


class MemoryBook:
    """The daemon's ticker book, in memory (the daemon tests use the real, persisted one)."""

    def __init__(self, tickers: Iterable[str] = ()) -> None:
        self.items = {t: TrackedTicker(t, time.time()) for t in tickers}
        self._changed = trio.Event()

    def list(self) -> list[TrackedTicker]:
        return list(self.items.values())

    def set_status(self, ticker: str, status: str, detail: str = "",
                   markets: Iterable[str] = ()) -> None:
        item = self.items.get(ticker)
        if item is not None:
            item.status, item.detail, item.markets = status, detail, list(markets)

    async def wait_changed(self) -> None:
        await self._changed.wait()

    def add(self, ticker: str) -> None:
        self.items[ticker] = TrackedTicker(ticker, time.time())
        self._changed.set()
        self._changed = trio.Event()

    def remove(self, ticker: str) -> None:
        del self.items[ticker]
        self._changed.set()
        self._changed = trio.Event()


def crypto_book(fake: FakeKalshi) -> None:
    """A small exchange: a crypto series with an event of two strikes, and a politics one."""
    fake.add_series("KXBTCD", "Bitcoin price range", "Crypto", ["BTC"])
    fake.add_event("KXBTCD-26APR0317", "KXBTCD", "Bitcoin price on Apr 3, 2026 at 5pm EDT?")
    fake.add_market("KXBTCD-26APR0317-T66999.99", "KXBTCD-26APR0317", "$67,000 or above")
    fake.add_market("KXBTCD-26APR0317-T67999.99", "KXBTCD-26APR0317", "$68,000 or above")
    fake.add_series("KXPRES", "Presidential election", "Elections", ["US"])
    fake.add_event("KXPRES-28", "KXPRES", "Who will win the 2028 presidential election?")
    fake.add_market("KXPRES-28-DEM", "KXPRES-28", "Democratic party")


async def next_events(receive: trio.MemoryReceiveChannel[Any], n: int = 1,
                      timeout: float = 10.0) -> list[Any]:
    """The next ``n`` events the feed sent (it sends single events or lists)."""
    out: list[Any] = []
    with trio.fail_after(timeout):
        while len(out) < n:
            item = await receive.receive()
            out.extend(item if isinstance(item, list) else [item])
    return out


async def eventually(predicate: Any, timeout: float = 10.0, step: float = 0.05) -> Any:
    """Poll ``predicate`` (state outside the fake exchange) until it holds."""
    with trio.fail_after(timeout):
        while not (result := predicate()):
            await trio.sleep(step)
        return result
