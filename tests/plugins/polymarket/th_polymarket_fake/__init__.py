"""A local fake Polymarket for the feed's tests, written from docs/polymarket-protocol.md.

Gamma REST (``http://127.0.0.1:<port>``: ``/events/slug/{slug}``, ``/markets/slug/{slug}``,
``/markets?condition_ids=&limit=&offset=``, ``/tags?limit=&offset=``, and
``/events?tag_id=&series_id=&closed=&order=&ascending=&limit=&offset=``) and the market channel
(``ws://127.0.0.1:<port>/ws/market``), both on port 0, speaking the documented wire formats
to the real clients (httpx, trio-websocket). Every request and handshake is recorded; faults:
abrupt drops, close codes, black-holed (stalled) links, rejected handshakes, Gamma 5xx.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trio
from trio_websocket import WebSocketServer

from .faults import FaultyListener
from .http import Reply, serve_http
from .ws import WS_PATH, Conn, WsSide

__all__ = ["Conn", "FakePolymarket", "Market"]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Market:
    slug: str
    condition_id: str
    question: str
    yes_token: str
    no_token: str
    end_ts: float
    event_slug: str = ""
    closed: bool = False
    active: bool = True
    bids: list[tuple[str, str]] = field(default_factory=lambda: [(".48", "30"), (".49", "20")])
    asks: list[tuple[str, str]] = field(default_factory=lambda: [(".53", "60"), (".52", "25")])


@dataclass
class Event:
    slug: str
    title: str
    tags: list[str]
    closed: bool = False
    series: str = ""
    """The slug of the recurring series it belongs to ("" for none)."""
    volume: float = 0.0


class FakePolymarket:
    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.events: dict[str, Event] = {}
        self.markets: dict[str, Market] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], str]] = []
        self.fail_next: list[int] = []
        self.ws = WsSide(self)
        self.gamma_port = self.ws_port = 0
        self.tag_ids: dict[str, int] = {}      # tag label → its id, shared by every event
        self.series_ids: dict[str, int] = {}   # series slug → its id
        self._changed = trio.Event()
        self._n = 0

    # ------------------------------------------------------------------ serving
    async def start(self, nursery: trio.Nursery) -> FakePolymarket:
        self.gamma_port = await nursery.start(serve_http, self._gamma)
        [inner] = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.ws_port = inner.socket.getsockname()[1]
        server = WebSocketServer(self.ws.handler, [FaultyListener(inner, self.ws.streams)],
                                 handler_nursery=nursery)
        await nursery.start(server.run)
        return self

    @property
    def gamma_url(self) -> str:
        return f"http://127.0.0.1:{self.gamma_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}{WS_PATH}"

    def env(self) -> dict[str, str]:
        return {"POLYMARKET_GAMMA_URL": self.gamma_url, "POLYMARKET_WS_URL": self.ws_url}

    def bump(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        with trio.fail_after(timeout):
            while not (result := predicate()):
                await self._changed.wait()
            return result

    # ------------------------------------------------------------------ the book
    def add_event(self, slug: str, title: str, tags: list[str] | None = None, *,
                  series: str = "", volume: float = 0.0) -> Event:
        self.events[slug] = Event(slug, title, tags or [], series=series, volume=volume)
        for tag in tags or ():
            self.tag_ids.setdefault(tag, len(self.tag_ids) + 101)
        if series:
            self.series_ids.setdefault(series, len(self.series_ids) + 9001)
        return self.events[slug]

    def add_market(self, slug: str, question: str, event: str = "", *,
                   end_ts: float | None = None, **fields: Any) -> Market:
        self._n += 1
        n = self._n
        market = Market(slug, "0x" + f"{n:064x}", question, yes_token=str(10**70 + 2 * n),
                        no_token=str(10**70 + 2 * n + 1),
                        end_ts=end_ts if end_ts is not None else self.now() + 86400,
                        event_slug=event, **fields)
        self.markets[slug] = market
        return market

    def _tags(self, event: Event) -> list[dict[str, Any]]:
        return [self._tag(t) for t in event.tags]

    def _tag(self, label: str) -> dict[str, Any]:
        return {"id": str(self.tag_ids[label]), "label": label, "slug": label.lower()}

    def _series(self, event: Event) -> list[dict[str, Any]]:
        if not event.series:
            return []
        return [{"id": str(self.series_ids[event.series]), "slug": event.series,
                 "title": event.series, "recurrence": "daily"}]

    def event_end(self, e: Event) -> float:
        return max((m.end_ts for m in self.markets.values() if m.event_slug == e.slug),
                   default=self.now())

    def market_json(self, m: Market, nested_event: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(int(m.condition_id, 16)), "question": m.question,
            "conditionId": m.condition_id, "slug": m.slug, "endDate": iso(m.end_ts),
            "active": m.active, "closed": m.closed,
            "outcomes": json.dumps(["Yes", "No"]),
            "clobTokenIds": json.dumps([m.yes_token, m.no_token]),
            "enableOrderBook": True}
        event = self.events.get(m.event_slug)
        if nested_event and event is not None:
            body["events"] = [{"id": event.slug, "slug": event.slug, "title": event.title,
                               "closed": event.closed, "tags": self._tags(event)}]
        return body

    def event_json(self, e: Event) -> dict[str, Any]:
        markets = [m for m in self.markets.values() if m.event_slug == e.slug]
        return {"id": e.slug, "slug": e.slug, "title": e.title, "closed": e.closed,
                "active": not e.closed, "tags": self._tags(e), "series": self._series(e),
                "volume": e.volume, "endDate": iso(self.event_end(e)),
                "markets": [self.market_json(m, nested_event=False) for m in markets]}

    def _list_events(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """``GET /events`` with the filters the plugin uses. ``closed`` is sent explicitly
        (Gamma's own default is not what its documentation says)."""
        found = list(self.events.values())
        if "closed" in query:
            closed = query["closed"][0] == "true"
            found = [e for e in found if e.closed == closed]
        if "tag_id" in query:
            ids = set(query["tag_id"])
            found = [e for e in found if any(str(self.tag_ids[t]) in ids for t in e.tags)]
        if "series_id" in query:
            ids = set(query["series_id"])
            found = [e for e in found if e.series and str(self.series_ids[e.series]) in ids]
        order = query.get("order", [""])[0]
        ascending = query.get("ascending", ["true"])[0] != "false"
        if order in ("volume", "endDate"):
            found.sort(key=lambda e: e.volume if order == "volume" else self.event_end(e),
                       reverse=not ascending)
        return [self.event_json(e) for e in found]

    async def _gamma(self, method: str, target: str, headers: dict[str, str]) -> Reply:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        self.requests.append((method, parts.path, query, headers.get("host", "")))
        self.bump()
        if self.fail_next:
            return self.fail_next.pop(0), {"error": "injected failure"}
        path = parts.path
        if method != "GET":
            return 405, {"error": "method not allowed"}
        if path.startswith("/events/slug/"):
            event = self.events.get(path.removeprefix("/events/slug/"))
            return (200, self.event_json(event)) if event else (404, {"error": "not found"})
        if path.startswith("/markets/slug/"):
            market = self.markets.get(path.removeprefix("/markets/slug/"))
            return (200, self.market_json(market)) if market else (404, {"error": "not found"})
        if path in ("/events", "/tags"):
            items = self._list_events(query) if path == "/events" else \
                [self._tag(t) for t in self.tag_ids]
            limit = int(query.get("limit", ["20"])[0])
            offset = int(query.get("offset", ["0"])[0])
            return 200, items[offset:offset + limit]
        if path == "/markets":
            wanted = set(query.get("condition_ids", []))
            found = [self.market_json(m) for m in self.markets.values()
                     if not wanted or m.condition_id in wanted]
            limit = int(query.get("limit", ["20"])[0])
            offset = int(query.get("offset", ["0"])[0])
            return 200, found[offset:offset + limit]
        return 404, {"error": "not found"}

    # ------------------------------------------------------------------ streaming
    def book_msg(self, asset: str) -> dict[str, Any] | None:
        m = next((m for m in self.markets.values() if asset in (m.yes_token, m.no_token)),
                 None)
        if m is None:
            return None
        return {"event_type": "book", "asset_id": asset, "market": m.condition_id,
                "bids": [{"price": p, "size": s} for p, s in m.bids],
                "asks": [{"price": p, "size": s} for p, s in m.asks],
                "timestamp": str(int(self.now() * 1000)), "hash": "0xfeed"}

    async def book(self, slug: str, bids: list[tuple[str, str]],
                   asks: list[tuple[str, str]]) -> int:
        m = self.markets[slug]
        m.bids, m.asks = bids, asks
        return await self.ws.publish(m.yes_token, self.book_msg(m.yes_token))

    async def price_change(self, slug: str, *, price: str, size: str, side: str,
                           best_bid: str, best_ask: str) -> int:
        """A price_change in the current shape: the YES change and the mirrored NO one."""
        m = self.markets[slug]
        one = 1
        no_bid = str(one - _d(best_ask))
        no_ask = str(one - _d(best_bid))
        msg = {"event_type": "price_change", "market": m.condition_id,
               "timestamp": str(int(self.now() * 1000)), "price_changes": [
                   {"asset_id": m.yes_token, "price": price, "size": size, "side": side,
                    "hash": "0x1", "best_bid": best_bid, "best_ask": best_ask},
                   {"asset_id": m.no_token, "price": str(one - _d(price)), "size": size,
                    "side": "SELL" if side == "BUY" else "BUY", "hash": "0x2",
                    "best_bid": no_bid, "best_ask": no_ask}]}
        return await self.ws.publish(m.yes_token, msg)

    async def trade(self, slug: str, *, price: str, size: str, side: str = "BUY") -> int:
        m = self.markets[slug]
        return await self.ws.publish(m.yes_token, {
            "event_type": "last_trade_price", "asset_id": m.yes_token,
            "market": m.condition_id, "price": price, "size": size, "side": side,
            "fee_rate_bps": "0", "timestamp": str(int(self.now() * 1000))})

    async def tick_size_change(self, slug: str, old: str = "0.01", new: str = "0.001") -> int:
        m = self.markets[slug]
        return await self.ws.publish(m.yes_token, {
            "event_type": "tick_size_change", "asset_id": m.yes_token,
            "market": m.condition_id, "old_tick_size": old, "new_tick_size": new,
            "timestamp": str(int(self.now() * 1000))})

    async def lifecycle(self, kind: str, slug: str, **extra: Any) -> int:
        """``new_market`` or ``market_resolved`` (sent to every custom-feature subscriber)."""
        m = self.markets[slug]
        msg = {"event_type": kind, "id": str(int(m.condition_id, 16)), "question": m.question,
               "market": m.condition_id, "slug": m.slug,
               "assets_ids": [m.yes_token, m.no_token], "outcomes": ["Yes", "No"],
               "event_message": {"slug": m.event_slug}, "timestamp": str(int(self.now() * 1000)),
               **extra}
        return await self.ws.publish(None, msg)

    # ------------------------------------------------------------------ faults
    async def drop(self) -> None:
        for conn in self.ws.live:
            await conn.stream.abort()

    async def close(self, code: int = 1011, reason: str = "internal error") -> None:
        for conn in self.ws.live:
            with trio.move_on_after(2):
                await conn.ws.aclose(code, reason)

    def stall(self) -> None:
        for conn in self.ws.live:
            conn.stream.stalled = True

    def reject_next(self, count: int, status: int = 503) -> None:
        self.ws.reject.extend([status] * count)

    async def garbage(self) -> None:
        for frame in ("not json", "[1, 2]", '{"event_type": "mystery"}',
                      '{"event_type": "price_change", "asset_id": "1", "changes": []}',
                      (f'{{"event_type": "last_trade_price", "asset_id": "{next(iter(self.markets.values())).yes_token}", "price": "abc", '
                      '"size": "1", "side": "BUY"}')):
            await self.ws.publish(None, frame)

    # ------------------------------------------------------------------ inspection
    def subscribed(self) -> set[str]:
        """The assets some live connection is subscribed to."""
        return {a for c in self.ws.live for a in c.assets}

    def received(self) -> list[Any]:
        return [m for c in self.ws.conns for m in c.received]


def _d(text: str) -> Any:
    from decimal import Decimal
    return Decimal(text)
