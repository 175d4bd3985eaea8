"""``kalshi.categories``: matching, listing, errors, caching — called the way the daemon calls
plugin methods (``handler(ctx, **params)``), against the fake exchange."""

from __future__ import annotations

import pytest
import trio
from th_kalshi_fake.helpers import crypto_book, virtual_now

from trade_hunter.daemon.cli import build
from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.builtin.kalshi import categories_rpc
from trade_hunter.plugins.builtin.kalshi.categories import RETRIES
from trade_hunter.plugins.errors import RpcError
from trade_hunter.plugins.registry import PluginContext


def context(tmp_path, fake, **env):
    settings, _, _ = build({"TRADE_HUNTER_HOME": str(tmp_path), "THIRD_PARTY_PLUGINS": "false",
                            **fake.env(), **env})
    return PluginContext(settings=settings, health=ComponentHealth("x", "test"), tickers=None,
                         store=None, home=tmp_path)


def weather(fake):
    fake.add_series("KXHIGHNY", "Highest temperature in NYC", "Climate and Weather")
    fake.add_event("KXHIGHNY-26APR03", "KXHIGHNY", "Highest temperature in NYC on Apr 3?")
    for i in range(5):
        fake.add_market(f"KXHIGHNY-26APR03-B{60 + 2 * i}", "KXHIGHNY-26APR03",
                        f"{60 + 2 * i}° to {61 + 2 * i}°", volume=10 * i, price=f"0.{i + 1}0")
    fake.add_market("KXHIGHNY-26APR03-B50", "KXHIGHNY-26APR03", "50° to 51°", state="finalized")
    fake.extra_categories.append("Mentions")  # a category with no series at all


async def test_substring_match_lists_open_markets_by_volume(start_fake, tmp_path):
    fake = await start_fake()
    crypto_book(fake)
    weather(fake)
    ctx = context(tmp_path, fake)
    found = await categories_rpc(ctx, q="climate", limit="3")
    assert found["categories"] == ["Climate and Weather"]
    assert found["total"] == 5 and found["truncated"] is True
    assert [m["ticker"] for m in found["markets"]] == [
        "KXHIGHNY-26APR03-B68", "KXHIGHNY-26APR03-B66", "KXHIGHNY-26APR03-B64"]
    assert found["markets"][0] == {
        "ticker": "KXHIGHNY-26APR03-B68", "event_ticker": "KXHIGHNY-26APR03",
        "series_ticker": "KXHIGHNY", "category": "Climate and Weather",
        "title": "Highest temperature in NYC on Apr 3? — 68° to 69°", "last_price": 0.5,
        "yes_bid": 0.49, "yes_ask": 0.51, "volume": 40.0, "volume_24h": 40.0,
        "close_time": fake.markets["KXHIGHNY-26APR03-B68"].rest(fake.now())["close_time"]}
    assert (await categories_rpc(ctx, q="Mentions"))["markets"] == []
    listing = await categories_rpc(ctx)
    assert listing["categories"] == ["Climate and Weather", "Crypto", "Elections", "Mentions"]
    # the open-events scan followed its cursor through every page
    scans = [r for r in fake.requests if r.path.endswith("/events")]
    assert len(scans) == 2 and scans[1].query.get("cursor")


async def test_bad_parameters_and_unknown_categories(start_fake, tmp_path):
    fake = await start_fake()
    crypto_book(fake)
    ctx = context(tmp_path, fake)
    with pytest.raises(RpcError, match="limit must be an integer"):
        await categories_rpc(ctx, q="Crypto", limit="many")
    with pytest.raises(RpcError, match="limit must be from 1 to 1000"):
        await categories_rpc(ctx, q="Crypto", limit=0)
    with pytest.raises(RpcError) as err:
        await categories_rpc(ctx, q="Sport")
    assert err.value.code == "invalid_params"
    assert err.value.data == {"valid": ["Crypto", "Elections"]}


async def test_an_unreachable_exchange_is_not_available(start_fake, tmp_path, autojump_clock):
    fake = await start_fake(now=virtual_now)
    fake.fail_next = [503] * 50
    with pytest.raises(RpcError) as err:
        await categories_rpc(context(tmp_path, fake), q="Crypto")
    assert err.value.code == "not_available" and "503" in str(err.value)
    assert len(fake.requests) == RETRIES + 1  # 5xx retried a few times only


async def test_offline_fails_at_once_with_the_same_error_for_every_query(start_fake, tmp_path,
                                                                         autojump_clock):
    fake = await start_fake(now=virtual_now)
    with trio.socket.socket() as s:  # a port nobody listens on: connection refused
        await s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    ctx = context(tmp_path, fake, KALSHI_API_BASE=f"http://127.0.0.1:{dead}/trade-api/v2")
    began = trio.current_time()
    for q in ("Crypto", ""):  # a search and the listing (empty q) answer alike
        with pytest.raises(RpcError) as err:
            await categories_rpc(ctx, q=q)
        assert err.value.code == "not_available" and "cannot reach" in str(err.value)
    assert trio.current_time() == began  # no retry, no backoff sleep
