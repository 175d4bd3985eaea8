"""The feed against the fake exchange on trio's autojump clock: subscriptions, events,
recovery from every fault with all markets resubscribed and no duplicates, backoff."""

from __future__ import annotations

import pytest
import trio
from th_kalshi_fake.helpers import MemoryBook, crypto_book, next_events, virtual_now

MARKETS = ["KXBTCD-26APR0317-T66999.99", "KXBTCD-26APR0317-T67999.99", "KXPRES-28-DEM"]


async def running(nursery, start_fake, make_feed, tickers=("KXBTCD-26APR0317", "KXPRES-28-DEM"),
                  **env):
    fake = await start_fake(now=virtual_now)
    crypto_book(fake)
    book = MemoryBook(tickers)
    feed = make_feed(fake, book, now=virtual_now, **env)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    return fake, book, feed, receive


def all_subscribed(fake, markets=MARKETS):
    return all(fake.subscribed(ch, m) for ch in ("ticker", "trade") for m in markets) and \
        fake.subscribed("market_lifecycle_v2")


async def drain(receive):
    out = []
    while True:
        try:
            item = receive.receive_nowait()
        except trio.WouldBlock:
            return out
        out.extend(item if isinstance(item, list) else [item])


async def test_subscribes_resolved_markets_and_streams_events(nursery, start_fake, make_feed,
                                                              autojump_clock):
    fake, book, feed, receive = await running(
        nursery, start_fake, make_feed, ("KXBTCD-26APR0317", "KXPRES-28-DEM", "NOPE"))
    assert feed.health.state == "connected"
    assert feed.health.detail == ("2 active, 1 unresolved: NOPE (unknown: not a market, event "
                                  "or series ticker)")
    subs = [c["params"] for c in fake.commands("subscribe")]
    assert subs == [
        {"channels": ["market_lifecycle_v2"]},
        {"channels": ["ticker"], "market_tickers": MARKETS, "send_initial_snapshot": True},
        {"channels": ["trade"], "market_tickers": MARKETS}]
    snapshot = await next_events(receive, 3)
    assert sorted(e.market_id for e in snapshot) == MARKETS
    assert all(e.event_kind == "quote" and e.volume_kind == "cumulative" for e in snapshot)
    trade_id = await fake.trade("KXPRES-28-DEM", price="0.61", count="25.00", side="no")
    [trade] = await next_events(receive)
    assert (trade.event_kind, trade.volume_kind, trade.ext_id, trade.trade_side) == (
        "trade", "delta", trade_id, "no")
    assert (trade.yes_price, trade.volume, trade.trade_size) == (0.61, 25.0, 25.0)
    assert trade.title == "Who will win the 2028 presidential election? — Democratic party"
    assert trade.topic == "elections" and trade.source == "kalshi"
    close = fake.markets["KXPRES-28-DEM"].close_ts
    assert trade.closes_at == pytest.approx(close)  # for the detector's close guard
    await fake.ticker("KXBTCD-26APR0317-T66999.99", price="0.4500", volume="120.00")
    [quote] = await next_events(receive)
    assert (quote.yes_price, quote.volume, quote.topic) == (0.45, 120.0, "crypto")
    assert quote.title == "Bitcoin price on Apr 3, 2026 at 5pm EDT? — $67,000 or above"
    counters = feed.health.counters
    assert counters["msg_ticker"] == 4 and counters["msg_trade"] == 1 and counters["acks"] == 3
    assert feed.health.info["markets"] == MARKETS
    await trio.sleep(3)
    assert 2 <= feed.health.info["last_message_age"] <= 3.5
    assert book.items["NOPE"].status == "unresolved"
    assert book.items["KXBTCD-26APR0317"].markets == MARKETS[:2]


async def test_no_market_subscription_without_markets(nursery, start_fake, make_feed,
                                                      autojump_clock):
    fake, book, feed, _ = await running(nursery, start_fake, make_feed, ())
    await trio.sleep(5)
    assert [c["params"] for c in fake.commands("subscribe")] == [
        {"channels": ["market_lifecycle_v2"]}]
    assert feed.health.state == "connected" and feed.health.detail == "0 active, 0 unresolved"
    book.add("KXPRES-28-DEM")  # the first ticker arrives: subscribe now, on the same link
    await fake.wait_for(lambda: all_subscribed(fake, ["KXPRES-28-DEM"]))
    book.remove("KXPRES-28-DEM")  # the last one leaves: unsubscribe (no firehose either)
    await fake.wait_for(lambda: not fake.subscribed("ticker") and not fake.subscribed("trade"))
    assert len(fake.ws.conns) == 1


async def test_add_and_remove_tickers_while_running(nursery, start_fake, make_feed,
                                                    autojump_clock):
    fake, book, feed, receive = await running(nursery, start_fake, make_feed,
                                              ("KXBTCD-26APR0317",))
    await next_events(receive, 2)
    book.add("KXPRES-28-DEM")
    await fake.wait_for(lambda: all_subscribed(fake))
    updates = [c["params"] for c in fake.commands("update_subscription")]
    assert {"sid": 2, "market_tickers": ["KXPRES-28-DEM"], "action": "add_markets",
            "send_initial_snapshot": True} in updates
    assert {"sid": 3, "market_tickers": ["KXPRES-28-DEM"], "action": "add_markets"} in updates
    [quote] = await next_events(receive)  # its snapshot
    assert quote.market_id == "KXPRES-28-DEM"
    book.remove("KXBTCD-26APR0317")
    await fake.wait_for(lambda: not fake.subscribed("trade", MARKETS[0]))
    await fake.trade(MARKETS[0], price="0.5", count="5")  # not ours any more
    await fake.trade("KXPRES-28-DEM", price="0.5", count="5")
    [trade] = await next_events(receive)
    assert trade.market_id == "KXPRES-28-DEM"
    assert len(fake.ws.conns) == 1 and feed.health.counters.get("reconnects", 0) == 0


FAULTS = ["drop", "close_1011", "close_1001", "stall", "reject", "overflow_trade",
          "overflow_ticker", "error10_trade", "error17_ticker", "gap", "garbage"]
RECONNECTING = {"drop", "close_1011", "close_1001", "stall", "reject"}


async def inject(fake, fault):
    """Inject ``fault``, then make a trade the feed cannot see live (except for garbage)."""
    lost_on = MARKETS[0]
    if fault == "drop":
        await fake.drop()
    elif fault.startswith("close_"):
        await fake.close(int(fault[6:]), "bye")
    elif fault == "stall":
        fake.stall()
    elif fault == "reject":
        fake.reject_next(3, 503)
        await fake.drop()
    elif fault.startswith("overflow_"):
        await fake.overflow(fault[9:])
    elif fault.startswith("error"):
        code, channel = fault[5:].split("_")
        await fake.channel_error(channel, int(code), "Channel error" if code == "10"
                                 else "Internal error")
    elif fault == "gap":
        return await fake.trade(lost_on, price="0.52", count="7", lose=True)
    elif fault == "garbage":
        await fake.garbage()
        return None
    return await fake.trade(lost_on, price="0.52", count="7")


@pytest.mark.parametrize("fault", FAULTS)
async def test_recovers_from_fault_without_duplicates(nursery, start_fake, make_feed,
                                                      autojump_clock, fault):
    fake, _, feed, receive = await running(nursery, start_fake, make_feed)
    seen = await next_events(receive, 3)  # snapshots
    before = await fake.trade(MARKETS[0], price="0.51", count="3")
    seen += await next_events(receive)
    stalled_at = virtual_now()
    lost = await inject(fake, fault)
    if fault == "gap":  # the next frame on that channel reveals the gap
        await fake.trade(MARKETS[1], price="0.40", count="2")
    if fault in RECONNECTING:
        await fake.wait_for(lambda: len(fake.ws.live) == 1 and len(fake.ws.conns) == 2
                            and all_subscribed(fake), timeout=120)
    else:
        await fake.wait_for(lambda: all_subscribed(fake), timeout=30)
        await trio.sleep(1)
        assert len(fake.ws.conns) == 1, "recovered without reconnecting"
    # everything flows again, on every market, exactly once
    after = [await fake.trade(m, price="0.55", count="11") for m in MARKETS]
    expected = {before, *after} | ({lost} if lost else set())
    with trio.fail_after(60):
        while not expected <= {e.ext_id for e in seen}:
            seen += await next_events(receive)
    await trio.sleep(2)
    seen += await drain(receive)
    trades = [e.ext_id for e in seen if e.event_kind == "trade"]
    assert len(trades) == len(set(trades)), "a trade was delivered twice"
    quotes = [(e.market_id, e.yes_price, e.yes_bid, e.yes_ask, e.volume)
              for e in seen if e.event_kind == "quote"]
    assert len(quotes) == len(set(quotes)), "an unchanged quote was repeated"
    c = feed.health.counters
    if fault in RECONNECTING:
        assert c["reconnects"] == 1 and feed.health.state == "connected"
        reason = feed.health.info["last_disconnect"]
        assert {"drop": "connection closed (1006", "close_1011": "(1011 INTERNAL_ERROR: bye)",
                "close_1001": "(1001 GOING_AWAY: bye)", "stall": "dead link",
                "reject": "handshake rejected (HTTP 503)"}[fault] in reason
        assert c["backfilled"] >= 1  # the trade made while away came back over REST
        handshakes = [r for r in fake.requests if r.kind == "ws" and r.status == 101]
        stamps = [r.signed_ts for r in handshakes]
        assert len(stamps) == 2 and len(set(stamps)) == 2  # re-signed for the new connection
    elif fault == "garbage":
        assert c["garbage"] >= 6 and c["unknown_frames"] >= 1 and "reconnects" not in c
    else:
        assert c["resubscribes"] >= 1 and "reconnects" not in c
        if fault == "gap":
            assert c["gaps"] == 1 and c["backfilled"] >= 1
        else:
            code = 25 if fault.startswith("overflow") else int(fault[5:7])
            assert c[f"error_{code}"] == 1
    if fault == "stall":  # noticed by the watchdog: no frames and no pong for 30 s
        second = [r for r in fake.requests if r.kind == "ws" and r.status == 101][1]
        assert 30 <= second.at - stalled_at <= 30 + 10 + 1
    if fault == "reject":
        rejected = [r.status for r in fake.requests if r.kind == "ws"]
        assert rejected == [101, 503, 503, 503, 101]


async def test_a_full_pipeline_is_backpressure_not_a_dead_link(nursery, start_fake, make_feed,
                                                               autojump_clock):
    fake = await start_fake(now=virtual_now)
    crypto_book(fake)
    feed = make_feed(fake, MemoryBook(["KXPRES-28-DEM"]), now=virtual_now)
    send, receive = trio.open_memory_channel(0)  # nobody reads for a while
    await nursery.start(feed.run, send)
    ids = [await fake.trade("KXPRES-28-DEM", price="0.5", count="1") for _ in range(3)]
    await trio.sleep(120)  # four stall periods with the feed blocked on the channel
    assert len(fake.ws.conns) == 1 and "disconnects" not in feed.health.counters
    events = await next_events(receive, 4)  # the snapshot, then the three trades
    assert [e.ext_id for e in events if e.event_kind == "trade"] == ids
