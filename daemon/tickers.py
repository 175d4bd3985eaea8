"""Tracked tickers: persisted, changed live (API, th-ctl), watched by the Kalshi feed."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Sequence

import trio

from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.registry import TrackedTicker

from .store import Store

log = logging.getLogger(__name__)
# Kalshi tickers: letters, digits, '-', '.', '_' (e.g. KXBTC15M, KXBTCD-26FEB1217-T67749.99)
TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")


def normalize(ticker: str) -> str:
    text = str(ticker).strip().upper()
    if not TICKER_RE.match(text):
        raise RpcError(f"not a ticker: {ticker!r} (letters, digits, '-', '.', '_')",
                       code="invalid_params")
    return text


class TickerBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.items: dict[str, TrackedTicker] = {}
        self._changed = trio.Event()

    def load(self, seed: Sequence[str]) -> None:
        """Read the persisted list; on the very first start, seed it from KALSHI_MARKETS."""
        rows = self.store.query("SELECT ticker, added_at, status, detail, markets "
                                "FROM tracked_tickers ORDER BY added_at")
        seeded = self.store.query("SELECT value FROM kv WHERE key='tickers_seeded'")
        for ticker, added_at, status, detail, markets in rows:
            self.items[ticker] = TrackedTicker(ticker, added_at, status, detail,
                                               json.loads(markets))
        if not seeded:
            now = time.time()
            for raw in seed:
                ticker = normalize(raw)
                self.items.setdefault(ticker, TrackedTicker(ticker, now))
            items = list(self.items.values())

            def fn(conn: sqlite3.Connection) -> None:
                for t in items:
                    _upsert(conn, t)
                conn.execute("INSERT OR REPLACE INTO kv VALUES ('tickers_seeded', '1')")
            self.store.submit(fn)

    def list(self) -> list[TrackedTicker]:
        return list(self.items.values())

    async def add(self, ticker: str) -> tuple[TrackedTicker, bool]:
        ticker = normalize(ticker)
        if ticker in self.items:
            return self.items[ticker], False
        item = self.items[ticker] = TrackedTicker(ticker, time.time())
        await self.store.run(lambda conn: _upsert(conn, item))
        self._notify()
        log.info("ticker %s: now tracked", ticker, extra={"ticker": ticker, "change": "added"})
        return item, True

    async def remove(self, ticker: str) -> bool:
        ticker = normalize(ticker)
        if self.items.pop(ticker, None) is None:
            return False
        await self.store.run(lambda conn: conn.execute(
            "DELETE FROM tracked_tickers WHERE ticker=?", (ticker,)))
        self._notify()
        log.info("ticker %s: no longer tracked", ticker,
                 extra={"ticker": ticker, "change": "removed"})
        return True

    def set_status(self, ticker: str, status: str, detail: str = "",
                   markets: Sequence[str] = ()) -> None:
        item = self.items.get(ticker)
        if item is None:
            return
        if (item.status, item.markets) != (status, list(markets)):
            _log_status(ticker, status, detail, markets)
        item.status, item.detail, item.markets = status, detail, list(markets)
        self.store.submit(lambda conn: _upsert(conn, item))

    async def wait_changed(self) -> None:
        await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def summary(self) -> dict[str, object]:
        counts: dict[str, int] = {}
        for t in self.items.values():
            counts[t.status] = counts.get(t.status, 0) + 1
        return {"total": len(self.items), **counts}


def _log_status(ticker: str, status: str, detail: str, markets: Sequence[str]) -> None:
    """One line per change of a ticker's resolution (a rollover names the new market)."""
    following = f" → {', '.join(markets[:5])}{' …' if len(markets) > 5 else ''}" \
        if markets else ""
    log.log(logging.WARNING if status == "unresolved" else logging.INFO,
            "ticker %s: %s%s%s", ticker, status, following, f" ({detail})" if detail else "",
            extra={"ticker": ticker, "change": status, "markets": list(markets)})


def _upsert(conn: sqlite3.Connection, t: TrackedTicker) -> None:
    conn.execute(
        "INSERT INTO tracked_tickers (ticker, added_at, status, detail, markets)"
        " VALUES (?,?,?,?,?) ON CONFLICT(ticker) DO UPDATE SET status=excluded.status,"
        " detail=excluded.detail, markets=excluded.markets",
        (t.ticker, t.added_at, t.status, t.detail, json.dumps(t.markets)))
