"""In-memory live state for the dashboard and th-ctl: bounded windows, never the whole history.

``/api/state`` is built from here alone, so its cost does not grow with the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from trade_hunter.plugins.models import AnalystRead, MarketEvent, SpikeSignal

from .outcome_store import outcomes_of
from .signal_history import latest_signals

MAX_SIGNALS = 300
MAX_FLOW = 200
MAX_TAPE = 2000        # markets kept; the state endpoint shows the freshest TAPE_SHOWN
SPARK_POINTS = 30


@dataclass
class TapeEntry:
    event: MarketEvent
    spark: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    events: int = 0
    signals: int = 0


class Live:
    def __init__(self) -> None:
        self.signals: OrderedDict[int, SpikeSignal] = OrderedDict()
        self.reads: dict[int, AnalystRead] = {}
        self.outcomes: dict[int, list[Any]] = {}
        """Each shown signal's graded horizons (``HorizonOutcome``), as the grader commits them."""
        self.flow: deque[MarketEvent] = deque(maxlen=MAX_FLOW)
        self.tape: OrderedDict[str, TapeEntry] = OrderedDict()
        self.counters: dict[str, int] = {"events": 0, "trades": 0, "quotes": 0, "signals": 0}
        self.by_source: dict[str, int] = {}
        self.last_event_at: float | None = None
        self.started_at = time.time()

    def restore(self, store: Any) -> int:
        """Reload the most recent signals and their reads after a restart (blocking)."""
        rows = latest_signals(store, MAX_SIGNALS)
        for signal, read in rows:
            sid = signal.id or 0  # stored signals always have their id
            self.signals[sid] = signal
            if read is not None:
                self.reads[sid] = read
        self.outcomes.update(outcomes_of(store, self.signals))
        return len(rows)

    def add_events(self, events: list[MarketEvent]) -> None:
        if not events:
            return
        tape, by_source = self.tape, self.by_source
        get, move = tape.get, tape.move_to_end
        trades = 0
        for e in events:
            if e.event_kind == "trade":
                trades += 1
            source = e.source
            by_source[source] = by_source.get(source, 0) + 1
            market = e.market_id
            entry = get(market)
            if entry is None:
                entry = tape[market] = TapeEntry(e)
                if len(tape) > MAX_TAPE:
                    tape.popitem(last=False)
            else:
                move(market)
                if not e.title:  # keep the title a quote without one would blank out
                    e.title = entry.event.title
                entry.event = e
            entry.events += 1
            if e.yes_price is not None:
                entry.spark.append(e.yes_price)
        counters = self.counters
        counters["events"] += len(events)
        counters["trades"] += trades
        counters["quotes"] += len(events) - trades
        self.flow.extend(events[-MAX_FLOW:])
        self.last_event_at = time.time()

    def add_signal(self, signal: SpikeSignal) -> None:
        assert signal.id is not None
        self.signals[signal.id] = signal
        self.counters["signals"] += 1
        entry = self.tape.get(signal.market_id)
        if entry is not None:
            entry.signals += 1
        while len(self.signals) > MAX_SIGNALS:
            old, _ = self.signals.popitem(last=False)
            self.reads.pop(old, None)
            self.outcomes.pop(old, None)

    def set_read(self, read: AnalystRead) -> None:
        if read.signal_id in self.signals:
            self.reads[read.signal_id] = read

    def set_outcomes(self, signal_id: int, horizons: list[Any]) -> None:
        if signal_id in self.signals:
            self.outcomes[signal_id] = horizons

    def recent_signals(self, *, sort: str = "newest", limit: int = 50,
                       topic: str | None = None, tier: str | None = None) -> list[SpikeSignal]:
        items = [s for s in reversed(self.signals.values())
                 if (topic is None or s.topic == topic) and (tier is None or s.tier == tier)]
        if sort == "score":
            items.sort(key=lambda s: s.score, reverse=True)
        return items[:limit]

    def fresh_tape(self, *, since: float | None, limit: int) -> list[tuple[str, TapeEntry]]:
        out: list[tuple[str, TapeEntry]] = []
        for market_id in reversed(self.tape):
            entry = self.tape[market_id]
            if since is not None and entry.event.received_at < since:
                break  # ordered by last update: the rest are older
            out.append((market_id, entry))
            if len(out) >= limit:
                break
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "counters": dict(self.counters),
            "by_source": dict(self.by_source),
            "last_event_at": self.last_event_at,
            "markets": len(self.tape),
        }
