"""Acknowledgements, snoozes and silences: persisted, held in memory, checked on the
notifier path only.

* The book is loaded at start-up and kept in memory; every change is written through the
  store before it is answered, so it survives a restart.
* Expiry is on the daemon's clock (``clock``: the outbox's wall clock, which advances with
  Trio's, so tests can drive it); a silence "expired early" keeps its row with ``expired_at``
  set until deleted, so the list says what muted what.
* ``muted_by(signal)`` is asked by the outbox just before a row would be delivered — never by
  the detector or the pipeline — and a muted row is stored as ``muted`` with the silence's
  key (``silence:3``, ``snooze:4``) in ``last_error``: the day's muted counts come from there.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .matchers import Matcher, under

if TYPE_CHECKING:
    from .store import Store

KEEP_EXPIRED = 86400.0  # expired silences stay listed this long (then only in the table)


@dataclass
class Silence:
    id: int
    kind: str                      # silence | snooze
    matchers: tuple[Matcher, ...]  # a snooze: one ``market`` matcher holding its ticker
    comment: str
    created_at: float
    ends_at: float
    expired_at: float | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def active(self, now: float) -> bool:
        return self.expired_at is None and self.created_at <= now < self.ends_at

    def matches(self, signal: Any) -> bool:
        if self.kind == "snooze":
            return under(str(getattr(signal, "market_id", "")), self.matchers[0].value)
        return all(m.matches(signal) for m in self.matchers)

    def as_dict(self, now: float) -> dict[str, Any]:
        state = "active" if self.active(now) else "expired"
        return {"id": self.id, "kind": self.kind, "key": self.key,
                "matchers": [str(m) for m in self.matchers],
                "target": self.matchers[0].value if self.kind == "snooze" else None,
                "comment": self.comment, "created_at": self.created_at,
                "ends_at": self.ends_at, "expired_at": self.expired_at, "state": state}


class MuteBook:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store, self.clock = store, clock
        self.silences: dict[int, Silence] = {}
        self.acked: set[int] = set()

    # ------------------------------------------------------------------ persistence
    def load(self) -> None:
        """Blocking: read the table (run in a worker thread at start-up)."""
        since = time.time() - KEEP_EXPIRED
        for row in self.store.query(
                "SELECT id, kind, matchers, comment, created_at, ends_at, expired_at"
                " FROM silences WHERE ends_at >= ? ORDER BY id",
                (since,)):
            self.silences[row[0]] = _silence(row)
        self.acked = {r[0] for r in self.store.query(
            "SELECT signal_id FROM acks WHERE acked_at >= ?", (since - 29 * 86400,))}

    async def add(self, kind: str, matchers: tuple[Matcher, ...], duration: float,
                  comment: str) -> Silence:
        now = self.clock()
        text = json.dumps([[m.name, m.value] for m in matchers])

        def fn(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO silences (kind, matchers, comment, created_at, ends_at)"
                " VALUES (?,?,?,?,?)", (kind, text, comment, now, now + duration))
            return int(cur.lastrowid or 0)
        sid = await self.store.run(fn)
        silence = self.silences[sid] = Silence(sid, kind, matchers, comment, now,
                                               now + duration)
        return silence

    async def expire(self, sid: int) -> Silence | None:
        silence = self.silences.get(sid)
        if silence is None:
            return None
        if silence.active(self.clock()):
            now = self.clock()
            await self.store.run(lambda conn: conn.execute(
                "UPDATE silences SET expired_at=? WHERE id=?", (now, sid)))
            silence.expired_at = now
        return silence

    async def delete(self, sid: int) -> bool:
        if sid not in self.silences:
            return False
        await self.store.run(lambda conn: conn.execute(
            "DELETE FROM silences WHERE id=?", (sid,)))
        del self.silences[sid]
        return True

    async def ack(self, ids: Iterable[int]) -> list[int]:
        new = sorted(set(ids) - self.acked)
        if new:
            now = time.time()
            await self.store.run(lambda conn: conn.executemany(
                "INSERT OR IGNORE INTO acks (signal_id, acked_at) VALUES (?,?)",
                [(i, now) for i in new]))
            self.acked.update(new)
        return new

    # ------------------------------------------------------------------ questions
    def muted_by(self, signal: Any) -> Silence | None:
        """The outbox's question before a delivery: the first active silence or snooze
        matching ``signal`` now (None: deliver)."""
        now = self.clock()
        for silence in self.silences.values():
            if silence.active(now) and silence.matches(signal):
                return silence
        return None

    def snoozes_of(self, market_id: str) -> list[dict[str, Any]]:
        """The active snoozes covering ``market_id`` (its own, its event's, its series')."""
        now = self.clock()
        return [s.as_dict(now) for s in self.silences.values()
                if s.kind == "snooze" and s.active(now) and under(market_id, s.matchers[0].value)]

    def mute_key(self, alert: Any) -> str | None:
        """``Outbox.mute``: the key of what mutes ``alert`` (follow-ups included). An
        incident is muted only when every market it lists is: one snoozed market does not
        hide its event's other signals."""
        incident = getattr(alert, "incident", None)
        if incident is not None and incident.signals:
            found = [self.muted_by(_Member(alert.signal, item)) for item in incident.signals]
            return found[0].key if found[0] is not None and all(found) else None
        silence = self.muted_by(alert.signal)
        return silence.key if silence is not None else None

    def listing(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [s.as_dict(now) for s in sorted(self.silences.values(),
                                               key=lambda s: (not s.active(now), -s.id))
                if s.active(now) or now - min(s.ends_at, s.expired_at or s.ends_at)
                < KEEP_EXPIRED]

    async def muted_counts(self, since: float) -> dict[str, Any]:
        """Alerts (signals) muted since ``since``, by how many silences/snoozes."""
        rows = await self.store.aquery(
            "SELECT last_error, COUNT(DISTINCT signal_id) FROM outbox"
            " WHERE status='muted' AND created_at >= ? GROUP BY last_error", (since,))
        by = {key: count for key, count in rows}
        total = await self.store.aquery(
            "SELECT COUNT(DISTINCT signal_id) FROM outbox WHERE status='muted'"
            " AND created_at >= ?", (since,))
        return {"alerts": total[0][0] if total else 0, "silences": len(by), "by": by}


class _Member:
    """An incident's member as matchers see it: its own market and tier, the rest from the
    incident's newest signal (members share an event: topic, source and rule alike)."""

    def __init__(self, signal: Any, item: Any) -> None:
        self.market_id, self.tier = item.market_id, item.tier
        self.topic, self.source, self.rule = signal.topic, signal.source, signal.rule


def _silence(row: tuple[Any, ...]) -> Silence:
    matchers = tuple(Matcher(n, v) for n, v in json.loads(row[2]))
    return Silence(row[0], row[1], matchers, row[3], row[4], row[5], row[6])


def local_midnight(now: float) -> float:
    """The start of the local day holding ``now`` (the "today" of muted counts)."""
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
