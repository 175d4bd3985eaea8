"""One market-channel session: the subscription kept equal to the wanted YES tokens (the first
message subscribes, later changes are ``operation: subscribe/unsubscribe`` on the live
connection), the text ``PING`` keep-alive, and a dead-link watchdog.

The channel sends no acknowledgement, so the session counts as subscribed once its
subscription went out. Every failure ends in :class:`Reconnect` with a reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from trade_hunter.plugins.streaming import Reconnect, closed_text

if TYPE_CHECKING:
    from .feed import PolymarketFeed

PING_EVERY = 10.0          # the documented keep-alive interval
_encode = msgspec.json.Encoder().encode


class Session:
    def __init__(self, ws: WebSocketConnection, feed: PolymarketFeed) -> None:
        self.ws, self.feed, self.health = ws, feed, feed.health
        self.sent: set[str] = set()
        self.opened = False            # the initial subscription went out
        self.reason = ""
        self.last_rx = trio.current_time()
        self.busy = False
        self._nursery: trio.Nursery | None = None

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for task in (self._reader, self._keepalive, self._reconciler):
                nursery.start_soon(self._guard, task)
        raise Reconnect(self.reason or "session ended")

    async def _guard(self, task: Callable[[], Awaitable[None]]) -> None:
        try:
            await task()
        except ConnectionClosed as exc:
            self._fail(closed_text(exc))
        except Reconnect as exc:
            self._fail(str(exc))

    def _fail(self, reason: str) -> None:
        self.reason = self.reason or reason
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()

    async def _reader(self) -> None:
        feed = self.feed
        while True:
            raw = await self.ws.get_message()
            self.last_rx = trio.current_time()
            feed.on_message()
            if raw == "PONG":
                self.health.count("pongs")
                continue
            events = feed.handle(raw)
            if events:
                self.busy = True  # a full pipeline is backpressure, not a dead link
                await feed.emit(events)
                self.busy = False
                self.last_rx = trio.current_time()

    async def _keepalive(self) -> None:
        """``PING`` every 10 s (sooner for a short stall time); nothing received — no frame,
        no ``PONG`` — for the stall time means a dead link."""
        stall = self.feed.cfg.stall_seconds
        interval = min(PING_EVERY, stall / 3)
        while True:
            await trio.sleep(interval)
            if self.busy:
                self.last_rx = trio.current_time()
            if trio.current_time() - self.last_rx >= stall:
                raise Reconnect(f"no frames and no PONG for {stall:g}s (dead link)")
            await self.ws.send_message("PING")
            self.health.count("pings")

    async def _reconciler(self) -> None:
        tracker = self.feed.tracker
        while True:
            seen = tracker.version
            await self._reconcile()
            await tracker.wait_version(seen)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_message(_encode(message).decode())

    async def _reconcile(self) -> None:
        want = set(self.feed.tracker.markets)
        if not self.opened:
            if want:
                await self._send({"assets_ids": sorted(want), "type": "market",
                                  "custom_feature_enabled": True})
                self.opened, self.sent = True, want
                self.health.count("subscribes")
        else:
            add, remove = want - self.sent, self.sent - want
            self.sent = want
            if remove:
                await self._send({"assets_ids": sorted(remove), "operation": "unsubscribe"})
                self.health.count("unsubscribes")
            if add:
                await self._send({"assets_ids": sorted(add), "operation": "subscribe",
                                  "custom_feature_enabled": True})
                self.health.count("subscribes")
        self.feed.on_subscribed()
