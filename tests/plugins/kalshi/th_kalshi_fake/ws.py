"""The fake exchange's WebSocket side (trio-websocket server): signed handshakes, the
subscribe / update_subscription / unsubscribe commands, ``seq`` per ``sid``, 10-second
heartbeat pings, and the transport faults (abrupt drops, black-holed "stalled" links).

Scenario switches for what docs/kalshi-protocol.md leaves open:

* ``reply_seq``: ``None`` (replies carry no ``seq``), ``"repeat"`` (an ``ok``/``unsubscribed``
  reply carries the sid's last data ``seq``) or ``"consume"`` (it takes the next number);
* ``refuse``: tickers the socket answers with error 16 although REST lists them, and
  ``refuse_whole``: the whole command fails (no answer) instead of the other tickers being
  taken;
* ``hold``: per channel, delays before the next ``subscribed`` answers go out (late answers;
  a repeated subscribe merges into the existing subscription and is answered with its sid).
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from .rest import Recorded

if TYPE_CHECKING:
    from . import FakeKalshi

WS_PATH = "/trade-api/ws/v2"
CHANNELS = {"ticker", "trade", "market_lifecycle_v2", "orderbook_delta", "fill",
            "market_positions", "multivariate_market_lifecycle", "communications",
            "order_group_updates", "user_orders"}
MARKET_CHANNELS = {"ticker", "trade", "orderbook_delta"}
_ids = itertools.count(1)


class FaultyStream(trio.abc.Stream):
    """A TCP stream that can be black-holed (stalled) or reset (abort)."""

    def __init__(self, inner: trio.SocketStream) -> None:
        self.inner, self.stalled, self.n = inner, False, next(_ids)

    def __repr__(self) -> str:
        return f"<FaultyStream {self.n}>"

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if not self.stalled:
            await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        while True:  # while stalled, whatever arrives is swallowed (pings, commands, close)
            data = await self.inner.receive_some(max_bytes)
            if not self.stalled or not data:
                return data

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def abort(self) -> None:
        """Close with a TCP reset: no close frame, no FIN handshake."""
        self.inner.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
        await self.inner.aclose()


class FaultyListener(trio.abc.Listener[FaultyStream]):
    def __init__(self, inner: trio.SocketListener, streams: dict[str, FaultyStream]) -> None:
        self.inner, self.streams = inner, streams

    async def accept(self) -> FaultyStream:
        stream = FaultyStream(await self.inner.accept())
        self.streams[repr(stream)] = stream
        return stream

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Sub:
    channel: str
    markets: set[str] | None        # None: every market (the firehose)


@dataclass
class Conn:
    ws: WebSocketConnection
    stream: FaultyStream
    subs: dict[int, Sub] = field(default_factory=dict)
    seq: dict[int, int] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    next_sid: int = 1
    closed: bool = False
    close_code: int | None = None      # the client's close frame, if it sent one
    nursery: trio.Nursery | None = None

    def sid_of(self, channel: str) -> int | None:
        return next((sid for sid, s in self.subs.items() if s.channel == channel), None)


class WsSide:
    def __init__(self, fake: FakeKalshi) -> None:
        self.fake = fake
        self.streams: dict[str, FaultyStream] = {}
        self.conns: list[Conn] = []
        self.reject: list[int] = []
        self.reply_seq: str | None = None
        self.refuse: set[str] = set()
        self.refuse_whole = False
        self.hold: dict[str, list[float]] = {}

    @property
    def live(self) -> list[Conn]:
        return [c for c in self.conns if not c.closed]

    async def handler(self, request: WebSocketRequest) -> None:
        fake = self.fake
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        path = urlsplit(request.path).path
        rec = Recorded("ws", "GET", path, {}, headers.get("host", ""),
                       any(h.startswith("kalshi-access-") for h in headers), at=fake.now(),
                       signed_ts=headers.get("kalshi-access-timestamp", ""))
        fake.requests.append(rec)
        problem = fake.check_auth(headers, "GET", path)
        if self.reject:
            rec.status = self.reject.pop(0)
        elif path != WS_PATH:
            rec.status = 404
        elif problem:
            rec.status = 401
        if rec.status:
            body = json.dumps({"error": {"code": "rejected", "message": problem or "no"}})
            await request.reject(rec.status, body=body.encode())
            fake.bump()
            return
        rec.status = 101
        conn = Conn(await request.accept(), self.streams[str(request.remote)])
        self.conns.append(conn)
        fake.bump()
        try:
            async with trio.open_nursery() as nursery:
                conn.nursery = nursery
                nursery.start_soon(self._heartbeat, conn)
                try:
                    while True:
                        await self._command(conn, await conn.ws.get_message())
                except ConnectionClosed as exc:
                    conn.close_code = exc.reason.code if exc.reason else None
                    nursery.cancel_scope.cancel()
        finally:
            conn.closed = True
            fake.bump()

    async def _heartbeat(self, conn: Conn) -> None:
        for n in itertools.count():
            await trio.sleep(10)
            with trio.move_on_after(10):
                await conn.ws.ping(b"heartbeat %d" % n)

    async def send(self, conn: Conn, frame: dict[str, Any] | str | bytes) -> None:
        data = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        try:
            await conn.ws.send_message(data)
        except ConnectionClosed:
            conn.closed = True

    async def _error(self, conn: Conn, cid: Any, code: int, msg: str, **extra: Any) -> None:
        await self.send(conn, {"id": cid, "type": "error", "msg": {"code": code, "msg": msg,
                                                                    **extra}})

    async def _command(self, conn: Conn, raw: str | bytes) -> None:
        try:
            cmd = json.loads(raw)
            cid, name, params = cmd.get("id"), cmd["cmd"], cmd.get("params") or {}
        except (ValueError, KeyError, AttributeError):
            await self._error(conn, None, 1, "Unable to process message")
            return
        conn.commands.append(cmd)
        self.fake.bump()
        if name == "subscribe":
            await self._subscribe(conn, cid, params)
        elif name == "unsubscribe":
            for sid in params.get("sids") or []:
                if conn.subs.pop(sid, None) is None:
                    await self._error(conn, cid, 7, "Unknown subscription ID")
                else:
                    await self.send(conn, {"id": cid, "sid": sid, **self._seq(conn, sid),
                                           "type": "unsubscribed"})
        elif name == "update_subscription":
            await self._update(conn, cid, params)
        elif name == "list_subscriptions":
            await self.send(conn, {"id": cid, "type": "ok", "msg": [
                {"channel": s.channel, "sid": sid} for sid, s in conn.subs.items()]})
        else:
            await self._error(conn, cid, 5, "Unknown command")
        self.fake.bump()

    def _seq(self, conn: Conn, sid: int) -> dict[str, int]:
        """The ``seq`` a reply carries under the ``reply_seq`` model in force."""
        if self.reply_seq == "consume":
            conn.seq[sid] = conn.seq.get(sid, 0) + 1
            return {"seq": conn.seq[sid]}
        if self.reply_seq == "repeat":
            return {"seq": conn.seq.get(sid, 0)}
        return {}

    async def _refused(self, conn: Conn, cid: Any, wanted: list[str]) -> list[str]:
        """Error 16 for each ticker the socket does not know (or refuses); returns them."""
        unknown = [m for m in wanted if m not in self.fake.markets or m in self.refuse]
        for m in unknown:
            await self._error(conn, cid, 16, "Market not found", market_ticker=m)
        return unknown

    def _markets(self, params: dict[str, Any]) -> list[str] | None:
        if "market_tickers" in params:
            return list(params["market_tickers"])
        if "market_ticker" in params:
            return [params["market_ticker"]]
        return None

    async def _subscribe(self, conn: Conn, cid: Any, params: dict[str, Any]) -> None:
        channels = params.get("channels") or []
        if not channels:
            await self._error(conn, cid, 3, "Channels required")
            return
        wanted = self._markets(params)
        for channel in channels:
            if channel not in CHANNELS:
                await self._error(conn, cid, 8, "Unknown channel name")
                continue
            markets = None
            if channel in MARKET_CHANNELS and wanted is not None:
                unknown = await self._refused(conn, cid, wanted)
                if unknown and self.refuse_whole:
                    continue
                markets = {m for m in wanted if m not in unknown}
            sid = conn.sid_of(channel)
            if sid is not None and markets is not None:   # idempotent: adds (CL 2025-09-25)
                current = conn.subs[sid].markets
                conn.subs[sid].markets = None if current is None else current | markets
            else:
                sid, conn.next_sid = conn.next_sid, conn.next_sid + 1
                conn.subs[sid] = Sub(channel, markets)
            answer = {"id": cid, "type": "subscribed", "msg": {"channel": channel, "sid": sid}}
            snapshot = channel == "ticker" and params.get("send_initial_snapshot")
            delays = self.hold.get(channel)
            if delays and conn.nursery is not None:
                conn.nursery.start_soon(self._answer_later, conn, delays.pop(0), answer,
                                        sid if snapshot else None, markets or ())
                continue
            await self.send(conn, answer)
            if snapshot:
                await self._snapshot(conn, sid, markets or ())

    async def _answer_later(self, conn: Conn, delay: float, answer: dict[str, Any],
                            snapshot_sid: int | None, markets: Any) -> None:
        await trio.sleep(delay)
        await self.send(conn, answer)
        if snapshot_sid is not None:
            await self._snapshot(conn, snapshot_sid, markets)
        self.fake.bump()

    async def _update(self, conn: Conn, cid: Any, params: dict[str, Any]) -> None:
        sids = params.get("sids") or ([params["sid"]] if "sid" in params else [])
        if len(sids) != 1:
            await self._error(conn, cid, 12, "Exactly one subscription ID is required")
            return
        sid, action, markets = sids[0], params.get("action"), self._markets(params)
        sub = conn.subs.get(sid)
        if sub is None:
            await self._error(conn, cid, 7, "Unknown subscription ID")
        elif action not in ("add_markets", "delete_markets"):
            await self._error(conn, cid, 13 if action else 15, "Unsupported action")
        elif not markets:
            await self._error(conn, cid, 14, "Market ticker required")
        else:
            if action == "add_markets":
                unknown = await self._refused(conn, cid, markets)
                if unknown and self.refuse_whole:
                    return
                markets = [m for m in markets if m not in unknown]
            else:  # a market the exchange no longer has cannot be deleted either
                unknown = [m for m in markets if m not in self.fake.markets]
                for m in unknown:
                    await self._error(conn, cid, 16, "Market not found", market_ticker=m)
            current = set(sub.markets or ())
            sub.markets = current | set(markets) if action == "add_markets" \
                else current - set(markets)
            await self.send(conn, {"id": cid, "sid": sid, **self._seq(conn, sid), "type": "ok",
                                   "msg": {"market_tickers": sorted(sub.markets)}})
            if action == "add_markets" and sub.channel == "ticker" and \
                    params.get("send_initial_snapshot"):
                await self._snapshot(conn, sid, markets)

    async def _snapshot(self, conn: Conn, sid: int, markets: Any) -> None:
        for m in markets:
            market = self.fake.markets.get(m)
            if market is not None:
                await self.frame(conn, sid, "ticker", market.ticker_msg(self.fake.now()))

    async def frame(self, conn: Conn, sid: int, kind: str, msg: dict[str, Any], *,
                    lose: bool = False) -> None:
        seq = conn.seq[sid] = conn.seq.get(sid, 0) + 1
        if not lose:
            await self.send(conn, {"type": kind, "sid": sid, "seq": seq, "msg": msg})

    async def publish(self, channel: str, market: str | None, msg: dict[str, Any], *,
                      kind: str | None = None, lose: bool = False) -> int:
        """Send to every subscription of ``channel`` covering ``market``; returns how many."""
        sent = 0
        for conn in self.live:
            for sid, sub in list(conn.subs.items()):
                if sub.channel == channel and (sub.markets is None or market in sub.markets):
                    await self.frame(conn, sid, kind or channel, msg, lose=lose)
                    sent += 1
        return sent
