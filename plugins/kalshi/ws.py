"""One WebSocket session: subscriptions kept equal to the wanted markets, per-``sid``
sequence tracking, frame dispatch and a dead-link watchdog.

Subscriptions: ``market_lifecycle_v2`` (global) always; ``ticker`` and ``trade`` with the
wanted markets once there are any (never without a market list: that would be the whole
exchange). Changes of the wanted set become ``update_subscription`` add/delete commands on
the live connection, so a rollover or an added ticker never reconnects.

Recovery inside a session: a ``seq`` gap, or the terminal errors 10, 17 and 25, make the
affected channel unsubscribe and subscribe afresh (frames of the old ``sid`` are ignored from
then on); a trade channel re-sync also backfills missed trades over REST. A channel that keeps
failing (more than ``RESUB_LIMIT`` times a minute) ends the session, so the feed reconnects
with backoff instead of spinning. Every failure ends in :class:`Reconnect` with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from trade_hunter.plugins.models import MarketEvent

from . import parse

if TYPE_CHECKING:
    from .feed import KalshiFeed

log = logging.getLogger(__name__)
MARKET_CHANNELS = ("ticker", "trade")
LIFECYCLE = "market_lifecycle_v2"
TERMINAL_ERRORS = {10, 17, 25}      # channel error, internal error, buffer overflow
IGNORED_ERRORS = {6, 7}             # already subscribed; unknown sid (our own unsubscribe)
RESUB_LIMIT = 6
BURST = 255                         # more frames taken per pass when the socket has a backlog
RESUB_WINDOW = 60.0
KNOWN_TYPES = {"ticker", "trade", "market_lifecycle_v2", "event_lifecycle", "event_fee_update",
               "subscribed", "unsubscribed", "ok", "error"}
_COUNTERS = {"ticker": "msg_ticker", "trade": "msg_trade"}
_encode = msgspec.json.Encoder().encode
_any = msgspec.json.Decoder()


class Reconnect(Exception):
    """The session is over; the message says why (shown in the feed's health)."""


@dataclass
class Sub:
    channel: str
    sid: int | None = None
    pending: int | None = None          # id of the subscribe command in flight
    markets: set[str] = field(default_factory=set)
    resubs: list[float] = field(default_factory=list)
    backfill: bool = False              # backfill trades over REST once (re)subscribed


def closed_text(exc: ConnectionClosed) -> str:
    reason = exc.reason
    if reason is None:
        return "connection closed"
    text = f"connection closed ({reason.code} {reason.name}"
    return text + (f": {reason.reason})" if reason.reason else ")")


class Session:
    def __init__(self, ws: WebSocketConnection, feed: KalshiFeed, *, first: bool) -> None:
        self.ws, self.feed, self.health = ws, feed, feed.health
        self.subs = {c: Sub(c) for c in (LIFECYCLE, *MARKET_CHANNELS)}
        self.subs["trade"].backfill = not first     # trades may have been missed while away
        self.by_sid: dict[int, Sub] = {}
        self.seq: dict[int, int] = {}
        self.commands: dict[int, tuple[str, str]] = {}
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
            for task in (self._reader, self._watchdog, self._reconciler, self._follow):
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
                    raw = take()
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
        self.commands[cid] = (channel, action or cmd)
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
            if remove:  # the old first: a rollover never holds both windows
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

    # ------------------------------------------------------------------ frames
    def handle(self, raw: str | bytes, now: float | None = None) -> list[MarketEvent]:
        """Dispatch one frame received at ``now`` (default: the feed's clock); returns the
        market events it carried (maybe none)."""
        health = self.health
        data = parse.decode_market_frame(raw)  # ticker and trade frames: one decode
        if data is not None:
            health.count(_COUNTERS[data.kind])
            if self._sequenced(data) is None:
                return []
            try:
                return self._event(data.kind, data.msg, now)
            except parse.FrameError:
                health.count("garbage")
                return []
        try:
            frame = parse.decode_frame(raw)
        except parse.FrameError:
            health.count("garbage")
            return []
        kind = frame.type
        if kind not in KNOWN_TYPES:
            health.count("unknown_frames")
            return []
        health.count(f"msg_{kind}")
        try:
            if kind in ("ticker", "trade"):
                return self._data(frame, now)
            if kind == "market_lifecycle_v2":
                if self._sequenced(frame) is not None:
                    msg = parse.decode_msg(frame, parse.LifecycleMsg)
                    meta = msg.additional_metadata or {}
                    self.feed.tracker.nudge(msg.event_type, msg.market_ticker,
                                            msg.event_ticker or meta.get("event_ticker"))
            elif kind in ("event_lifecycle", "event_fee_update"):
                self._sequenced(frame)
            elif kind == "error":
                self._error(frame)
            else:
                self._reply(frame)
        except parse.FrameError:
            health.count("garbage")
        return []

    def _sequenced(self, frame: parse.Frame | parse.TickerFrame | parse.TradeFrame
                   ) -> Sub | None:
        """The frame's subscription, or ``None`` for a stale sid or a repeated ``seq``."""
        sub = self.by_sid.get(frame.sid) if frame.sid is not None else None
        if sub is None:
            self.health.count("stale_frames")
            return None
        if frame.seq is not None:
            last = self.seq.get(frame.sid)  # type: ignore[arg-type]
            if last is not None and frame.seq <= last:
                self.health.count("duplicates")
                return None
            self.seq[frame.sid] = frame.seq  # type: ignore[index]
            if last is not None and frame.seq != last + 1:
                self.health.count("gaps")
                self.resubscribe(sub, f"sequence gap ({last} → {frame.seq})")
        return sub

    def _data(self, frame: parse.Frame, now: float | None) -> list[MarketEvent]:
        """A ticker or trade frame that :func:`parse.decode_market_frame` refused: its
        message is decoded after the sequence check (a stale or repeated frame is dropped
        whatever it carries)."""
        if self._sequenced(frame) is None:
            return []
        model = parse.TickerMsg if frame.type == "ticker" else parse.TradeMsg
        return self._event(frame.type, parse.decode_msg(frame, model), now)

    def _event(self, kind: str, msg: Any, now: float | None) -> list[MarketEvent]:
        if now is None:
            now = self.feed.now()
        if kind == "ticker":
            event = parse.ticker_event(msg, now)
        else:
            event = parse.ws_trade_event(msg, now)
        if event.market_id not in self.feed.tracker.markets:
            self.health.count("unwanted_frames")  # in flight after a delete_markets
            return []
        return [event]

    def _reply(self, frame: parse.Frame) -> None:
        msg = _any.decode(frame.msg) if frame.msg else None
        msg = msg if isinstance(msg, dict) else {}
        entry = self.commands.pop(frame.id, None) if frame.id is not None else None
        if frame.type != "subscribed":
            self.health.count("acks")
            return
        channel = msg.get("channel") or (entry[0] if entry else None)
        sid = msg.get("sid") or frame.sid
        sub = self.subs.get(channel) if isinstance(channel, str) else None
        if sub is None or not isinstance(sid, int):
            self.health.count("unknown_frames")
            return
        if sub.pending != frame.id:  # answer to a subscribe we gave up on: release it
            self.drop.append(sid)
            self.poke.set()
            return
        self.health.count("acks")
        sub.pending, sub.sid = None, sid
        self.by_sid[sid] = sub
        if sub.backfill and sub.channel == "trade":
            sub.backfill = False
            self.feed.start_backfill(sub.markets)
        self.poke.set()
        self._check_subscribed()

    def _error(self, frame: parse.Frame) -> None:
        try:
            err = parse.decode_msg(frame, parse.ErrorMsg)
        except parse.FrameError:
            err = parse.ErrorMsg()
        code = err.code
        self.health.count("errors")
        self.health.count(f"error_{code}")
        self.health.put("last_error", f"{code}: {err.msg}"[:200])
        entry = self.commands.pop(frame.id, None) if frame.id is not None else None
        sid = frame.sid if frame.sid is not None else err.sid
        sub = self.by_sid.get(sid) if sid is not None else None
        if sub is None and entry is not None:
            sub = self.subs.get(entry[0])
        if code in IGNORED_ERRORS:
            return
        if err.market_ticker:  # e.g. 16 "market not found": it may just have closed
            self.feed.tracker.nudge("determined", err.market_ticker, None)
        if code in TERMINAL_ERRORS or (entry is not None and entry[1] in (
                "subscribe", "add_markets", "delete_markets")):
            targets = [sub] if sub is not None else [
                s for s in self.subs.values() if s.sid is not None or s.pending is not None]
            for target in targets:
                self.resubscribe(target, f"error {code} ({err.msg})")
        else:
            log.warning("kalshi: error frame %s: %s", code, err.msg)
