"""The notification outbox: durable, ordered, at-least-once delivery to every notifier.

* An alert becomes one ``outbox`` row per notifier that wants it, written in the *same store
  batch* as its signal (``rows_for_signal``) or analyst read (``rows_for``): after a crash the
  pending notifications match the stored signals exactly.
* The delivery tasks are woken by the commit itself, not by polling: a row-writing closure
  (``rows_for``) marks that it ran, and the store's commit listener (``committed``, in the
  writer thread) wakes them once that batch has committed — whoever queued it (the pipeline's
  batch, an analyst follow-up, an incident). Every row is written by ``rows_for``, so there is
  no safety poll; a task sleeps only until a paused lane's retry time.
* Each notifier is served by its own task; within a notifier, rows go to *lanes* (the
  notifier's optional ``lane(alert)``; Discord: one lane per webhook). A lane delivers its rows
  one at a time in id order; a failing or rate-limited lane pauses alone, so one slow webhook
  never holds up another, and nothing here ever blocks the pipeline.
* A row is marked ``sending`` (committed) before ``notify`` is called and ``sent`` only after
  it returned, and that mark is committed before the row can be picked again; a restart
  re-sends only what was not confirmed. A row found ``sending`` by a new run was interrupted
  between the call and its mark (a crash after the service answered is the one window for a
  duplicate): it is re-sent with ``Alert.possible_repeat`` set, so the notifier can say so.
  Delivery is at-least-once.
* ``NotifyError(retry_after=…)`` pauses the lane for that long without using up an attempt
  (rate limits are not failures); other errors back off exponentially with jitter; after
  ``MAX_ATTEMPTS`` failures, or once a row is older than ``MAX_AGE``, it is given up (``dead``).
  ``PermanentNotifyError`` drops the row at once.
* Optional notifier methods (plain duck typing, so third-party notifiers need neither):
  ``wants(alert) -> bool`` filters before a row is written (Discord's alert modes);
  ``lane(alert) -> str`` names the delivery lane.
* Health: each notifier's record (``th-ctl status``, ``/api/health``) carries counters
  (``sent``, ``retries``, ``rate_limited``, ``dropped``), the pending count, the age of the
  oldest pending row and each lane's state; the record is ``degraded`` while a lane retries or
  drops, ``failed`` when every lane drops.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from trade_hunter.plugins.errors import NotifyError, PermanentNotifyError
from trade_hunter.plugins.models import Alert, SpikeSignal, from_json, to_json

from .reader import Reader
from .supervisor import backoff

if TYPE_CHECKING:
    from .store import Store
    from .supervisor import HealthBook

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12          # failed attempts (rate limits excluded) before a row is given up
MAX_AGE = 6 * 3600.0       # an alert older than this is stale: given up rather than sent late
NOTIFY_TIMEOUT = 120.0     # one notify() call, waits for rate limits included
SCAN_LIMIT = 20_000        # pending rows looked at per pass (bounds memory)
DEFAULT_LANE = "default"
OUTBOX_SQL = ("INSERT OR IGNORE INTO outbox (notifier, kind, signal_id, payload, created_at,"
              " next_at) VALUES (?,?,?,?,?,?)")
Write = Callable[[sqlite3.Connection], Any]


@dataclass
class _Row:
    id: int
    alert: Alert
    attempts: int
    created_at: float


@dataclass
class _Lane:
    name: str
    queue: deque[_Row] = field(default_factory=deque)
    running: bool = False
    blocked_until: float = 0.0
    state: str = "idle"        # idle | ok | retrying | dropped
    detail: str = ""


@dataclass
class _Notifier:
    name: str
    component: Any
    wake: trio.Event = field(default_factory=trio.Event)
    lanes: dict[str, _Lane] = field(default_factory=dict)
    inflight: set[int] = field(default_factory=set)
    known: dict[int, tuple[Alert, str]] = field(default_factory=dict)
    """Decoded pending rows and their lanes, from the last pass."""
    finished: set[int] = field(default_factory=set)
    """Rows marked sent or dead that a pass's read may still show as pending (the read can
    start before the mark commits): never dispatched again."""


class Outbox:
    def __init__(self, notifiers: list[tuple[str, Any]], *, store: Store, health: HealthBook
                 ) -> None:
        self.store, self.health = store, health
        self.notifiers = dict(notifiers)
        self._written = False  # a row write ran in the writer's open transaction
        self._token: trio.lowlevel.TrioToken | None = None
        store.commit_listeners.append(self.committed)
        self._state = {n: _Notifier(n, c) for n, c in self.notifiers.items()}
        self._anchor: tuple[float, float] | None = None
        self.mute: Callable[[Alert], str | None] | None = None
        """Asked just before a delivery (silences, snoozes: daemon/silences.py): a key
        (``silence:3``) marks the row ``muted`` with that key instead of sending it."""

    # ------------------------------------------------------------------ clock
    def now(self) -> float:
        """Wall-clock seconds that advance with Trio's clock once running (so retry times
        stored in the table are wall times, and tests can drive them with a virtual clock)."""
        if self._anchor is None:
            return time.time()
        wall, mono = self._anchor
        return wall + trio.current_time() - mono

    # ------------------------------------------------------------------ enqueue (hot path)
    def rows_for(self, alert: Alert) -> list[Write]:
        """The store writes that queue ``alert`` for every notifier that wants it; commit
        them in the same batch as the signal or read they belong to, then call ``wake``."""
        targets = [n for n, c in self.notifiers.items() if _wants(n, c, alert)]
        if not targets:
            return []
        payload, now = to_json(alert), self.now()
        kind, sid = alert.kind, alert.signal.id

        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany(OUTBOX_SQL, [(n, kind, sid, payload, now, now) for n in targets])
            self._written = True  # the writer thread: read by committed() after the commit
        return [fn]

    def rows_for_signal(self, signal: SpikeSignal) -> Iterable[Write]:
        if not signal.notify:  # a quiet signal (gated: volume without a move) is only stored
            return []
        return self.rows_for(Alert(kind="detector", signal=signal))

    def committed(self) -> None:
        """The store's commit listener (writer thread): wake the delivery tasks when the
        batch just committed held rows of ours. A batch that was rolled back and redone ran
        its closures again; one that failed leaves the mark for the next commit (a
        harmless extra read)."""
        if self._written and self._token is not None:
            self._written = False
            self._token.run_sync_soon(self.wake)

    def wake(self, signal: Any = None) -> None:
        """Make the delivery tasks read the table now (the commit listener; a lane done)."""
        for st in self._state.values():
            st.wake.set()

    # ------------------------------------------------------------------ delivery
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        if self._anchor is None:
            self._anchor = (time.time(), trio.current_time())
        self._token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            for name in self.notifiers:
                nursery.start_soon(self._serve, self._state[name])
            task_status.started()
            if not self.notifiers:
                self.health.get("outbox").put("notifiers", 0)
                await trio.sleep_forever()

    async def _serve(self, st: _Notifier) -> None:
        health = self.health.get(st.name, "notifier")
        if health.state in ("starting", "restarting"):
            health.set("running", "ready")
        # Rows picked earlier by a crashed run of this task are picked again.
        st.inflight.clear()
        st.lanes.clear()
        st.known.clear()
        st.finished.clear()
        async with trio.open_nursery() as nursery:
            while True:
                st.wake = trio.Event()  # before the read: a wake during it is not lost
                now = self.now()
                # Every pending row (ids and times only, oldest first), so a lane with a
                # backlog can never hide the rows of another; payloads only for new rows.
                rows = await self.store.aquery(
                    "SELECT id, attempts, created_at, next_at, status = 'sending' FROM outbox"
                    " WHERE notifier=? AND status IN ('pending', 'sending') ORDER BY id"
                    " LIMIT ?", (st.name, SCAN_LIMIT))
                st.finished.intersection_update(r[0] for r in rows)  # the rest are gone
                fresh = [r[0] for r in rows if r[0] not in st.known and r[0] not in st.inflight
                         and r[0] not in st.finished]
                payloads = dict(await self.store.aquery(
                    "SELECT id, payload FROM outbox WHERE id IN"
                    " (SELECT value FROM json_each(?))", (json.dumps(fresh),))) if fresh else {}
                dispatched = await self._dispatch(st, nursery, rows, payloads, now)
                health.put("pending", len(rows))
                oldest = min((r[2] for r in rows), default=None)
                health.put("oldest_pending_s", round(now - oldest, 1) if oldest else None)
                # Sleep until a paused lane may go on, or a wake-up (rows committed, a lane
                # done).
                due = [ln.blocked_until - now for ln in st.lanes.values()
                       if ln.blocked_until > now]
                wait = min(due, default=math.inf)
                if dispatched and len(rows) == SCAN_LIMIT:
                    wait = 0  # more rows than one pass reads
                with trio.move_on_after(wait):
                    await st.wake.wait()

    async def _dispatch(self, st: _Notifier, nursery: trio.Nursery,
                        rows: list[tuple[Any, ...]], payloads: dict[int, bytes],
                        now: float) -> int:
        """Queue due rows on their lanes, strictly in id order per lane: a lane whose oldest
        row is not due yet (a retry after a restart) holds its later rows too."""
        held: set[str] = set()
        seen: dict[int, tuple[Alert, str]] = {}
        dispatched = 0
        for row_id, attempts, created_at, next_at, interrupted in rows:
            if row_id in st.inflight or row_id in st.finished:
                continue
            known = st.known.get(row_id)
            if known is None:
                try:
                    alert = from_json(payloads[row_id], Alert)
                except (KeyError, msgspec.DecodeError) as exc:  # an incompatible version
                    await self._mark(row_id, "dead", attempts, now, f"unreadable alert: {exc}")
                    continue
                # Not ours in flight, yet "sending": a run stopped between call and mark.
                alert.possible_repeat = bool(interrupted)
                known = (alert, self._lane_key(st, alert))
            seen[row_id] = known
            alert, key = known
            lane = st.lanes.get(key)
            if lane is None:
                lane = st.lanes[key] = _Lane(key)
            if key in held or lane.blocked_until > now:
                continue
            if next_at > now:
                lane.blocked_until = next_at
                held.add(key)
                continue
            lane.queue.append(_Row(row_id, alert, attempts, created_at))
            st.inflight.add(row_id)
            dispatched += 1
            if not lane.running:
                lane.running = True
                nursery.start_soon(self._run_lane, st, lane)
        st.known = seen  # only rows still pending stay cached
        return dispatched

    def _lane_key(self, st: _Notifier, alert: Alert) -> str:
        lane_of = getattr(st.component, "lane", None)
        if callable(lane_of):
            try:
                return str(lane_of(alert) or DEFAULT_LANE)
            except Exception:
                log.exception("notifier %s: lane() failed", st.name)
        return DEFAULT_LANE

    async def _run_lane(self, st: _Notifier, lane: _Lane) -> None:
        try:
            while lane.queue:
                row = lane.queue.popleft()
                try:
                    delivered = await self._send_one(st, lane, row)
                    if delivered:  # sent or given up: its mark has committed
                        st.finished.add(row.id)
                finally:
                    st.inflight.discard(row.id)
                if not delivered:
                    # Paused: hand the rest back to the table, fetched again in id order.
                    for rest in lane.queue:
                        st.inflight.discard(rest.id)
                    lane.queue.clear()
        finally:
            lane.running = False
            st.wake.set()

    async def _send_one(self, st: _Notifier, lane: _Lane, row: _Row) -> bool:
        """Deliver one row; returns False when the lane must pause."""
        health = self.health.get(st.name, "notifier")
        if self.now() - row.created_at >= MAX_AGE:  # e.g. queued before a long stop
            await self._mark(row.id, "dead", row.attempts, self.now(), "expired before sending")
            health.count("dropped")
            self._lane_state(st, lane, "dropped", "expired before sending")
            return True
        muted = self.mute(row.alert) if self.mute is not None else None
        if muted:  # silenced or snoozed: kept as a row that says by what, never sent
            await self._mark(row.id, "muted", row.attempts, self.now(), muted)
            health.count("muted")
            return True
        await self._mark_sending(row.id)
        try:
            with trio.fail_after(NOTIFY_TIMEOUT):
                await st.component.notify(row.alert)
        except PermanentNotifyError as exc:
            await self._mark(row.id, "dead", row.attempts + 1, self.now(), str(exc))
            health.count("dropped")
            self._lane_state(st, lane, "dropped", str(exc))
            return True
        except Exception as exc:  # noqa: BLE001 - any notifier error is retried, then dropped
            return await self._failed(st, lane, row, exc)
        await self._mark(row.id, "sent", row.attempts + 1, self.now(), "")
        health.count("sent")
        health.put("last_sent_at", time.time())
        self._lane_state(st, lane, "ok", "")
        return True

    async def _failed(self, st: _Notifier, lane: _Lane, row: _Row, exc: Exception) -> bool:
        health = self.health.get(st.name, "notifier")
        now = self.now()
        retry_after = exc.retry_after if isinstance(exc, NotifyError) else None
        if isinstance(exc, trio.TooSlowError):
            text = f"timed out after {NOTIFY_TIMEOUT:.0f}s"
        elif isinstance(exc, NotifyError):
            text = str(exc)
        else:
            log.error("notifier %s crashed", st.name, exc_info=exc)
            text = f"{type(exc).__name__}: {exc}"
        if retry_after is not None:  # a rate limit: wait as told, no attempt used up
            attempts, delay = row.attempts, max(float(retry_after), 0.0)
            health.count("rate_limited")
        else:
            attempts = row.attempts + 1
            delay = backoff(attempts)
            health.count("retries")
        if attempts >= MAX_ATTEMPTS or now - row.created_at >= MAX_AGE:
            why = f"gave up after {attempts} attempts" if attempts >= MAX_ATTEMPTS \
                else "expired"
            await self._mark(row.id, "dead", attempts, now, f"{why}: {text}")
            health.count("dropped")
            self._lane_state(st, lane, "dropped", f"{why}: {text}")
        else:
            await self._mark(row.id, "pending", attempts, now + delay, text)
            self._lane_state(st, lane, "retrying", f"{text}; next try in {delay:.1f}s")
        lane.blocked_until = now + delay
        return False

    def _lane_state(self, st: _Notifier, lane: _Lane, state: str, detail: str) -> None:
        lane.state, lane.detail = state, detail[:300]
        health = self.health.get(st.name, "notifier")
        health.put("lanes", {n: {"state": ln.state, "detail": ln.detail}
                             for n, ln in st.lanes.items()})
        used = [ln for ln in st.lanes.values() if ln.state != "idle"]
        bad = [ln for ln in used if ln.state in ("retrying", "dropped")]
        if not bad:
            health.set("running")
            if state == "ok":
                health.put("last_error", "")
            return
        health.put("last_error", detail[:300] if state != "ok" else health.info.get(
            "last_error", ""))
        problems = "; ".join(f"{ln.name}: {ln.detail}" for ln in bad)
        if all(ln.state == "dropped" for ln in used):
            health.set("failed", problems[:500])
        else:
            health.set("degraded", problems[:500])

    async def _mark(self, row_id: int, status: str, attempts: int, next_at: float,
                    error: str) -> None:
        # Shielded: once notify() returned, the mark must commit even during shutdown.
        with trio.CancelScope(shield=True):
            await self.store.run(lambda conn: conn.execute(
                "UPDATE outbox SET status=?, attempts=?, next_at=?, last_error=? WHERE id=?",
                (status, attempts, next_at, error[:500], row_id)))


    async def _mark_sending(self, row_id: int) -> None:
        """Committed before the call, so a run that dies during it leaves the row
        ``sending`` and the next run knows the service may already have it."""
        with trio.CancelScope(shield=True):
            await self.store.run(lambda conn: conn.execute(
                "UPDATE outbox SET status='sending' WHERE id=?", (row_id,)))


def _wants(name: str, notifier: Any, alert: Alert) -> bool:
    wants = getattr(notifier, "wants", None)
    if not callable(wants):
        return True
    try:
        return bool(wants(alert))
    except Exception:  # a broken filter must not lose alerts: deliver, let notify decide
        log.exception("notifier %s: wants() failed", name)
        return True


def muted_since(reader: Reader, since: float) -> dict[Any, str]:
    """Signal id → the key (``silence:3``) its alert's row was muted with, for rows queued
    since ``since`` (the dashboard's alert state). Blocking: a worker thread's read."""
    return dict(reader.query(
        "SELECT signal_id, last_error FROM outbox WHERE status='muted' AND created_at >= ?",
        (since,)))
