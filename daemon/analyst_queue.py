"""The analyst queue: each signal gets at most one read, off the hot path, from the first
provider (in priority order) that answers.

* ``submit`` (called by the pipeline for every new signal) never waits: it records a
  ``pending`` read and queues the signal on a bounded channel; a full queue gives a
  ``skipped: queue full`` read instead.
* ``run`` analyses up to ``ANALYST_CONCURRENCY`` signals at a time. Each provider call has a
  deadline (``ANALYST_TIMEOUT_SECONDS``); an :class:`AnalystError`, a timeout or a crash hands
  the signal to the next provider.
* Providers with ``metered = True`` (the default: a third-party provider is assumed to cost
  money) draw on a budget of ``ANALYST_MAX_CALLS_PER_HOUR`` calls in any sliding hour; a
  signal that arrives with the budget spent gets a ``skipped: budget`` read.
* The final read is committed together with its notifier follow-up (outbox rows), then
  published to the live state. At start-up, signals still pending (the daemon stopped before
  their read) are queued again.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import trio

from trade_hunter.plugins.errors import AnalystError
from trade_hunter.plugins.models import Alert, AnalystRead, SpikeSignal, from_json

from .event_writes import write_read

if TYPE_CHECKING:
    from .store import Store
    from .supervisor import ComponentHealth

log = logging.getLogger(__name__)
QUEUE_SIZE = 200
CONCURRENCY = 2
CALL_TIMEOUT = 30.0
MAX_CALLS_PER_HOUR = 60
BUDGET_WINDOW = 3600.0
RECOVER_SECONDS = 86400.0
DONE_KEPT = 10000  # pending signals older than this are not analysed after a restart


class Budget:
    """At most ``limit`` calls in any sliding ``window`` of Trio time."""

    def __init__(self, limit: int, window: float = BUDGET_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._calls: deque[float] = deque()

    def _trim(self) -> None:
        cutoff = trio.current_time() - self.window
        while self._calls and self._calls[0] <= cutoff:
            self._calls.popleft()

    def available(self) -> int:
        self._trim()
        return max(0, self.limit - len(self._calls))

    def take(self) -> bool:
        if self.available() <= 0:
            return False
        self._calls.append(trio.current_time())
        return True


def metered(provider: Any) -> bool:
    return bool(getattr(provider, "metered", True))


Write = Callable[[sqlite3.Connection], Any]  # a store write


class Batches(Protocol):
    """The pipeline, as the analyst queue sees it."""

    async def settled(self) -> None:
        """Return once everything handed over before the call has committed."""

    def submit_after(self, write: Write) -> None:
        """Queue ``write`` behind the batch that holds the signals handed over so far."""


class FollowUps(Protocol):
    """The outbox: a read's notifications, committed with the read (their commit wakes it)."""

    def rows_for(self, alert: Alert) -> list[Write]: ...


class ReadBoard(Protocol):
    """The live view, which shows each signal's latest read."""

    def set_read(self, read: AnalystRead) -> None: ...


class AnalystService:
    def __init__(self, providers: list[tuple[str, Any]], *, settings: Any, store: Store,
                 health: ComponentHealth, live: ReadBoard, batches: Batches | None,
                 follow_ups: FollowUps | None, queue_size: int | None = None) -> None:
        self.providers = providers
        self.store, self.live, self.batches, self.follow_ups = store, live, batches, follow_ups
        s = settings
        self.timeout = float(s.get("ANALYST_TIMEOUT_SECONDS", CALL_TIMEOUT))
        self.concurrency = int(s.get("ANALYST_CONCURRENCY", CONCURRENCY))
        self.budget = Budget(int(s.get("ANALYST_MAX_CALLS_PER_HOUR", MAX_CALLS_PER_HOUR)))
        self.health = health
        self._send, self._receive = trio.open_memory_channel[SpikeSignal](
            queue_size or QUEUE_SIZE)
        self._claimed: set[int] = set()
        """Signals queued or being analysed: never two reads for one signal."""
        self._active: set[int] = set()
        self._done: dict[int, None] = {}
        """Recently finished signals (insertion-ordered, bounded): a signal handed over
        again after its read is not analysed twice."""
        self.read_listeners: list[Callable[[AnalystRead], None]] = []
        """Called with every final read once recorded (metrics, the log line)."""

    # ------------------------------------------------------------------ intake (hot path)
    def submit(self, signal: SpikeSignal) -> None:
        """Queue a new signal for a read; never waits."""
        sid = signal.id
        if not self.providers or sid is None or sid in self._claimed or sid in self._done:
            return
        try:
            self._send.send_nowait(signal)
        except trio.WouldBlock:
            self.health.count("skipped_queue_full")
            self._finish_nowait(signal, self._skipped(signal, "skipped: analyst queue full"))
            return
        self._claimed.add(sid)
        pending = AnalystRead(signal_id=sid, status="pending", created_at=time.time())
        self.store.submit(write_read(pending))
        self.live.set_read(pending)

    # ------------------------------------------------------------------ the workers
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        # After a crash the supervisor runs us again: the signals that were being analysed
        # died with the old nursery (their reads are still pending in the store); unclaim
        # them so that recovery queues them again.
        self._claimed -= self._active
        self._active.clear()
        limiter = trio.CapacityLimiter(self.concurrency)
        self.health.put("providers", [name for name, _ in self.providers])
        async with trio.open_nursery() as nursery:
            if self.providers:
                await self._recover()
            task_status.started()
            async for signal in self._receive:
                # Acquired here, not in the task: the channel stays the only (bounded) queue.
                borrower = object()
                await limiter.acquire_on_behalf_of(borrower)
                self._active.add(signal.id or 0)
                nursery.start_soon(self._analyze_one, signal, limiter, borrower)

    async def _analyze_one(self, signal: SpikeSignal, limiter: trio.CapacityLimiter,
                           borrower: object) -> None:
        sid = signal.id or 0
        try:
            read = await self.analyze(signal)
            await self._finish(signal, read)
        except Exception:  # a store failure: the read stays pending and is retried on restart
            log.exception("could not record the read of signal %s", sid)
            self.health.count("record_errors")
            return
        finally:
            limiter.release_on_behalf_of(borrower)
        self._active.discard(sid)
        self._claimed.discard(sid)
        self.health.put("queued", len(self._claimed))

    async def analyze(self, signal: SpikeSignal) -> AnalystRead:
        """Ask the providers in order; the first valid read wins. Never raises."""
        paid = [name for name, p in self.providers if metered(p)]
        if paid and self.budget.available() <= 0:
            self.health.count("skipped_budget")
            return self._skipped(signal, "skipped: budget")
        errors: list[str] = []
        for name, provider in self.providers:
            if metered(provider) and not self.budget.take():
                errors.append(f"{name}: skipped (budget)")
                continue
            started = trio.current_time()
            try:
                with trio.fail_after(self.timeout):
                    read = await provider.analyze(signal)
                if not isinstance(read, AnalystRead) or read.status != "done" \
                        or read.noise_or_signal is None:
                    raise AnalystError(f"returned {type(read).__name__}, not a done read")
            except trio.TooSlowError:
                errors.append(f"{name}: timed out after {self.timeout:g}s")
            except AnalystError as exc:
                errors.append(f"{name}: {exc}")
            except Exception as exc:  # a provider bug must not lose the read
                log.exception("analyst %s crashed", name)
                errors.append(f"{name}: crashed ({type(exc).__name__})")
            else:
                read.signal_id = signal.id or 0
                read.provider = read.provider or name
                read.latency_ms = round((trio.current_time() - started) * 1000, 1)
                read.created_at = time.time()
                read.fallbacks = [e[:200] for e in errors]
                self.health.count(f"reads_{name}")
                if errors:
                    self.health.count("fallbacks")
                return read
            self.health.count("provider_failures")
            log.warning("analyst %s failed on signal %s: %s", name, signal.id, errors[-1])
        self.health.count("failed")
        return AnalystRead(signal_id=signal.id or 0, status="failed",
                           error="; ".join(errors)[:500], fallbacks=errors,
                           created_at=time.time())

    def _skipped(self, signal: SpikeSignal, why: str) -> AnalystRead:
        return AnalystRead(signal_id=signal.id or 0, status="skipped", error=why,
                           created_at=time.time())

    # ------------------------------------------------------------------ recording
    def _writes(self, signal: SpikeSignal, read: AnalystRead) -> Any:
        """One store write: the read and its notifier follow-up, committed together."""
        outbox = self.follow_ups
        follow_up: Iterable[Any] = outbox.rows_for(Alert(kind="analyst", signal=signal,
                                                         read=read)) if outbox else ()
        writes = [write_read(read), *follow_up]

        def fn(conn: sqlite3.Connection) -> None:
            for write in writes:
                write(conn)
        return fn

    async def _finish(self, signal: SpikeSignal, read: AnalystRead) -> None:
        # The follow-up's outbox row must come after the signal's own (lanes deliver in id
        # order), and the signal's batch may still be held back by the pipeline.
        if self.batches is not None:
            await self.batches.settled()
        await self.store.run(self._writes(signal, read))
        self._published(read)

    def _finish_nowait(self, signal: SpikeSignal, read: AnalystRead) -> None:
        if self.batches is not None:
            self.batches.submit_after(self._writes(signal, read))
        else:
            self.store.submit(self._writes(signal, read))
        self._published(read)

    def _published(self, read: AnalystRead) -> None:
        self._done[read.signal_id] = None
        while len(self._done) > DONE_KEPT:
            del self._done[next(iter(self._done))]
        self.live.set_read(read)
        self.health.put("budget_left", self.budget.available())
        self.health.put("last_read_at", read.created_at)
        for listener in self.read_listeners:
            listener(read)

    # ------------------------------------------------------------------ restart recovery
    async def _recover(self) -> None:
        """Queue the signals stored without a final read (pending when we stopped)."""
        boundary = self.store.next_signal_id  # later ids arrive through submit()
        since = time.time() - RECOVER_SECONDS
        rows = await self.store.aquery(
            "SELECT s.id, s.stored_at, s.payload FROM signals s"
            " LEFT JOIN analyst_reads r ON r.signal_id = s.id"
            " WHERE s.id < ? AND (r.signal_id IS NULL OR r.status = 'pending')"
            " ORDER BY s.id", (boundary,))
        recovered = 0
        for sid, stored_at, payload in rows:
            if sid in self._claimed:
                continue
            signal = from_json(payload, SpikeSignal)
            if stored_at < since:
                self._finish_nowait(signal, self._skipped(signal, "skipped: too old after "
                                                                  "a restart"))
                continue
            self.submit(signal)
            recovered += 1
        if recovered:
            log.info("analysing %d signal(s) left pending by the last run", recovered)
            self.health.count("recovered", recovered)
