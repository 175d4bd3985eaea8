"""The frame parser on real production frames (tests/data/kalshi-real-frames): only the
fixed-point fields count, so the transitional shape (with legacy integer cents) and the
current shape (fixed-point only) give identical events."""

from __future__ import annotations

import json

import msgspec
import pytest

from trade_hunter.plugins.builtin.kalshi import parse

LEGACY_TICKER = ("price", "yes_bid", "yes_ask", "volume", "open_interest", "Clock")
LEGACY_TRADE = ("yes_price", "no_price", "count")
RECEIVED = 1770900000.0


def frames(frames_dir, name):
    return [json.loads(line) for line in (frames_dir / f"{name}.jsonl").read_text().splitlines()
            if line.strip()]


def current_shape(frame, legacy):
    """The same frame as production sends it today: no legacy fields; ``ts_ms`` added and
    the trade's side under its current name."""
    msg = {k: v for k, v in frame["msg"].items() if k not in legacy}
    msg["ts_ms"] = msg["ts"] * 1000
    if "taker_side" in msg:
        msg["taker_outcome_side"] = msg["taker_side"]
        msg["taker_book_side"] = "bid" if msg["taker_side"] == "yes" else "ask"
        msg["taker_side"] = ""  # deprecated: may come empty
    return {**frame, "msg": msg}


def event(raw):
    frame = parse.decode_frame(json.dumps(raw))
    if frame.type == "ticker":
        return parse.ticker_event(parse.decode_msg(frame, parse.TickerMsg), RECEIVED)
    return parse.ws_trade_event(parse.decode_msg(frame, parse.TradeMsg), RECEIVED)


def test_real_ticker_frames_parse_the_same_in_both_shapes(frames_dir):
    raw = frames(frames_dir, "ticker")
    assert len(raw) == 10
    old = [event(f) for f in raw]
    new = [event(current_shape(f, LEGACY_TICKER)) for f in raw]
    assert old == new
    first = old[0]
    assert (first.market_id, first.event_kind, first.volume_kind) == (
        "KXXRP-26FEB1317-B1.3899500", "quote", "cumulative")
    assert (first.yes_price, first.yes_bid, first.yes_ask, first.volume) == (0.14, 0.04, 0.95,
                                                                            13446.0)
    assert first.timestamp == 1770897976.0 and first.received_at == RECEIVED
    assert first.platform == first.source == "kalshi" and first.ext_id is None
    # never traded ("0.0000" last price), empty ask side ("1.0000"): no price, no ask
    never = old[2]
    assert never.yes_price is None and never.yes_ask is None and never.yes_bid == 0.97
    assert never.volume == 0.0
    assert [e.yes_ask for e in old].count(None) == 5  # five frames have "1.0000"


def test_real_trade_frames_parse_the_same_in_both_shapes(frames_dir):
    raw = frames(frames_dir, "trade")
    assert len(raw) == 10
    old = [event(f) for f in raw]
    new = [event(current_shape(f, LEGACY_TRADE)) for f in raw]
    assert old == new
    first, second = old[0], old[1]
    assert (first.event_kind, first.volume_kind, first.market_id) == (
        "trade", "delta", "KXSOLD-26FEB1217-T79.9999")
    assert (first.yes_price, first.volume, first.trade_size, first.trade_side) == (
        0.77, 75.0, 75.0, "yes")
    assert first.ext_id == "f851595a-6d92-424e-09f8-0d2669de70ae"
    assert first.timestamp == 1770897981.0
    assert (second.trade_side, second.yes_price) == ("no", 0.57)
    assert len({e.ext_id for e in old}) == 10


def test_envelope_fields_are_read(frames_dir):
    frame = parse.decode_frame(json.dumps(frames(frames_dir, "trade")[1]))
    assert (frame.type, frame.sid, frame.seq, frame.id) == ("trade", 2, 48, None)
    frame = parse.decode_frame(json.dumps(frames(frames_dir, "ticker")[0]))
    assert (frame.type, frame.sid, frame.seq) == ("ticker", 1, None)


@pytest.mark.parametrize(("fields", "expected"), [
    ({"ts_ms": 1775194500117, "ts": 1775194500, "time": "2026-04-03T05:35:00.117Z"},
     1775194500.117),                                       # ts_ms wins
    ({"ts": 1775194500}, 1775194500.0),                     # seconds
    ({"ts": "2026-04-03T05:35:00.117Z"}, 1775194500.117),   # RFC 3339 in ts
    ({"ts": "2026-04-03T05:35:00+00:00"}, 1775194500.0),
    ({"time": "2026-04-03T05:35:00.117Z"}, 1775194500.117),  # the deprecated string
    ({"ts": 1775194500117}, 1775194500.117),                # milliseconds in ts
    ({}, RECEIVED),                                         # nothing: receive time
])
def test_timestamps(fields, expected):
    msg = {"market_ticker": "M", "price_dollars": "0.52", **fields}
    e = event({"type": "ticker", "sid": 1, "msg": msg})
    assert e.timestamp == pytest.approx(expected, abs=1e-6)


def test_decimal_strings_normalise():
    a = event({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M", "price_dollars": "0.480",
                                                    "volume_fp": "10.5"}})
    b = event({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M",
                                                    "price_dollars": "0.480000",
                                                    "volume_fp": "10.50"}})
    assert a == b and a.yes_price == 0.48 and a.volume == 10.5
    sub = event({"type": "ticker", "sid": 1, "msg": {"market_ticker": "M",
                                                      "price_dollars": "0.0015"}})
    assert sub.yes_price == 0.0015  # sub-penny ticks survive
    fractional = event({"type": "trade", "sid": 2, "msg": {
        "market_ticker": "M", "trade_id": "t", "count_fp": "0.25",
        "yes_price_dollars": "0.5000", "taker_book_side": "ask"}})
    assert fractional.trade_size == 0.25 and fractional.trade_side == "no"


@pytest.mark.parametrize("raw", [
    "not json", b"\x00\x01", "[1, 2]", '{"type": 7}',
])
def test_garbage_envelopes_raise_frame_error(raw):
    with pytest.raises(parse.FrameError):
        parse.decode_frame(raw)


@pytest.mark.parametrize("msg", [
    {"price_dollars": "0.5"},                                   # no market_ticker
    {"market_ticker": "M", "price_dollars": "abc"},             # not a number
    {"market_ticker": "M", "price_dollars": 52},                # legacy integer cents
    {"market_ticker": "M", "price_dollars": "1.5"},             # not a price
    {"market_ticker": "M", "price_dollars": "NaN"},
])
def test_bad_ticker_messages_raise_frame_error(msg):
    with pytest.raises(parse.FrameError):
        event({"type": "ticker", "sid": 1, "msg": msg})


def test_trade_without_count_is_refused():
    with pytest.raises(parse.FrameError):
        event({"type": "trade", "sid": 2, "msg": {"market_ticker": "M", "trade_id": "x",
                                                   "yes_price_dollars": "0.5"}})


def test_rest_trade_shape():
    item = {"trade_id": "abc", "ticker": "KXBTCD-26APR0317-T66999.99", "count_fp": "12.00",
            "yes_price_dollars": "0.6100", "no_price_dollars": "0.3900",
            "taker_outcome_side": "no", "taker_book_side": "ask", "taker_side": "no",
            "created_time": "2026-04-03T05:35:00Z", "is_block_trade": False}
    e = parse.rest_trade_event(item, RECEIVED)
    assert (e.market_id, e.ext_id, e.trade_size, e.yes_price, e.trade_side) == (
        "KXBTCD-26APR0317-T66999.99", "abc", 12.0, 0.61, "no")
    assert e.timestamp == 1775194500.0


def test_lifecycle_and_error_messages():
    frame = parse.decode_frame(json.dumps({"type": "market_lifecycle_v2", "sid": 13, "msg": {
        "market_ticker": "KXBTC15M-26APR030200-00", "event_type": "created",
        "open_ts": 1775195100, "close_ts": 1775196000,
        "additional_metadata": {"event_ticker": "KXBTC15M-26APR030200", "floor_strike": 1.5}}}))
    msg = parse.decode_msg(frame, parse.LifecycleMsg)
    assert (msg.event_type, msg.close_ts, msg.additional_metadata["event_ticker"]) == (
        "created", 1775196000, "KXBTC15M-26APR030200")
    err = parse.decode_msg(parse.decode_frame(
        '{"id": 5, "type": "error", "msg": {"code": 16, "msg": "Market not found",'
        ' "market_ticker": "BOGUS-1"}}'), parse.ErrorMsg)
    assert (err.code, err.market_ticker) == (16, "BOGUS-1")
    assert isinstance(frame.msg, msgspec.Raw)
