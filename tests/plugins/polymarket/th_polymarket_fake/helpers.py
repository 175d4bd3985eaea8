"""Helpers for the Polymarket feed tests."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import trio

from trade_hunter.plugins.registry import TrackedTicker

from . import FakePolymarket

T0 = 1_775_190_000.0  # 2026-04-03 04:20 UTC: "now" on the virtual clock


def virtual_now() -> float:
    return T0 + trio.current_time()


class MemoryBook:
    """A feed's watchlist in memory (the daemon tests use the real, persisted one)."""

    def __init__(self, idents: Iterable[str] = ()) -> None:
        self.items = {t: TrackedTicker(t, time.time()) for t in idents}
        self._changed = trio.Event()

    def list(self) -> list[TrackedTicker]:
        return list(self.items.values())

    def set_status(self, ident: str, status: str, detail: str = "",
                   markets: Iterable[str] = ()) -> None:
        item = self.items.get(ident)
        if item is not None:
            item.status, item.detail, item.markets = status, detail, list(markets)

    async def wait_changed(self) -> None:
        await self._changed.wait()

    def _bump(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def add(self, ident: str) -> None:
        self.items[ident] = TrackedTicker(ident, time.time())
        self._bump()

    def remove(self, ident: str) -> None:
        del self.items[ident]
        self._bump()


def fed_book(fake: FakePolymarket) -> None:
    """An event with two open markets and one closed, and a standalone crypto market."""
    fake.add_event("fed-decision-in-december", "Fed decision in December?", ["Economy", "Fed"])
    fake.add_market("fed-cut-25-bps-december", "Will the Fed cut 25 bps in December?",
                    "fed-decision-in-december")
    fake.add_market("fed-no-change-december", "Will the Fed hold rates in December?",
                    "fed-decision-in-december")
    fake.add_market("fed-hike-december", "Will the Fed hike in December?",
                    "fed-decision-in-december", closed=True)
    fake.add_event("bitcoin-100k-2026", "Bitcoin above $100k?", ["Crypto"])
    fake.add_market("bitcoin-above-100k-on-dec-31", "Will Bitcoin be above $100k on Dec 31?",
                    "bitcoin-100k-2026")


async def next_events(receive: trio.MemoryReceiveChannel[Any], n: int = 1,
                      timeout: float = 30.0) -> list[Any]:
    out: list[Any] = []
    with trio.fail_after(timeout):
        while len(out) < n:
            item = await receive.receive()
            out.extend(item if isinstance(item, list) else [item])
    return out


def drain(receive: trio.MemoryReceiveChannel[Any]) -> list[Any]:
    out: list[Any] = []
    while True:
        try:
            item = receive.receive_nowait()
        except trio.WouldBlock:
            return out
        out.extend(item if isinstance(item, list) else [item])
