"""The hot path: events from the ingest channel → detector → live state + batched store writes.

Nothing here waits on the network. Detection runs as soon as events arrive; signals are handed
to the fan-out callbacks (analyst queue, notifier outbox), which only enqueue. Persistence is
batched apart from detection, because a store write has a fixed cost that must not be paid per
frame (a feed hands over one frame's events at a time):

* pending events are queued to the store as one write when nothing more arrived for
  ``LINGER_SECONDS`` (a producer in mid-burst keeps adding to the batch), when
  ``FLUSH_EVENTS`` are pending, ``FLUSH_SECONDS`` after the oldest arrived, and whenever
  someone awaits ``Store.flush()`` (a flush hook), so that still means "everything accepted so
  far is committed". A signal's outbox rows go in the same write as its event; the outbox,
  woken by the hand-off, awaits :meth:`Pipeline.settled` before it reads them (the batch is
  not hurried: forcing it out at every signal made commits five times smaller), and an
  analyst follow-up is queued behind it (:meth:`Pipeline.submit_after`);
* the store is kept up with: while more than ``MAX_UNWRITTEN`` events are queued to it and
  not committed, the loop waits before it takes more from the channel (the feeds then wait
  on the channel). Without it a busy loop can starve the writer thread of the GIL — every
  row it inserts releases and retakes the GIL — and the queue of writes grows unbounded;
* detector states are *checkpointed*, not rewritten with every batch: a market's state is
  written once it has been dirty for ``STATE_SECONDS`` (or ``STATE_EVENTS`` events), at most
  ``STATE_CHUNK`` per write, and all of them at shutdown. Each stored state records ``as_of``,
  the id of the last event it includes, and every write records the *low-water mark* (every
  event up to it is in its market's stored state). After a crash, :meth:`Pipeline.load_states`
  replays the stored events above the mark through the detector (``process`` is pure), so the
  restored baselines and cooldowns match the stored events exactly, as before.

Event ids are allocated here (``MAX(id)+1`` at start-up, like signal ids: one writer, one
process), so a state can name the last event it includes before that event is committed.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import trio

from trade_hunter.plugins.models import MarketEvent, SpikeSignal

from .enrichment import MarketNames
from .event_writes import write_batch
from .live_view import Live
from .store import Store
from .store_errors import RowFailures
from .vendor import vendor_signal

log = logging.getLogger(__name__)
DRAIN_LIMIT = 5000        # items taken from the channel per batch
INGEST_BUFFER = 32         # items (an event or a list: Kalshi hands over up to 256 at once)
FLUSH_EVENTS = 5_000      # pending events that make a store write at once
FLUSH_SECONDS = 0.1       # longest an event waits here before its write is queued
LINGER_SECONDS = 0.005    # a pause in arrivals this long ends the batch
STATE_SECONDS = 15.0      # a touched market's state is written at least this often ...
STATE_EVENTS = 100_000    # ... and within this many events (bounds the replay after a crash)
STATE_CHUNK = 250         # states per store write: bounds one write's time and memory
MARKET_SECONDS = 60.0     # markets.last_seen is refreshed this often (titles at once)
MAX_UNWRITTEN = 10_000    # events queued to the store but not committed: beyond, we wait
REPLAY_CHUNK = 20_000


def low_water_key(detector: str) -> str:
    return f"detector.low_water.{detector}"


class Handoff(list[MarketEvent]):
    """Events handed to the pipeline by someone who waits for their commit (a relay's
    request): ``stored`` is set once the batch holding them has committed, with ``failed``
    the number of them the store refused (each isolated and logged)."""

    def __init__(self, events: Iterable[MarketEvent], stored: trio.Event | None = None
                 ) -> None:
        super().__init__(events)
        self.stored = stored or trio.Event()
        self.failed = 0
        self.first_id = 0  # set by the pipeline: the id of the first event


class Pipeline:
    def __init__(self, detector: Any, store: Store, live: Live, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.detector = detector
        self.clock = clock
        """Seconds for the batching and checkpoint intervals (injectable for tests)."""
        self.store = store
        self.live = live
        self.states: dict[str, Any] = {}
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(detector.state_type)
        self.signal_writes: list[Callable[[SpikeSignal], Iterable[Any]]] = []
        """Store writes that must commit with a signal (its notifier outbox rows)."""
        self.signal_sources: list[Callable[[list[MarketEvent]], list[SpikeSignal]]] = []
        """Rules beside the detector, handed each batch after it (cross-venue divergence)."""
        self.signal_handoffs: list[Callable[[SpikeSignal], None]] = []
        """Non-blocking hand-offs of each new signal (analyst queue, grader, metrics, log)."""
        self.processed = 0
        self.replayed = 0
        self.names = MarketNames()
        self.titles = self.names.titles  # market id → (title, topic)
        # Pending persistence (see the module docstring).
        self._events: list[MarketEvent] = []
        self._first_id = 0            # id of self._events[0]
        self._since = 0.0             # monotonic time the oldest pending event arrived
        self._signals: list[SpikeSignal] = []
        self._extra: list[Any] = []
        self._as_of: dict[str, int] = {}
        self._dirty: OrderedDict[str, tuple[int, float]] = OrderedDict()
        """Markets whose stored state is behind: first unsaved event id, monotonic time."""
        self._markets: dict[str, tuple[str, str | None, float]] = {}
        """What ``markets`` holds per market: title, topic, when last_seen was written."""
        self._handoffs: list[Handoff] = []  # waiting for the next write's commit
        self._token: trio.lowlevel.TrioToken | None = None
        self.submitted = 0            # events queued to the store (this thread only)
        self.committed = 0            # ... and committed (the writer thread only)
        self._progress = trio.Event()  # set, then replaced, after each commit of a write
        self.not_stored = 0           # ... of which the store refused (failed rows, a give-up)
        store.flush_hooks.append(self.flush)

    # ------------------------------------------------------------------ start-up
    def load_states(self) -> int:
        """Load the stored states, then replay the events committed after them (blocking)."""
        name, loaded = self.detector.name, 0
        for rows in self.store.query_chunks(  # in chunks: thousands of states of several KB
                "SELECT market_id, payload, as_of FROM detector_state WHERE detector=?",
                (name,)):
            for market_id, payload, as_of in rows:
                loaded += 1
                try:
                    self.states[market_id] = self._decoder.decode(payload)
                except msgspec.DecodeError:
                    log.warning("dropping unreadable detector state of %s", market_id)
                    continue
                self._as_of[market_id] = as_of
        mark = self.store.query("SELECT value FROM kv WHERE key=?", (low_water_key(name),))
        # No mark: the states were written with every batch (or there is no history yet).
        low = int(mark[0][0]) if mark else self.store.next_event_id - 1
        self.replayed = self._replay(low)
        if self.replayed:
            log.info("replayed %d events committed after the last state checkpoint",
                     self.replayed)
        return loaded

    def _replay(self, low: int) -> int:
        detector, states, as_of, dirty = self.detector, self.states, self._as_of, self._dirty
        now, replayed = self.clock(), 0
        while True:
            rows = self.store.query(REPLAY_SQL, (low, REPLAY_CHUNK))
            for row in rows:
                event_id, market = row[0], row[4]
                if as_of.get(market, 0) >= event_id:
                    continue  # already in the stored state
                state = states.get(market)
                if state is None:
                    state = states[market] = detector.new_state(market)
                detector.process(_event(row), state)  # signals were stored the first time
                as_of[market] = event_id
                if market not in dirty:
                    dirty[market] = (event_id, now)
                replayed += 1
            if len(rows) < REPLAY_CHUNK:
                return replayed
            low = rows[-1][0]

    def set_detector(self, detector: Any) -> None:
        """Swap thresholds live (an applied tuning suggestion); states carry over."""
        self.detector = detector

    # ------------------------------------------------------------------ the loop
    async def run(self, receive: trio.MemoryReceiveChannel[Any], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._token = trio.lowlevel.current_trio_token()
        task_status.started()
        # The channel is not closed here: after a crash the supervisor runs us on it again.
        try:
            while True:
                while self.submitted - self.committed > MAX_UNWRITTEN:
                    await trio.sleep(0.002)  # let the writer catch up (it needs the GIL)
                acks: list[Handoff] = []
                batch = _drain(receive, [], acks)
                if not batch:
                    if self._events:
                        # A producer in mid-burst adds to this write: wait a little for it
                        # (a scheduler pass first; a timed wait costs more).
                        await trio.lowlevel.checkpoint()
                        if not _drain(receive, batch, acks):
                            left = FLUSH_SECONDS - (self.clock() - self._since)
                            with trio.move_on_after(max(0.0, min(left, LINGER_SECONDS))):
                                _extend(batch, await receive.receive(), acks)
                            if not batch:
                                self.flush()
                                continue
                            _drain(receive, batch, acks)
                    else:
                        try:
                            _extend(batch, await receive.receive(), acks)
                        except trio.EndOfChannel:
                            return
                        _drain(receive, batch, acks)
                if acks:  # their events get ids from here on, in batch order
                    for ack in acks:
                        ack.first_id += self.store.next_event_id
                    self._handoffs.extend(acks)
                self._process(batch)
                await trio.lowlevel.checkpoint()
        finally:
            self.flush(states="all")  # shutdown: everything, so a restart replays nothing

    async def settled(self) -> None:
        """Wait until every event processed so far has committed, without hurrying its
        batch: within ``FLUSH_SECONDS`` (plus the commit) under load, ``LINGER_SECONDS`` when
        arrivals pause. For the outbox, whose rows ride with their signal's events. Forcing
        the batch out instead (``Store.flush``) split it at every signal: commits of ~1,000
        events instead of 5,000, 1.5-2 µs more writer CPU per event (bench/)."""
        await self.committed_to(self.processed)

    async def committed_to(self, count: int) -> None:
        """Wait until ``count`` events (of those processed since start) have committed: each
        commit of a pipeline write wakes the waiters (no polling)."""
        if self._token is None:  # before run(): a commit still has somewhere to report to
            self._token = trio.lowlevel.current_trio_token()
        while self.committed < count:
            await self._progress.wait()

    def _advance(self) -> None:
        """In the Trio thread, after a pipeline write committed: wake the waiters."""
        progress, self._progress = self._progress, trio.Event()
        progress.set()

    def submit_after(self, write: Callable[..., Any]) -> None:
        """Queue a store write that must commit after the events processed so far (an
        analyst follow-up after its signal's alert row): with the pending batch, after its
        rows, when one is held back; else straight to the store, behind what is queued."""
        if self._events:
            self._extra.append(write)
        else:
            self.store.submit(write)

    def process(self, events: list[MarketEvent]) -> list[SpikeSignal]:
        """Detect, publish and queue the persistence of ``events`` at once (for callers other
        than the ingest loop, e.g. the demo spike); never waits."""
        signals = self._process(events)
        self.flush()
        return signals

    def _process(self, events: list[MarketEvent]) -> list[SpikeSignal]:
        """Detect and publish one batch; its persistence is queued when due (never waits)."""
        detector, states = self.detector, self.states
        as_of, dirty = self._as_of, self._dirty
        signals: list[SpikeSignal] = []
        now = self.clock()
        if not self._events:
            self._since = now
            self._first_id = self.store.next_event_id
        event_id = self.store.allocate_event_ids(len(events)) - 1
        self.names.complete(events)  # titles and topics: daemon/enrichment.py
        for e in events:
            event_id += 1
            market = e.market_id
            state = states.get(market)
            if state is None:
                state = states[market] = detector.new_state(market)
            signal = detector.process(e, state)
            as_of[market] = event_id
            if market not in dirty:
                dirty[market] = (event_id, now)
            if signal is not None:
                signal.id = self.store.allocate_signal_id()
                signal.demo = e.source == "demo"
                signals.append(signal)
            if e.metadata:  # only relayed events carry any: a vendor alert is a signal too
                vendor = vendor_signal(e)
                if vendor is not None:
                    vendor.id = self.store.allocate_signal_id()
                    signals.append(vendor)
        for source in self.signal_sources:
            for extra in source(events):
                extra.id = self.store.allocate_signal_id()
                signals.append(extra)
        self.processed += len(events)
        self._events.extend(events)
        if signals:
            self._signals.extend(signals)
            self._extra.extend(w for signal in signals for make in self.signal_writes
                               for w in make(signal))
        self.live.add_events(events)
        if len(self._events) >= FLUSH_EVENTS or now - self._since >= FLUSH_SECONDS:
            self.flush()
        for signal in signals:
            self.live.add_signal(signal)
            for hand_off in self.signal_handoffs:
                hand_off(signal)
        return signals

    # ------------------------------------------------------------------ persistence
    def flush(self, *, states: str = "due") -> None:
        """Queue a store write: the pending events, their signals and outbox rows, the states
        that are due and the new low-water mark. ``states="all"`` (shutdown) writes every
        dirty state, ``STATE_CHUNK`` per write, so no one write holds them all in memory."""
        self._flush(self._due_states(self.clock()))
        while states == "all" and self._dirty:
            self._flush(self._due_states(self.clock(), everything=True))

    def _flush(self, due: list[str]) -> None:
        if not self._events and not due:
            return
        events, self._events = self._events, []
        signals, self._signals = self._signals, []
        extra, self._extra = self._extra, []
        name = self.detector.name
        rows = self._encode_states(name, due)
        low = next(iter(self._dirty.values()))[0] - 1 if self._dirty \
            else self.store.next_event_id - 1
        count = len(events)
        self.submitted += count
        acks, self._handoffs = self._handoffs, []
        self.store.submit(write_batch(
            events, signals, rows, extra, first_id=self._first_id,
            markets=self._market_rows(events, time.time()), low_water=(low_water_key(name), low)),
            done=lambda result: self._committed(count, acks, result))

    def _committed(self, count: int, acks: list[Handoff], result: Any) -> None:
        """In the writer thread, once a write has committed (or failed: ``result``)."""
        self.committed += count  # only the writer thread writes these counters
        failed: set[Any] = set(result.ids) if isinstance(result, RowFailures) else set()
        if isinstance(result, BaseException):
            self.not_stored += count
        elif failed:
            self.not_stored += sum(isinstance(i, int) for i in failed)  # event rows
        if self._token is not None:
            try:
                self._token.run_sync_soon(self._advance)
            except trio.RunFinishedError:
                pass
        for ack in acks:
            if isinstance(result, BaseException):
                ack.failed = len(ack)
            elif failed:
                ack.failed = sum(i in failed for i in range(ack.first_id,
                                                            ack.first_id + len(ack)))
            if self._token is not None:
                try:
                    self._token.run_sync_soon(ack.stored.set)
                except trio.RunFinishedError:
                    pass

    def _encode_states(self, name: str, markets: list[str]) -> list[tuple[Any, ...]]:
        """State rows for ``markets``, their JSON encoded back to back into one buffer (each
        row a view of its part): one allocation per write instead of one of several KB per
        market, which fragmented the heap when thousands of markets were checkpointed."""
        if not markets:
            return []
        buffer, spans = bytearray(), []
        encode_into, states, as_of = self._encoder.encode_into, self.states, self._as_of
        for m in markets:
            start = len(buffer)
            encode_into(states[m], buffer, -1)
            spans.append((m, start, len(buffer)))
        view = memoryview(buffer)
        return [(name, m, view[a:b], as_of[m]) for m, a, b in spans]

    def _due_states(self, now: float, *, everything: bool = False) -> list[str]:
        dirty, due = self._dirty, list[str]()
        horizon = self.store.next_event_id - STATE_EVENTS
        while dirty and len(due) < STATE_CHUNK:
            market, (first_id, since) = next(iter(dirty.items()))
            if not everything and now - since < STATE_SECONDS and first_id > horizon:
                break  # ordered by first unsaved event: the rest are younger
            del dirty[market]
            due.append(market)
        return due

    def _market_rows(self, events: list[MarketEvent], wall: float
                     ) -> list[tuple[Any, ...]]:
        """``markets`` rows worth writing: new markets, new titles or topics, stale last_seen."""
        latest = {e.market_id: e for e in events}
        known, rows = self._markets, []
        for market, e in latest.items():
            seen = known.get(market)
            if seen is not None and seen[0] == e.title and seen[1] == e.topic \
                    and wall - seen[2] < MARKET_SECONDS:
                continue
            known[market] = (e.title, e.topic, wall)
            rows.append((market, e.platform, e.title, e.topic, e.timestamp))
        return rows


REPLAY_SQL = (
    "SELECT id, ts, received_at, platform, market_id, kind, yes_price, volume, volume_kind,"
    " trade_side, trade_size, yes_bid, yes_ask, source, ext_id FROM events"
    " WHERE id > ? ORDER BY id LIMIT ?")


def _event(r: tuple[Any, ...]) -> MarketEvent:
    return MarketEvent(
        timestamp=r[1], received_at=r[2], platform=r[3], market_id=r[4],
        event_kind="trade" if r[5] == "T" else "quote", yes_price=r[6], volume=r[7],
        volume_kind=r[8], trade_side=r[9], trade_size=r[10], yes_bid=r[11], yes_ask=r[12],
        source=r[13], ext_id=r[14])


def _drain(receive: trio.MemoryReceiveChannel[Any], batch: list[MarketEvent],
           acks: list[Handoff]) -> list[MarketEvent]:
    while len(batch) < DRAIN_LIMIT:
        try:
            _extend(batch, receive.receive_nowait(), acks)
        except (trio.WouldBlock, trio.EndOfChannel):
            break
    return batch


def _extend(batch: list[MarketEvent], item: Any, acks: list[Handoff]) -> None:
    if isinstance(item, MarketEvent):
        batch.append(item)
        return
    if type(item) is Handoff:
        item.first_id = len(batch)  # its offset; the pipeline adds the next event id
        acks.append(item)
    batch.extend(item)
