"""Recorded data in, :class:`MarketEvent` out, through the Kalshi feed's own parsers.

* trades CSV / CSV.gz in the shape of ``GET /markets/trades``: ``trade_id, ticker,
  created_time, yes_price_dollars, no_price_dollars, count_fp, taker_side`` (or the older
  integer-cents ``yes_price, no_price, count``);
* JSONL / JSONL.gz of WebSocket frames (``ticker`` and ``trade``), each line the frame itself or
  ``{"recv_ns": …, "frame": …}``;
* a markets CSV: ``ticker, close_time[, title][, result]``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from trade_hunter.plugins.builtin.kalshi import parse
from trade_hunter.plugins.models import MarketEvent


class InputError(ValueError):
    """A recorded file that cannot be read, with the file and line."""


@dataclass
class MarketInfo:
    ticker: str
    close_time: float | None = None
    title: str = ""
    result: str | None = None


def _open(path: Path) -> IO[str]:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def is_jsonl(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return name.endswith((".jsonl", ".ndjson", ".json"))


def read_events(path: Path) -> Iterator[MarketEvent]:
    yield from (read_frames(path) if is_jsonl(path) else read_trades_csv(path))


def _cents(value: str) -> str:
    return f"{int(value) / 100:.4f}"


def read_trades_csv(path: Path) -> Iterator[MarketEvent]:
    with _open(path) as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or ())
        missing = {"ticker", "created_time"} - columns
        if "yes_price_dollars" not in columns and "yes_price" not in columns:
            missing.add("yes_price_dollars")
        if "count_fp" not in columns and "count" not in columns:
            missing.add("count_fp")
        if missing:
            raise InputError(f"{path}: not a trades CSV (missing {', '.join(sorted(missing))})")
        for line, row in enumerate(reader, start=2):
            try:
                if not row.get("yes_price_dollars") and row.get("yes_price"):
                    row["yes_price_dollars"] = _cents(row["yes_price"])
                if not row.get("count_fp") and row.get("count"):
                    row["count_fp"] = row["count"]
                when = parse.rfc3339(row.get("created_time"))
                if when is None:
                    raise parse.FrameError(f"bad created_time {row.get('created_time')!r}")
                yield parse.rest_trade_event(row, when)
            except (parse.FrameError, ValueError) as exc:
                raise InputError(f"{path}:{line}: {exc}") from None


def read_frames(path: Path) -> Iterator[MarketEvent]:
    with _open(path) as f:
        for line, text in enumerate(f, start=1):
            text = text.strip()
            if not text:
                continue
            try:
                item: Any = json.loads(text)
            except ValueError as exc:
                raise InputError(f"{path}:{line}: not JSON ({exc})") from None
            received = None
            if isinstance(item, dict) and "frame" in item:
                ns = item.get("recv_ns")
                received = ns / 1e9 if isinstance(ns, int | float) else None
                item = item["frame"]
            raw = item if isinstance(item, str) else json.dumps(item)
            frame = parse.decode_market_frame(raw)
            if frame is None:
                continue  # subscription replies, lifecycle, errors: not market data
            try:
                if frame.kind == "ticker":
                    yield parse.ticker_event(frame.msg, received or 0.0)  # type: ignore[arg-type]
                else:
                    yield parse.ws_trade_event(frame.msg, received or 0.0)  # type: ignore[arg-type]
            except parse.FrameError as exc:
                raise InputError(f"{path}:{line}: {exc}") from None


def read_markets(path: Path) -> dict[str, MarketInfo]:
    out: dict[str, MarketInfo] = {}
    with _open(path) as f:
        reader = csv.DictReader(f)
        if "ticker" not in (reader.fieldnames or ()):
            raise InputError(f"{path}: a markets CSV needs a ticker column")
        for line, row in enumerate(reader, start=2):
            close = row.get("close_time") or ""
            close_time = parse.rfc3339(close) if close else None
            if close and close_time is None:
                raise InputError(f"{path}:{line}: bad close_time {close!r}")
            result = (row.get("result") or "").strip().lower() or None
            if result not in (None, "yes", "no"):
                result = None  # voided / scalar settlements are not scored
            out[row["ticker"]] = MarketInfo(row["ticker"], close_time, row.get("title") or "",
                                            result)
    return out
