"""Resolution of the three identifier kinds (plus expired and unknown ones) against the fake
exchange's REST side: signed, paginated, paced, retried."""

from __future__ import annotations

import math

import pytest
import trio
from th_kalshi_fake.helpers import KEY_ID, MemoryBook, crypto_book, virtual_now

from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.builtin.kalshi.auth import Signer
from trade_hunter.plugins.builtin.kalshi.resolve import Resolver, Tracked
from trade_hunter.plugins.builtin.kalshi.rest import Rest, RestError
from trade_hunter.plugins.builtin.kalshi.tracker import Tracker


def full_book(fake, now):
    crypto_book(fake)
    # an event with one closed sub-market, an expired market, a dead event
    fake.add_market("KXBTCD-26APR0317-T65999.99", "KXBTCD-26APR0317", "$66,000 or above",
                    close_ts=now - 60)
    fake.add_market("KXPRES-28-GOP", "KXPRES-28", "Republican party", state="finalized")
    fake.add_event("KXOLD-25", "KXPRES", "An old question")
    fake.add_market("KXOLD-25-YES", "KXOLD-25", "Yes", close_ts=now - 86400)
    # a rolling series: a closed window, the current one, the next (not open yet)
    fake.add_series("KXBTC15M", "Bitcoin 15 minutes", "Crypto", ["BTC"])
    fake.rolling("KXBTC15M", start=now - 1200, count=3)
    # a series with many open markets (pages of 2): the earliest close wins
    fake.add_series("KXWEEK", "Weekly", "Economics")
    fake.add_event("KXWEEK-26APR", "KXWEEK", "Weekly question")
    for i, hours in enumerate([50, 20, 80, 30, 60]):
        fake.add_market(f"KXWEEK-26APR-M{i}", "KXWEEK-26APR", f"Option {i}",
                        close_ts=now + hours * 3600)
    fake.add_series("KXEMPTY", "Nothing open", "Sports")
    fake.add_market("KXPRES-28-IND", "KXPRES-28", "Independent", open_ts=now + 7200)


async def resolve_all(rest, names, now):
    resolver = Resolver(rest, now=now)
    out = {}
    for name in names:
        t = Tracked(name)
        await resolver.resolve(t)
        out[name] = t
    return out


async def test_each_kind_resolves(start_fake):
    fake = await start_fake()
    now = float(int(fake.now()))  # REST times have whole seconds
    full_book(fake, now)
    async with Rest(fake.rest_url, rate=20) as rest:
        got = await resolve_all(rest, [
            "KXBTC15M", "KXWEEK", "KXBTCD-26APR0317", "KXPRES-28-DEM", "KXPRES-28-GOP",
            "KXOLD-25", "NOPE", "NOPE-1-2", "KXEMPTY", "KXPRES-28-IND"], fake.now)
    current = next(m for m in fake.markets.values()
                   if m.ticker.startswith("KXBTC15M") and m.open_ts <= now < m.close_ts)
    series = got["KXBTC15M"]
    assert (series.kind, series.status, list(series.markets)) == (
        "series", "active", [current.ticker])
    info = series.markets[current.ticker]
    assert info.title == f"Bitcoin price up or down in 15 minutes — {current.yes_sub_title}"
    assert info.topic == "crypto" and info.close_ts == current.close_ts
    assert series.next_check == current.close_ts + 1  # re-resolved when the window closes
    assert list(got["KXWEEK"].markets) == ["KXWEEK-26APR-M1"]  # earliest of 5, over 3 pages
    assert got["KXWEEK"].markets["KXWEEK-26APR-M1"].topic == "macro"
    event = got["KXBTCD-26APR0317"]
    assert (event.kind, event.status) == ("event", "active")
    assert sorted(event.markets) == ["KXBTCD-26APR0317-T66999.99", "KXBTCD-26APR0317-T67999.99"]
    market = got["KXPRES-28-DEM"]
    assert (market.kind, market.status, list(market.markets)) == (
        "market", "active", ["KXPRES-28-DEM"])
    assert market.markets["KXPRES-28-DEM"].topic == "elections"
    assert market.markets["KXPRES-28-DEM"].title == \
        "Who will win the 2028 presidential election? — Democratic party"
    for name, why in (("KXPRES-28-GOP", "market finalized: skipped"),
                      ("KXOLD-25", "event has no open markets: skipped")):
        assert (got[name].status, got[name].detail, got[name].markets) == ("expired", why, {})
        assert got[name].next_check == math.inf
    for name in ("NOPE", "NOPE-1-2"):
        assert got[name].status == "unresolved"
        assert got[name].detail == "unknown: not a market, event or series ticker"
    assert got["KXEMPTY"].status == "unresolved"
    assert "no open market right now" in got["KXEMPTY"].detail
    assert got["KXPRES-28-IND"].status == "unresolved"
    assert "not open yet" in got["KXPRES-28-IND"].detail
    # pagination: the series listing followed its cursors to the end
    pages = [r for r in fake.requests if r.path.endswith("/markets")
             and r.query.get("series_ticker") == "KXWEEK" and r.query["status"] == "open"]
    assert len(pages) == 3 and [bool(r.query.get("cursor")) for r in pages] == [
        False, True, True]
    # the shape guided the order: a market ticker was asked for as a market first
    first_for = next(r.path for r in fake.requests if "KXPRES-28-DEM" in r.path)
    assert first_for.endswith("/markets/KXPRES-28-DEM")


async def test_signed_requests_are_verified_and_bad_signatures_refused(start_fake, rsa_key):
    fake = await start_fake()
    crypto_book(fake)
    fake.require_auth = True
    async with Rest(fake.rest_url, signer=Signer(KEY_ID, rsa_key)) as rest:
        got = await resolve_all(rest, ["KXPRES-28-DEM"], fake.now)
    assert got["KXPRES-28-DEM"].status == "active"
    assert all(r.signed and r.status == 200 for r in fake.requests)
    from cryptography.hazmat.primitives.asymmetric import rsa
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with Rest(fake.rest_url, signer=Signer(KEY_ID, other)) as rest:
        with pytest.raises(RestError, match="401.*invalid signature"):
            await rest.get("/markets/KXPRES-28-DEM")
        got = await resolve_all(rest, ["KXPRES-28-DEM"], fake.now)
    assert got["KXPRES-28-DEM"].status == "unresolved"
    assert "invalid signature" in got["KXPRES-28-DEM"].detail
    assert fake.requests[-1].status == 401


async def test_429_and_5xx_back_off_then_succeed(start_fake, autojump_clock):
    fake = await start_fake(now=virtual_now)
    crypto_book(fake)
    health = ComponentHealth("kalshi", "feed")
    fake.fail_next = [429, 429, 500, 503]
    async with Rest(fake.rest_url, rate=10, health=health) as rest:
        began = trio.current_time()
        body = await rest.get("/markets/KXPRES-28-DEM")
        elapsed = trio.current_time() - began
    assert body["market"]["ticker"] == "KXPRES-28-DEM"
    assert [r.status for r in fake.requests] == [429, 429, 500, 503, 200]
    assert health.counters["rest_429"] == 2 and health.counters["rest_requests"] == 5
    # full-jitter exponential: at least half of 0.5 + 1 + 2 + 4 seconds
    assert elapsed >= 3.75
    gaps = [b.at - a.at for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.5 and gaps[3] >= 2.0


async def test_gives_up_after_repeated_failures(start_fake, autojump_clock):
    fake = await start_fake(now=virtual_now)
    fake.fail_next = [500] * 20
    async with Rest(fake.rest_url, retries=3) as rest:
        with pytest.raises(RestError, match="gave up after 4 attempts"):
            await rest.get("/series/X")


async def test_token_bucket_stays_under_the_rate(start_fake, autojump_clock):
    fake = await start_fake(now=virtual_now)
    crypto_book(fake)
    async with Rest(fake.rest_url, rate=5) as rest, trio.open_nursery() as nursery:
        for _ in range(30):
            nursery.start_soon(rest.get, "/series/KXBTCD")
    times = sorted(r.at for r in fake.requests)
    assert len(times) == 30
    assert times[-1] - times[0] >= (30 - 5) / 5 - 0.01  # burst of 5, then 5 per second
    for i, t in enumerate(times):  # any one-second window holds at most burst + rate
        assert sum(1 for u in times[i:] if u < t + 1.0) <= 10


async def test_tracker_retries_a_market_that_404s_just_after_creation(start_fake,
                                                                       autojump_clock):
    fake = await start_fake(now=virtual_now)
    crypto_book(fake)
    fake.markets["KXPRES-28-DEM"].visible_at = virtual_now() + 3  # 404 for 3 seconds
    book = MemoryBook(["KXPRES-28-DEM"])
    async with Rest(fake.rest_url, rate=20) as rest, trio.open_nursery() as nursery:
        tracker = Tracker(Resolver(rest, now=virtual_now), book, now=virtual_now)
        nursery.start_soon(tracker.run)
        await tracker.ready.wait()
        assert book.items["KXPRES-28-DEM"].status == "unresolved"
        assert tracker.detail().startswith("0 active, 1 unresolved: KXPRES-28-DEM (unknown")
        with trio.fail_after(120):
            while "KXPRES-28-DEM" not in tracker.markets:
                await tracker.wait_version(tracker.version)
        assert book.items["KXPRES-28-DEM"].status == "active"
        assert book.items["KXPRES-28-DEM"].markets == ["KXPRES-28-DEM"]
        assert tracker.detail() == "1 active, 0 unresolved"
        nursery.cancel_scope.cancel()
