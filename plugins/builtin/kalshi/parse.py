"""Kalshi WebSocket and REST payloads → :class:`MarketEvent`.

Only the fixed-point fields are read: ``*_dollars`` (dollar strings, up to 6 decimals) and
``*_fp`` (contract counts, 2 decimals), parsed with ``Decimal`` so ``"0.480"`` and
``"0.4800"`` are the same price. Legacy integer-cent fields (``price``, ``yes_bid``,
``count``…) and undocumented extras (``Clock``) are ignored, so transitional and current
frames give identical events. Time: ``ts_ms`` first, then ``ts`` (Unix seconds, or RFC 3339),
then the deprecated ``time`` string, else the receive time.

Conventions for the book: a ``0`` last price means "never traded" (no trade prints at 0), a
``0`` bid means no bid and a ``1`` ask means no ask; those become ``None``.

The hot path (every frame of every subscribed market goes through here) takes two shortcuts,
both proven equal to the plain way by tests/plugins/kalshi/test_parse_equivalence.py:

* :func:`decode_market_frame` decodes a ticker or trade frame, envelope and message, in one
  pass into typed structs; anything else (or a frame that does not validate) takes the
  general path, ``decode_frame`` then ``decode_msg``, which reports problems as before;
* a number string ``float()`` reads as finite (and, for a price, strictly inside (0, 1)) is
  taken as that float: ``float`` and ``Decimal`` accept the same numeric strings and both round
  correctly, so the result is the float of the ``Decimal``. Anything else — an empty string,
  0, 1, out of range, not finite, not a number — goes through ``Decimal`` as before.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import msgspec

from trade_hunter.plugins.models import MarketEvent

PLATFORM = "kalshi"
_ZERO, _ONE = Decimal(0), Decimal(1)
_SIDES = {"yes": "yes", "no": "no"}
_BOOK_SIDES = {"bid": "yes", "ask": "no"}  # taker_book_side: bid ≡ bought YES


class FrameError(ValueError):
    """A frame or payload that cannot be read (garbage, wrong types, bad numbers)."""


class Frame(msgspec.Struct):
    """The envelope of every server frame; ``msg`` is decoded later, by type."""

    type: str = ""
    sid: int | None = None
    seq: int | None = None
    id: int | None = None
    msg: msgspec.Raw = msgspec.Raw(b"null")


class TickerMsg(msgspec.Struct):
    market_ticker: str
    price_dollars: str | None = None
    yes_bid_dollars: str | None = None
    yes_ask_dollars: str | None = None
    volume_fp: str | None = None
    ts_ms: int | None = None
    ts: int | float | str | None = None
    time: str | None = None


class TradeMsg(msgspec.Struct):
    market_ticker: str
    trade_id: str | None = None
    yes_price_dollars: str | None = None
    count_fp: str | None = None
    taker_outcome_side: str | None = None
    taker_side: str | None = None
    taker_book_side: str | None = None
    ts_ms: int | None = None
    ts: int | float | str | None = None
    time: str | None = None


class LifecycleMsg(msgspec.Struct):
    market_ticker: str = ""
    event_type: str = ""
    event_ticker: str | None = None
    open_ts: int | None = None
    close_ts: int | None = None
    additional_metadata: dict[str, Any] | None = None


class ErrorMsg(msgspec.Struct):
    code: int | None = None
    msg: str = ""
    market_ticker: str | None = None
    sid: int | None = None


class TickerFrame(msgspec.Struct, kw_only=True, tag="ticker", tag_field="type"):
    """A ``ticker`` frame decoded whole (:func:`decode_market_frame`)."""

    kind: ClassVar[str] = "ticker"
    sid: int | None = None
    seq: int | None = None
    id: int | None = None
    msg: TickerMsg


class TradeFrame(msgspec.Struct, kw_only=True, tag="trade", tag_field="type"):
    """A ``trade`` frame decoded whole (:func:`decode_market_frame`)."""

    kind: ClassVar[str] = "trade"
    sid: int | None = None
    seq: int | None = None
    id: int | None = None
    msg: TradeMsg


_frame = msgspec.json.Decoder(Frame)
_market_frame = msgspec.json.Decoder(TickerFrame | TradeFrame)
_decoders: dict[type, Any] = {t: msgspec.json.Decoder(t)
                              for t in (TickerMsg, TradeMsg, LifecycleMsg, ErrorMsg)}


def decode_market_frame(raw: str | bytes) -> TickerFrame | TradeFrame | None:
    """A ticker or trade frame in one decode, or ``None``: any other frame, and any frame that
    does not validate, is for the general path (:func:`decode_frame`)."""
    try:
        return _market_frame.decode(raw)  # type: ignore[no-any-return]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def decode_frame(raw: str | bytes) -> Frame:
    try:
        return _frame.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FrameError(f"unreadable frame: {exc}") from None


def decode_msg(frame: Frame, model: type[Any]) -> Any:
    try:
        return _decoders[model].decode(frame.msg)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FrameError(f"unreadable {frame.type} message: {exc}") from None


def number(text: Any) -> float | None:
    """A fixed-point string as a float (``float(decimal(text))``, faster); ``None`` when
    absent or empty."""
    if text.__class__ is str:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return value
    exact = decimal(text)
    return None if exact is None else float(exact)


def decimal(text: Any) -> Decimal | None:
    """A fixed-point string as a ``Decimal``; ``None`` when absent or empty."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise FrameError(f"expected a fixed-point string, got {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FrameError(f"not a fixed-point number: {text!r}") from None
    if not value.is_finite():
        raise FrameError(f"not a finite number: {text!r}")
    return value


def price(text: Any, *, none_at: Decimal | None = None) -> float | None:
    if text.__class__ is str:  # the common case: a price strictly between 0 and 1
        try:
            quick = float(text)
        except ValueError:
            quick = math.nan
        if 0.0 < quick < 1.0:
            return quick
    value = decimal(text)
    if value is None or value == none_at:
        return None
    if not _ZERO <= value <= _ONE:
        raise FrameError(f"price out of [0, 1]: {text!r}")
    return float(value)


def timestamp(ts_ms: Any, ts: Any, text: Any, fallback: float) -> float:
    if isinstance(ts_ms, int) and not isinstance(ts_ms, bool) and ts_ms > 0:
        return ts_ms / 1000
    if isinstance(ts, int | float) and not isinstance(ts, bool) and ts > 0:
        return ts / 1000 if ts > 1e11 else float(ts)  # a millisecond value in ``ts``
    for value in (ts, text):
        when = rfc3339(value)
        if when is not None:
            return when
    return fallback


def ticker_event(msg: TickerMsg, received_at: float) -> MarketEvent:
    return MarketEvent(
        platform=PLATFORM, market_id=msg.market_ticker, event_kind="quote",
        yes_price=price(msg.price_dollars, none_at=_ZERO),
        yes_bid=price(msg.yes_bid_dollars, none_at=_ZERO),
        yes_ask=price(msg.yes_ask_dollars, none_at=_ONE),
        volume=number(msg.volume_fp), volume_kind="cumulative",
        timestamp=timestamp(msg.ts_ms, msg.ts, msg.time, received_at),
        received_at=received_at, source=PLATFORM)


def trade_side(outcome: Any, legacy: Any, book: Any) -> Any:
    return _SIDES.get(outcome) or _SIDES.get(legacy) or _BOOK_SIDES.get(book)


def trade_event(market: str, trade_id: Any, yes_price: Any, count: Any, side: Any,
                when: float, received_at: float) -> MarketEvent:
    size = number(count)
    if size is None or not size > 0:  # a Decimal above 0 may still round to 0.0: same test
        exact = decimal(count)
        if exact is None or exact <= 0:
            raise FrameError(f"trade without a positive count_fp: {count!r}")
    return MarketEvent(
        platform=PLATFORM, market_id=market, event_kind="trade",
        yes_price=price(yes_price), volume=size, volume_kind="delta",
        trade_side=side, trade_size=size,
        ext_id=trade_id if isinstance(trade_id, str) and trade_id else None,
        timestamp=when, received_at=received_at, source=PLATFORM)


def ws_trade_event(msg: TradeMsg, received_at: float) -> MarketEvent:
    return trade_event(msg.market_ticker, msg.trade_id, msg.yes_price_dollars, msg.count_fp,
                       trade_side(msg.taker_outcome_side, msg.taker_side, msg.taker_book_side),
                       timestamp(msg.ts_ms, msg.ts, msg.time, received_at), received_at)


def rest_trade_event(item: dict[str, Any], received_at: float) -> MarketEvent:
    """One entry of ``GET /markets/trades`` (the re-sync after a gap or a reconnect)."""
    market = item.get("ticker") or item.get("market_ticker")
    if not isinstance(market, str) or not market:
        raise FrameError("trade without a ticker")
    return trade_event(market, item.get("trade_id"), item.get("yes_price_dollars"),
                       item.get("count_fp"),
                       trade_side(item.get("taker_outcome_side"), item.get("taker_side"),
                                  item.get("taker_book_side")),
                       timestamp(item.get("ts_ms"), item.get("ts"), item.get("created_time"),
                                 received_at), received_at)


def rfc3339(text: Any) -> float | None:
    """A REST time (``"2026-04-03T05:45:00Z"``) as epoch seconds, or ``None``."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # the exchange speaks UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
