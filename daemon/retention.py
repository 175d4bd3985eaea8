"""Retention: delete rows older than RETENTION_DAYS at start and hourly, in small batches
through the writer so ingest never stalls behind one long delete."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

import trio
import trio.lowlevel

from .store import Store

log = logging.getLogger(__name__)
CHUNK = 2000
INTERVAL = 3600.0
TABLES: tuple[tuple[str, str], ...] = (
    ("events", "ts"),
    ("signals", "created_at"),
    ("analyst_reads", "created_at"),
    ("outcomes", "created_at"),
    ("market_hours", "hour_start"),
    ("settlements", "checked_at"),
)


class Retention:
    def __init__(self, store: Store, days: float) -> None:
        self.store = store
        self.days = days
        self.status: dict[str, Any] = {"last_run": None, "rows_deleted": 0,
                                       "oldest_kept": None, "running": False,
                                       "retention_days": days}

    async def run_once(self) -> int:
        cutoff = time.time() - self.days * 86400
        self.status["running"] = True
        deleted = 0
        try:
            for table, column in TABLES:
                while True:
                    n = await self.store.run(_delete_chunk(table, column, cutoff))
                    deleted += n
                    if n < CHUNK:
                        break
                    await trio.lowlevel.checkpoint()  # let the pipeline's batches interleave
            await self.store.run(lambda conn: conn.execute(
                "DELETE FROM outbox WHERE status NOT IN ('pending', 'sending')"
                " AND created_at < ?", (cutoff,)))
            rows = await self.store.aquery("SELECT MIN(ts) FROM events")
        finally:
            self.status["running"] = False
        self.status.update(last_run=time.time(), rows_deleted=deleted,
                           oldest_kept=rows[0][0] if rows else None)
        if deleted:
            log.info("retention deleted %d rows older than %.1f days", deleted, self.days)
        return deleted

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        task_status.started()
        while True:
            await self.run_once()
            await trio.sleep(INTERVAL)


def _delete_chunk(table: str, column: str, cutoff: float) -> Any:
    def fn(conn: sqlite3.Connection) -> int:
        cur = conn.execute(
            f"DELETE FROM {table} WHERE rowid IN "
            f"(SELECT rowid FROM {table} WHERE {column} < ? LIMIT {CHUNK})", (cutoff,))
        return cur.rowcount
    return fn
