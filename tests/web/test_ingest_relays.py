"""The PolyAlertHub relay against its documented format: the four alert kinds (fixtures under
``fixtures/polyalerthub``, written from the format's field table), the variants (unknown
fields, no ``yes_price``, ``no_price`` only, an alert without price or volume), the
buy/sell → taker-side mapping, and the refusals; then every fixture through the real server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from trade_hunter.plugins.builtin.relays import ingest, polyalerthub
from trade_hunter.plugins.errors import PayloadError

FIXTURES = Path(__file__).parent / "fixtures" / "polyalerthub"
KINDS = ("price_alert", "whale_trade", "trader_position", "market_event")
NOW = time.time()


def fixture(kind: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{kind}.json").read_text())


def one(payload: Any) -> Any:
    [e] = polyalerthub.parse(payload, {})
    return e


def refused(payload: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        polyalerthub.parse(payload, {})
    return info.value


def minimal(**kw: Any) -> dict[str, Any]:
    return {"platform": "polymarket", "market_id": "m-1", "title": "Will it?", **kw}


# --------------------------------------------------------------------------- the four kinds
def test_a_price_alert():
    e = one(fixture("price_alert"))
    assert (e.source, e.platform, e.market_id, e.title) == (
        "polyalerthub", "polymarket", "will-bitcoin-reach-150k-in-2026",
        "Will Bitcoin reach $150,000 in 2026?")
    assert (e.yes_price, e.volume, e.volume_kind, e.event_kind, e.trade_side) == (
        0.23, 4812330.5, "cumulative", "quote", None)
    assert e.timestamp == 1_795_773_492.0 and e.topic == "crypto"
    assert e.metadata == {"alert_type": "price_alert", "no_price": 0.77,
                          "details": {"threshold": 0.2, "direction": "above",
                                      "previous_price": 0.18}}


def test_a_whale_trade_buying_yes_is_a_yes_taker():
    e = one(fixture("whale_trade"))
    assert (e.event_kind, e.yes_price, e.volume, e.trade_size, e.trade_side) == (
        "trade", 0.64, 48000.0, 75000.0, "yes")
    assert e.metadata["alert_type"] == "whale_trade"
    assert e.metadata["trader"] == "0x7c3a91d2e4b5f60718293a4b5c6d7e8f90a1b2c3"
    assert e.metadata["trade_side"] == "buy"
    assert e.metadata["details"]["tx_hash"] == "0x5e1f…9b20"
    assert e.timestamp == pytest.approx(1_795_773_765.12)


def test_a_trader_position_with_no_price_only_and_no_outcome():
    e = one(fixture("trader_position"))
    assert e.yes_price == 0.42  # 1 − no_price
    assert e.event_kind == "trade" and e.trade_side is None  # which outcome was sold: unknown
    assert e.metadata["trade_side"] == "sell" and e.metadata["event_kind"] == "alert"
    assert e.metadata["trader"] == "TheWhaleOfThames"
    assert e.metadata["details"]["pnl_usd"] == -4200.25


def test_a_market_event_without_price_or_volume():
    e = one(fixture("market_event"))
    assert (e.platform, e.market_id, e.event_kind) == (
        "kalshi", "KXFEDDECISION-26DEC-C25", "quote")
    assert (e.yes_price, e.volume, e.trade_side) == (None, None, None)
    assert e.metadata == {"event_kind": "alert", "alert_type": "market_event",
                          "details": {"event": "market_paused",
                                      "reason": "exchange maintenance"}}


def test_a_batch_of_all_four():
    events = polyalerthub.parse([fixture(k) for k in KINDS], {})
    assert [e.metadata["alert_type"] for e in events] == list(KINDS)


# --------------------------------------------------------------------------- variants
def test_unknown_fields_are_kept_never_refused():
    e = one(minimal(yes_price=0.5, confidence="high", score=9.1, tags=["a", "b"],
                    url="https://polymarket.com/event/m-1", source="someone-else"))
    assert e.source == "polyalerthub"
    assert e.metadata["extra"] == {"confidence": "high", "score": 9.1, "tags": ["a", "b"],
                                   "url": "https://polymarket.com/event/m-1",
                                   "source": "someone-else"}
    assert e.metadata["url"] == "https://polymarket.com/event/m-1"  # the alert's link
    assert one(minimal(url="javascript:alert(1)")).metadata.get("url") is None


def test_defaults_an_alert_without_price_volume_or_time():
    e = one(minimal())
    assert (e.event_kind, e.yes_price, e.volume, e.volume_kind) == ("quote", None, None,
                                                                      "delta")
    assert e.metadata == {"event_kind": "alert"}
    assert abs(e.timestamp - time.time()) < 60  # server time


def test_missing_yes_price_with_a_volume():
    e = one(minimal(volume=300, event_kind="trade", trade_side="sell",
                    metadata={"outcome": "No"}))
    assert (e.yes_price, e.volume, e.trade_side) == (None, 300.0, "yes")  # selling NO


@pytest.mark.parametrize(("side", "outcome", "taker"), [
    ("buy", "yes", "yes"), ("sell", "yes", "no"), ("buy", "no", "no"), ("sell", "no", "yes"),
    ("buy", None, None), ("sell", "Maybe", None),
])
def test_buy_and_sell_map_to_the_takers_side(side, outcome, taker):
    extra = {"outcome": outcome} if outcome else {}
    e = one(minimal(yes_price=0.5, trade_size=10, trade_side=side, event_kind="trade",
                    **extra))
    assert e.trade_side == taker and e.metadata["trade_side"] == side


def test_a_naive_time_is_utc_and_epoch_milliseconds_are_read():
    assert one(minimal(timestamp="2026-11-27T10:00:00")).timestamp == 1_795_773_600.0
    assert one(minimal(timestamp=1_795_773_600_000)).timestamp == 1_795_773_600.0


def test_live_false_and_an_unknown_topic_are_kept():
    e = one(minimal(live=False, topic="Weather"))
    assert e.topic is None and e.metadata["live"] is False and e.metadata["topic"] == "Weather"


def test_the_id_is_the_idempotency_key():
    assert one(minimal(id=7731)).ext_id == "7731"


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"market_id": "m", "title": "t"}, "platform", "is required"),
    (minimal(title="  "), "title", "must not be empty"),
    ([minimal(), {"platform": "p", "title": "t"}], "[1].market_id", "is required"),
    (minimal(yes_price=1.5), "yes_price", "expected a number from 0 to 1, got 1.5"),
    (minimal(no_price=-0.1), "no_price", "expected a number from 0 to 1"),
    (minimal(volume=-1), "volume", "at least 0"),
    (minimal(trade_size="NaN"), "trade_size", "expected a finite number"),
    (minimal(yes_price="abc"), "yes_price", "expected a number, got 'abc'"),
    (minimal(trade_side="long"), "trade_side", "expected one of buy, sell"),
    (minimal(event_kind="spike"), "event_kind", "expected one of quote, trade, alert"),
    (minimal(volume_kind="total"), "volume_kind", "expected one of delta, cumulative"),
    (minimal(timestamp="yesterday"), "timestamp", "ISO 8601"),
    (minimal(timestamp="1999-01-01T00:00:00Z"), "timestamp", "between 2000-01-01"),
    (minimal(live="yes"), "live", "expected true or false"),
    (minimal(metadata=[1]), "metadata", "expected an object, got an array"),
    (minimal(market_id=["m"]), "market_id", "expected a string, got an array"),
    ([], "body", "at least one alert"),
    ("text", "body", "expected a JSON object or an array"),
])
def test_refusals_name_the_field(payload, field, message):
    error = refused(payload)
    assert error.message.startswith(f"{field}: ") and message in error.message, error.message
    assert error.detail["accepted"]["required"] == ["platform", "market_id", "title"]


def test_every_problem_is_listed():
    error = refused({"yes_price": 2, "volume": -1})
    assert [e["field"] for e in error.detail["errors"]] == [
        "platform", "market_id", "title", "yes_price", "volume"]


def test_generic_ingest_keeps_its_strict_contract():
    with pytest.raises(PayloadError, match="unknown field"):
        ingest.parse({**minimal(yes_price=0.5, volume=1), "source": "s", "alert_type": "x"},
                     {})


# --------------------------------------------------------------------------- end to end
async def test_the_four_kinds_reach_the_store_through_the_real_route(start_daemon):
    d = await start_daemon(POLYALERTHUB_TOKEN="pah-secret")
    headers = {"Content-Type": "application/json", "Authorization": "Bearer pah-secret"}
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        for kind in KINDS:
            answer = await client.post("/api/alerts/polyalerthub",
                                       content=json.dumps(fixture(kind)), headers=headers)
            assert (answer.status_code, answer.json()) == (200, {"accepted": 1,
                                                                 "duplicates": 0}), kind
        batch = [minimal(market_id=f"b{i}", id=f"pah-{i}", yes_price=0.1 * i,
                         timestamp=NOW) for i in range(1, 4)]
        first = await client.post("/api/alerts/polyalerthub", json=batch, headers=headers)
        again = await client.post("/api/alerts/polyalerthub", json=batch, headers=headers)
        assert first.json() == {"accepted": 3, "duplicates": 0}
        assert again.json() == {"accepted": 0, "duplicates": 3}
        bad = await client.post("/api/alerts/polyalerthub", json=minimal(yes_price=3),
                                headers=headers)
        assert bad.status_code == 422 and bad.json()["error"].startswith("yes_price: ")
        await d.store.flush()
        await d.store.flush()
        state = (await client.get("/api/state")).json()
    rows = await d.store.aquery("SELECT market_id, kind, yes_price, volume, trade_side"
                                " FROM events WHERE source='polyalerthub' ORDER BY id")
    assert rows[:4] == [
        ("will-bitcoin-reach-150k-in-2026", "Q", 0.23, 4812330.5, None),
        ("fed-decision-in-december", "T", 0.64, 48000.0, "yes"),
        ("next-uk-general-election-labour-majority", "T", 0.42, 120000.0, None),
        ("KXFEDDECISION-26DEC-C25", "Q", None, None, None)]
    assert [r[0] for r in rows[4:]] == ["b1", "b2", "b3"]
    titles = dict(await d.store.aquery("SELECT market_id, title FROM markets"))
    assert titles["KXFEDDECISION-26DEC-C25"] == "Fed cuts 25 bps in December?"
    assert sum(e["source"] == "polyalerthub" for e in state["flow"]) == 7
