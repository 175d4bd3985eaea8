"""The relays' payload mapping: each accepted PolyAlertHub shape, field by field, and the
refusals; then a PolyAlertHub alert end to end through the real server."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from trade_hunter.plugins.errors import PayloadError
from trade_hunter.plugins.relays import ingest, polyalerthub

NOW = time.time()


def one(payload: Any) -> dict[str, Any]:
    [e] = polyalerthub.parse(payload, {})
    return {k: getattr(e, k) for k in ("source", "platform", "market_id", "title", "yes_price",
                                       "volume", "event_kind", "trade_side", "trade_size",
                                       "timestamp", "ext_id", "topic")} | \
        {"url": e.metadata.get("url")}


def refused(payload: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        polyalerthub.parse(payload, {})
    return info.value


def test_our_event_json_is_accepted_as_is():
    got = one({"platform": "polymarket", "market_id": "will-x", "title": "Will X?",
               "yes_price": 0.3, "volume": 50, "event_kind": "trade", "trade_side": "no",
               "timestamp": 1_795_000_000, "id": "e-1", "source": "ignored"})
    assert got | {"timestamp": round(got["timestamp"])} == {
        "source": "polyalerthub", "platform": "polymarket", "market_id": "will-x",
        "title": "Will X?", "yes_price": 0.3, "volume": 50.0, "event_kind": "trade",
        "trade_side": "no", "trade_size": None, "timestamp": 1_795_000_000, "ext_id": "e-1",
        "topic": None, "url": None}


def test_a_flat_trade_alert():
    got = one({"market_id": "0xabc", "question": "Will the Fed cut?", "price": 0.41,
               "size": 2500, "side": "BUY", "outcome": "Yes", "timestamp": 1_795_000_000_000,
               "alert_id": 77, "category": "Economics", "url": "https://polymarket.com/x"})
    assert got == {
        "source": "polyalerthub", "platform": "polymarket", "market_id": "0xabc",
        "title": "Will the Fed cut?", "yes_price": 0.41, "volume": 2500.0,
        "event_kind": "trade", "trade_side": "yes", "trade_size": None,
        "timestamp": 1_795_000_000.0, "ext_id": "77", "topic": "macro",
        "url": "https://polymarket.com/x"}


def test_a_nested_market_and_a_no_outcome_price():
    got = one({"alert": {"market": {"slug": "fed-cut", "question": "Fed cut in December?"},
                         "outcome": "No", "side": "buy", "price": "0.30",
                         "amount_usd": "12000.5", "created_at": "2026-11-27T10:00:00Z",
                         "id": "pah-1", "shares": 40000}})
    assert (got["market_id"], got["title"]) == ("fed-cut", "Fed cut in December?")
    assert got["yes_price"] == 0.7  # the NO outcome traded at 0.30
    assert (got["trade_side"], got["volume"], got["trade_size"]) == ("no", 12000.5, 40000.0)
    assert got["timestamp"] == 1_795_773_600.0 and got["ext_id"] == "pah-1"


@pytest.mark.parametrize(("side", "outcome", "expected"), [
    ("buy", "yes", "yes"), ("sell", "yes", "no"), ("buy", "no", "no"), ("sell", "no", "yes"),
    ("yes", None, "yes"), ("no", None, "no"), (None, "Yes", "yes"), ("BUY", "Trump", "yes"),
])
def test_side_and_outcome_give_the_takers_side(side, outcome, expected):
    alert = {"slug": "m", "yes_price": 0.5, "value": 10, "side": side, "outcome": outcome}
    assert one(alert)["trade_side"] == expected


def test_a_price_without_a_size_is_a_quote():
    got = one({"marketSlug": "m", "probability": 0.66})
    assert (got["event_kind"], got["volume"], got["trade_side"]) == ("quote", None, None)
    assert got["title"] == "m"


def test_arrays_and_wrappers():
    payload = {"data": [{"slug": f"m{i}", "price": 0.1 * i, "amount": i} for i in range(1, 4)]}
    events = polyalerthub.parse(payload, {})
    assert [(e.market_id, e.yes_price) for e in events] == [("m1", 0.1), ("m2", 0.2),
                                                            ("m3", 0.30000000000000004)]


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"foo": 1}, "body", "unrecognised alert (missing a market id and a price)"),
    ({"slug": "m"}, "body", "missing a price"),
    ([{"slug": "m", "price": 0.5}, {"price": 0.5}], "[1]", "missing a market id"),
    ({"slug": "m", "price": 58}, "price", "expected a number from 0 to 1, got 58.0"),
    ({"slug": "m", "price": "NaN"}, "price", "expected a finite number"),
    ({"slug": "m", "price": "abc"}, "price", "expected a number, got 'abc'"),
    ({"slug": "m", "price": 0.5, "size": -1}, "size", "at least 0"),
    ({"slug": "m", "price": 0.5, "side": "long"}, "side", "expected buy, sell, yes or no"),
    ({"slug": "m", "price": 0.5, "timestamp": "yesterday"}, "timestamp", "ISO 8601"),
    ({"slug": ["m"], "price": 0.5}, "slug", "expected a string, got an array"),
    ({"slug": "m", "price": 0.5, "url": "ftp://x"}, "url", "http(s) URL"),
    ({"alerts": []}, "body", "at least one alert"),
    ("text", "body", "expected a JSON object or an array"),
])
def test_refusals_name_the_field_and_list_what_is_accepted(payload, field, message):
    error = refused(payload)
    assert error.message.startswith(f"{field}: ") and message in error.message, error.message
    assert set(error.detail["accepted"]) == {"event_json", "alert", "wrappers", "required"}


def test_generic_ingest_refuses_alert_shapes():
    with pytest.raises(PayloadError, match="unknown field"):
        ingest.parse({"slug": "m", "price": 0.5}, {})


async def test_a_polyalerthub_alert_reaches_the_store_and_the_dashboard(start_daemon):
    d = await start_daemon(POLYALERTHUB_TOKEN="pah-secret")
    alert = {"alert": {"market": {"slug": "fed-cut-in-december",
                                  "question": "Fed cut in December?"},
                       "outcome": "Yes", "side": "BUY", "price": "0.41", "amount_usd": 25000,
                       "timestamp": int(NOW * 1000), "id": "pah-7731"}}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        headers = {"Content-Type": "application/json", "Authorization": "Bearer pah-secret"}
        first = await client.post("/api/alerts/polyalerthub", content=json.dumps(alert),
                                  headers=headers)
        again = await client.post("/api/alerts/polyalerthub", content=json.dumps(alert),
                                  headers=headers)
        assert (first.status_code, first.json()) == (200, {"accepted": 1, "duplicates": 0})
        assert again.json() == {"accepted": 0, "duplicates": 1}
        await d.store.flush()
        await d.store.flush()
        state = (await client.get("/api/state")).json()
    rows = await d.store.aquery("SELECT source, platform, market_id, yes_price, volume,"
                                " trade_side, ext_id FROM events")
    assert rows == [("polyalerthub", "polymarket", "fed-cut-in-december", 0.41, 25000.0,
                     "yes", "pah-7731")]
    assert any(e["source"] == "polyalerthub" for e in state["flow"])
