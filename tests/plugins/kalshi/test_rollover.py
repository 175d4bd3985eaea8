"""Rolling series roll over on the live connection; reconnects back off and never spin; the
daemon's start-up never waits long for an exchange that is down."""

from __future__ import annotations

import itertools

import trio
from th_kalshi_fake.helpers import MemoryBook, eventually, next_events, virtual_now

from trade_hunter.plugins import streaming
from trade_hunter.plugins.builtin.kalshi import ws as ws_module


def rolling_exchange(fake):
    fake.add_series("KXBTC15M", "Bitcoin 15 minutes", "Crypto", ["BTC"])
    start = float(int(fake.now()) // 900 * 900)  # windows on quarter hours, like the real one
    return fake.rolling("KXBTC15M", start=start, count=4)


async def test_rolling_series_rolls_over_without_reconnecting(nursery, start_fake, make_feed,
                                                              autojump_clock):
    fake = await start_fake(now=virtual_now)
    w1, w2, w3, _ = rolling_exchange(fake)
    w3.visible_at = w3.open_ts + 3  # the third window 404s for a moment after it opens
    book = MemoryBook(["KXBTC15M"])
    feed = make_feed(fake, book, now=virtual_now)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    assert feed.tracker.markets.keys() == {w1.ticker}
    [snap] = await next_events(receive)
    assert snap.market_id == w1.ticker and snap.title.endswith(w1.yes_sub_title)
    await fake.trade(w1.ticker, price="0.40", count="5")
    [t1] = await next_events(receive)
    assert t1.market_id == w1.ticker

    # w1 closes: it leaves the subscription and w2 joins it, on the same connection
    await trio.sleep(w1.close_ts - virtual_now() + 0.5)
    await fake.wait_for(lambda: fake.subscribed("trade", w2.ticker)
                        and fake.subscribed("ticker", w2.ticker), timeout=30)
    assert not fake.subscribed("trade", w1.ticker) and not fake.subscribed("ticker", w1.ticker)
    assert virtual_now() - w1.close_ts < 3
    updates = [c["params"] for c in fake.commands("update_subscription")]
    for sid in (2, 3):  # the ticker and the trade subscription
        assert {"sid": sid, "market_tickers": [w1.ticker],
                "action": "delete_markets"} in updates
        assert any(u["sid"] == sid and u["market_tickers"] == [w2.ticker]
                   and u["action"] == "add_markets" for u in updates)
    assert not fake.commands("unsubscribe")
    assert book.items["KXBTC15M"].markets == [w2.ticker]
    await fake.trade(w1.ticker, price="0.99", count="1")   # the old one is gone
    await fake.trade(w2.ticker, price="0.61", count="9")
    events = await next_events(receive, 2)  # w2's snapshot quote and its trade
    assert {e.market_id for e in events} == {w2.ticker}
    trade = next(e for e in events if e.event_kind == "trade")
    assert trade.title.endswith(w2.yes_sub_title) and trade.topic == "crypto"

    # w2 closes while w3 still 404s: w2 is dropped at once, w3 joins when it shows up
    await trio.sleep(w2.close_ts - virtual_now() + 1.5)  # re-resolved a second after close
    assert book.items["KXBTC15M"].status == "pending"
    assert not fake.subscribed("trade", w2.ticker)
    await fake.lifecycle(w3.ticker, "activated")
    await fake.wait_for(lambda: fake.subscribed("trade", w3.ticker)
                        and fake.subscribed("ticker", w3.ticker), timeout=30)
    assert w3.visible_at <= virtual_now() < w3.visible_at + 5
    assert feed.tracker.markets.keys() == {w3.ticker}
    assert feed.health.detail == "1 active, 0 unresolved"
    assert len(fake.ws.conns) == 1 and "reconnects" not in feed.health.counters


async def test_a_gap_between_windows_is_not_fatal(nursery, start_fake, make_feed,
                                                  autojump_clock):
    fake = await start_fake(now=virtual_now)
    w1, w2, *_ = rolling_exchange(fake)
    w2.open_ts = w1.close_ts + 20  # twenty seconds without an open market
    book = MemoryBook(["KXBTC15M"])
    feed = make_feed(fake, book, now=virtual_now)
    send, _ = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    await trio.sleep(w1.close_ts - virtual_now() + 5)
    assert book.items["KXBTC15M"].status == "pending"
    assert "waiting for the next market" in feed.health.detail
    assert not fake.subscribed("trade", w1.ticker)
    await fake.wait_for(lambda: fake.subscribed("trade", w2.ticker), timeout=120)
    assert book.items["KXBTC15M"].status == "active" and len(fake.ws.conns) == 1


async def test_reconnects_back_off_exponentially_up_to_the_cap(nursery, start_fake, make_feed,
                                                               autojump_clock):
    fake = await start_fake(now=virtual_now)
    fake.add_series("KXBTC15M", "Bitcoin 15 minutes", "Crypto")
    fake.reject_next(12, 503)
    feed = make_feed(fake, MemoryBook(), now=virtual_now, KALSHI_RECONNECT_MAX_SECONDS="8")
    send, _ = trio.open_memory_channel(10)
    began = trio.current_time()
    await nursery.start(feed.run, send)
    assert trio.current_time() - began < 1  # start-up did not wait for the exchange
    assert feed.health.state == "reconnecting"
    assert "handshake rejected (HTTP 503)" in feed.health.detail
    await fake.wait_for(lambda: fake.ws.live, timeout=600)
    attempts = [r.at for r in fake.requests if r.kind == "ws"]
    assert len(attempts) == 13
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for n, gap in enumerate(gaps):  # full jitter: [d/2, d], d = 0.5 · 2^n capped at 8
        d = min(8.0, 0.5 * 2 ** n)
        assert d / 2 - 0.01 <= gap <= d + 0.05, (n, gap)
    await eventually(lambda: feed.health.state == "connected")
    c = feed.health.counters
    assert (c["connects"], c["disconnects"], c.get("reconnects", 0)) == (13, 12, 0)


async def test_start_up_is_not_blocked_when_the_exchange_is_unreachable(
        nursery, start_fake, make_feed, autojump_clock):
    fake = await start_fake(now=virtual_now)
    with trio.socket.socket() as s:  # a port nobody listens on
        await s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    feed = make_feed(fake, MemoryBook(), now=virtual_now,
                     KALSHI_WS_URL=f"ws://127.0.0.1:{dead}/trade-api/ws/v2")
    send, _ = trio.open_memory_channel(10)
    began = trio.current_time()
    await nursery.start(feed.run, send)
    assert trio.current_time() - began <= streaming.STARTUP_WAIT
    assert feed.health.state == "reconnecting"
    await trio.sleep(120)
    connects = feed.health.counters["connects"]
    assert 6 <= connects <= 20, connects  # it keeps trying, slowly: no spinning


async def test_a_channel_that_keeps_failing_ends_the_session(nursery, start_fake, make_feed,
                                                             autojump_clock):
    fake = await start_fake(now=virtual_now)
    fake.add_series("S", "s", "Crypto")
    fake.add_event("S-1", "S", "Question")
    fake.add_market("S-1-A", "S-1", "A")
    feed = make_feed(fake, MemoryBook(["S-1-A"]), now=virtual_now)
    send, _ = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    for _ in range(ws_module.RESUB_LIMIT + 1):
        await fake.wait_for(lambda: fake.subscribed("ticker", "S-1-A"))
        await fake.overflow("ticker")
        await trio.sleep(0.1)
    await fake.wait_for(lambda: len(fake.ws.conns) == 2 and fake.subscribed("ticker", "S-1-A"))
    assert "times in a minute" in feed.health.info["last_disconnect"]
    assert feed.health.counters["resubscribes"] == ws_module.RESUB_LIMIT


async def test_the_next_window_joins_on_its_created_message(nursery, start_fake, make_feed,
                                                            autojump_clock):
    fake = await start_fake(now=virtual_now)
    w1, w2, *_ = rolling_exchange(fake)
    book = MemoryBook(["KXBTC15M"])
    feed = make_feed(fake, book, now=virtual_now)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    await next_events(receive)  # w1's snapshot
    await trio.sleep(w1.close_ts - virtual_now() - 60)  # a minute before the rollover
    assert not fake.subscribed("trade", w2.ticker)
    await fake.lifecycle(w2.ticker, "created")
    await fake.wait_for(lambda: fake.subscribed("trade", w2.ticker)
                        and fake.subscribed("ticker", w2.ticker))
    assert virtual_now() < w1.close_ts - 59  # joined at once, not at the close
    assert fake.subscribed("trade", w1.ticker)  # the current window stays until it closes
    # the first second of the new window is not lost
    await trio.sleep(w2.open_ts - virtual_now())
    first = await fake.trade(w2.ticker, price="0.52", count="3")
    events = await next_events(receive, 2)  # w2's snapshot quote (on joining) and the trade
    trade = next(e for e in events if e.event_kind == "trade")
    assert trade.ext_id == first and trade.topic == "crypto"
    assert trade.title.endswith(w2.yes_sub_title)
    await fake.wait_for(lambda: not fake.subscribed("trade", w1.ticker), timeout=30)
    assert book.items["KXBTC15M"].markets == [w2.ticker]
    c = feed.health.counters
    assert c["joined_on_created"] == 1
    assert (c.get("gaps", 0), c.get("resubscribes", 0), c.get("reconnects", 0)) == (0, 0, 0)


async def test_shutdown_closes_the_websocket_with_a_close_frame(nursery, start_fake, make_feed,
                                                                autojump_clock):
    fake = await start_fake(now=virtual_now)
    rolling_exchange(fake)
    feed = make_feed(fake, MemoryBook(["KXBTC15M"]), now=virtual_now)
    send, _ = trio.open_memory_channel(1000)
    scope = trio.CancelScope()

    async def run_until_cancelled():
        with scope:
            await feed.run(send)
    nursery.start_soon(run_until_cancelled)
    await fake.wait_for(lambda: fake.subscribed("trade"))
    scope.cancel()  # what a daemon shutdown does to its feeds
    await fake.wait_for(lambda: not fake.ws.live)
    [conn] = fake.ws.conns
    assert conn.close_code == 1000


async def test_a_refused_early_join_waits_for_the_rollover_without_penalty(
        nursery, start_fake, make_feed, autojump_clock):
    fake = await start_fake(now=virtual_now)
    w1, w2, *_ = rolling_exchange(fake)
    book = MemoryBook(["KXBTC15M"])
    feed = make_feed(fake, book, now=virtual_now)
    send, _ = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    await trio.sleep(w1.close_ts - virtual_now() - 60)
    fake.ws.refuse = {w2.ticker}  # suppose the socket takes no market before it opens
    await fake.lifecycle(w2.ticker, "created")
    await eventually(lambda: feed.health.counters.get("error_16") == 2)  # ticker and trade
    await trio.sleep(1)
    assert w2.ticker not in feed.tracker.markets and not feed.tracker.refused
    assert book.items["KXBTC15M"].status == "active"  # w1 goes on undisturbed
    fake.ws.refuse.clear()  # open now: the rollover at w1's close brings w2 in as before
    await fake.wait_for(lambda: fake.subscribed("trade", w2.ticker), timeout=90)
    assert virtual_now() - w1.close_ts < 3
    c = feed.health.counters
    assert (c.get("gaps", 0), c.get("resubscribes", 0), c.get("reconnects", 0)) == (0, 0, 0)


async def test_deleting_a_market_the_exchange_dropped_is_not_a_failure(
        nursery, start_fake, make_feed, autojump_clock):
    fake = await start_fake(now=virtual_now)
    w1, w2, *_ = rolling_exchange(fake)
    feed = make_feed(fake, MemoryBook(["KXBTC15M"]), now=virtual_now)
    send, _ = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    await trio.sleep(w1.close_ts - virtual_now() - 1)
    del fake.markets[w1.ticker]  # gone from the exchange at its close: delete answers 16
    await fake.wait_for(lambda: fake.subscribed("trade", w2.ticker), timeout=30)
    await trio.sleep(2)
    c = feed.health.counters
    assert c["error_16"] == 2  # the ticker and the trade channel's delete_markets
    assert (c.get("gaps", 0), c.get("resubscribes", 0), c.get("reconnects", 0)) == (0, 0, 0)
