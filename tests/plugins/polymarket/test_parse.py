"""Market-channel messages in the documented shapes (docs/polymarket-protocol.md) → events."""

from __future__ import annotations

import json

import pytest

from trade_hunter.plugins.builtin.polymarket import parse
from trade_hunter.plugins.builtin.polymarket.resolve import MarketInfo

YES, NO = "71321045679252212594626385532706912750332728571942532289631379312455583992563", \
    "52114319501245915516055106046884209969926127482827954674443846427813813222426"
INFO = MarketInfo(slug="fed-cut", condition_id="0x5f65", yes_token=YES, title="Fed cut?",
                  topic="macro", close_ts=2e9, url="https://polymarket.com/event/fed")
WANTED = {YES: INFO}
NOW = 1_775_190_000.0


def events(msg):
    nudged = []
    out = parse.events(msg, WANTED, NOW, nudged.append)
    return out, nudged


def test_book_uses_the_best_levels_whatever_their_order():
    [q], _ = events({"event_type": "book", "asset_id": YES, "market": "0x5f65",
                     "bids": [{"price": ".48", "size": "30"}, {"price": ".50", "size": "15"},
                              {"price": ".49", "size": "20"}],
                     "asks": [{"price": ".54", "size": "10"}, {"price": ".52", "size": "25"}],
                     "timestamp": "1775190000123", "hash": "0x0"})
    assert (q.yes_bid, q.yes_ask, q.yes_price, q.timestamp) == (0.5, 0.52, 0.51, 1775190000.123)
    assert (q.platform, q.source, q.market_id, q.closes_at) == (
        "polymarket", "polymarket", "fed-cut", 2e9)


def test_price_change_takes_the_wanted_assets_best_prices():
    msg = {"event_type": "price_change", "market": "0x5f65", "timestamp": "1775190000000",
           "price_changes": [
               {"asset_id": YES, "price": "0.5", "size": "200", "side": "BUY", "hash": "56",
                "best_bid": "0.5", "best_ask": "1"},
               {"asset_id": NO, "price": "0.5", "size": "200", "side": "SELL", "hash": "57",
                "best_bid": "0", "best_ask": "0.5"}]}
    [q], _ = events(msg)
    assert (q.yes_bid, q.yes_ask, q.yes_price) == (0.5, 1.0, 0.75)


def test_the_legacy_price_change_shape_is_refused():
    with pytest.raises(parse.FrameError, match="legacy"):
        events({"event_type": "price_change", "asset_id": YES, "market": "0x5f65",
                "changes": [{"price": "0.4", "side": "SELL", "size": "3300"}]})


def test_last_trade_price_is_a_trade_with_the_takers_side():
    [t], _ = events({"event_type": "last_trade_price", "asset_id": YES, "market": "0x5f65",
                     "price": "0.456", "size": "219.217767", "side": "BUY",
                     "fee_rate_bps": "0", "timestamp": "1750428146322"})
    assert (t.event_kind, t.yes_price, t.trade_size, t.trade_side, t.volume_kind) == (
        "trade", 0.456, 219.217767, "yes", "delta")


def test_best_bid_ask_tick_size_and_lifecycle():
    [q], _ = events({"event_type": "best_bid_ask", "asset_id": YES, "market": "0x5f65",
                     "best_bid": "0.73", "best_ask": "0.77", "spread": "0.04",
                     "timestamp": "1766789469958"})
    assert (q.yes_bid, q.yes_ask) == (0.73, 0.77)
    assert events({"event_type": "tick_size_change", "asset_id": YES, "market": "0x5f65",
                   "old_tick_size": "0.01", "new_tick_size": "0.001",
                   "timestamp": "100000000"}) == ([], [])
    resolved = {"event_type": "market_resolved", "market": "0x5f65", "slug": "fed-cut",
                "assets_ids": [YES, NO], "winning_asset_id": YES, "winning_outcome": "Yes"}
    assert events(resolved) == ([], [resolved])


def test_other_assets_are_skipped_and_bad_numbers_are_garbage():
    assert events({"event_type": "last_trade_price", "asset_id": NO, "price": "0.5",
                   "size": "1", "side": "BUY"}) == ([], [])
    for bad in ({"price": "abc"}, {"price": "1.5"}, {"price": "NaN"}, {"size": None},
                {"side": "HOLD"}):
        msg = {"event_type": "last_trade_price", "asset_id": YES, "price": "0.5", "size": "1",
               "side": "BUY", **bad}
        with pytest.raises(parse.FrameError):
            events(msg)


def test_an_empty_book_is_no_quote():
    assert events({"event_type": "book", "asset_id": YES, "bids": [], "asks": []}) == ([], [])


def test_a_frame_is_an_object_or_an_array_of_them():
    book = {"event_type": "book", "asset_id": YES, "bids": [], "asks": []}
    assert parse.messages(json.dumps(book)) == [book]
    assert parse.messages(json.dumps([book, book])) == [book, book]
    for raw in ("PONG", "[]", "[1]", "7"):
        with pytest.raises(parse.FrameError):
            parse.messages(raw)
