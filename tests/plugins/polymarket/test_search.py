"""Polymarket's tags in the dashboard's search: the generic ``feeds.search`` (``GET
/api/feeds/polymarket/search?q=``) served by the plugin's ``IdentifierSpec.search`` against
the fake Gamma — with and without the feed running, listing, unknown tags, an outage."""

from __future__ import annotations

import httpx
import pytest
import trio
from test_daemon_polymarket import th_ctl
from th_polymarket_fake.helpers import fed_book

from trade_hunter.plugins.errors import RpcError


def busy_book(fake) -> None:
    fed_book(fake)
    fake.events["fed-decision-in-december"].volume = 5000.0
    fake.events["bitcoin-100k-2026"].volume = 900.0
    fake.add_event("eth-5k-2026", "Ethereum above $5k?", ["Crypto"], volume=2500.0)
    fake.add_market("eth-above-5k", "Will Ethereum be above $5k?", "eth-5k-2026")
    fake.add_event("old-crypto", "A closed crypto event", ["Crypto"], volume=9e9).closed = True


async def test_tag_search_through_the_generic_route(start_daemon, start_fake):
    fake = await start_fake()
    busy_book(fake)
    d = await start_daemon(**fake.env())  # the plugin is loaded, the feed does not run
    assert "polymarket" not in d.components
    async with httpx.AsyncClient(base_url=d.dashboard_url) as client:
        r = await client.get("/api/feeds/polymarket/search", params={"q": "CRYPTO"})
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["feed"] == "polymarket" and found["categories"] == ["Crypto"]
        assert [h["id"] for h in found["results"]] == ["eth-5k-2026", "bitcoin-100k-2026"]
        top = found["results"][0]
        assert top == {"id": "eth-5k-2026", "feed": "polymarket", "category": "Crypto",
                       "title": "Ethereum above $5k?", "price": None, "volume": 2500.0,
                       "closes_at": top["closes_at"], "markets": 1,
                       "url": "https://polymarket.com/event/eth-5k-2026"}
        # the tag ask went to Gamma as documented: open events of the tag, by volume
        [ask] = [q for _, path, q, _ in fake.requests if path == "/events"]
        assert (ask["tag_id"], ask["closed"], ask["order"], ask["ascending"]) == (
            [str(fake.tag_ids["Crypto"])], ["false"], ["volume"], ["false"])
        # a substring matches every tag containing it; limit cuts by volume
        r = await client.get("/api/feeds/polymarket/search", params={"q": "fe", "limit": 1})
        assert r.json()["categories"] == ["Fed"]
        assert [h["id"] for h in r.json()["results"]] == ["fed-decision-in-december"]
        assert r.json()["truncated"] is False
        listing = (await client.get("/api/feeds/polymarket/search")).json()
        assert listing["categories"] == ["Crypto", "Economy", "Fed"] and listing["results"] == []
        r = await client.get("/api/feeds/polymarket/search", params={"q": "Cripto"})
        assert r.status_code == 422
        assert "no Polymarket tag matches 'Cripto'" in r.text
        assert "Crypto" in r.json()["detail"]["valid"]
        r = await client.get("/api/feeds/polymarket/search", params={"limit": "0"})
        assert r.status_code == 422 and "limit must be from 1 to 1000" in r.text
        r = await client.get("/api/feeds/nowhere/search", params={"q": "x"})
        assert r.status_code == 422 and "does not accept tracked identifiers" in r.text
        tracked = (await client.get("/api/feeds/polymarket/tracked")).json()
        assert {f["name"]: f["search"] for f in tracked["feeds"]}["polymarket"] is True
    # cached: the same search again asks Gamma nothing; th-ctl prints the hits
    made = len(fake.requests)
    shown = await th_ctl(d.settings.home, "search", "polymarket", "--q", "crypto")
    assert shown.returncode == 0, shown.stderr
    assert "eth-5k-2026" in shown.stdout and "Ethereum above $5k?" in shown.stdout
    assert "th-ctl add-ticker --feed polymarket ID" in shown.stdout
    assert len(fake.requests) == made


async def test_search_uses_the_running_feed_and_says_when_gamma_is_down(start_daemon,
                                                                        start_fake):
    fake = await start_fake()
    busy_book(fake)
    d = await start_daemon(ENABLE_POLYMARKET="true", POLYMARKET_MARKETS="eth-5k-2026",
                           **fake.env())
    with trio.fail_after(30):
        while d.health.get("polymarket", "feed").state != "connected":
            await trio.sleep(0.05)
    counted = d.health.get("polymarket", "feed").counters["gamma_requests"]
    found = await d.service.call("feeds.search", {"feed": "polymarket", "q": "economy"})
    assert [h["id"] for h in found["results"]] == ["fed-decision-in-december"]
    assert found["results"][0]["markets"] == 2
    # the feed's own client served it (its counter moved)
    assert d.health.get("polymarket", "feed").counters["gamma_requests"] > counted
    fake.fail_next = [503] * 8
    with pytest.raises(RpcError) as err:
        await d.service.call("feeds.search", {"feed": "polymarket", "q": "fed"})
    assert err.value.code == "not_available"
    assert "Polymarket is unavailable" in str(err.value)
