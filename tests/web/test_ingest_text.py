"""One bad string never costs another event: text that cannot be stored (a lone surrogate,
valid JSON as ``"\\ud800"``) or is too long is a 422 naming its field, on every ingest route
and control method, while good events sent at the same time are all stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio

from trade_hunter.daemon.limits import MAX_ID, MAX_PARAM, MAX_TITLE

BAD = "bad\ud800"
JSON = {"Content-Type": "application/json"}


def ours(i: int, **kw: Any) -> dict[str, Any]:
    return {"source": "scraper", "platform": "custom", "market_id": f"GOOD-{i % 3}",
            "title": "Will it rain?", "yes_price": 0.4, "volume": 10, "id": f"good-{i}",
            **kw}


def alert(**kw: Any) -> dict[str, Any]:
    """A PolyAlertHub alert in its documented format (README, "Relays and ingest")."""
    return {"platform": "polymarket", "market_id": "fed-cut", "title": "Fed cut?",
            "alert_type": "whale_trade", "yes_price": 0.41, "trade_size": 25,
            "trade_side": "buy", "id": "pah-1", **kw}


CASES = [("/api/events", ours(0, **{f: BAD}), f) for f in
         ("source", "platform", "market_id", "title", "topic", "id", "url", "trade_side",
          "volume_kind", "event_kind", "timestamp")] + \
        [("/api/alerts/polyalerthub", alert(**{"id": f"pah-{f}", f: BAD}), f)
         for f in ("id", "platform", "url")] + \
        [("/api/alerts/polyalerthub", alert(id="pah-m", market_id=BAD), "market_id"),
         ("/api/alerts/polyalerthub", alert(id="pah-q", title=BAD), "title")] + \
        [("/api/events", ours(0, market_id="M" * (MAX_ID + 1)), "market_id"),
         ("/api/events", ours(0, id="i" * (MAX_ID + 1)), "id"),
         ("/api/events", ours(0, title="t" * (MAX_TITLE + 1)), "title")]


async def test_each_string_field_of_each_route_is_checked_and_good_events_still_land(web):
    d, _ = await web()
    bodies = [(path, json.dumps(body).encode(), field) for path, body, field in CASES]
    answers: list[tuple[str, str, httpx.Response]] = []
    goods: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=d.dashboard_url, timeout=30) as client:
        async with trio.open_nursery() as nursery:  # bad and good requests interleaved
            async def bad(path: str, raw: bytes, field: str) -> None:
                answers.append((path, field, await client.post(path, content=raw,
                                                               headers=JSON)))

            async def good(i: int) -> None:
                goods.append(await client.post("/api/events", json=[ours(i), ours(i + 100)]))
            for i, (path, raw, field) in enumerate(bodies):
                nursery.start_soon(bad, path, raw, field)
                nursery.start_soon(good, i)
        for path, field, response in answers:
            assert response.status_code == 422, (path, field, response.text)
            assert field in response.json()["error"] + json.dumps(response.json()["detail"]), \
                (path, field, response.text)
        assert [g.status_code for g in goods] == [200] * len(bodies)
        assert (await client.get("/api/state")).status_code == 200
    rows = await d.store.aquery("SELECT COUNT(*) FROM events WHERE ext_id LIKE 'good-%'")
    assert rows[0][0] == 2 * len(bodies)
    assert d.store.write_errors == 0  # nothing bad reached the store


@pytest.mark.parametrize("market_id, problem", [
    ("X" * 60_000, f"at most {MAX_PARAM} characters"),
    (BAD, "lone surrogate"),
])
async def test_demo_spike_and_control_methods_bound_their_strings(web, market_id, problem):
    d, _ = await web()
    from trade_hunter.plugins.errors import RpcError
    with pytest.raises(RpcError) as refused:
        await d.service.call("demo.spike", {"market_id": market_id})
    assert refused.value.code == "invalid_params" and problem in str(refused.value)
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        response = await client.post("/api/demo/spike", headers=JSON,
                                     content=json.dumps({"market_id": market_id}).encode())
        assert response.status_code == 422, response.text
        assert (await client.get("/api/state")).status_code == 200
    assert not await d.store.aquery("SELECT 1 FROM markets WHERE length(market_id) > 1000")
