"""The feed where Kalshi's documentation leaves things open (docs/kalshi-protocol.md, "Open
points"): each reading is a scenario of the fake exchange, and the feed must be right under
all of them — no false gaps, no channel loops, paused and historical markets shown as such.
The counters (``gaps``, ``resubscribes``, ``reconnects``) are checked in each."""

from __future__ import annotations

import pytest
import trio
from th_kalshi_fake.helpers import MemoryBook, crypto_book, eventually, next_events, virtual_now

from trade_hunter.plugins.builtin.kalshi import tracker as tracker_module
from trade_hunter.plugins.builtin.kalshi import ws as ws_module

BTC = ["KXBTCD-26APR0317-T66999.99", "KXBTCD-26APR0317-T67999.99"]
DEM = "KXPRES-28-DEM"


async def running(nursery, start_fake, make_feed, tickers, setup=None):
    fake = await start_fake(now=virtual_now)
    crypto_book(fake)
    if setup is not None:
        setup(fake)
    book = MemoryBook(tickers)
    feed = make_feed(fake, book, now=virtual_now)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    return fake, book, feed, receive


def counters(feed):
    c = feed.health.counters
    return c.get("gaps", 0), c.get("resubscribes", 0), c.get("reconnects", 0)


async def trades_arrive(fake, receive, market, n=3):
    """``n`` trades on ``market``, each delivered exactly once."""
    ids = [await fake.trade(market, price="0.50", count="1") for _ in range(n)]
    got: list[str] = []
    with trio.fail_after(30):
        while not set(ids) <= set(got):
            got += [e.ext_id for e in await next_events(receive) if e.event_kind == "trade"]
    assert sorted(got) == sorted(ids)


@pytest.mark.parametrize("model", [None, "repeat", "consume"])
async def test_live_subscription_changes_make_no_false_gaps(nursery, start_fake, make_feed,
                                                            autojump_clock, model):
    def setup(fake):
        fake.ws.reply_seq = model
    fake, book, feed, receive = await running(nursery, start_fake, make_feed,
                                              ["KXBTCD-26APR0317"], setup)
    await next_events(receive, 2)  # snapshots
    for change in range(3):  # add, remove, add again, with trades streaming in between
        await trades_arrive(fake, receive, BTC[0])
        if change % 2 == 0:
            book.add(DEM)
            await fake.wait_for(lambda: fake.subscribed("trade", DEM)
                                and fake.subscribed("ticker", DEM))
        else:
            book.remove(DEM)
            await fake.wait_for(lambda: not fake.subscribed("trade", DEM))
        await trio.sleep(1)  # the replies are in
    await trades_arrive(fake, receive, BTC[1])
    oks = fake.commands("update_subscription")
    assert len(oks) == 6  # three changes × two channels, each answered with an ok
    assert counters(feed) == (0, 0, 0)
    # a frame really lost is still a gap, under every model
    await fake.trade(BTC[0], price="0.40", count="2", lose=True)
    await fake.trade(BTC[0], price="0.41", count="2")
    await eventually(lambda: counters(feed)[0] == 1)
    await fake.wait_for(lambda: fake.subscribed("trade", BTC[0]))
    await trio.sleep(2)
    assert counters(feed) == (1, 1, 0)
    assert feed.health.counters["backfilled"] >= 1  # the lost trade came back over REST


async def test_a_reply_past_a_lost_frame_reveals_the_gap(nursery, start_fake, make_feed,
                                                         autojump_clock):
    def setup(fake):
        fake.ws.reply_seq = "consume"
    fake, book, feed, receive = await running(nursery, start_fake, make_feed, [BTC[0]], setup)
    await trades_arrive(fake, receive, BTC[0], 2)
    await fake.trade(BTC[0], price="0.40", count="2", lose=True)
    book.add(DEM)  # the ok reply comes two numbers past the last frame seen
    await eventually(lambda: counters(feed)[0] == 1)
    await fake.wait_for(lambda: fake.subscribed("trade", DEM) and fake.subscribed("trade", BTC[0]))
    assert counters(feed) == (1, 1, 0)


async def test_a_paused_market_stays_in_its_series_and_shows_paused(nursery, start_fake,
                                                                   make_feed, autojump_clock):
    def setup(fake):
        fake.add_series("KXBTC15M", "Bitcoin 15 minutes", "Crypto", ["BTC"])
        start = float(int(fake.now()) // 900 * 900)
        fake.rolling("KXBTC15M", start=start, count=2)[0].state = "inactive"
    fake, book, feed, receive = await running(nursery, start_fake, make_feed,
                                              ["KXBTC15M", DEM], setup)
    [w1] = [m for m in fake.markets.values() if m.state == "inactive"]
    assert book.items["KXBTC15M"].status == "paused"
    assert book.items["KXBTC15M"].markets == [w1.ticker]
    assert f"→ {w1.ticker} (paused)" in book.items["KXBTC15M"].detail
    assert feed.health.detail == "1 active, 0 unresolved, 1 paused"
    assert feed.health.info["paused"] == {"KXBTC15M": book.items["KXBTC15M"].detail}
    assert fake.subscribed("trade", w1.ticker)  # still subscribed: it resumes unannounced
    fake.markets[DEM].state = "inactive"  # a market ticker paused while tracked
    await fake.lifecycle(DEM, "deactivated", is_deactivated=True)
    await eventually(lambda: book.items[DEM].status == "paused")
    assert book.items[DEM].detail.startswith("market paused by the exchange")
    w1.state = fake.markets[DEM].state = "active"  # both resume
    await fake.lifecycle(w1.ticker, "activated", is_deactivated=False)
    await fake.lifecycle(DEM, "activated", is_deactivated=False)
    await eventually(lambda: book.items["KXBTC15M"].status == "active"
                     and book.items[DEM].status == "active")
    assert feed.health.detail == "2 active, 0 unresolved"
    await trades_arrive(fake, receive, w1.ticker)
    assert counters(feed) == (0, 0, 0) and len(fake.ws.conns) == 1


@pytest.mark.parametrize("whole", [False, True], ids=["ticker_only", "whole_command"])
async def test_a_ticker_the_socket_refuses_never_loops_the_channel(nursery, start_fake,
                                                                  make_feed, autojump_clock,
                                                                  whole):
    def setup(fake):
        fake.ws.refuse = {DEM}  # error 16 although REST lists it
        fake.ws.refuse_whole = whole
    fake, book, feed, receive = await running(nursery, start_fake, make_feed,
                                              [BTC[0], DEM], setup)
    await fake.wait_for(lambda: fake.subscribed("trade", BTC[0])
                        and fake.subscribed("ticker", BTC[0]), timeout=60)
    await eventually(lambda: book.items[DEM].status == "unresolved")
    assert "refused by the WebSocket (error 16: Market not found)" in book.items[DEM].detail
    assert book.items[BTC[0]].status == "active"
    await trades_arrive(fake, receive, BTC[0])
    # five minutes of a ticker the socket keeps refusing: rechecked with growing pauses
    await trio.sleep(300)
    c = feed.health.counters
    strikes = c["error_16"] // 2  # one error per channel each time it is offered
    assert 2 <= strikes <= 5, c["error_16"]  # 30, 60, 120 s pauses: not six a minute
    # whole-command refusals: the first subscribe goes unanswered once per channel
    assert counters(feed) == (0, 2 if whole else 0, 0)
    assert tracker_module.REFUSED_BASE == 30.0
    fake.ws.refuse.clear()  # the socket takes it now: it joins at its next recheck
    await fake.wait_for(lambda: fake.subscribed("trade", DEM) and fake.subscribed("ticker", DEM),
                        timeout=tracker_module.REFUSED_CAP + 5)
    await eventually(lambda: book.items[DEM].status == "active")
    await trades_arrive(fake, receive, DEM)
    assert counters(feed) == (0, 2 if whole else 0, 0) and len(fake.ws.conns) == 1


async def test_a_series_lookup_answering_400_means_not_a_series(nursery, start_fake, make_feed,
                                                                autojump_clock):
    def setup(fake):
        fake.unknown_series_status = 400  # what the documentation lists for a bad ticker
    fake, book, feed, _ = await running(nursery, start_fake, make_feed, ["NOPE", DEM], setup)
    assert book.items["NOPE"].status == "unresolved"
    assert book.items["NOPE"].detail == "unknown: not a market, event or series ticker"
    asked = [r for r in fake.requests if r.path.endswith("/series/NOPE")]
    assert [r.status for r in asked] == [400]  # a 400 is an answer: no retry
    fake.fail_next = [503, 503]  # a 5xx is retried once, then later with the slot freed
    feed.tracker.nudge("created", "NOPE-1", None)
    await eventually(lambda: "lookup failed" in book.items["NOPE"].detail)
    assert [r.status for r in fake.requests if r.path.endswith("/series/NOPE")] == [400, 503, 503]
    await eventually(lambda: book.items["NOPE"].detail.startswith("unknown"), timeout=30)
    assert book.items[DEM].status == "active" and counters(feed) == (0, 0, 0)


async def test_a_market_past_the_historical_cutoff_shows_expired_historical(
        nursery, start_fake, make_feed, autojump_clock):
    def setup(fake):
        fake.add_event("KXOLD-25", "KXPRES", "An old question")
        fake.add_market("KXOLD-25-YES", "KXOLD-25", "Yes")
        fake.archive("KXOLD-25-YES")
    fake, book, feed, _ = await running(nursery, start_fake, make_feed,
                                        ["KXOLD-25-YES", DEM], setup)
    old = book.items["KXOLD-25-YES"]
    assert old.status == "expired" and old.detail.startswith("expired (historical)")
    assert old.markets == []
    assert feed.health.info["expired"] == {"KXOLD-25-YES": old.detail}
    lookups = len(fake.requests)
    await trio.sleep(1200)  # never rechecked (an unknown ticker would be, every 10 minutes)
    assert not [r for r in fake.requests[lookups:] if "KXOLD" in r.path]
    assert not fake.subscribed("trade", "KXOLD-25-YES") and counters(feed) == (0, 0, 0)


@pytest.mark.parametrize("holds", [[15], [12, 5]], ids=["late_after", "late_before"])
async def test_a_merged_subscribe_answered_with_the_same_sid_stays(nursery, start_fake,
                                                                   make_feed, autojump_clock,
                                                                   holds):
    def setup(fake):
        fake.ws.hold = {"ticker": list(holds)}  # the ticker answers come late
    fake, _, feed, receive = await running(nursery, start_fake, make_feed, [DEM], setup)
    # no answer within ANSWER_TIMEOUT: subscribe again; the server merges it into the same
    # subscription and answers both commands with one sid
    await eventually(lambda: feed.health.counters.get("merged_subscribes"), timeout=60)
    await trio.sleep(ws_module.ANSWER_TIMEOUT)
    subscribes = [c for c in fake.commands("subscribe") if c["params"]["channels"] == ["ticker"]]
    assert len(subscribes) == 2
    assert not fake.commands("unsubscribe"), "the live subscription was ended"
    assert fake.subscribed("ticker", DEM) and feed.health.state == "connected"
    await fake.ticker(DEM, price="0.6100")
    quotes = [e for e in await next_events(receive, 2) if e.event_kind == "quote"]
    assert quotes[-1].yes_price == 0.61
    assert counters(feed) == (0, 1, 0)
