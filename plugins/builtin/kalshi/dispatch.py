"""What a WebSocket session does with each server frame: data to events, ``seq`` checks per
``sid``, replies and errors to subscription bookkeeping.

The rules where the exchange's documentation leaves things open (docs/kalshi-protocol.md,
"Open points") are written so the feed is right under either reading:

* **``seq`` on replies.** ``ok`` and ``unsubscribed`` replies carry the ``seq`` of their
  subscription; whether a reply takes the next number or repeats the last one is not
  documented. A reply's ``seq`` is taken as the sid's current position (``max``), so neither
  model shows a false gap; a reply more than one number ahead is a real gap under both.
* **Merged subscribes.** A repeated subscribe on a channel merges into the existing
  subscription and may be answered with the same ``sid``. The answer to a subscribe we gave
  up on is released only once the current subscribe is answered, and never when it names
  the live ``sid``.
* **Error 16 (market not found)** on a subscribe or ``add_markets`` concerns one ticker: that
  ticker leaves the wanted set for a while (the tracker re-resolves it over REST), the
  channel is left alone. If the server refused the whole command instead, its answer never
  comes and the unanswered-command timeout resubscribes once, without that ticker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from trade_hunter.plugins.models import MarketEvent

from . import parse

if TYPE_CHECKING:
    from .feed import KalshiFeed

log = logging.getLogger(__name__)
MARKET_CHANNELS = ("ticker", "trade")
LIFECYCLE = "market_lifecycle_v2"
TERMINAL_ERRORS = {10, 17, 25}      # channel error, internal error, buffer overflow
IGNORED_ERRORS = {6, 7}             # already subscribed; unknown sid (our own unsubscribe)
MARKET_NOT_FOUND = 16
KNOWN_TYPES = {"ticker", "trade", "market_lifecycle_v2", "event_lifecycle", "event_fee_update",
               "subscribed", "unsubscribed", "ok", "error"}
_COUNTERS = {"ticker": "msg_ticker", "trade": "msg_trade"}
_any = msgspec.json.Decoder()


@dataclass
class Sub:
    channel: str
    sid: int | None = None
    pending: int | None = None          # id of the subscribe command in flight
    markets: set[str] = field(default_factory=set)
    resubs: list[float] = field(default_factory=list)
    backfill: bool = False              # backfill trades over REST once (re)subscribed
    orphans: set[int] = field(default_factory=set)
    """sids answered to subscribes we gave up on, released once ``pending`` is answered."""


@dataclass
class Command:
    channel: str
    action: str
    sent_at: float
    markets: tuple[str, ...] = ()
    refused: bool = False               # an error 16 came back; its answer may still follow


class Dispatch:
    """Frame handling of :class:`~.ws.Session` (which owns the state named here)."""

    feed: KalshiFeed
    health: Any
    subs: dict[str, Sub]
    by_sid: dict[int, Sub]
    seq: dict[int, int]
    commands: dict[int, Command]
    drop: list[int]
    poke: trio.Event
    resubscribe: Callable[[Sub, str], None]
    _check_subscribed: Callable[[], None]

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
                    self._lifecycle(parse.decode_msg(frame, parse.LifecycleMsg))
            elif kind in ("event_lifecycle", "event_fee_update"):
                self._sequenced(frame)
            elif kind == "error":
                self._error(frame)
            else:
                self._reply(frame)
        except parse.FrameError:
            health.count("garbage")
        return []

    def _lifecycle(self, msg: parse.LifecycleMsg) -> None:
        meta = msg.additional_metadata or {}
        event_ticker = msg.event_ticker or meta.get("event_ticker")
        tracker = self.feed.tracker
        if msg.event_type == "created" and msg.market_ticker and \
                tracker.created(msg.market_ticker, event_ticker, msg.close_ts, meta):
            self.health.count("joined_on_created")
        tracker.nudge(msg.event_type, msg.market_ticker, event_ticker)

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

    def _position(self, frame: parse.Frame) -> None:
        """A reply's ``seq``: the sid's current position under either reply model."""
        sub = self.by_sid.get(frame.sid) if frame.sid is not None else None
        if sub is None or frame.seq is None:
            return
        last = self.seq.get(frame.sid)  # type: ignore[arg-type]
        self.seq[frame.sid] = frame.seq if last is None else max(last, frame.seq)  # type: ignore[index]
        if last is not None and frame.seq > last + 1:  # a frame lost under either model
            self.health.count("gaps")
            self.resubscribe(sub, f"sequence gap ({last} → reply {frame.seq})")

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
            self._position(frame)
            return
        channel = msg.get("channel") or (entry.channel if entry else None)
        sid = msg.get("sid") or frame.sid
        sub = self.subs.get(channel) if isinstance(channel, str) else None
        if sub is None or not isinstance(sid, int):
            self.health.count("unknown_frames")
            return
        if sub.pending != frame.id:  # the answer to a subscribe we gave up on
            self._orphan(sub, sid)
            return
        self.health.count("acks")
        sub.pending, sub.sid = None, sid
        self.by_sid[sid] = sub
        self._release_orphans(sub)
        if sub.backfill and sub.channel == "trade":
            sub.backfill = False
            self.feed.start_backfill(sub.markets)
        self.poke.set()
        self._check_subscribed()

    def _orphan(self, sub: Sub, sid: int) -> None:
        if sid == sub.sid:  # merged into the live subscription: nothing to release
            self.health.count("merged_subscribes")
        elif sub.pending is not None:  # may be merged into the one in flight: wait for it
            sub.orphans.add(sid)
        else:
            self.drop.append(sid)
            self.poke.set()

    def _release_orphans(self, sub: Sub) -> None:
        for sid in sub.orphans:
            if sid == sub.sid:
                self.health.count("merged_subscribes")
            else:
                self.drop.append(sid)
                self.poke.set()
        sub.orphans.clear()

    def _error(self, frame: parse.Frame) -> None:
        try:
            err = parse.decode_msg(frame, parse.ErrorMsg)
        except parse.FrameError:
            err = parse.ErrorMsg()
        code = err.code
        self.health.count("errors")
        self.health.count(f"error_{code}")
        self.health.put("last_error", f"{code}: {err.msg}"[:200])
        entry = self.commands.get(frame.id) if frame.id is not None else None
        if code == MARKET_NOT_FOUND and err.market_ticker and entry is not None \
                and entry.action in ("subscribe", "add_markets"):
            self._refused(entry, err.market_ticker, err.msg)
            return
        if frame.id is not None:
            self.commands.pop(frame.id, None)
        if code == MARKET_NOT_FOUND and entry is not None and entry.action == "delete_markets":
            # deleting a market the server no longer has (it closed): the goal is reached
            self.feed.tracker.nudge("determined", err.market_ticker or "", None)
            return
        sid = frame.sid if frame.sid is not None else err.sid
        sub = self.by_sid.get(sid) if sid is not None else None
        if sub is None and entry is not None:
            sub = self.subs.get(entry.channel)
        if code in IGNORED_ERRORS:
            return
        if err.market_ticker:  # it may just have closed
            self.feed.tracker.nudge("determined", err.market_ticker, None)
        if code in TERMINAL_ERRORS or (entry is not None and entry.action in (
                "subscribe", "add_markets", "delete_markets")):
            targets = [sub] if sub is not None else [
                s for s in self.subs.values() if s.sid is not None or s.pending is not None]
            for target in targets:
                self.resubscribe(target, f"error {code} ({err.msg})")
        else:
            log.warning("kalshi: error frame %s: %s", code, err.msg)

    def _refused(self, entry: Command, market: str, text: str) -> None:
        """Error 16 for one ticker of a command: that ticker only, never the channel. The
        command stays open: its answer for the other tickers may still come."""
        entry.refused = True
        sub = self.subs.get(entry.channel)
        if sub is not None:
            sub.markets.discard(market)
        log.info("kalshi: the WebSocket refused %s (error 16: %s)", market, text)
        self.feed.tracker.refuse(market, f"error 16: {text or 'market not found'}")
        self.feed.tracker.nudge("determined", market, None)  # it may just have closed
