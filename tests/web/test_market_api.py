"""``GET /api/markets/{id}`` and ``/series``: contents, bounds, downsampling, bad input."""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio

from trade_hunter.plugins.models import MarketEvent

from .conftest import spike_events, wait_signals


def trades(market: str, n: int, start: float, every: float) -> list[MarketEvent]:
    """``n`` trades from ``start``, one every ``every`` seconds: sizes 1..9, alternating
    taker sides, the price walking 40¢ → 41¢ → 40¢."""
    return [MarketEvent(platform="test", market_id=market, title="Walk", topic="macro",
                        event_kind="trade", yes_price=0.40 + 0.01 * (i % 2),
                        volume=float(1 + i % 9), trade_size=float(1 + i % 9),
                        trade_side="yes" if i % 2 else "no", timestamp=start + i * every,
                        yes_bid=0.39, yes_ask=0.42, source="test") for i in range(n)]


async def stored(d: Any, market: str, n: int) -> None:
    """Wait until the pipeline has committed ``n`` events of ``market``."""
    with trio.fail_after(30):
        while True:
            await d.store.flush()
            rows = await d.store.aquery("SELECT COUNT(*) FROM events WHERE market_id = ?",
                                        (market,))
            if rows[0][0] >= n:
                return
            await trio.sleep(0.02)


async def test_market_detail_has_signals_flow_and_feeds(web):
    d, client = await web()
    d.ingest(spike_events("M-PAGE", topic="crypto"))
    await wait_signals(d, 1)
    await stored(d, "M-PAGE", 6)
    body = await (await client.get("/api/markets/M-PAGE")).get_json()
    assert body["title"] == "Will M-PAGE happen?" and body["topic"] == "crypto"
    assert body["last_price"] == 0.50
    assert [s["market_id"] for s in body["signals"]] == ["M-PAGE"]
    assert body["signals"][0]["explain"]["why"].startswith("hard: 500 contracts ≥ 120")
    flow = body["flow"]
    assert flow["trades"] == 6 and flow["contracts"] == 550.0 and flow["yes_share"] == 1.0
    assert [b["trades"] for b in flow["sizes"]] == [0, 5, 1, 0, 0]  # 10 ×5, then 500
    assert body["tracked_by"] == [] and isinstance(body["feeds"], list)
    missing = await client.get("/api/markets/NOPE")
    assert missing.status_code == 404 and (await missing.get_json())["code"] == "not_found"


async def test_signal_markers_carry_their_outcome_horizons(web):
    d, client = await web(ENABLE_SIMULATION="false")
    spike = spike_events("M-OUT")  # ordinary trades, then the spike to 50¢, 50 s ago
    shift = 350.0  # moved back: the spike 400 s ago, then a trade at 55¢ 200 s ago
    for e in spike:
        e.timestamp -= shift
    later = MarketEvent(platform="test", market_id="M-OUT", title="Out", event_kind="trade",
                        yes_price=0.55, volume=5.0, trade_size=5.0, trade_side="yes",
                        timestamp=spike[-1].timestamp + 200, source="test")
    d.ingest([*spike, later])
    await wait_signals(d, 1)
    await stored(d, "M-OUT", 7)
    chart = await (await client.get("/api/markets/M-OUT/series?range=1h")).get_json()
    (mark,) = chart["signals"]
    assert mark["price"] == 0.50 and mark["direction"] == "up"
    by = {o["horizon"]: o for o in mark["outcomes"]}
    assert by["1m"]["outcome"] == "flat" and by["1m"]["change"] == 0.0
    assert by["5m"]["outcome"] == "continued" and by["5m"]["change"] == 0.05
    assert by["15m"]["outcome"] == "no data" and by["60m"]["outcome"] == "no data"


async def test_series_is_bounded_and_downsampled(web):
    d, client = await web(ENABLE_SIMULATION="false")
    now = time.time()
    d.ingest(trades("M-WALK", 5000, now - 3000, 0.5))  # 5,000 trades over the last 42 min
    await stored(d, "M-WALK", 5000)
    r = await client.get("/api/markets/M-WALK/series?range=1h&resolution=100")
    body = await r.get_json()
    assert r.status_code == 200 and body["trade_count"] == 5000
    assert len(body["price"]) <= 100 and len(body["volume"]) <= 100
    assert body["trades_aggregated"] and len(body["trades"]) <= 200  # per bucket and side
    assert sum(t["size"] for t in body["trades"]) == sum(v for _, v in body["volume"])
    assert sum(t["trades"] for t in body["trades"]) == 5000
    assert all(body["start"] <= t < body["end"] for t, _ in body["price"])
    assert {round(p, 6) for _, p in body["price"]} <= {0.40, 0.41}
    assert body["quotes"][0][1:] == [0.39, 0.42]
    # 15 minutes: 1,800 trades fit under 2,000 points, so each one is sent as it is.
    small = await (await client.get("/api/markets/M-WALK/series?range=15m")).get_json()
    assert not small["trades_aggregated"] and small["trade_count"] == len(small["trades"])
    assert {t["side"] for t in small["trades"]} == {"yes", "no"}
    # A day in minute rollups (buckets of a minute or more): the same totals, and the
    # rollups' tail follows new events.
    day = await (await client.get("/api/markets/M-WALK/series?range=1d&resolution=100")
                 ).get_json()
    assert day["step"] % 60 == 0 and len(day["price"]) <= 100 and day["trade_count"] == 5000
    assert sum(v for _, v in day["volume"]) == sum(v for _, v in body["volume"])
    assert day["price"][-1][1] == body["price"][-1][1] and day["quotes"][-1][1:] == [0.39, 0.42]
    assert sum(t["trades"] for t in day["trades"]) == 5000 and day["trades_aggregated"]
    d.ingest(trades("M-WALK", 10, time.time() - 5, 0.1))
    await stored(d, "M-WALK", 5010)
    again = await (await client.get("/api/markets/M-WALK/series?range=1d&resolution=100")
                   ).get_json()
    assert again["trade_count"] == 5010
    # The past: an explicit end before any event is an empty, well-formed series.
    old = await (await client.get(f"/api/markets/M-WALK/series?range=15m&end={now - 4000}"
                                  )).get_json()
    assert old["price"] == [] and old["trades"] == [] and old["trade_count"] == 0


async def test_series_refuses_bad_queries(web):
    _d, client = await web(ENABLE_SIMULATION="false")
    for query, needle in (("range=2y", "range"), ("resolution=5", "resolution"),
                          ("resolution=5000", "resolution"), ("end=-1", "end"),
                          ("bogus=1", "bogus")):
        r = await client.get(f"/api/markets/M-X/series?{query}")
        assert r.status_code == 422, query
        assert needle in (await r.get_json())["detail"], query
    ok = await client.get("/api/markets/M-X/series")  # unknown market: an empty series
    assert ok.status_code == 200 and (await ok.get_json())["price"] == []


async def test_series_of_a_paired_market_carries_the_other_venue_mapped(web):
    d, client = await web(ENABLE_SIMULATION="false")
    now = time.time()
    d.ingest([MarketEvent(platform="kalshi", market_id="KX-A", title="A?", event_kind="quote",
                          yes_price=0.40, timestamp=now - 60, source="test"),
              MarketEvent(platform="polymarket", market_id="a-twin", title="A twin?",
                          event_kind="quote", yes_price=0.30, timestamp=now - 50,
                          source="test")])
    await stored(d, "a-twin", 1)
    alone = await (await client.get("/api/markets/KX-A/series?range=15m")).get_json()
    assert alone["paired"] == []
    await d.service.call("pairs.add", {"a": "KX-A", "b": "a-twin:no"})
    body = await (await client.get("/api/markets/KX-A/series?range=15m")).get_json()
    [other] = body["paired"]
    assert (other["platform"], other["market_id"], other["mapping"]) == (
        "polymarket", "a-twin", "no")
    assert [round(p, 6) for _, p in other["price"]] == [0.70]  # NO side: 1 - 0.30
    back = await (await client.get("/api/markets/a-twin/series?range=15m")).get_json()
    assert back["paired"][0]["market_id"] == "KX-A"


async def test_resolution_status_and_snoozes(web):
    from trade_hunter.daemon.outcome_store import write_settlement

    d, client = await web(ENABLE_SIMULATION="false")
    now = time.time()
    later, earlier = now + 3 * 3600, now - 600
    open_events = trades("KXRES-26DEC06-A", 3, now - 30, 1.0)
    open_events[-1].closes_at = later  # the feed says when it closes
    d.ingest(open_events + trades("KXRES-26DEC06-B", 3, now - 30, 1.0)
             + trades("KXRES-26DEC06-C", 3, now - 30, 1.0))
    for m in ("A", "B", "C"):
        await stored(d, f"KXRES-26DEC06-{m}", 3)
    with_close = trades("KXRES-26DEC06-B", 1, now - 5, 1.0)
    with_close[0].closes_at = earlier
    d.ingest(with_close)
    await stored(d, "KXRES-26DEC06-B", 4)

    async def resolution(m: str) -> dict[str, Any]:
        return (await (await client.get(f"/api/markets/KXRES-26DEC06-{m}")).get_json())[
            "resolution"]

    assert await resolution("A") == {"state": "open", "result": None, "closes_at": later,
                                     "checked_at": None}
    assert (await resolution("B"))["state"] == "closed"
    assert (await resolution("C"))["state"] == "unknown"  # no close time: not guessed
    await d.store.run(write_settlement("KXRES-26DEC06-B", "yes", now))
    assert await resolution("B") == {"state": "settled", "result": "yes",
                                     "closes_at": earlier, "checked_at": now}
    await d.store.run(write_settlement("KXRES-26DEC06-C", None, now))  # asked: not yet
    assert (await resolution("C"))["state"] == "unknown"

    # the market page's snooze: the event's snooze covers its markets, not others
    r = await client.post("/api/snoozes", json={"target": "KXRES-26DEC06", "duration": "2h"})
    assert r.status_code == 200, await r.get_json()
    body = await (await client.get("/api/markets/KXRES-26DEC06-A")).get_json()
    (z,) = body["snoozed"]
    assert z["target"] == "KXRES-26DEC06" and z["state"] == "active"
    assert z["ends_at"] == pytest.approx(time.time() + 7200, abs=60)
    other = trades("KXOTHER-1", 2, now - 10, 1.0)
    d.ingest(other)
    await stored(d, "KXOTHER-1", 2)
    assert (await (await client.get("/api/markets/KXOTHER-1")).get_json())["snoozed"] == []


def test_close_time_and_state_from_stored_signals():
    import msgspec

    from trade_hunter.web.market import resolution, signal_close

    from ..outcome_history import SIGNAL_EVENT, signal

    plain = signal(1, SIGNAL_EVENT)
    assert signal_close([plain]) is None
    gated = msgspec.structs.replace(plain, context=msgspec.structs.replace(
        plain.context, seconds_to_close=600.0))
    assert signal_close([gated]) == SIGNAL_EVENT.timestamp + 600
    told = msgspec.structs.replace(gated, event=msgspec.structs.replace(
        SIGNAL_EVENT, closes_at=SIGNAL_EVENT.timestamp + 60))
    assert signal_close([gated, told]) == SIGNAL_EVENT.timestamp + 60  # the feed's word first
    assert resolution(None, None, 100.0)["state"] == "unknown"
    assert resolution(None, 200.0, 100.0)["state"] == "open"
    assert resolution(None, 100.0, 100.0)["state"] == "closed"
    assert resolution((None, 90.0), 50.0, 100.0)["state"] == "closed"  # asked: not settled
    assert resolution(("no", 90.0), None, 100.0) == {
        "state": "settled", "result": "no", "closes_at": None, "checked_at": 90.0}
