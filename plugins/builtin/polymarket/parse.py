"""Market-channel frames → events (docs/polymarket-protocol.md).

Prices and sizes are decimal strings, parsed with ``Decimal`` (a malformed one makes the frame
garbage, never a wrong number); timestamps are epoch milliseconds. Only the wanted YES tokens
produce events: frames for other assets (the NO side, an asset just removed) are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from trade_hunter.plugins.models import MarketEvent

from .resolve import MarketInfo

SOURCE = "polymarket"
_decode = msgspec.json.Decoder().decode


class FrameError(ValueError):
    """A frame that does not have the documented shape."""


def decimal(value: Any, name: str) -> Decimal:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise FrameError(f"{name}: not a decimal string: {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise FrameError(f"{name}: not a decimal string: {value!r}") from None
    if not d.is_finite():
        raise FrameError(f"{name}: not finite: {value!r}")
    return d


def price(value: Any, name: str) -> float:
    d = decimal(value, name)
    if not 0 <= d <= 1:
        raise FrameError(f"{name}: outside [0, 1]: {value!r}")
    return float(d)


def ms_time(value: Any, fallback: float) -> float:
    try:
        return int(str(value)) / 1000.0 if value is not None else fallback
    except ValueError:
        return fallback


def messages(raw: str | bytes) -> list[dict[str, Any]]:
    """One frame's messages: a JSON object, or an array of them (the initial book dump)."""
    try:
        data = _decode(raw)
    except msgspec.DecodeError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(m, dict) for m in items):
        raise FrameError("not an object or an array of objects")
    return items


def _event(info: MarketInfo, ts: float, now: float, **fields: Any) -> MarketEvent:
    metadata = {"url": info.url, "condition_id": info.condition_id}
    if info.rolled_from:  # the tape says where a rolled-over market came from
        metadata["rolled_over_from"] = info.rolled_from
    return MarketEvent(platform=SOURCE, market_id=info.slug, source=SOURCE, title=info.title,
                       topic=info.topic, closes_at=info.close_ts, timestamp=ts,
                       received_at=now, metadata=metadata, **fields)


def quote(info: MarketInfo, bid: float | None, ask: float | None, ts: float,
          now: float) -> MarketEvent:
    mid = (bid + ask) / 2 if bid is not None and ask is not None else \
        bid if bid is not None else ask
    return _event(info, ts, now, event_kind="quote", yes_bid=bid, yes_ask=ask,
                  yes_price=round(mid, 6) if mid is not None else None)


def book(msg: dict[str, Any], info: MarketInfo, now: float) -> MarketEvent:
    bids = [price(level.get("price"), "bids.price") for level in msg.get("bids") or ()
            if isinstance(level, dict)]
    asks = [price(level.get("price"), "asks.price") for level in msg.get("asks") or ()
            if isinstance(level, dict)]
    return quote(info, max(bids, default=None), min(asks, default=None),
                 ms_time(msg.get("timestamp"), now), now)


def trade(msg: dict[str, Any], info: MarketInfo, now: float) -> MarketEvent:
    size = float(decimal(msg.get("size"), "size"))
    side = msg.get("side")
    if side not in ("BUY", "SELL"):
        raise FrameError(f"side: {side!r}")
    return _event(info, ms_time(msg.get("timestamp"), now), now, event_kind="trade",
                  yes_price=price(msg.get("price"), "price"), volume=size,
                  volume_kind="delta", trade_size=size,
                  trade_side="yes" if side == "BUY" else "no")


def events(msg: dict[str, Any], wanted: Mapping[str, MarketInfo], now: float,
           nudge: Callable[[dict[str, Any]], None]) -> list[MarketEvent]:
    """The events of one message (``FrameError`` for a malformed one)."""
    kind = msg.get("event_type")
    if kind == "price_change":
        changes = msg.get("price_changes")
        if not isinstance(changes, list):
            raise FrameError("price_change without price_changes[] (the legacy shape)")
        ts = ms_time(msg.get("timestamp"), now)
        out = []
        for change in changes:
            info = wanted.get(str(change.get("asset_id"))) if isinstance(change, dict) else None
            if info is not None:
                bid, ask = change.get("best_bid"), change.get("best_ask")
                out.append(quote(info, price(bid, "best_bid") if bid is not None else None,
                                 price(ask, "best_ask") if ask is not None else None, ts, now))
        return out
    if kind in ("new_market", "market_resolved"):
        nudge(msg)
        return []
    if kind not in ("book", "last_trade_price", "best_bid_ask", "tick_size_change"):
        raise FrameError(f"unknown event_type {kind!r}")
    info = wanted.get(str(msg.get("asset_id")))
    if info is None or kind == "tick_size_change":
        return []
    if kind == "book":
        q = book(msg, info, now)
        return [q] if q.yes_price is not None else []  # an empty book says no price
    if kind == "last_trade_price":
        return [trade(msg, info, now)]
    return [quote(info, price(msg.get("best_bid"), "best_bid"),
                  price(msg.get("best_ask"), "best_ask"), ms_time(msg.get("timestamp"), now),
                  now)]
