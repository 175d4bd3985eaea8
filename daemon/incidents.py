"""Incidents: signals on markets of one event, notified as one alert that grows.

* The group of a signal: its market's event, as the feed that takes the platform's
  identifiers says (``IdentifierSpec.event_of``; Kalshi: the market ticker without its last
  ``-`` segment); a vendor signal's ``group`` metadata field (``source:group``); other
  signals are not grouped and go to the outbox at once, as before.
* A signal joins the open incident of its group when it comes within
  ``ALERT_GROUP_WINDOW_SECONDS`` of the incident's last signal, else it opens a new one. The
  hot path (``rows_for_signal``, in the signal's store batch) only records the membership.
* This task notifies: an incident's first alert ``ALERT_GROUP_WAIT_SECONDS`` after it
  opened, with every signal that joined meanwhile; later signals at most every
  ``ALERT_REPEAT_SECONDS``. A notification is outbox rows (``Alert.incident`` set, ``signal``
  the newest member, whose id keys the rows) written in one transaction with the
  incident's ``notified`` mark: after a restart an incident with members not yet notified
  is sent once, an incident already notified is not sent again.
* Times are the outbox's clock (wall time moving with Trio's), so tests drive the windows
  with a virtual clock.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import trio

from trade_hunter.plugins.models import Alert, Incident, IncidentItem, SpikeSignal, from_json

if TYPE_CHECKING:
    from .outbox import Outbox
    from .store import Store

log = logging.getLogger(__name__)
LISTED = 25        # members an incident alert lists (the newest)
MEMBERS_KEPT = 2000  # signal → incident kept in memory for the dashboard (its window is 300)
Write = Callable[[sqlite3.Connection], Any]


class Batches(Protocol):
    """The pipeline: an incident's alert is written once its members' batch committed."""

    async def settled(self) -> None: ...


EventOf = Callable[[str, str], "str | None"]
"""``event_of(platform, market_id)``: the market's event (``Watchlist.event_of``)."""


def no_events(platform: str, market_id: str) -> str | None:
    return None


def group_key(signal: SpikeSignal, event_of: EventOf = no_events) -> str | None:
    if signal.vendor is not None:
        group = signal.vendor.metadata.get("group")
        if isinstance(group, str) and group.strip():
            return f"{signal.source}:{group.strip()[:100]}"
        return None
    return event_of(signal.platform, signal.market_id)


@dataclass
class _Open:
    id: int
    key: str
    first_at: float
    last_at: float
    members: list[SpikeSignal] = field(default_factory=list)
    notified: int = 0
    notified_at: float | None = None
    updates: int = 0

    def due(self, wait: float, repeat: float) -> float | None:
        if len(self.members) <= self.notified:
            return None
        if self.notified_at is None:
            return self.first_at + wait
        return self.notified_at + repeat


class Incidents:
    def __init__(self, outbox: Outbox, store: Store, batches: Batches | None, *,
                 window: float, wait: float, repeat: float,
                 event_of: EventOf = no_events) -> None:
        self.outbox, self.store, self.batches = outbox, store, batches
        self.event_of = event_of
        self.window, self.wait, self.repeat = window, wait, repeat
        self.open: dict[str, _Open] = {}
        self.members: OrderedDict[int, tuple[int, str]] = OrderedDict()
        """The newest grouped signals' incident ``(id, key)``: the dashboard's incident cards."""
        self.next_id = 1
        self._wake = trio.Event()

    # ------------------------------------------------------------------ start-up
    def load(self) -> None:
        """Blocking: open incidents (recent enough to grow, or not fully notified)."""
        self.next_id = self.store.query("SELECT COALESCE(MAX(id), 0) FROM incidents")[0][0] + 1
        since = self.outbox.now() - max(self.window, self.repeat) - 3600
        for iid, key, first, last, notified, notified_at, updates in self.store.query(
                "SELECT id, key, first_at, last_at, notified, notified_at, updates"
                " FROM incidents WHERE last_at >= ? ORDER BY id", (since,)):
            members = [from_json(p, SpikeSignal) for (p,) in self.store.query(
                "SELECT s.payload FROM incident_signals i JOIN signals s ON s.id = i.signal_id"
                " WHERE i.incident_id = ? ORDER BY s.id", (iid,))]
            self.open[key] = _Open(iid, key, first, last, members, notified, notified_at,
                                   updates)
        self.load_members()

    def load_members(self) -> None:
        """Blocking: the newest grouped signals' incidents (the dashboard's incident cards)."""
        for sid, iid, key in reversed(self.store.query(
                "SELECT i.signal_id, i.incident_id, n.key FROM incident_signals i"
                " JOIN incidents n ON n.id = i.incident_id ORDER BY i.signal_id DESC LIMIT ?",
                (MEMBERS_KEPT,))):
            self.members[sid] = (iid, key)

    def member_of(self, signal_id: int | None) -> tuple[int, str] | None:
        """The incident ``(id, key)`` a recent signal belongs to, if any."""
        return self.members.get(signal_id or 0)

    # ------------------------------------------------------------------ hot path
    def rows_for_signal(self, signal: SpikeSignal) -> Iterable[Write]:
        """The pipeline's signal write: grouped signals join an incident, the rest go to the
        outbox as single alerts."""
        key = group_key(signal, self.event_of) if self.window > 0 and signal.notify else None
        if key is None:
            return self.outbox.rows_for_signal(signal)
        now = self.outbox.now()
        inc = self.open.get(key)
        if inc is None or now - inc.last_at > self.window:
            inc = self.open[key] = _Open(self.next_id, key, now, now)
            self.next_id += 1
        inc.members.append(signal)
        inc.last_at = now
        self.members[signal.id or 0] = (inc.id, key)
        if len(self.members) > MEMBERS_KEPT:
            self.members.popitem(last=False)
        self._wake.set()
        row = (inc.id, key, inc.first_at, now, signal.id)

        def fn(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO incidents (id, key, first_at, last_at) VALUES (?,?,?,?)"
                         " ON CONFLICT(id) DO UPDATE SET last_at=excluded.last_at", row[:4])
            conn.execute("INSERT OR REPLACE INTO incident_signals (signal_id, incident_id)"
                         " VALUES (?,?)", (row[4], row[0]))
        return [fn]

    # ------------------------------------------------------------------ notifying
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        while True:
            self._wake = trio.Event()
            now = self.outbox.now()
            for inc in list(self.open.values()):
                due = inc.due(self.wait, self.repeat)
                if due is not None and due <= now:
                    await self._notify(inc)
                elif due is None and now - inc.last_at > max(self.window, self.repeat):
                    del self.open[inc.key]  # closed: nothing left to send, too old to grow
            dues = [d for inc in self.open.values()
                    if (d := inc.due(self.wait, self.repeat)) is not None]
            sleep = min(dues, default=now + 3600) - self.outbox.now()
            with trio.move_on_after(max(sleep, 0.0)):
                await self._wake.wait()

    async def _notify(self, inc: _Open) -> None:
        if self.batches is not None:  # the members' rows have committed
            await self.batches.settled()
        members = list(inc.members)
        alert = Alert(kind="detector", signal=members[-1], incident=incident_view(inc, members))
        writes = self.outbox.rows_for(alert)
        now = self.outbox.now()
        mark = (len(members), now, inc.updates + 1, inc.id)

        def fn(conn: sqlite3.Connection) -> None:
            for write in writes:
                write(conn)
            conn.execute("UPDATE incidents SET notified=?, notified_at=?, updates=? WHERE id=?",
                         mark)
        await self.store.run(fn)
        inc.notified, inc.notified_at, inc.updates = len(members), now, inc.updates + 1


def incident_view(inc: _Open, members: list[SpikeSignal]) -> Incident:
    items = [IncidentItem(signal_id=s.id or 0, market_id=s.market_id, title=s.title,
                          tier=s.tier, score=s.score, yes_price=s.yes_price,
                          price_move=s.price_move, direction=s.direction,
                          created_at=s.created_at) for s in reversed(members[-LISTED:])]
    return Incident(id=inc.id, key=inc.key, update=inc.updates, first_at=inc.first_at,
                    signals=items, total=len(members))
