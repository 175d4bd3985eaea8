"""The fake exchange's book of series, events, markets and trades, in the REST shapes of
``docs/kalshi-protocol.md`` (fixed-point dollar and count strings, ISO-8601 UTC times)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

FINAL = {"closed", "determined", "finalized", "settled", "disputed", "amended"}
# GET /markets?status= filter vocabulary → the statuses it selects
STATUS_FILTER = {"open": {"active"}, "unopened": {"initialized"},
                 "closed": {"closed", "determined", "disputed", "amended"},
                 "settled": {"finalized", "settled"}, "paused": {"inactive"}}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dollars(value: Any) -> str:
    return f"{Decimal(str(value)):.4f}"


def fp(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


@dataclass
class Series:
    ticker: str
    title: str
    category: str
    tags: list[str] = field(default_factory=list)
    frequency: str = "custom"

    def rest(self) -> dict[str, Any]:
        return {"ticker": self.ticker, "title": self.title, "category": self.category,
                "categories": [self.category], "tags": self.tags,
                "frequency": self.frequency, "fee_type": "quadratic", "fee_multiplier": 1.0,
                "settlement_sources": [], "contract_url": "", "volume_fp": "0.00"}


@dataclass
class Event:
    ticker: str
    series_ticker: str
    title: str
    sub_title: str = ""

    def rest(self) -> dict[str, Any]:
        return {"event_ticker": self.ticker, "series_ticker": self.series_ticker,
                "title": self.title, "sub_title": self.sub_title,
                "collateral_return_type": "", "mutually_exclusive": False,
                "exchange_index": 0}


@dataclass
class Market:
    ticker: str
    event_ticker: str
    open_ts: float
    close_ts: float
    yes_sub_title: str = ""
    state: str = "active"       # active | inactive | or a final status set explicitly
    price: Decimal = Decimal("0.5000")
    yes_bid: Decimal = Decimal("0.4900")
    yes_ask: Decimal = Decimal("0.5100")
    volume: Decimal = Decimal(0)
    visible_at: float = 0.0     # before this time: 404 and absent from listings (just created)
    market_id: str = ""
    result: str = ""            # "yes" / "no" once determined (settlement)

    def hidden(self, now: float) -> bool:
        return now < self.visible_at

    def status(self, now: float) -> str:
        if self.state in FINAL:
            return self.state
        if now >= self.close_ts:
            return "closed"
        if now < self.open_ts:
            return "initialized"
        return self.state

    def rest(self, now: float) -> dict[str, Any]:
        return {
            "ticker": self.ticker, "event_ticker": self.event_ticker, "market_type": "binary",
            "title": "(deprecated)", "yes_sub_title": self.yes_sub_title,
            "no_sub_title": self.yes_sub_title, "open_time": iso(self.open_ts),
            "close_time": iso(self.close_ts), "expected_expiration_time": iso(self.close_ts),
            "status": self.status(now), "yes_bid_dollars": dollars(self.yes_bid),
            "yes_ask_dollars": dollars(self.yes_ask),
            "no_bid_dollars": dollars(1 - self.yes_ask), "no_ask_dollars": dollars(1 - self.yes_bid),
            "last_price_dollars": dollars(self.price), "volume_fp": fp(self.volume),
            "volume_24h_fp": fp(self.volume), "open_interest_fp": fp(self.volume / 2),
            "notional_value_dollars": "1.0000", "result": self.result, "can_close_early": False,
            "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        }

    def ticker_msg(self, now: float) -> dict[str, Any]:
        return {
            "market_ticker": self.ticker, "market_id": self.market_id or self.ticker.lower(),
            "price_dollars": dollars(self.price), "yes_bid_dollars": dollars(self.yes_bid),
            "yes_ask_dollars": dollars(self.yes_ask), "yes_bid_size_fp": "100.00",
            "yes_ask_size_fp": "100.00", "last_trade_size_fp": "0.00",
            "volume_fp": fp(self.volume), "open_interest_fp": fp(self.volume / 2),
            "dollar_volume": int(self.volume / 2), "dollar_open_interest": int(self.volume / 4),
            "ts": int(now), "ts_ms": int(now * 1000),
        }


def trade_record(trade_id: str, market: str, price: Any, count: Any, side: str,
                 now: float) -> dict[str, Any]:
    """One print, in the REST ``/markets/trades`` shape (``ticker``, ``created_time``)."""
    p = Decimal(str(price))
    return {"trade_id": trade_id, "ticker": market, "count_fp": fp(count),
            "yes_price_dollars": dollars(p), "no_price_dollars": dollars(1 - p),
            "taker_outcome_side": side, "taker_book_side": "bid" if side == "yes" else "ask",
            "taker_side": side, "created_time": iso(now), "is_block_trade": False,
            "ts_ms": int(now * 1000)}


def trade_msg(record: dict[str, Any]) -> dict[str, Any]:
    """The same print as a WebSocket ``trade`` message."""
    return {"trade_id": record["trade_id"], "market_ticker": record["ticker"],
            "yes_price_dollars": record["yes_price_dollars"],
            "no_price_dollars": record["no_price_dollars"], "count_fp": record["count_fp"],
            "taker_outcome_side": record["taker_outcome_side"],
            "taker_book_side": record["taker_book_side"], "taker_side": record["taker_side"],
            "is_block_trade": False, "ts": record["ts_ms"] // 1000, "ts_ms": record["ts_ms"]}
