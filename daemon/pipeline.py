"""The hot path: events from the ingest channel → detector → live state + one store batch.

Nothing here waits on the network. Signals are handed to the fan-out callbacks (analyst
queue, notifier outbox), which only enqueue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import trio

from trade_hunter.plugins.models import MarketEvent, SpikeSignal
from trade_hunter.plugins.topics import topic_of

from .live import Live
from .store import Store, write_batch

log = logging.getLogger(__name__)
DRAIN_LIMIT = 5000  # items taken from the channel per batch
INGEST_BUFFER = 10000


class Pipeline:
    def __init__(self, detector: Any, store: Store, live: Live) -> None:
        self.detector = detector
        self.store = store
        self.live = live
        self.states: dict[str, Any] = {}
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(detector.state_type)
        self.signal_writes: list[Callable[[SpikeSignal], Iterable[Any]]] = []
        """Store writes that must commit with a signal (its notifier outbox rows)."""
        self.signal_handoffs: list[Callable[[SpikeSignal], None]] = []
        """Non-blocking hand-offs of each new signal (analyst queue, notifier wake-up)."""
        self.processed = 0
        self.titles: dict[str, tuple[str, str | None]] = {}

    def load_states(self) -> int:
        rows = self.store.query("SELECT market_id, payload FROM detector_state WHERE detector=?",
                                (self.detector.name,))
        for market_id, payload in rows:
            try:
                self.states[market_id] = self._decoder.decode(payload)
            except msgspec.DecodeError:
                log.warning("dropping unreadable detector state of %s", market_id)
        return len(rows)

    def set_detector(self, detector: Any) -> None:
        """Swap thresholds live (an applied tuning suggestion); states carry over."""
        self.detector = detector

    async def run(self, receive: trio.MemoryReceiveChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        # The channel is not closed here: after a crash the supervisor runs us on it again.
        async for item in receive:
            batch: list[MarketEvent] = []
            _extend(batch, item)
            while len(batch) < DRAIN_LIMIT:
                try:
                    _extend(batch, receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            self.process(batch)
            await trio.lowlevel.checkpoint()

    def process(self, events: list[MarketEvent]) -> list[SpikeSignal]:
        """Detect, persist and publish one batch (synchronous: it never waits)."""
        detector, states, titles = self.detector, self.states, self.titles
        signals: list[SpikeSignal] = []
        touched: dict[str, Any] = {}
        for e in events:
            market = e.market_id
            known = titles.get(market)
            if e.title:
                if known is None or known[0] != e.title or (e.topic and known[1] != e.topic):
                    topic = e.topic or topic_of(None, e.title, market)
                    titles[market] = (e.title, topic)
                    e.topic = topic
                elif not e.topic:
                    e.topic = known[1]
            elif known is not None:
                e.title = known[0]
                e.topic = e.topic or known[1]
            state = states.get(market)
            if state is None:
                state = states[market] = detector.new_state(market)
            signal = detector.process(e, state)
            touched[market] = state
            if signal is not None:
                signal.id = self.store.allocate_signal_id()
                signal.demo = e.source == "demo"
                signals.append(signal)
        self.processed += len(events)
        extra = [w for signal in signals for make in self.signal_writes for w in make(signal)]
        encode, name = self._encoder.encode, detector.name
        self.store.submit(write_batch(events, signals,
                                      [(name, m, encode(s)) for m, s in touched.items()], extra))
        self.live.add_events(events)
        for signal in signals:
            self.live.add_signal(signal)
            for hand_off in self.signal_handoffs:
                hand_off(signal)
        return signals


def _extend(batch: list[MarketEvent], item: Any) -> None:
    if isinstance(item, MarketEvent):
        batch.append(item)
    else:
        batch.extend(item)
