"""Tracked identifiers, one watchlist per feed: persisted, changed live (API, th-ctl), read by
the feed that registered an :class:`~trade_hunter.plugins.IdentifierSpec`.

The core knows no identifier syntax: each feed's spec validates and normalises its own, and
a feed's component sees only its own list (``ctx.tickers``, a :class:`FeedWatchlist`).
Rows of a feed that is not loaded now stay in the database and are listed, untouched.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import warnings
from collections.abc import Container, Mapping, Sequence
from typing import Any

import trio

from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.registry import IdentifierSpec, TrackedTicker

from .store import Store

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (feed, identifier)


class Watchlist:
    def __init__(self, store: Store, specs: Mapping[str, IdentifierSpec],
                 default: str | None = None) -> None:
        self.store = store
        self.specs = dict(specs)
        """The feeds that accept identifiers, by feed name."""
        self.default = default
        """The feed meant when none is named and several accept identifiers."""
        self.items: dict[Key, TrackedTicker] = {}
        self._changed: dict[str, trio.Event] = {}

    def load(self, settings: Any) -> None:
        """Read the persisted lists; on a feed's very first start, seed it from its spec's
        ``seed_setting``."""
        rows = self.store.query("SELECT feed, ticker, added_at, status, detail, markets "
                                "FROM tracked_tickers ORDER BY added_at")
        for feed, ticker, added_at, status, detail, markets in rows:
            self.items[(feed, ticker)] = TrackedTicker(ticker, added_at, status, detail,
                                                       json.loads(markets), feed)
        seeded = {key for (key,) in self.store.query(
            "SELECT key FROM kv WHERE key LIKE 'watchlist_seeded:%'")}
        fresh: list[TrackedTicker] = []
        flags: list[str] = []
        for feed, spec in self.specs.items():
            flag = f"watchlist_seeded:{feed}"
            if flag in seeded or spec.seed_setting is None:
                continue
            flags.append(flag)
            now = time.time()
            for raw in settings.get(spec.seed_setting) or ():
                ticker = self._validate(feed, raw)
                if (feed, ticker) not in self.items:
                    item = self.items[(feed, ticker)] = TrackedTicker(ticker, now, feed=feed)
                    fresh.append(item)

        def seed(conn: sqlite3.Connection) -> None:
            for t in fresh:
                _upsert(conn, t)
            conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, '1')", [(f,) for f in flags])
        if flags:
            self.store.submit(seed)

    # ------------------------------------------------------------------ which feed
    def feed_for(self, feed: str | None) -> str:
        """The named feed, or the only one that accepts identifiers, or the default one;
        ``RpcError`` naming the candidates otherwise."""
        names = ", ".join(sorted(self.specs)) or "none is loaded"
        if feed is not None:
            if feed not in self.specs:
                raise RpcError(f"feed {feed!r} does not accept tracked identifiers (feeds "
                               f"that do: {names})", code="invalid_params")
            return feed
        if len(self.specs) == 1:
            return next(iter(self.specs))
        if self.default in self.specs:
            return self.default
        if not self.specs:
            raise RpcError("no loaded feed accepts tracked identifiers", code="invalid_params")
        raise RpcError(f"several feeds accept identifiers ({names}): name one with "
                       f"feed (th-ctl: --feed NAME)", code="invalid_params")

    def _validate(self, feed: str, raw: str) -> str:
        try:
            return self.specs[feed].validate(str(raw))
        except ValueError as exc:
            raise RpcError(str(exc), code="invalid_params") from None

    # ------------------------------------------------------------------ changes
    def feeds(self, running: Container[str]) -> list[dict[str, Any]]:
        """The feeds that accept identifiers: whether each is running, what it accepts, whether
        it offers a search."""
        return [{"name": name, "running": name in running, "accepts": spec.describe,
                 "search": spec.search is not None} for name, spec in self.specs.items()]

    def venue_url(self, feed: str, market_id: str) -> str | None:
        """The market's page on its venue, as the feed named ``feed`` says (``market_url``)."""
        spec = self.specs.get(feed)
        return spec.market_url(market_id) if spec is not None and spec.market_url else None

    def event_of(self, feed: str, market_id: str) -> str | None:
        """The event of a market, as the feed named ``feed`` says (``event_of``)."""
        spec = self.specs.get(feed)
        return spec.event_of(market_id) if spec is not None and spec.event_of else None

    def list(self, feed: str | None = None) -> list[TrackedTicker]:
        return [t for t in self.items.values() if feed is None or t.feed == feed]

    async def add(self, feed: str, raw: str) -> tuple[TrackedTicker, bool]:
        ticker = self._validate(feed, raw)
        if (feed, ticker) in self.items:
            return self.items[(feed, ticker)], False
        item = self.items[(feed, ticker)] = TrackedTicker(ticker, time.time(), feed=feed)
        await self.store.run(lambda conn: _upsert(conn, item))
        self._notify(feed)
        log.info("%s %s: now tracked", feed, ticker,
                 extra={"feed": feed, "ticker": ticker, "change": "added"})
        return item, True

    async def remove(self, feed: str, raw: str) -> str | None:
        """Stop tracking; returns the identifier as stored, ``None`` when it was not tracked."""
        ticker = self._validate(feed, raw)
        if self.items.pop((feed, ticker), None) is None:
            return None
        await self.store.run(lambda conn: conn.execute(
            "DELETE FROM tracked_tickers WHERE feed=? AND ticker=?", (feed, ticker)))
        self._notify(feed)
        log.info("%s %s: no longer tracked", feed, ticker,
                 extra={"feed": feed, "ticker": ticker, "change": "removed"})
        return ticker

    def set_status(self, feed: str, ticker: str, status: str, detail: str = "",
                   markets: Sequence[str] = ()) -> None:
        item = self.items.get((feed, ticker))
        if item is None:
            return
        if (item.status, item.markets) != (status, list(markets)):
            _log_status(feed, ticker, status, detail, markets)
        item.status, item.detail, item.markets = status, detail, list(markets)
        self.store.submit(lambda conn: _upsert(conn, item))

    async def wait_changed(self, feed: str) -> None:
        await self._changed.setdefault(feed, trio.Event()).wait()

    def _notify(self, feed: str) -> None:
        event = self._changed.pop(feed, None)
        if event is not None:
            event.set()

    def summary(self, feed: str | None = None) -> dict[str, int]:
        items = self.list(feed)
        counts: dict[str, int] = {}
        for t in items:
            counts[t.status] = counts.get(t.status, 0) + 1
        return {"total": len(items), **counts}

    def view(self, name: str) -> FeedWatchlist:
        """What component ``name`` receives as ``ctx.tickers``: its own list when it is a feed
        that accepts identifiers. Any other component gets, as before lists were per feed, the
        only such feed's list (the Kalshi one) — or the default one when there are several —
        with a ``DeprecationWarning`` when used."""
        only = next(iter(self.specs)) if len(self.specs) == 1 else self.default
        if name in self.specs or only not in self.specs:
            return FeedWatchlist(self, name)
        return FeedWatchlist(self, str(only), borrowed_by=name)


class FeedWatchlist:
    """One feed's list, as its component sees it (``ctx.tickers``: the ``TickerBook``
    protocol of the plugin contract)."""

    def __init__(self, watchlist: Watchlist, feed: str, borrowed_by: str = "") -> None:
        self._watchlist, self.feed, self._borrowed_by = watchlist, feed, borrowed_by

    def list(self) -> list[TrackedTicker]:
        self._warn()
        return self._watchlist.list(self.feed)

    def set_status(self, ticker: str, status: str, detail: str = "",
                   markets: Sequence[str] = ()) -> None:
        self._warn()
        self._watchlist.set_status(self.feed, ticker, status, detail, markets)

    def _warn(self) -> None:
        if self._borrowed_by:
            warnings.warn(f"{self._borrowed_by}: ctx.tickers is the {self.feed!r} feed's "
                          "list only while no other feed accepts identifiers; register "
                          "identifiers=IdentifierSpec(...) with your feed for a list of its "
                          "own (docs/plugins.md)", DeprecationWarning, stacklevel=3)
            self._borrowed_by = ""  # once per component

    async def wait_changed(self) -> None:
        await self._watchlist.wait_changed(self.feed)

    def summary(self) -> dict[str, int]:
        return self._watchlist.summary(self.feed)


def _log_status(feed: str, ticker: str, status: str, detail: str,
                markets: Sequence[str]) -> None:
    """One line per change of an identifier's resolution (a rollover names the new market)."""
    following = f" → {', '.join(markets[:5])}{' …' if len(markets) > 5 else ''}" \
        if markets else ""
    log.log(logging.WARNING if status == "unresolved" else logging.INFO,
            "%s %s: %s%s%s", feed, ticker, status, following, f" ({detail})" if detail else "",
            extra={"feed": feed, "ticker": ticker, "change": status, "markets": list(markets)})


def _upsert(conn: sqlite3.Connection, t: TrackedTicker) -> None:
    conn.execute(
        "INSERT INTO tracked_tickers (feed, ticker, added_at, status, detail, markets)"
        " VALUES (?,?,?,?,?,?) ON CONFLICT(feed, ticker) DO UPDATE SET status=excluded.status,"
        " detail=excluded.detail, markets=excluded.markets",
        (t.feed, t.ticker, t.added_at, t.status, t.detail, json.dumps(t.markets)))
