"""The real daemon with a Kalshi feed that reads pre-built frames instead of a network.

:class:`BenchFeed` is the production :class:`KalshiFeed` and its WebSocket :class:`Session`
(frame decoding, sequence tracking, de-duplication, titles, the hand-off to the ingest
channel); only the socket is a stand-in: :class:`FrameSocket` has trio-websocket's receive
side (a memory channel of ``MESSAGE_QUEUE`` messages that ``get_message`` reads) and answers
subscribe commands like the exchange. :func:`bench_daemon` builds the real :class:`Daemon`
(plugins, store, pipeline, detector, outbox, analysts, web server) with that feed and a
notifier that records when each alert reached it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import trio
from cryptography.hazmat.primitives.asymmetric import rsa

from trade_hunter.daemon.app import Daemon
from trade_hunter.daemon.cli import build
from trade_hunter.daemon.schema import migrate
from trade_hunter.daemon.store import connect
from trade_hunter.plugins.builtin.kalshi.auth import Signer
from trade_hunter.plugins.builtin.kalshi.config import KalshiConfig
from trade_hunter.plugins.builtin.kalshi.feed import MESSAGE_QUEUE, KalshiFeed
from trade_hunter.plugins.builtin.kalshi.resolve import MarketInfo
from trade_hunter.plugins.builtin.kalshi.ws import Session
from trade_hunter.plugins.builtin.spike import SpikeDetector
from trade_hunter.plugins.models import Alert, MarketEvent

from .frames import TICKER_SID, TRADE_SID

_KEY: list[rsa.RSAPrivateKey] = []


class FrameSocket:
    """The receive side of a trio-websocket connection, fed by :meth:`push` or :meth:`pace`."""

    def __init__(self) -> None:
        self._send_channel, self._recv_channel = trio.open_memory_channel[str](MESSAGE_QUEUE)
        self._backlog: list[str] = []
        self._more = trio.Event()
        self.idle = trio.Event()
        self.sent = 0

    def push(self, frames: list[str]) -> None:
        """Queue frames to be received as fast as the session takes them."""
        self._backlog.extend(frames)
        self.idle = trio.Event()
        self._more.set()

    async def run(self) -> None:
        send, pos = self._send_channel, 0
        while True:
            while pos < len(self._backlog):
                try:
                    send.send_nowait(self._backlog[pos])
                except trio.WouldBlock:
                    await send.send(self._backlog[pos])
                pos += 1
                self.sent += 1
            self._backlog, pos = [], 0
            self.idle.set()
            self._more = trio.Event()
            await self._more.wait()

    async def pace(self, make: Callable[[float], str], rate: float, seconds: float,
                   tick: float = 0.001) -> int:
        """Receive ``rate`` frames a second for ``seconds``, each made by ``make(now)`` at the
        moment it arrives (so it can carry its own arrival time)."""
        start = time.time()
        sent = 0
        while (now := time.time()) - start < seconds:
            due = int((now - start) * rate) - sent
            for _ in range(due):
                self._send_channel.send_nowait(make(time.time()))
            sent += max(due, 0)
            self.sent += max(due, 0)
            await trio.sleep(tick)
        return sent

    async def get_message(self) -> str:
        return await self._recv_channel.receive()

    async def send_message(self, text: str) -> None:
        cmd = json.loads(text)
        if cmd.get("cmd") == "subscribe":
            channel = cmd["params"]["channels"][0]
            sid = {"ticker": TICKER_SID, "trade": TRADE_SID}.get(channel, 3)
            self.push([json.dumps({"id": cmd["id"], "type": "subscribed",
                                   "msg": {"channel": channel, "sid": sid}})])

    async def ping(self) -> None:
        await trio.sleep_forever()


class BenchFeed:
    """A feed plugin component: the real Kalshi feed and session over a :class:`FrameSocket`."""

    def __init__(self, ctx: Any, markets: list[str], topic: str = "crypto") -> None:
        self.ctx, self.markets, self.topic = ctx, markets, topic
        self.socket = FrameSocket()
        self.kalshi: KalshiFeed | None = None

    async def run(self, send_channel: trio.MemorySendChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if not _KEY:
            _KEY.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        cfg = KalshiConfig(api_base="http://127.0.0.1:9/trade-api/v2",
                           ws_url="ws://127.0.0.1:9/trade-api/ws/v2")
        feed = self.kalshi = KalshiFeed(cfg, Signer("bench", _KEY[0]), self.ctx.health,
                                        self.ctx.tickers)
        feed._send = send_channel
        feed.tracker.markets = {m: MarketInfo(m, title=f"Will {m} settle yes?",
                                              topic=self.topic) for m in self.markets}
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.socket.run)
            session = Session(self.socket, feed, first=True)  # type: ignore[arg-type]
            nursery.start_soon(session.run)
            while not session.subscribed:
                await trio.sleep(0.001)
            task_status.started()

    async def drained(self, d: Daemon) -> None:
        """Wait until every pushed frame went through the pipeline and is committed."""
        await self.socket.idle.wait()
        assert d._send is not None
        while self.socket._recv_channel.statistics().current_buffer_used \
                or d._send.statistics().current_buffer_used:
            await trio.sleep(0.0005)
        await trio.lowlevel.checkpoint()
        await d.store.flush()


class RecordingNotifier:
    """Records, for each detector alert, when it reached the notifier and its frame's time."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.seen: set[int | None] = set()
        self.repeats = 0

    async def notify(self, alert: Alert) -> None:
        if alert.kind == "detector":
            if alert.signal.id in self.seen:
                self.repeats += 1  # at-least-once delivery: not timed twice
                return
            self.seen.add(alert.signal.id)
            self.latencies.append(time.time() - alert.signal.event.timestamp)


def bench_daemon(home: Path, markets: list[str], **env: str) -> tuple[Daemon, BenchFeed,
                                                                       RecordingNotifier]:
    """The real daemon on ``home`` with the bench feed over ``markets`` and a recording
    notifier (registered the way plugins register theirs)."""
    settings, host, registries = build({
        "TRADE_HUNTER_HOME": str(home), "APP_PORT": "0", "ENABLE_SIMULATION": "false",
        "THIRD_PARTY_PLUGINS": "false", "QUIET_MODE": "true", **env})
    holder: list[BenchFeed] = []
    notifier = RecordingNotifier()

    def make_feed(ctx: Any) -> BenchFeed:
        holder.append(BenchFeed(ctx, markets))
        return holder[0]

    registries.feeds.add("bench-kalshi", make_feed, description="bench frames")
    registries.notifiers.add("bench", lambda ctx: notifier, description="bench recorder")
    d = Daemon(settings, host, registries)

    class Lazy:  # the feed exists once the daemon created it
        def __getattr__(self, name: str) -> Any:
            return getattr(holder[0], name)

    return d, Lazy(), notifier  # type: ignore[return-value]


def warm_states(events: Iterable[MarketEvent]) -> dict[str, bytes]:
    """Detector states after ``events`` (a running daemon's), encoded as the store keeps them."""
    detector, states = SpikeDetector(), {}
    for e in events:
        state = states.get(e.market_id)
        if state is None:
            state = states[e.market_id] = detector.new_state(e.market_id)
        detector.process(e, state)
    encode = msgspec.json.Encoder().encode
    return {m: encode(s) for m, s in states.items()}


def seed_database(path: Path, states: dict[str, bytes]) -> None:
    """A database holding detector states only (a daemon restarted with warm baselines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path, writer=True)
    try:
        migrate(conn)
        now = time.time()
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO detector_state (detector, market_id, payload,"
                         " updated_at) VALUES ('spike', ?, ?, ?)",
                         [(m, p, now) for m, p in states.items()])
        conn.execute("COMMIT")
    finally:
        conn.close()


def stamped(source: Any) -> Callable[[float], str]:
    return lambda now: source.next(now=now)


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
