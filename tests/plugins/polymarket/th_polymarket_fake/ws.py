"""The fake's market channel (trio-websocket server), from docs/polymarket-protocol.md: the
initial subscription and ``operation: subscribe/unsubscribe`` on the live connection, text
``PING`` → ``PONG``, a ``book`` per newly subscribed asset (the first dump as a JSON array),
and published ``price_change`` / ``last_trade_price`` / … messages to the subscribers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from .faults import FaultyStream

if TYPE_CHECKING:
    from . import FakePolymarket

WS_PATH = "/ws/market"


@dataclass
class Conn:
    ws: WebSocketConnection
    stream: FaultyStream
    assets: set[str] = field(default_factory=set)
    received: list[Any] = field(default_factory=list)
    pings: int = 0
    closed: bool = False
    close_code: int | None = None


class WsSide:
    def __init__(self, fake: FakePolymarket) -> None:
        self.fake = fake
        self.streams: dict[str, FaultyStream] = {}
        self.conns: list[Conn] = []
        self.reject: list[int] = []
        self.handshakes: list[tuple[str, int]] = []   # (path, status)

    @property
    def live(self) -> list[Conn]:
        return [c for c in self.conns if not c.closed]

    async def handler(self, request: WebSocketRequest) -> None:
        status = self.reject.pop(0) if self.reject else 0
        if not status and request.path.split("?")[0] != WS_PATH:
            status = 404
        self.handshakes.append((request.path, status or 101))
        if status:
            await request.reject(status, body=b'{"error": "rejected"}')
            self.fake.bump()
            return
        conn = Conn(await request.accept(), self.streams[str(request.remote)])
        self.conns.append(conn)
        self.fake.bump()
        try:
            while True:
                await self._receive(conn, await conn.ws.get_message())
        except ConnectionClosed as exc:
            conn.close_code = exc.reason.code if exc.reason else None
        finally:
            conn.closed = True
            self.fake.bump()

    async def send(self, conn: Conn, frame: Any) -> None:
        data = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        try:
            await conn.ws.send_message(data)
        except ConnectionClosed:
            conn.closed = True

    async def _receive(self, conn: Conn, raw: str | bytes) -> None:
        if raw == "PING":
            conn.pings += 1
            await self.send(conn, "PONG")
            self.fake.bump()
            return
        try:
            msg = json.loads(raw)
            ids = [str(a) for a in msg["assets_ids"]]
        except (ValueError, KeyError, TypeError):
            return  # the real channel ignores what it cannot read
        conn.received.append(msg)
        self.fake.bump()
        if msg.get("operation") == "unsubscribe":
            conn.assets.difference_update(ids)
            return
        if msg.get("operation") not in (None, "subscribe") or \
                msg.get("operation") is None and msg.get("type") != "market":
            return
        new = [a for a in ids if a not in conn.assets]
        conn.assets.update(ids)
        books = [b for a in new if (b := self.fake.book_msg(a)) is not None]
        if books:
            await self.send(conn, books if msg.get("operation") is None else books[0]
                            if len(books) == 1 else books)

    async def publish(self, asset: str | None, msg: Any) -> int:
        """Send ``msg`` to every live connection subscribed to ``asset`` (all if None)."""
        sent = 0
        for conn in self.live:
            if asset is None or asset in conn.assets:
                await self.send(conn, msg)
                sent += 1
        return sent
