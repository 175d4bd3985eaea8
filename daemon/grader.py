"""The live grader: grades every stored signal from its market's later stored events as its
horizons pass, with its time-matched baseline, off the hot path.

* ``submit`` (a pipeline hand-off) only records the signal as open; it never waits.
* Each pass reads ``data_end`` (the newest event time stored: event time, not wall time,
  though never later than now) and grades the open signals with a horizon that ``data_end``
  has passed, one read of the market's day per market and day (``trade_hunter.outcomes`` does the grading). A signal stays
  open after its last horizon until its baseline's day is over (plus the longest horizon), so
  its stored baseline ends as the backtest's would; each signal is graded at most five times.
* A pass's outcomes are written through the store's writer in one batch. At start-up the
  stored signals not graded to the end are opened again, so horizons that passed while the
  daemon was down are graded from the stored events.
* A cross-venue divergence signal is graded by ``trade_hunter.outcomes.divergence`` from both
  markets' stored events (did the gap close within each horizon, which venue moved); it has
  no baseline, so it is complete once its last horizon is graded.
* Each pass also counts the (market, UTC clock hour) pairs with a trade among the events
  committed since the last pass into ``market_hours`` (the scorecard's rate denominator).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from trade_hunter.outcomes.baseline import BASELINE_K, DAY, PricePath, Tally, grade_signal
from trade_hunter.outcomes.divergence import grade_divergence
from trade_hunter.outcomes.grading import FLAT_BAND, HORIZONS, HorizonOutcome, grade
from trade_hunter.plugins.models import SpikeSignal, from_json

from . import outcome_store as db
from .store import Store
from .supervisor import ComponentHealth

log = logging.getLogger(__name__)
POLL = 10.0            # seconds between passes (the shortest horizon is a minute)
HOURS_CHUNK = 200_000  # events counted into market_hours per read
WRITE_CHUNK = 500


class EventCommits(Protocol):
    """The pipeline's commit notifications: how many events have committed, and a wait for
    more (``Pipeline.committed_to``)."""

    committed: int

    async def committed_to(self, count: int) -> None: ...


@dataclass
class _Open:
    signal: SpikeSignal
    horizons: list[HorizonOutcome]

    @property
    def t0(self) -> float:
        return self.signal.created_at

    @property
    def graded(self) -> int:
        return sum(1 for h in self.horizons if h.outcome != "no data")

    @property
    def day(self) -> float:
        return self.t0 - self.t0 % DAY

    @property
    def due(self) -> float:
        """The event time at which the next grading is due."""
        n = self.graded
        if n < len(HORIZONS):
            return self.t0 + HORIZONS[n]
        if self.signal.divergence is not None:
            return self.t0  # no baseline to wait for: complete
        return self.day + DAY + HORIZONS[-1]  # the baseline's day is complete


class Grader:
    def __init__(self, store: Store, health: ComponentHealth, *, k: int = BASELINE_K,
                 band: float = FLAT_BAND, poll: float = POLL,
                 published: Callable[[int, list[HorizonOutcome]], None] | None = None,
                 settle: Callable[[], Awaitable[Any]] | None = None,
                 warm: Callable[[], Awaitable[Any]] | None = None,
                 commits: EventCommits | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.health, self.clock = store, health, clock
        self.k, self.band, self.poll = k, band, poll
        self.published = published
        """Called with each signal's outcomes once committed (the live state)."""
        self.settle = settle
        """Called once a pass: settlement polling (daemon/settlement.py)."""
        self.warm = warm
        """Called after a pass that wrote something (the served scorecards are rebuilt)."""
        self.commits = commits
        """Without a settlement round to keep, a pass waits for newly committed events."""
        self.open: dict[int, _Open] = {}
        self.graded = 0

    # ------------------------------------------------------------------ intake (hot path)
    def submit(self, signal: SpikeSignal) -> None:
        if signal.id is not None and signal.id not in self.open:
            self.open[signal.id] = _Open(signal, _empty())

    # ------------------------------------------------------------------ the loop
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        await self.recover()
        task_status.started()
        while True:
            seen = self.commits.committed if self.commits is not None else 0
            await self.pass_once()
            await trio.sleep(self.poll)  # at most one pass per poll: horizons are minutes
            if self.commits is not None and self.settle is None:
                # Only newly committed events move data_end (event time), so nothing can
                # become due before the next commit of events wakes us. The settlement round
                # asks the feeds, who know without our events: it keeps the timer.
                await self.commits.committed_to(seen + 1)

    async def recover(self) -> int:
        """Open the stored signals that are not graded to the end (blocking read)."""
        rows = await trio.to_thread.run_sync(db.open_signals, self.store)
        for payload, horizons in rows:
            signal = from_json(payload, SpikeSignal)
            if signal.id is not None and signal.id not in self.open:
                graded = db.decode_horizons(horizons)
                self.open[signal.id] = _Open(signal, graded if len(graded) == len(HORIZONS)
                                             else _empty())
        if rows:
            log.info("grading %d signal(s) left open by the last run", len(rows))
        return len(rows)

    async def pass_once(self) -> int:
        """Grade what is due and count new market hours; returns the signals graded."""
        await self._count_hours()
        end = await trio.to_thread.run_sync(db.data_end, self.store)
        if end is not None:  # an event stamped in the future (a relay's clock) proves nothing
            end = min(end, self.clock())
        graded = 0
        if end is not None:
            due: dict[tuple[str, float], list[_Open]] = defaultdict(list)
            for item in self.open.values():
                if item.due <= end:
                    due[(item.signal.market_id, item.day)].append(item)
            rows: list[tuple[Any, ...]] = []
            done: list[_Open] = []
            for (market, day), items in due.items():
                events = await trio.to_thread.run_sync(
                    db.market_path, self.store, market, day, day + DAY + HORIZONS[-1])
                path = PricePath.of(events)
                for item in items:
                    tallies: list[Tally] = []  # a divergence has no baseline
                    if item.signal.divergence is not None:
                        horizons = await self._diverged(item, path, end)
                    else:
                        horizons, tallies = self._grade(item, path, end)
                    item.horizons = horizons
                    complete = item.due <= end or _price(item.signal) is None
                    rows.append(db.outcome_row(item.signal, horizons, tallies, complete))
                    done.append(item)
                await trio.lowlevel.checkpoint()
            for i in range(0, len(rows), WRITE_CHUNK):
                await self.store.run(db.write_outcomes(rows[i:i + WRITE_CHUNK]))
            for item in done:
                sid = item.signal.id or 0
                if item.due <= end or _price(item.signal) is None:
                    self.open.pop(sid, None)
                if self.published is not None:
                    self.published(sid, item.horizons)
            graded = len(done)
            self.graded += graded
            self.health.put("data_end", end)
        self.health.put("open", len(self.open))
        self.health.put("graded", self.graded)
        settled = await self.settle() if self.settle is not None else 0
        if (graded or settled) and self.warm is not None:
            await self.warm()
        return graded

    def _grade(self, item: _Open, path: PricePath, end: float
               ) -> tuple[list[HorizonOutcome], list[Tally]]:
        s = item.signal
        p0 = _price(s)
        if p0 is None:  # nothing to measure a move from: never guessed
            return _empty(), []
        # The market's close, when the detector knew it (the gated profile records the time
        # left): horizons past it are graded at the close.
        left = s.context.seconds_to_close
        close = s.created_at + left if left is not None else None
        i = path.index_of(s.event.timestamp, p0)
        if i is None:  # the signal's own event is not stored (deleted): grade, no baseline
            return grade(s.direction, item.t0, p0, path.times, path.prices, data_end=end,
                         close_time=close, band=self.band), []
        return grade_signal(path, i, s.market_id, s.direction, item.t0, p0, data_end=end,
                            close_time=close, k=self.k, band=self.band)

    async def _diverged(self, item: _Open, a_path: PricePath, end: float
                        ) -> list[HorizonOutcome]:
        s = item.signal
        d = s.divergence
        assert d is not None
        b_events = await trio.to_thread.run_sync(
            db.market_path, self.store, d.b_market, item.t0, item.t0 + HORIZONS[-1])
        close_gap = float(s.thresholds.get("DIVERGENCE_MIN_GAP", self.band))
        return grade_divergence(item.t0, d.a_price, d.b_price, d.mapping,
                                (a_path.times, a_path.prices),
                                ([t for t, _, _ in b_events], [p for _, p, _ in b_events]),
                                data_end=end, close_gap=close_gap, band=self.band)

    async def _count_hours(self) -> None:
        while True:
            low, high, rows = await trio.to_thread.run_sync(db.new_market_hours, self.store,
                                                            HOURS_CHUNK)
            if high <= low:
                return
            await self.store.run(db.write_market_hours(rows, high))
            if high - low < HOURS_CHUNK:
                return


def _price(signal: SpikeSignal) -> float | None:
    return signal.yes_price if signal.yes_price is not None else signal.event.yes_price


def _empty() -> list[HorizonOutcome]:
    return [HorizonOutcome(horizon=h) for h in HORIZONS]
