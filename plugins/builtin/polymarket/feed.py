"""The Polymarket live feed: resolution through Gamma, the market-channel connection loop,
events out.

``run`` starts the tracker, connects, subscribes and streams; it calls
``task_status.started()`` once subscribed, when the first attempt failed, or after
``streaming.STARTUP_WAIT`` at the latest. The connection loop reconnects with full-jitter exponential
backoff (0.5 s doubling up to ``POLYMARKET_RECONNECT_MAX_SECONDS``) on drops, stalls, rejected
handshakes and errors, subscribing every wanted token afresh; the backoff resets only after a
session stayed up a while. On shutdown the socket is closed with code 1000, shielded and
bounded. Quotes whose best bid and ask did not change are not repeated (a reconnect's book
dump, a ``price_change`` deep in the book).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import trio
from trio_websocket import open_websocket_url

from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.streaming import ConnectionLoop, goodbye, report_age

from . import parse
from .config import PolymarketConfig
from .gamma import Gamma
from .resolve import Resolver
from .session import Session
from .tracker import GROUPS, Tracker

log = logging.getLogger(__name__)
HEALTHY_AFTER = 30.0
CONNECT_TIMEOUT = 10.0
DISCONNECT_TIMEOUT = 2.0
MESSAGE_QUEUE = 4096
MAX_MESSAGE = 16 * 1024 * 1024


class PolymarketFeed:
    def __init__(self, cfg: PolymarketConfig, health: Any, tickers: Any, *,
                 now: Callable[[], float] = time.time, gamma_page: int | None = None) -> None:
        self.cfg, self.health, self.now = cfg, health, now
        self.gamma = Gamma(cfg.gamma_url, health=health,
                           **({"page": gamma_page} if gamma_page else {}))
        self.tracker = Tracker(Resolver(self.gamma), tickers, now=now,
                               on_publish=self._publish, on_rollover=self._rolled_over)
        self.sessions = 0
        self.last_message_at: float | None = None
        self.state, self.note = "starting", "resolving identifiers"
        self._quotes: dict[str, tuple[Any, ...]] = {}
        self._send: trio.MemorySendChannel[Any] | None = None
        self.connection = ConnectionLoop("polymarket", health, cap=cfg.reconnect_max,
                                         healthy_after=HEALTHY_AFTER, on_down=self._down)
        self._last_reason = ""

    # ------------------------------------------------------------------ run
    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._send = send_channel
        self.health.put("ws_url", self.cfg.ws_url)
        self.health.put("gamma_url", self.cfg.gamma_url)
        self._set("starting", "resolving identifiers")
        async with self.gamma, trio.open_nursery() as nursery:
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
        self.health.count("connects")
        async with open_websocket_url(
                self.cfg.ws_url, message_queue_size=MESSAGE_QUEUE,
                max_message_size=MAX_MESSAGE, connect_timeout=CONNECT_TIMEOUT,
                disconnect_timeout=DISCONNECT_TIMEOUT) as ws:
            if self.sessions:
                self.health.count("reconnects")
            self.sessions += 1
            self._set(self.state, "connected, subscribing")
            session = Session(ws, self)
            try:
                await session.run()
            except BaseException as exc:
                await goodbye(ws, exc, DISCONNECT_TIMEOUT)  # shutting down: a close frame
                raise
            finally:
                self._last_reason = session.reason

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
        self.health.put("markets", sorted(m.slug for m in self.tracker.markets.values()))
        self.health.set(self.state, self._detail())

    def _rolled_over(self, t: Any) -> None:
        self.health.count("rollovers")
        self.health.put("last_rollover", {"identifier": t.ident, "from": t.rolled_from,
                                          "to": t.follows, "at": self.now()})

    def on_subscribed(self) -> None:
        self.connection.mark_up()
        if self.state != "connected":
            self._set("connected", "")

    def on_message(self) -> None:
        self.last_message_at = self.now()
        self.health.put("last_message_at", self.last_message_at)

    # ------------------------------------------------------------------ events
    def handle(self, raw: str | bytes) -> list[MarketEvent]:
        """The events of one frame; malformed messages are counted as garbage."""
        now = self.now()
        try:
            messages = parse.messages(raw)
        except parse.FrameError as exc:
            self.health.count("garbage")
            log.debug("polymarket: garbage frame: %s", exc)
            return []
        out: list[MarketEvent] = []
        wanted = self.tracker.markets
        for msg in messages:
            self.health.count(f"msg_{msg.get('event_type')}")
            try:
                out += parse.events(msg, wanted, now, self._lifecycle)
            except parse.FrameError as exc:
                self.health.count("garbage")
                log.debug("polymarket: garbage message: %s", exc)
        return out

    def _lifecycle(self, msg: dict[str, Any]) -> None:
        event = msg.get("event_message")
        slug = str(event.get("slug") or "") if isinstance(event, dict) else ""
        self.tracker.nudge(str(msg.get("market") or ""), slug)

    async def emit(self, events: list[MarketEvent]) -> int:
        out = []
        unchanged = 0
        for e in events:
            if e.event_kind == "quote":
                key = (e.yes_bid, e.yes_ask)
                if self._quotes.get(e.market_id) == key:
                    unchanged += 1
                    continue
                self._quotes[e.market_id] = key
            out.append(e)
        if unchanged:
            self.health.count("unchanged_quotes", unchanged)
        if out:
            assert self._send is not None
            await self._send.send(out if len(out) > 1 else out[0])
            self.health.count("events", len(out))
        return len(out)
