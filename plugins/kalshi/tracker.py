"""Keeps every tracked identifier resolved and publishes the set of markets to subscribe.

The tracked list lives in the daemon's ticker book (persisted; changed live by the API and
``th-ctl``). This loop wakes on a book change, on a lifecycle nudge, or when the earliest
re-resolution is due, refreshes what is due (a few lookups at a time; the REST token bucket
does the pacing), writes each status back to the book, and bumps ``version`` when the wanted
market set changed, so the WebSocket session can update its subscriptions in place.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import trio

from .resolve import CONCURRENCY, NUDGE_DELAY, NUDGE_TYPES, MarketInfo, Resolver, Tracked

MAX_SLEEP = 600.0


class Tracker:
    def __init__(self, resolver: Resolver, book: Any, *,
                 now: Callable[[], float] = time.time,
                 on_publish: Callable[[], None] | None = None) -> None:
        self.resolver = resolver
        self.book = book
        self.now = now
        self.on_publish = on_publish
        self.items: dict[str, Tracked] = {}
        self.markets: dict[str, MarketInfo] = {}
        """The wanted markets: the union of every active identifier's markets."""
        self.version = 0
        self.ready = trio.Event()
        """Set after the first pass over the book (every identifier looked up once)."""
        self._published = trio.Event()
        self._wake = trio.Event()
        self._limit = trio.CapacityLimiter(CONCURRENCY)

    # ------------------------------------------------------------------ for the session
    async def wait_version(self, seen: int) -> None:
        """Return once ``version`` differs from ``seen``."""
        while self.version == seen:
            await self._published.wait()

    def nudge(self, event_type: str, market_ticker: str, event_ticker: str | None) -> bool:
        """A lifecycle event: refresh (soon) every identifier it concerns."""
        if event_type not in NUDGE_TYPES:
            return False
        names = [n for n in (market_ticker, event_ticker) if n]
        due = self.now() + NUDGE_DELAY
        hit = False
        for t in self.items.values():
            if t.status == "expired" and t.kind == "market":
                continue
            if any(n == t.ticker or n.startswith(t.ticker + "-") for n in names):
                t.next_check = min(t.next_check, due)
                hit = True
        if hit:
            self._wake.set()
        return hit

    def summary(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {"active": {}, "unresolved": {}, "expired": {}}
        for t in self.items.values():
            group = "unresolved" if t.status == "pending" else t.status
            out.setdefault(group, {})[t.ticker] = t.detail
        return out

    def detail(self) -> str:
        """``"N active, M unresolved"`` with the unresolved (and expired) listed."""
        s = self.summary()
        text = f"{len(s['active'])} active, {len(s['unresolved'])} unresolved"
        if s["unresolved"]:
            text += ": " + ", ".join(f"{k} ({v})" for k, v in list(s["unresolved"].items())[:8])
        if s["expired"]:
            text += f"; {len(s['expired'])} expired: " + ", ".join(list(s["expired"])[:8])
        return text

    # ------------------------------------------------------------------ the loop
    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_book)
            while True:
                self._sync_book()
                now = self.now()
                due = [t for t in self.items.values() if t.next_check <= now]
                if due:
                    async with trio.open_nursery() as pool:
                        for t in due:
                            pool.start_soon(self._refresh, t)
                    self._sync_book()
                self._publish()
                self.ready.set()
                upcoming = min((t.next_check for t in self.items.values()), default=math.inf)
                delay = min(MAX_SLEEP, max(0.0, upcoming - self.now()))
                with trio.move_on_after(delay):
                    await self._wake.wait()
                self._wake = trio.Event()

    async def _watch_book(self) -> None:
        while True:
            await self.book.wait_changed()
            self._wake.set()

    def _sync_book(self) -> None:
        names = [t.ticker for t in self.book.list()]
        for name in names:
            if name not in self.items:
                self.items[name] = Tracked(name)
        for name in set(self.items) - set(names):
            del self.items[name]

    async def _refresh(self, t: Tracked) -> None:
        async with self._limit:
            before = (t.status, t.detail, list(t.markets))
            await self.resolver.resolve(t)
        if self.items.get(t.ticker) is t and before != (t.status, t.detail, list(t.markets)):
            self.book.set_status(t.ticker, t.status, t.detail, list(t.markets))

    def _publish(self) -> None:
        wanted: dict[str, MarketInfo] = {}
        for t in self.items.values():
            if t.status == "active":
                wanted.update(t.markets)
        changed = set(wanted) != set(self.markets)
        self.markets = wanted
        if changed:
            self.version += 1
            self._published.set()
            self._published = trio.Event()
        if self.on_publish is not None:
            self.on_publish()
