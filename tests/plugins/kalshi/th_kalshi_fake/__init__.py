"""A local fake Kalshi exchange for the feed's tests, written from docs/kalshi-protocol.md.

REST (``http://127.0.0.1:<port>/trade-api/v2``) and WebSocket
(``ws://127.0.0.1:<port>/trade-api/ws/v2``) on port 0, speaking the real wire formats to the
real clients (httpx, trio-websocket). It verifies RSA-PSS signatures and rejects bad ones,
paginates with cursors, serves what resolution needs, streams ticker and trade frames with
``seq``, and injects faults: abrupt drops, close codes, garbage frames, error 25, sequence
gaps (lost frames), stalls, rejected handshakes, 429s and 5xx, markets closing and their
successors opening, 404s just after creation (``Market.visible_at``), paused markets
(``state="inactive"``), a series endpoint answering 400 for unknown tickers
(``unknown_series_status``), markets past the historical cutoff (``archive``), and the
WebSocket scenario switches of :class:`~.ws.WsSide`. Every request is recorded.

Time is ``now()`` (injectable: tests on trio's autojump clock pass a virtual wall clock).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import trio
from cryptography.hazmat.primitives.asymmetric import rsa
from trio_websocket import WebSocketServer

from trade_hunter.plugins.builtin.kalshi.auth import pre_sign_text, verify

from .market import Event, Market, Series, trade_msg, trade_record
from .rest import PREFIX, Recorded, RestRoutes, serve_http
from .ws import WS_PATH, Conn, FaultyListener, WsSide

MAX_SKEW_MS = 30_000

__all__ = ["Conn", "FakeKalshi", "Market", "Recorded"]


class FakeKalshi:
    def __init__(self, public_key: rsa.RSAPublicKey, key_id: str, *,
                 now: Callable[[], float] = time.time) -> None:
        self.public_key, self.key_id, self.now = public_key, key_id, now
        self.series: dict[str, Series] = {}
        self.events: dict[str, Event] = {}
        self.markets: dict[str, Market] = {}
        self.trades: list[dict[str, Any]] = []
        self.extra_categories: list[str] = []
        self.requests: list[Recorded] = []
        self.require_auth = False       # REST: also refuse unsigned requests
        self.fail_next: list[int] = []  # statuses for the next REST requests
        self.max_page = 2               # small pages: pagination is always exercised
        self.unknown_series_status = 404  # 400: what the documentation lists
        self.historical: dict[str, Market] = {}
        self.historical_cutoff = now() - 90 * 86400
        self.ws = WsSide(self)
        self.rest_port = self.ws_port = 0
        self._changed = trio.Event()

    # ------------------------------------------------------------------ serving
    async def start(self, nursery: trio.Nursery) -> FakeKalshi:
        self.rest_port = await nursery.start(serve_http, RestRoutes(self))
        [inner] = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.ws_port = inner.socket.getsockname()[1]
        server = WebSocketServer(self.ws.handler, [FaultyListener(inner, self.ws.streams)],
                                 handler_nursery=nursery)
        await nursery.start(server.run)
        return self

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}{PREFIX}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}{WS_PATH}"

    def env(self) -> dict[str, str]:
        return {"KALSHI_API_BASE": self.rest_url, "KALSHI_WS_URL": self.ws_url}

    def check_auth(self, headers: dict[str, str], method: str, path: str) -> str | None:
        """``None`` if the three headers carry a valid signature, else what is wrong."""
        key, ts, sig = (headers.get(h) for h in (
            "kalshi-access-key", "kalshi-access-timestamp", "kalshi-access-signature"))
        if not (key and ts and sig):
            return "authentication required"
        if key != self.key_id:
            return "unknown API key"
        if not ts.isdigit() or abs(int(ts) - self.now() * 1000) > MAX_SKEW_MS:
            return "timestamp out of range"
        if not verify(self.public_key, sig, pre_sign_text(ts, method, path)):
            return "invalid signature"
        return None

    # ------------------------------------------------------------------ waiting
    def bump(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        with trio.fail_after(timeout):
            while not (result := predicate()):
                await self._changed.wait()
            return result

    # ------------------------------------------------------------------ the book
    def add_series(self, ticker: str, title: str, category: str, tags: list[str] | None = None
                   ) -> Series:
        self.series[ticker] = Series(ticker, title, category, tags or [])
        return self.series[ticker]

    def add_event(self, ticker: str, series: str, title: str) -> Event:
        self.events[ticker] = Event(ticker, series, title)
        return self.events[ticker]

    def add_market(self, ticker: str, event: str, subtitle: str = "", *,
                   open_ts: float | None = None, close_ts: float | None = None,
                   **fields: Any) -> Market:
        now = self.now()
        market = Market(ticker, event, open_ts if open_ts is not None else now - 3600,
                        close_ts if close_ts is not None else now + 86400, subtitle, **fields)
        self.markets[ticker] = market
        return market

    def archive(self, ticker: str) -> Market:
        """Settle ``ticker`` long ago: it moves past the cutoff to the historical tier."""
        market = self.markets.pop(ticker)
        market.state = "finalized"
        market.close_ts = min(market.close_ts, self.historical_cutoff - 86400)
        self.historical[ticker] = market
        return market

    def rolling(self, series: str, *, start: float, window: float = 900.0, count: int = 3,
                title: str = "Bitcoin price up or down in 15 minutes") -> list[Market]:
        """Consecutive windows of a rolling series (one event and one market each)."""
        made = []
        for i in range(count):
            opens = start + i * window
            closes = opens + window
            stamp = datetime.fromtimestamp(closes, UTC)
            event = f"{series}-{stamp:%y%b%d%H%M}".upper()
            self.add_event(event, series, title)
            made.append(self.add_market(f"{event}-{stamp:%M}", event,
                                        f"Target Price: ${60000 + i * 10:,}",
                                        open_ts=opens, close_ts=closes))
        return made

    def series_of(self, market: Market) -> str:
        event = self.events.get(market.event_ticker)
        return event.series_ticker if event else ""

    def event_markets(self, event: str, status: str | None = None) -> list[Market]:
        from .rest import status_filter
        wanted, now = status_filter(status), self.now()
        return [m for m in self.markets.values() if m.event_ticker == event and not m.hidden(now)
                and (wanted is None or m.status(now) in wanted)]

    def event_body(self, event: Event, nested: bool) -> dict[str, Any]:
        body = event.rest()
        if nested:
            body["markets"] = [m.rest(self.now()) for m in self.event_markets(event.ticker)]
        return body

    # ------------------------------------------------------------------ streaming
    async def ticker(self, market: str, *, price: Any = None, bid: Any = None, ask: Any = None,
                     volume: Any = None, lose: bool = False) -> int:
        m = self.markets[market]
        for name, value in (("price", price), ("yes_bid", bid), ("yes_ask", ask),
                            ("volume", volume)):
            if value is not None:
                setattr(m, name, Decimal(str(value)))
        return await self.ws.publish("ticker", market, m.ticker_msg(self.now()), lose=lose)

    async def trade(self, market: str, *, price: Any, count: Any, side: str = "yes",
                    lose: bool = False) -> str:
        """A print: recorded for ``GET /markets/trades``; sent on the WebSocket unless
        ``lose`` (then its ``seq`` is used up, so the next frame shows a gap)."""
        m = self.markets[market]
        m.price, m.volume = Decimal(str(price)), m.volume + Decimal(str(count))
        record = trade_record(str(uuid.uuid4()), market, price, count, side, self.now())
        self.trades.append(record)
        await self.ws.publish("trade", market, trade_msg(record), lose=lose)
        return str(record["trade_id"])

    async def lifecycle(self, market: str, event_type: str, **fields: Any) -> int:
        m = self.markets.get(market)
        msg: dict[str, Any] = {"market_ticker": market, "event_type": event_type, **fields}
        if m is not None and event_type == "created":
            msg.update(open_ts=int(m.open_ts), close_ts=int(m.close_ts),
                       additional_metadata={"event_ticker": m.event_ticker,
                                            "yes_sub_title": m.yes_sub_title})
        return await self.ws.publish("market_lifecycle_v2", None, msg)

    # ------------------------------------------------------------------ faults
    async def drop(self) -> None:
        """Abrupt drop: reset every live connection (no close frame)."""
        for conn in self.ws.live:
            await conn.stream.abort()

    async def close(self, code: int = 1011, reason: str = "internal error") -> None:
        for conn in self.ws.live:
            with trio.move_on_after(2):
                await conn.ws.aclose(code, reason)

    def stall(self) -> None:
        """Black-hole every live connection: nothing in, nothing out, no pongs."""
        for conn in self.ws.live:
            conn.stream.stalled = True

    def reject_next(self, count: int, status: int = 503) -> None:
        self.ws.reject.extend([status] * count)

    async def garbage(self) -> list[str | bytes]:
        frames: list[str | bytes] = [
            "this is not json", b"\x00\x01\x02binary", "[1, 2, 3]", '{"type": 7}',
            '{"type": "mystery_channel", "sid": 1, "msg": {}}',
            '{"type": "ticker", "sid": 1, "msg": {"price_dollars": "0.5"}}',
            '{"type": "trade", "sid": 2, "msg": {"market_ticker": "X", "count_fp": 12}}',
        ]
        for conn in self.ws.live:
            for frame in frames:
                await self.ws.send(conn, frame)
        return frames

    async def overflow(self, channel: str) -> int:
        """Error 25 (subscription buffer overflow): the subscription is gone server-side."""
        return await self.channel_error(channel, 25, "Subscription buffer overflow")

    async def channel_error(self, channel: str, code: int, text: str) -> int:
        """A terminal channel error (10 channel error, 17 internal error, 25 overflow): the
        subscription is dropped server-side and the client must subscribe again."""
        hit = 0
        for conn in self.ws.live:
            sid = conn.sid_of(channel)
            if sid is not None:
                del conn.subs[sid]
                await self.ws.send(conn, {"type": "error", "sid": sid,
                                          "msg": {"code": code, "msg": text}})
                hit += 1
        return hit

    # ------------------------------------------------------------------ inspection
    def subscribed(self, channel: str, market: str | None = None) -> bool:
        """Some live connection has ``channel`` (covering ``market``) subscribed."""
        return any(s.channel == channel and (market is None or s.markets is None
                                             or market in s.markets)
                   for c in self.ws.live for s in c.subs.values())

    def commands(self, name: str | None = None) -> list[dict[str, Any]]:
        return [cmd for c in self.ws.conns for cmd in c.commands
                if name is None or cmd.get("cmd") == name]
