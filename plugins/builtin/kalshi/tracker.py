"""Keeps every tracked identifier resolved and publishes the set of markets to subscribe.

The tracked list lives in the daemon's ticker book (persisted; changed live by the API and
``th-ctl``). This loop wakes on a book change, on a lifecycle nudge, or when the earliest
re-resolution is due, refreshes what is due (a few lookups at a time; the REST token bucket
does the pacing), writes each status back to the book, and bumps ``version`` when the wanted
market set changed, so the WebSocket session can update its subscriptions in place.

Two signals from the WebSocket reach it directly:

* a lifecycle ``created`` message for a market of a tracked series or event joins that market
  at once (``Tracked.early``), so the next window of a rolling series is subscribed before it
  opens and its first frames are not lost waiting for the timer at the old window's close;
* an error 16 ("market not found") for one market the socket refused while REST lists it
  takes that market out of the wanted set for a while (30 s, doubling up to 10 minutes) and
  shows why; it is re-resolved over REST when the pause ends, never looped on the channel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from .resolve import CONCURRENCY, NUDGE_DELAY, NUDGE_TYPES, MarketInfo, Resolver, Tracked

MAX_SLEEP = 600.0
REFUSED_BASE = 30.0        # first pause after the socket refused a market (error 16)
REFUSED_CAP = 600.0
REFUSAL_MEMORY = 3600.0    # strikes older than this are forgotten
GROUPS = ("active", "paused", "unresolved", "expired")


@dataclass
class Refusal:
    strikes: int
    until: float
    reason: str


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
        self.refused: dict[str, Refusal] = {}
        """Markets the WebSocket refused (error 16), left out until ``until``."""
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

    def created(self, market: str, event_ticker: str | None, close_ts: float | None,
                meta: dict[str, Any]) -> bool:
        """A lifecycle ``created`` message: join the new market to every tracked series or
        event it belongs to, before REST resolution gets to it."""
        if close_ts is not None and close_ts <= self.now():
            return False
        hit = False
        for t in self.items.values():
            if t.status == "expired" or market in t.markets or not (
                    (t.kind == "series" and market.startswith(t.ticker + "-"))
                    or (t.kind == "event" and (event_ticker == t.ticker
                                               or market.startswith(t.ticker + "-")))):
                continue
            known = next(iter(t.markets.values()), None) or next(iter(t.early.values()), None)
            head = str(meta.get("title") or (known.title.split(" — ")[0] if known else ""))
            sub = str(meta.get("yes_sub_title") or "")
            series = t.ticker if t.kind == "series" else None
            t.early[market] = MarketInfo(
                ticker=market, event_ticker=event_ticker or "",
                title=f"{head} — {sub}" if head and sub and sub != head else head or sub,
                topic=known.topic if known else self.resolver.cached_topic(series),
                close_ts=close_ts)
            hit = True
        if hit:
            self._publish()
        return hit

    def refuse(self, market: str, reason: str) -> bool:
        """The WebSocket refused ``market`` (error 16): leave it out for a while, show why,
        and re-resolve its identifiers over REST when the pause ends."""
        now = self.now()
        if self._refused(market, now):  # the other channel's refusal of the same ticker
            return False
        if not any(market in t.markets for t in self.items.values()):
            # only joined early (not open yet): drop the early join, no penalty; it comes
            # back through resolution when it opens
            early = [t for t in self.items.values() if t.early.pop(market, None)]
            if early:
                self._publish()
            return bool(early)
        prev = self.refused.get(market)
        strikes = prev.strikes + 1 if prev and now - prev.until < REFUSAL_MEMORY else 1
        delay = min(REFUSED_CAP, REFUSED_BASE * 2 ** (strikes - 1))
        self.refused[market] = Refusal(strikes, now + delay, reason)
        hit = False
        for t in self.items.values():
            if market in t.markets or market in t.early:
                t.early.pop(market, None)
                t.next_check = min(t.next_check, now + delay)
                self._show_refusals(t)
                self.book.set_status(t.ticker, t.status, t.detail, list(t.markets))
                hit = True
        self._publish()
        self._wake.set()
        return hit

    def _refused(self, market: str, now: float) -> Refusal | None:
        r = self.refused.get(market)
        return r if r is not None and r.until > now else None

    def _show_refusals(self, t: Any) -> None:
        now = self.now()
        refused = {m: r for m in t.markets if (r := self._refused(m, now))}
        if not refused or not t.live:
            return
        t.next_check = min([t.next_check] + [r.until for r in refused.values()])
        m, r = next(iter(refused.items()))
        note = (f"{m} refused by the WebSocket ({r.reason}); rechecking over REST in "
                f"{r.until - now:.0f}s")
        if len(refused) == len(t.markets):
            t.status, t.detail = "unresolved", note
        else:
            t.detail = f"{t.detail}; {note}"

    def summary(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {g: {} for g in GROUPS}
        for t in self.items.values():
            group = "unresolved" if t.status == "pending" else t.status
            out.setdefault(group, {})[t.ticker] = t.detail
        return out

    def detail(self) -> str:
        """``"N active, M unresolved"`` (and paused) with the unresolved (and expired)
        listed."""
        s = self.summary()
        text = f"{len(s['active'])} active, {len(s['unresolved'])} unresolved"
        if s["paused"]:
            text += f", {len(s['paused'])} paused"
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
            self._show_refusals(t)
        if self.items.get(t.ticker) is t and before != (t.status, t.detail, list(t.markets)):
            self.book.set_status(t.ticker, t.status, t.detail, list(t.markets))

    def _publish(self) -> None:
        wanted: dict[str, MarketInfo] = {}
        now = self.now()
        for t in self.items.values():
            if t.live:
                wanted.update(t.markets)
            if t.status != "expired":
                wanted.update(t.early)
        for m in [m for m in wanted if self._refused(m, now)]:
            del wanted[m]
        changed = set(wanted) != set(self.markets)
        self.markets = wanted
        if changed:
            self.version += 1
            self._published.set()
            self._published = trio.Event()
        if self.on_publish is not None:
            self.on_publish()
