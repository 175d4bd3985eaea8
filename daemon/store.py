"""The SQLite store: one writer thread committing in batches, readers on their own connections.

Writes are closures ``fn(conn)`` queued to the writer; it drains everything queued, runs it in
one transaction and commits, so a busy daemon commits big batches and an idle one commits at
once (never later than ``MAX_BATCH_SECONDS`` after a write was queued). Reads run in worker
threads on per-thread connections (WAL lets them proceed while the writer commits).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import trio

from trade_hunter.plugins.models import AnalystRead, MarketEvent, SpikeSignal, from_json

from . import privacy
from .buckets import Buckets
from .schema import MIGRATIONS, migrate
from .store_errors import RowFailures, StoreUnavailable, cause, environmental, open_failure

log = logging.getLogger(__name__)
T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]
MAX_BATCH_SECONDS = 0.25
CACHE_KIB = 16 * 1024  # the writer's page cache: index inserts land in random pages
WAL_PAGES = 10_000     # checkpoint the WAL every this many pages (SQLite's default: 1,000)
RETRY_FIRST, RETRY_MAX = 0.25, 5.0  # seconds between attempts while the store is degraded
COMMIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100)
CLOSE_GRACE = 5.0      # at shutdown, how long a degraded store keeps trying before giving up
_STOP = object()


def connect(path: Path, *, writer: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    if writer:  # journal mode is a property of the file: set once, by the writer
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable at commit in WAL up to an OS crash
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # Index inserts dirty pages all over the file, so each checkpoint copies many: fewer,
        # larger checkpoints (about 40 MB of WAL) copy a page once for many commits.
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self.next_signal_id = 1
        self.next_event_id = 1
        self.commits = 0
        self.write_cpu = 0.0
        self.commit_seconds = Buckets(COMMIT_BUCKETS)
        """Wall time of each writer transaction (/metrics)."""
        self.batch_writes = Buckets(BATCH_BUCKETS)
        """Queued writes per transaction (a pipeline batch of events is one write)."""
        """CPU seconds the writer thread spent running writes and committing."""
        self.flush_hooks: list[Callable[[], None]] = []
        """Called by :meth:`flush` first: a component that holds writes back to batch them
        (the pipeline) queues them, so ``flush`` covers everything accepted so far."""
        self.commit_listeners: list[Callable[[], None]] = []
        """Called *in the writer thread* after each commit, once the batch's own ``done``
        callbacks have run: the outbox learns there that rows of its own were committed
        (they must be cheap and must not raise; ``trio.RunFinishedError`` is ignored)."""
        self.write_errors = 0
        self.last_write_error = ""
        self.degraded = ""
        """Why the writer cannot commit now (the disk is full, ...); empty when it can. The
        writer keeps its batch and retries until the cause clears."""
        self.health: Any = None
        """The ``store`` component's health record (set by the daemon): ``degraded`` then."""
        self._closing = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Open, migrate and check that a write commits; ``StoreUnavailable`` (one line for
        the user) when the home, the file or its schema version is unusable."""
        try:
            privacy.private_dir(self.path.parent)
            privacy.private_file(self.path)
            privacy.repair_files(*(self.path.with_name(self.path.name + suffix)
                                   for suffix in ("-wal", "-shm")))
            conn = self._conn = connect(self.path, writer=True)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreUnavailable(
                    f"{self.path} was written by a newer Trade Hunter (schema {version}; this "
                    f"one knows {len(MIGRATIONS)}): upgrade, or move the database aside")
            migrate(conn)
            # Ready means writable: a read-only or full database must not be acknowledged to.
            conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES ('store.opened_at', ?)",
                         (str(time.time()),))
            row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM signals").fetchone()
            self.next_signal_id = row[0] + 1
            row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
            self.next_event_id = row[0] + 1
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise open_failure(self.path, exc) from None
        except StoreUnavailable:
            self.close()
            raise
        self._thread = threading.Thread(target=self._writer, name="th-sqlite-writer",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Commit everything queued, then stop the writer (blocking). A degraded store keeps
        trying for ``CLOSE_GRACE`` seconds, then gives up on what it holds (logged)."""
        self._closing.set()
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ writing
    def submit(self, fn: Write, done: Callable[[Any], None] | None = None) -> None:
        """Queue a write; it commits with the next batch (within 250 ms). A write only
        touches the database through ``conn``: it may run twice (see ``_commit``).
        ``done(result)`` is called *in the writer thread* once its batch has committed."""
        self._queue.put((fn, done))

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Queue a write and wait until its batch has committed; returns ``fn``'s result."""
        done = trio.Event()
        box: list[Any] = []
        token = trio.lowlevel.current_trio_token()

        def notify(result: Any) -> None:
            box.append(result)
            token.run_sync_soon(done.set)

        self._queue.put((fn, notify))
        await done.wait()
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    async def flush(self) -> None:
        """Wait until everything queued so far (or held back by a flush hook) has committed."""
        for hook in self.flush_hooks:
            hook()
        await self.run(lambda conn: None)

    def _writer(self) -> None:
        assert self._conn is not None
        conn = self._conn
        stop = False
        while not stop:
            item = self._queue.get()
            batch = [item]
            deadline = time.monotonic() + MAX_BATCH_SECONDS
            while time.monotonic() < deadline:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in batch
            entries = [entry for entry in batch if entry is not _STOP]
            cpu, began = time.thread_time(), time.perf_counter()
            results = self._commit_until_stored(conn, entries)
            self.commits += 1
            self.write_cpu += time.thread_time() - cpu
            self.commit_seconds.observe(time.perf_counter() - began)
            self.batch_writes.observe(len(entries))
            for (_, notify), result in zip(entries, results, strict=True):
                if notify is None:
                    continue
                try:
                    notify(result)
                except trio.RunFinishedError:
                    pass
            for listener in self.commit_listeners:
                try:
                    listener()
                except trio.RunFinishedError:
                    pass

    def _commit_until_stored(self, conn: sqlite3.Connection, entries: list[Any]) -> list[Any]:
        """``_commit``, retried while the environment refuses it (disk full, I/O error,
        read-only, locked): the store is ``degraded`` meanwhile, nothing is dropped, and
        writing resumes by itself once the cause clears."""
        delay, gave_up_at = RETRY_FIRST, None
        while True:
            try:
                results = self._commit(conn, entries)
            except Exception as exc:  # noqa: BLE001 - the environment (rows are isolated)
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # SQLite may have rolled back itself (SQLITE_FULL, IOERR)
                self._set_degraded(cause(exc) if environmental(exc)
                                   else f"{type(exc).__name__}: {exc}")
                if self._closing.is_set():
                    gave_up_at = gave_up_at or time.monotonic() + CLOSE_GRACE
                    if time.monotonic() >= gave_up_at:
                        log.error("stopping with %d writes not stored: %s", len(entries),
                                  self.degraded)
                        return [exc] * len(entries)
                self._closing.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            if self.degraded:
                log.warning("store recovered: writing again (was: %s)", self.degraded)
                self._set_degraded("")
            return results

    def _set_degraded(self, why: str) -> None:
        if why and why != self.degraded:
            log.warning("store degraded, writes are held and retried: %s", why)
        self.degraded = why
        if self.health is not None:
            self.health.set("degraded" if why else "running", why or str(self.path))
            if why:
                self.health.last_error, self.health.last_error_at = why, time.time()

    def _commit(self, conn: sqlite3.Connection, entries: list[Any]) -> list[Any]:
        """Run the writes in one transaction and commit; returns each one's result (or its
        exception). Optimistic: all in one go; if one raises, the transaction is rolled back
        and redone with each write in a savepoint, so the failing one alone is lost. (A
        savepoint per write always would cost 10-15 % of insert time: SQLite journals every
        page a savepoint changes.) Writes only touch the database, so running one twice is
        harmless."""
        conn.execute("BEGIN")
        try:
            results = [fn(conn) for fn, _ in entries]
        except Exception as exc:  # redone below, where it is logged and isolated
            if environmental(exc):
                raise  # not the rows' fault: the whole batch is retried
            conn.execute("ROLLBACK")
        else:
            conn.execute("COMMIT")
            return results
        results = []
        conn.execute("BEGIN")
        for fn, _ in entries:
            try:
                conn.execute("SAVEPOINT op")
                # A write that can isolate its own rows (a pipeline batch) does so.
                results.append(getattr(fn, "careful", fn)(conn))
                conn.execute("RELEASE op")
            except Exception as exc:  # one bad write must not lose the batch
                if environmental(exc):
                    raise  # the caller rolls the whole transaction back
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                self.write_errors += 1
                self.last_write_error = f"{type(exc).__name__}: {exc}"
                log.exception("store write failed")
                results.append(exc)
            else:
                failed = results[-1]
                if isinstance(failed, RowFailures) and failed:
                    self.write_errors += len(failed.ids)
                    self.last_write_error = failed.error
                    if self.health is not None:  # shown with the store's health
                        self.health.count("rows_not_written", len(failed.ids))
                        self.health.last_error = failed.error[:300]
                        self.health.last_error_at = time.time()
        conn.execute("COMMIT")
        return results

    # ------------------------------------------------------------------ reading
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Blocking read on this thread's connection."""
        return self._reader().execute(sql, tuple(params)).fetchall()

    def query_chunks(self, sql: str, params: Iterable[Any] = (), size: int = 500
                     ) -> Iterator[list[tuple[Any, ...]]]:
        """Blocking read in chunks of ``size`` rows (bounded memory for big results)."""
        cursor = self._reader().execute(sql, tuple(params))
        try:
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()

    async def aquery(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return await trio.to_thread.run_sync(self.query, sql, tuple(params))

    # ------------------------------------------------------------------ history (StoreReader)
    def events_between(self, start: float, end: float) -> list[MarketEvent]:
        rows = self.query(
            "SELECT e.ts, e.received_at, e.platform, e.market_id, e.kind, e.yes_price, e.volume,"
            " e.volume_kind, e.trade_side, e.trade_size, e.yes_bid, e.yes_ask, e.source,"
            " e.ext_id, COALESCE(m.title, ''), m.topic FROM events e"
            " LEFT JOIN markets m ON m.market_id = e.market_id"
            " WHERE e.ts >= ? AND e.ts < ? ORDER BY e.ts, e.id", (start, end))
        return [MarketEvent(
            timestamp=r[0], received_at=r[1], platform=r[2], market_id=r[3],
            event_kind="trade" if r[4] == "T" else "quote", yes_price=r[5], volume=r[6],
            volume_kind=r[7], trade_side=r[8], trade_size=r[9], yes_bid=r[10], yes_ask=r[11],
            source=r[12], ext_id=r[13], title=r[14], topic=r[15]) for r in rows]

    def signals_between(self, start: float, end: float
                        ) -> list[tuple[SpikeSignal, AnalystRead | None]]:
        rows = self.query(
            "SELECT s.payload, r.payload FROM signals s"
            " LEFT JOIN analyst_reads r ON r.signal_id = s.id"
            " WHERE s.created_at >= ? AND s.created_at < ? ORDER BY s.id", (start, end))
        return [(from_json(s, SpikeSignal), from_json(r, AnalystRead) if r else None)
                for s, r in rows]

    def last_prices(self, market_ids: Iterable[str]) -> dict[str, tuple[float, float | None]]:
        out = {}
        for market in market_ids:  # two index seeks each (market_id, ts)
            price = self.query("SELECT yes_price FROM events WHERE market_id=? AND yes_price"
                               " IS NOT NULL ORDER BY ts DESC LIMIT 1", (market,))
            if price:
                volume = self.query("SELECT volume FROM events WHERE market_id=? AND"
                                    " volume_kind='cumulative' ORDER BY ts DESC LIMIT 1",
                                    (market,))
                out[market] = (price[0][0], volume[0][0] if volume else None)
        return out

    # ------------------------------------------------------------------ typed helpers
    def allocate_signal_id(self) -> int:
        sid = self.next_signal_id
        self.next_signal_id += 1
        return sid

    def allocate_event_ids(self, count: int) -> int:
        """Reserve ``count`` consecutive event ids; returns the first. Ids are allocated in
        memory (one writer, one process), so the pipeline knows an event's id before it is
        committed; write the events with ``event_writes.write_batch(..., first_id=...)``."""
        first = self.next_event_id
        self.next_event_id += count
        return first
