"""One WebSocket session: subscriptions kept equal to the wanted markets, per-``sid``
sequence tracking, frame dispatch and a dead-link watchdog.

Subscriptions: ``market_lifecycle_v2`` (global) always; ``ticker`` and ``trade`` with the
wanted markets once there are any (never without a market list: that would be the whole
exchange). Changes of the wanted set become ``update_subscription`` add/delete commands on
the live connection, so a rollover or an added ticker never reconnects.

Recovery inside a session: a ``seq`` gap, the terminal errors 10, 17 and 25, or a command
left unanswered for ``ANSWER_TIMEOUT``, make the affected channel unsubscribe and subscribe
afresh (frames of the old ``sid`` are ignored from then on); a trade channel re-sync also
backfills missed trades over REST. A channel that keeps failing (more than ``RESUB_LIMIT``
times a minute) ends the session, so the feed reconnects with backoff instead of spinning.
Every failure ends in :class:`Reconnect` with a reason. What each frame does is in
:mod:`.dispatch`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from trade_hunter.plugins.streaming import Reconnect, closed_text

from .dispatch import LIFECYCLE, MARKET_CHANNELS, Command, Dispatch, Sub

if TYPE_CHECKING:
    from .feed import KalshiFeed

log = logging.getLogger(__name__)
RESUB_LIMIT = 6
BURST = 255                         # more frames taken per pass when the socket has a backlog
RESUB_WINDOW = 60.0
ANSWER_TIMEOUT = 10.0               # a subscribe or update left unanswered this long: resync
_encode = msgspec.json.Encoder().encode


class Session(Dispatch):
    def __init__(self, ws: WebSocketConnection, feed: KalshiFeed, *, first: bool) -> None:
        self.ws, self.feed, self.health = ws, feed, feed.health
        self.subs = {c: Sub(c) for c in (LIFECYCLE, *MARKET_CHANNELS)}
        self.subs["trade"].backfill = not first     # trades may have been missed while away
        self.by_sid: dict[int, Sub] = {}
        self.seq: dict[int, int] = {}
        self.commands: dict[int, Command] = {}
        self.drop: list[int] = []
        self.next_id = 1
        self.poke = trio.Event()
        self.reason = ""
        self.last_rx = trio.current_time()
        self.subscribed = False
        self.busy = False
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Run until the connection fails; always ends by raising :class:`Reconnect`."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for task in (self._reader, self._watchdog, self._reconciler, self._follow,
                         self._answers):
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
        # trio-websocket queues received messages on a memory channel and hands them out one
        # per scheduler pass; under load the frames already queued are taken at once, so a
        # burst costs one pass and one pipeline hand-off instead of one per frame.
        queued = getattr(self.ws, "_recv_channel", None)
        take: Any = getattr(queued, "receive_nowait", None)
        handle = self.handle
        while True:
            raw = await self.ws.get_message()
            self.last_rx = trio.current_time()
            feed.on_message()
            now = feed.now()  # one receive time for the frames taken together
            events = handle(raw, now)
            for _ in range(BURST if take is not None else 0):
                try:
                    raw = take()  # type: ignore[misc]  # not None: the range is empty then
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break  # nothing queued; a closed socket raises at the next get_message
                events += handle(raw, now)
            if events:
                self.busy = True  # a full pipeline is backpressure, not a dead link
                await feed.emit(events)
                self.busy = False
                self.last_rx = trio.current_time()

    async def _watchdog(self) -> None:
        """No frame for a third of the stall time → ping; no pong by the stall time → dead."""
        stall = self.feed.cfg.stall_seconds
        while True:
            if self.busy:
                self.last_rx = trio.current_time()
            idle = trio.current_time() - self.last_rx
            if idle >= stall:
                raise Reconnect(f"no frames and no pong for {stall:g}s (dead link)")
            if idle < stall / 3:
                await trio.sleep(stall / 3 - idle)
                continue
            with trio.move_on_after(stall - idle):
                await self.ws.ping()
                self.last_rx = trio.current_time()  # a pong is proof of life
                self.health.count("pongs")

    async def _answers(self) -> None:
        """A subscribe or update the server never answered (it may have refused the whole
        command, or lost it): resubscribe that channel once the answer is overdue."""
        while True:
            await trio.sleep(ANSWER_TIMEOUT / 2)
            now = trio.current_time()
            if self.busy or self._backlog():  # the answer may be waiting unread: not overdue
                for cmd in self.commands.values():
                    cmd.sent_at = now
                continue
            for cid, cmd in list(self.commands.items()):
                if now - cmd.sent_at < ANSWER_TIMEOUT:
                    continue
                del self.commands[cid]
                if cmd.action == "unsubscribe":
                    continue
                sub = self.subs.get(cmd.channel)
                if cmd.refused and cmd.action == "add_markets" and sub is not None:
                    # the server refused the whole command for one ticker: offer the
                    # others again (the refused one is out of the wanted set by now)
                    sub.markets.difference_update(cmd.markets)
                    self.poke.set()
                    continue
                if sub is not None and (sub.sid is not None or sub.pending is not None):
                    self.resubscribe(sub, f"no answer to {cmd.action} within "
                                          f"{ANSWER_TIMEOUT:g}s")

    def _backlog(self) -> bool:
        """Frames received but not read yet (trio-websocket's queue)."""
        queued = getattr(self.ws, "_recv_channel", None)
        stats = getattr(queued, "statistics", None)
        return bool(stats is not None and stats().current_buffer_used)

    async def _follow(self) -> None:
        tracker = self.feed.tracker
        while True:
            seen = tracker.version
            await tracker.wait_version(seen)
            self.poke.set()

    async def _reconciler(self) -> None:
        while True:
            await self._reconcile()
            await self.poke.wait()
            self.poke = trio.Event()

    # ------------------------------------------------------------------ commands
    async def _command(self, cmd: str, params: dict[str, Any], channel: str,
                       action: str = "") -> int:
        cid = self.next_id
        self.next_id += 1
        self.commands[cid] = Command(channel, action or cmd, trio.current_time(),
                                     tuple(params.get("market_tickers") or ()))
        await self.ws.send_message(_encode({"id": cid, "cmd": cmd, "params": params}).decode())
        return cid

    async def _subscribe(self, sub: Sub, markets: set[str]) -> None:
        params: dict[str, Any] = {"channels": [sub.channel]}
        if sub.channel != LIFECYCLE:
            params["market_tickers"] = sorted(markets)
            if sub.channel == "ticker":
                params["send_initial_snapshot"] = True
            self.feed.covering(markets)
        sub.markets = set(markets)
        sub.pending = await self._command("subscribe", params, sub.channel)

    async def _reconcile(self) -> None:
        while self.drop:
            sid = self.drop.pop()
            if sid in self.by_sid:  # live again (a merged subscribe): never end it
                continue
            await self._command("unsubscribe", {"sids": [sid]}, "", "unsubscribe")
        want = set(self.feed.tracker.markets)
        lifecycle = self.subs[LIFECYCLE]
        if lifecycle.sid is None and lifecycle.pending is None:
            await self._subscribe(lifecycle, set())
        for channel in MARKET_CHANNELS:
            sub = self.subs[channel]
            if sub.pending is not None:
                continue  # reconciled again when its answer arrives
            if sub.sid is None:
                if want:
                    await self._subscribe(sub, want)
                continue
            if not want:
                sid = sub.sid
                self._forget(sub)
                await self._command("unsubscribe", {"sids": [sid]}, channel)
                continue
            add, remove = want - sub.markets, sub.markets - want
            sub.markets = set(want)
            if remove:  # the old first: fewer markets held at once
                await self._command("update_subscription", {
                    "sid": sub.sid, "market_tickers": sorted(remove),
                    "action": "delete_markets"}, channel, "delete_markets")
            if add:
                extra = {"send_initial_snapshot": True} if channel == "ticker" else {}
                self.feed.covering(add)
                await self._command("update_subscription", {
                    "sid": sub.sid, "market_tickers": sorted(add), "action": "add_markets",
                    **extra}, channel, "add_markets")
        self.feed.uncovering(want)
        self._check_subscribed()

    def _check_subscribed(self) -> None:
        want = bool(self.feed.tracker.markets)
        done = self.subs[LIFECYCLE].sid is not None and all(
            (s.sid is not None) if want else (s.pending is None)
            for s in (self.subs[c] for c in MARKET_CHANNELS))
        if done and not self.subscribed:
            self.subscribed = True
            self.feed.on_subscribed()

    def _forget(self, sub: Sub) -> None:
        if sub.sid is not None:
            self.by_sid.pop(sub.sid, None)
            self.seq.pop(sub.sid, None)
        sub.sid, sub.pending, sub.markets = None, None, set()

    def resubscribe(self, sub: Sub, reason: str) -> None:
        """Drop the channel's subscription and subscribe afresh (on the reconciler)."""
        now = trio.current_time()
        sub.resubs = [t for t in sub.resubs if now - t < RESUB_WINDOW] + [now]
        if len(sub.resubs) > RESUB_LIMIT:
            raise Reconnect(f"{sub.channel}: {reason}, {len(sub.resubs)} times in a minute")
        self.health.count("resubscribes")
        log.info("kalshi: resubscribing %s: %s", sub.channel, reason)
        if sub.sid is not None:
            self.drop.append(sub.sid)
        self._forget(sub)
        sub.backfill = sub.backfill or sub.channel == "trade"
        self.poke.set()
