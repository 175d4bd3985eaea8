"""Keeps every tracked identifier resolved and publishes the YES tokens to subscribe.

Wakes on a watchlist change, on a lifecycle nudge from the socket (``new_market``,
``market_resolved``) or when the earliest re-resolution is due; bumps ``version`` when the
wanted token set changed, so the session adds or removes assets on the live connection.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import trio

from .resolve import MarketInfo, Resolver, Tracked

MAX_SLEEP = 600.0
NUDGE_DELAY = 1.0
CONCURRENCY = 4
GROUPS = ("active", "unresolved", "expired")


class Tracker:
    def __init__(self, resolver: Resolver, book: Any, *,
                 now: Callable[[], float] = time.time,
                 on_publish: Callable[[], None] | None = None,
                 on_rollover: Callable[[Tracked], None] | None = None) -> None:
        self.resolver, self.book, self.now, self.on_publish = resolver, book, now, on_publish
        self.on_rollover = on_rollover
        self.items: dict[str, Tracked] = {}
        self.markets: dict[str, MarketInfo] = {}
        """The wanted markets by YES token id."""
        self.by_slug: dict[str, MarketInfo] = {}
        self.version = 0
        self.ready = trio.Event()
        self._published = trio.Event()
        self._wake = trio.Event()
        self._limit = trio.CapacityLimiter(CONCURRENCY)

    async def wait_version(self, seen: int) -> None:
        while self.version == seen:
            await self._published.wait()

    def nudge(self, condition_id: str, event_slug: str = "") -> bool:
        """A market was created or resolved: re-resolve (soon) what it concerns. A new market
        may belong to any tracked event, so every event identifier is refreshed."""
        due = self.now() + NUDGE_DELAY
        hit = False
        for t in self.items.values():
            mine = any(m.condition_id == condition_id for m in t.markets.values())
            if mine or t.kind == "event" and (not event_slug or event_slug == t.ident):
                t.next_check = min(t.next_check, due)
                hit = True
        if hit:
            self._wake.set()
        return hit

    def summary(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {g: {} for g in GROUPS}
        for t in self.items.values():
            group = "unresolved" if t.status == "pending" else t.status
            out.setdefault(group, {})[t.ident] = t.detail
        return out

    def detail(self) -> str:
        s = self.summary()
        text = f"{len(s['active'])} active, {len(s['unresolved'])} unresolved"
        if s["unresolved"]:
            text += ": " + ", ".join(f"{k} ({v})" for k, v in list(s["unresolved"].items())[:8])
        if s["expired"]:
            text += f"; {len(s['expired'])} expired: " + ", ".join(list(s["expired"])[:8])
        return text

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
                with trio.move_on_after(min(MAX_SLEEP, max(0.0, upcoming - self.now()))):
                    await self._wake.wait()
                self._wake = trio.Event()

    async def _watch_book(self) -> None:
        while True:
            await self.book.wait_changed()
            self._wake.set()

    def _sync_book(self) -> None:
        names = [t.ticker for t in self.book.list()]
        for name in names:
            self.items.setdefault(name, Tracked(name))
        for name in set(self.items) - set(names):
            del self.items[name]

    async def _refresh(self, t: Tracked) -> None:
        async with self._limit:
            before = (t.status, t.detail, list(t.markets))
            follows = t.follows
            await self.resolver.resolve(t, self.now())
        if t.follows != follows and self.on_rollover is not None:
            self.on_rollover(t)
        if self.items.get(t.ident) is t and before != (t.status, t.detail, list(t.markets)):
            self.book.set_status(t.ident, t.status, t.detail,
                                 [m.slug for m in t.markets.values()])

    def _publish(self) -> None:
        wanted: dict[str, MarketInfo] = {}
        for t in self.items.values():
            if t.live:
                wanted.update(t.markets)
        changed = set(wanted) != set(self.markets)
        self.markets = wanted
        self.by_slug = {m.slug: m for m in wanted.values()}
        if changed:
            self.version += 1
            self._published.set()
            self._published = trio.Event()
        if self.on_publish is not None:
            self.on_publish()
