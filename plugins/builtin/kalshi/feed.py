"""The Kalshi live feed: resolution, the WebSocket connection loop, events out.

``run`` starts the tracker (ticker resolution), connects, subscribes and streams; it calls
``task_status.started()`` once subscribed, or when the first attempt failed, or after
``streaming.STARTUP_WAIT`` at the latest — the daemon never waits long for an exchange that is down.

The connection loop reconnects by itself with full-jitter exponential backoff (0.5 s doubling
up to ``KALSHI_RECONNECT_MAX_SECONDS``), signing every handshake afresh and resubscribing
everything; the backoff resets only after a session stayed subscribed for a while, so a
server that accepts and drops at once cannot make it spin.

On shutdown (cancellation) the WebSocket is closed with a close frame, code 1000, inside a
shielded scope bounded by ``DISCONNECT_TIMEOUT``: the exchange sees a clean goodbye, not a
dropped connection.

Events: quotes whose price, bid, ask and volume did not change are not repeated (ticker frames
also fire on size-only changes and on every re-snapshot), and trades are de-duplicated by
trade id, so a re-sync (REST backfill after a gap or a reconnect) never delivers one twice.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import trio
from trio_websocket import open_websocket_url

from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.streaming import ConnectionLoop, goodbye, report_age

from . import parse
from .auth import Signer
from .categories import CategorySearch
from .config import KalshiConfig
from .resolve import Resolver
from .rest import Rest, RestError
from .settlement import market_result
from .tracker import GROUPS, Tracker
from .ws import Session

log = logging.getLogger(__name__)
HEALTHY_AFTER = 30.0       # a session subscribed this long resets the backoff
CONNECT_TIMEOUT = 10.0
DISCONNECT_TIMEOUT = 2.0
MESSAGE_QUEUE = 4096       # frames buffered while the pipeline is busy (bursts)
MAX_MESSAGE = 64 * 1024 * 1024
SEEN_TRADES = 50_000
BACKFILL_WINDOW = 900.0    # never backfill more than 15 minutes
BACKFILL_MARKETS = 100


class KalshiFeed:
    def __init__(self, cfg: KalshiConfig, signer: Signer, health: Any, tickers: Any, *,
                 now: Callable[[], float] = time.time) -> None:
        self.cfg, self.signer, self.health, self.now = cfg, signer, health, now
        self.rest = Rest(cfg.api_base, signer=signer, rate=cfg.rest_rate, health=health)
        self.resolver = Resolver(self.rest, now)
        self.tracker = Tracker(self.resolver, tickers, now=now, on_publish=self._publish)
        self.categories = CategorySearch(cfg.category_ttl, now=now)
        self.sessions = 0
        self.last_message_at: float | None = None
        self.state, self.note = "starting", "resolving tickers"
        # Trade ids seen, as their hashes (a third of the memory of the strings; a 64-bit
        # collision among the last 50,000 is not a practical risk), oldest first.
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._quotes: dict[str, tuple[Any, ...]] = {}
        self._last_trade: dict[str, float] = {}
        self._covered: dict[str, float] = {}
        self._send: trio.MemorySendChannel[Any] | None = None
        self._nursery: trio.Nursery | None = None
        self.connection = ConnectionLoop("kalshi", health, cap=cfg.reconnect_max,
                                         healthy_after=HEALTHY_AFTER, on_down=self._down)
        self._last_reason = ""

    # ------------------------------------------------------------------ run
    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._send = send_channel
        self.health.put("api_base", self.cfg.api_base)
        self.health.put("ws_url", self.cfg.ws_url)
        self._set("starting", "resolving tickers")
        async with self.rest, trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.tracker.run)
            nursery.start_soon(report_age, self.health, lambda: self.last_message_at,
                               self.now)
            await nursery.start(partial(self.connection.serve, self._connect_once,
                                        lambda: self._last_reason, resolved=self.tracker.ready))
            task_status.started()

    def _down(self, reason: str, delay: float) -> None:
        self._set("reconnecting", f"{reason}; reconnecting in {delay:.1f}s")

    async def _connect_once(self) -> None:
        self._last_reason = ""
        headers = self.signer.headers("GET", self.cfg.ws_path)  # re-signed for every connect
        self.health.count("connects")
        async with open_websocket_url(
                self.cfg.ws_url, extra_headers=[(k.encode(), v.encode())
                                                for k, v in headers.items()],
                message_queue_size=MESSAGE_QUEUE, max_message_size=MAX_MESSAGE,
                connect_timeout=CONNECT_TIMEOUT, disconnect_timeout=DISCONNECT_TIMEOUT) as ws:
            if self.sessions:
                self.health.count("reconnects")
            self.sessions += 1
            self._set(self.state, "connected, subscribing")
            session = Session(ws, self, first=self.sessions == 1)
            try:
                await session.run()
            except BaseException as exc:
                await goodbye(ws, exc, DISCONNECT_TIMEOUT)  # shutting down: a close frame
                raise
            finally:
                self._last_reason = session.reason

    async def settlement(self, market_id: str) -> str | None:
        """How ``market_id`` settled: ``yes`` / ``no``, None while unknown (settlement.py)."""
        return await market_result(self.rest, market_id)

    # ------------------------------------------------------------------ health
    def _set(self, state: str, note: str) -> None:
        self.state, self.note = state, note
        self.health.set(state, self._detail())

    def _detail(self) -> str:
        text = self.tracker.detail()
        return f"{text}; {self.note}" if self.note else text

    def _publish(self) -> None:
        summary = self.tracker.summary()
        for group in GROUPS:
            self.health.put(group, summary.get(group, {}))
        self.health.put("markets", sorted(self.tracker.markets))
        self.health.set(self.state, self._detail())

    def on_subscribed(self) -> None:
        self.connection.up_at = None  # a new subscription: healthy from now
        self.connection.mark_up()
        self._set("connected", "")

    def on_message(self) -> None:
        self.last_message_at = self.now()
        self.health.put("last_message_at", self.last_message_at)

    # ------------------------------------------------------------------ events
    def covering(self, markets: Iterable[str]) -> None:
        """Markets entering the subscription: trades from now on are ours to backfill."""
        now = self.now()
        for m in markets:
            self._covered.setdefault(m, now)

    def uncovering(self, wanted: Iterable[str]) -> None:
        keep = set(wanted)
        for m in [m for m in self._covered if m not in keep]:
            del self._covered[m]

    async def emit(self, events: list[MarketEvent]) -> int:
        """Send events on, minus repeats; titles, topics and close times (the gated detector's
        close guard) come from resolution."""
        out = []
        info_of = self.tracker.markets.get
        seen, order = self._seen, self._seen_order
        quotes, last_trade = self._quotes, self._last_trade
        duplicates = unchanged = 0
        for e in events:
            m = e.market_id
            if e.event_kind == "trade":
                if e.ext_id is not None:
                    key: Any = hash(e.ext_id)  # an int here, a quote tuple below
                    if key in seen:
                        duplicates += 1
                        continue
                    seen.add(key)
                    order.append(key)
                    if len(order) > SEEN_TRADES:
                        seen.discard(order.popleft())
                ts = e.timestamp
                if ts > last_trade.get(m, 0.0):
                    last_trade[m] = ts
            else:
                quote = (e.yes_price, e.yes_bid, e.yes_ask, e.volume)
                if quotes.get(m) == quote:
                    unchanged += 1
                    continue
                quotes[m] = quote
            info = info_of(m)
            if info is not None:
                e.title, e.topic, e.closes_at = info.title, info.topic, info.close_ts
            out.append(e)
        if duplicates:
            self.health.count("duplicates", duplicates)
        if unchanged:
            self.health.count("unchanged_quotes", unchanged)
        if out:
            assert self._send is not None
            item = out if len(out) > 1 else out[0]
            try:
                self._send.send_nowait(item)  # the reader's get_message already yields
            except trio.WouldBlock:
                await self._send.send(item)  # a full pipeline: wait (backpressure)
            self.health.count("events", len(out))
        return len(out)

    def start_backfill(self, markets: Iterable[str]) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._backfill, sorted(markets))

    async def _backfill(self, markets: list[str]) -> None:
        """Trades missed during a gap or a disconnect, from ``GET /markets/trades``."""
        now = self.now()
        for m in markets[:BACKFILL_MARKETS]:
            since = self._last_trade.get(m) or self._covered.get(m)
            if since is None:
                continue
            params = {"ticker": m, "min_ts": int(max(since - 1, now - BACKFILL_WINDOW)),
                      "limit": 1000}
            events = []
            try:
                async for item in self.rest.pages("/markets/trades", "trades", params,
                                                  max_pages=5):
                    try:
                        events.append(parse.rest_trade_event(item, self.now()))
                    except parse.FrameError:
                        self.health.count("garbage")
            except RestError as exc:
                self.health.count("backfill_errors")
                log.info("kalshi: trade backfill of %s failed: %s", m, exc)
                continue
            events.sort(key=lambda e: e.timestamp)
            self.health.count("backfilled", await self.emit(events))
