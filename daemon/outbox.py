"""The notification outbox: alerts are rows committed with their signal, delivered by one
task per notifier, retried with backoff, marked sent once (so a restart re-sends nothing
that was delivered and loses nothing that was not)."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import trio

from trade_hunter.plugins.errors import NotifyError, PermanentNotifyError
from trade_hunter.plugins.models import Alert, SpikeSignal, from_json, to_json

from .supervisor import backoff

if TYPE_CHECKING:
    from .app import Daemon

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12
OUTBOX_SQL = ("INSERT OR IGNORE INTO outbox (notifier, kind, signal_id, payload, created_at,"
              " next_at) VALUES (?,?,?,?,?,?)")


class Outbox:
    def __init__(self, daemon: Daemon, notifiers: list[tuple[str, Any]]) -> None:
        self.d = daemon
        self.notifiers = dict(notifiers)
        self._wake: dict[str, trio.Event] = {n: trio.Event() for n in self.notifiers}

    def rows_for(self, alert: Alert) -> Iterable[Any]:
        if not self.notifiers:
            return []
        payload, now = to_json(alert), time.time()
        sid = alert.signal.id

        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany(OUTBOX_SQL, [(n, alert.kind, sid, payload, now, now)
                                          for n in self.notifiers])
        return [fn]

    def rows_for_signal(self, signal: SpikeSignal) -> Iterable[Any]:
        return self.rows_for(Alert(kind="detector", signal=signal))

    def wake(self, signal: Any = None) -> None:
        for event in self._wake.values():
            event.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        async with trio.open_nursery() as nursery:
            for name in self.notifiers:
                nursery.start_soon(self._deliver, name)
            task_status.started()

    async def _deliver(self, name: str) -> None:
        notifier = self.notifiers[name]
        while True:
            self._wake[name] = trio.Event()
            rows = await self.d.store.aquery(
                "SELECT id, payload, attempts FROM outbox WHERE notifier=? AND status='pending'"
                " AND next_at <= ? ORDER BY id LIMIT 50", (name, time.time()))
            for row_id, payload, attempts in rows:
                await self._send_one(name, notifier, row_id, payload, attempts)
            if not rows:
                with trio.move_on_after(5):
                    await self._wake[name].wait()

    async def _send_one(self, name: str, notifier: Any, row_id: int, payload: bytes,
                        attempts: int) -> None:
        health = self.d.health.get(name, "notifier")
        try:
            await notifier.notify(from_json(payload, Alert))
        except PermanentNotifyError as exc:
            await self._mark(row_id, "dead", attempts + 1, time.time(), str(exc))
            health.count("dropped")
            health.set("failed", str(exc))
            return
        except Exception as exc:
            retry_after = exc.retry_after if isinstance(exc, NotifyError) else None
            if not isinstance(exc, NotifyError):
                log.exception("notifier %s crashed", name)
            delay = retry_after if retry_after is not None else backoff(attempts + 1)
            status = "dead" if attempts + 1 >= MAX_ATTEMPTS else "pending"
            await self._mark(row_id, status, attempts + 1, time.time() + delay, str(exc))
            health.count("retries")
            health.set("degraded", f"retrying: {exc}")
            return
        await self._mark(row_id, "sent", attempts + 1, time.time(), "")
        health.count("sent")
        health.set("running")

    async def _mark(self, row_id: int, status: str, attempts: int, next_at: float,
                    error: str) -> None:
        await self.d.store.run(lambda conn: conn.execute(
            "UPDATE outbox SET status=?, attempts=?, next_at=?, last_error=? WHERE id=?",
            (status, attempts, next_at, error[:500], row_id)))
