"""``--kalshi TICKER``: a series', event's or market's public trade history, downloaded once
through Kalshi's public REST endpoints (no key: market data is public) with the feed's own
paced client, cached under the home folder as the trades and markets CSVs the backtest reads.

The ticker is tried as a market, then an event, then a series (each 404 moves on); trades come
from ``GET /markets/trades`` per market, paginated with the cursor, newest first (written
oldest first).
"""

from __future__ import annotations

import csv
import gzip
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import trio

from trade_hunter.plugins.builtin.kalshi.rest import NotFound, Rest, RestError

from .readers import InputError

TRADE_COLUMNS = ("trade_id", "ticker", "created_time", "yes_price_dollars", "no_price_dollars",
                 "count_fp", "taker_side")
MARKET_COLUMNS = ("ticker", "close_time", "title", "result")
DEFAULT_API = "https://external-api.kalshi.com/trade-api/v2"


def since_ts(since: str | None) -> int | None:
    if not since:
        return None
    try:
        day = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"--since wants a date like 2026-01-02, got {since!r}") from None
    return int(day.timestamp())


async def markets_of(rest: Rest, ticker: str) -> list[dict[str, Any]]:
    """The markets a ticker names, trying market → event → series."""
    try:
        return [(await rest.get(f"/markets/{ticker}"))["market"]]
    except NotFound:
        pass
    try:
        body = await rest.get(f"/events/{ticker}", {"with_nested_markets": "true"})
        nested = (body.get("event") or {}).get("markets")
        return list(nested or body.get("markets") or [])
    except NotFound:
        pass
    found = [m async for m in rest.pages("/markets", "markets", {"series_ticker": ticker,
                                                                  "limit": 1000})]
    if not found:
        raise InputError(f"Kalshi knows no market, event or series {ticker!r}")
    return found


async def fetch(api: str, ticker: str, since: int | None, rate: float, err: TextIO
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The markets of ``ticker`` and all their trades (oldest first)."""
    async with Rest(api, rate=rate) as rest:
        markets = await markets_of(rest, ticker)
        rows: list[dict[str, Any]] = []
        for i, market in enumerate(markets, 1):
            if err.isatty():
                err.write(f"\rbacktest: downloading {i}/{len(markets)} {market['ticker']}")
                err.flush()
            params: dict[str, Any] = {"ticker": market["ticker"], "limit": 1000,
                                      "min_ts": since}
            rows.extend([t async for t in rest.pages("/markets/trades", "trades", params)])
    rows.sort(key=lambda t: (t.get("created_time") or "", t.get("trade_id") or ""))
    return markets, rows


def write_cache(markets: list[dict[str, Any]], rows: list[dict[str, Any]], trades_path: Path,
                markets_path: Path) -> None:
    trades_path.parent.mkdir(parents=True, exist_ok=True)
    partial = trades_path.with_suffix(".part")
    with gzip.open(partial, "wt", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, TRADE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for t in rows:
            side = t.get("taker_side") or t.get("taker_outcome_side") or ""
            writer.writerow({**t, "taker_side": side})
    with open(markets_path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, MARKET_COLUMNS)
        writer.writeheader()
        for m in markets:
            title = " — ".join(x for x in (m.get("title"), m.get("yes_sub_title")) if x
                               and x != "(deprecated)")
            writer.writerow({"ticker": m["ticker"], "close_time": m.get("close_time") or "",
                             "title": title, "result": m.get("result") or ""})
    partial.replace(trades_path)  # complete files only: a broken download is fetched again


def download_cached(ticker: str, since: str | None, home: Path | None,
                    err: TextIO = sys.stderr) -> tuple[Path, Path]:
    """The cached files for ``ticker`` (downloaded when missing)."""
    from trade_hunter.daemon.cli import build
    from trade_hunter.daemon.config import read_sources

    raw = read_sources()
    if home is not None:
        raw["TRADE_HUNTER_HOME"] = str(home)
    settings: Any
    settings, _, _ = build({k: v for k, v in raw.items()
                            if k in ("TRADE_HUNTER_HOME", "KALSHI_API_BASE", "KALSHI_REST_RATE")} | {"THIRD_PARTY_PLUGINS": "false"})
    out_dir = Path(settings["TRADE_HUNTER_HOME"]) / "backtest"
    start = since_ts(since)
    stem = f"kalshi-{ticker}" + (f"-since-{start}" if start else "")
    cached = out_dir / f"{stem}.csv.gz", out_dir / f"{stem}-markets.csv"
    if cached[0].is_file() and cached[1].is_file():
        err.write(f"backtest: using the cached {cached[0]} (delete it to download again)\n")
        return cached
    api = settings.get("KALSHI_API_BASE") or DEFAULT_API
    try:
        markets, rows = trio.run(fetch, api, ticker, start,
                                 float(settings.get("KALSHI_REST_RATE") or 10), err)
    except RestError as exc:
        raise InputError(f"Kalshi download failed: {exc}") from None
    write_cache(markets, rows, *cached)
    if err.isatty():
        err.write("\r\033[K")
    err.write(f"backtest: {len(rows):,} trades of {len(markets)} markets cached in "
              f"{cached[0]}\n")
    return cached
