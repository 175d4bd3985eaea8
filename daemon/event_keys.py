"""Which relayed events are stored already: the relays' idempotency check (``web/ingest.py``).

The database keeps events unique by ``(source, ext_id)`` through a partial index,
``events_ext_id`` (``daemon/schema.py``). Which events it covers is the index's own condition
(migration 3 left one high-rate feed's trade ids out: an index over random trade ids cost a
fifth of the ingest rate, and that feed de-duplicates its ids in memory). A lookup must repeat
the condition for SQLite to use the index, so it is read from the database, once, rather than
spelled out here: the code names no feed, and the lookup matches whatever index the migrations
built.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .reader import Reader

INDEX = "events_ext_id"
Key = tuple[str, str]  # (source, ext_id)


def index_condition(reader: Reader) -> str:
    """The ``WHERE`` terms of the unique index, as the migration wrote them."""
    rows = reader.query("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                        (INDEX,))
    if not rows or not rows[0][0]:
        raise RuntimeError(f"the database has no {INDEX} index (schema not migrated?)")
    _, _, where = str(rows[0][0]).partition(" WHERE ")
    return where.strip() or "1"


class StoredKeys:
    """``find(keys)``: the ``(source, ext_id)`` keys already in the events table. Blocking:
    call it in a worker thread (each thread reads on its own connection)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._sql = ""
        self._lock = threading.Lock()

    def _query(self) -> str:
        with self._lock:
            if not self._sql:
                self._sql = ("SELECT 1 FROM events WHERE source = ? AND ext_id = ? AND "
                             f"({index_condition(self.reader)})")
            return self._sql

    def find(self, keys: Iterable[Key]) -> set[Key]:
        sql = self._query()
        return {(source, ext_id) for source, ext_id in keys
                if self.reader.query(sql, (source, ext_id))}
