"""The Polymarket feed against the local fake on trio's autojump clock: subscription and live
add/remove, PING/PONG, each message type, and recovery from drops, stalls and rejected
handshakes with everything resubscribed and nothing duplicated."""

from __future__ import annotations

import pytest
import trio
from th_polymarket_fake.helpers import MemoryBook, drain, fed_book, next_events, virtual_now

IDENTS = ("fed-decision-in-december", "bitcoin-above-100k-on-dec-31")


async def running(nursery, start_fake, make_feed, idents=IDENTS, **env):
    fake = await start_fake(now=virtual_now)
    fed_book(fake)
    book = MemoryBook(idents)
    feed = make_feed(fake, book, now=virtual_now, **env)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    return fake, book, feed, receive


def yes(fake, *slugs):
    return {fake.markets[s].yes_token for s in slugs}


OPEN = ("fed-cut-25-bps-december", "fed-no-change-december", "bitcoin-above-100k-on-dec-31")


async def test_subscribes_yes_tokens_and_streams_each_message_type(
        nursery, start_fake, make_feed, autojump_clock):
    fake, book, feed, receive = await running(nursery, start_fake, make_feed)
    assert feed.health.state == "connected"
    [first] = fake.received()
    assert first == {"assets_ids": sorted(yes(fake, *OPEN)), "type": "market",
                     "custom_feature_enabled": True}
    # the initial dump: one book per asset, as a JSON array → one quote per market
    snapshot = await next_events(receive, 3)
    assert sorted(e.market_id for e in snapshot) == sorted(OPEN)
    q = snapshot[0]
    assert (q.event_kind, q.yes_bid, q.yes_ask, q.yes_price) == ("quote", 0.49, 0.52, 0.505)
    assert q.source == q.platform == "polymarket"
    cut = fake.markets["fed-cut-25-bps-december"]
    await fake.trade("fed-cut-25-bps-december", price="0.61", size="219.5", side="SELL")
    [t] = await next_events(receive)
    assert (t.event_kind, t.yes_price, t.trade_size, t.volume, t.volume_kind, t.trade_side) == (
        "trade", 0.61, 219.5, 219.5, "delta", "no")
    assert t.title == "Will the Fed cut 25 bps in December?" and t.topic == "macro"
    assert t.closes_at == pytest.approx(cut.end_ts)
    assert t.metadata["url"] == "https://polymarket.com/event/fed-decision-in-december"
    assert t.timestamp == pytest.approx(virtual_now(), abs=1)
    # price_change, the current shape: the YES entry is ours, the NO one is skipped
    await fake.price_change("fed-cut-25-bps-december", price="0.6", size="10", side="BUY",
                            best_bid="0.6", best_ask="0.63")
    [q] = await next_events(receive)
    assert (q.event_kind, q.yes_bid, q.yes_ask, q.yes_price) == ("quote", 0.6, 0.63, 0.615)
    # the same best prices again (a change deep in the book): not repeated
    await fake.price_change("fed-cut-25-bps-december", price="0.5", size="1", side="BUY",
                            best_bid="0.6", best_ask="0.63")
    await fake.book("bitcoin-above-100k-on-dec-31", [("0.30", "5")], [("0.34", "7")])
    [b] = await next_events(receive)
    assert (b.market_id, b.yes_bid, b.yes_ask, b.topic) == (
        "bitcoin-above-100k-on-dec-31", 0.3, 0.34, "crypto")
    await fake.tick_size_change("fed-cut-25-bps-december")
    await trio.sleep(1)
    assert drain(receive) == []
    c = feed.health.counters
    assert c["msg_book"] == 4 and c["msg_price_change"] == 2 and c["unchanged_quotes"] == 1
    assert c["msg_last_trade_price"] == 1 and c["msg_tick_size_change"] == 1
    assert feed.health.info["markets"] == sorted(OPEN)
    assert book.items["fed-decision-in-december"].status == "active"
    assert book.items["fed-decision-in-december"].markets == list(OPEN[:2])


async def test_ping_pong_keeps_a_quiet_link(nursery, start_fake, make_feed, autojump_clock):
    fake, _, feed, _ = await running(nursery, start_fake, make_feed)
    await trio.sleep(95)
    [conn] = fake.ws.conns
    assert 9 <= conn.pings <= 10 and feed.health.counters["pongs"] == conn.pings
    assert feed.health.counters["connects"] == 1 and feed.health.state == "connected"


async def test_added_and_removed_on_the_live_connection(nursery, start_fake, make_feed,
                                                        autojump_clock):
    fake, book, _feed, receive = await running(nursery, start_fake, make_feed,
                                              ("bitcoin-above-100k-on-dec-31",))
    await next_events(receive)
    book.add("fed-decision-in-december")
    await fake.wait_for(lambda: len(fake.received()) == 2)
    assert fake.received()[1] == {"assets_ids": sorted(yes(fake, *OPEN[:2])),
                                  "operation": "subscribe", "custom_feature_enabled": True}
    added = await next_events(receive, 2)  # the new assets' books
    assert sorted(e.market_id for e in added) == list(OPEN[:2])
    book.remove("bitcoin-above-100k-on-dec-31")
    await fake.wait_for(lambda: len(fake.received()) == 3)
    assert fake.received()[2] == {"assets_ids": sorted(yes(fake, OPEN[2])),
                                  "operation": "unsubscribe"}
    assert fake.subscribed() == yes(fake, *OPEN[:2])
    assert len(fake.ws.conns) == 1  # never reconnected for a change


async def test_lifecycle_new_market_joins_and_resolved_expires(nursery, start_fake, make_feed,
                                                               autojump_clock):
    fake, book, _feed, _receive = await running(nursery, start_fake, make_feed,
                                              ("fed-decision-in-december",
                                               "bitcoin-above-100k-on-dec-31"))
    fake.add_market("fed-cut-50-bps-december", "Will the Fed cut 50 bps in December?",
                    "fed-decision-in-december")
    await fake.lifecycle("new_market", "fed-cut-50-bps-december")
    await fake.wait_for(lambda: fake.markets["fed-cut-50-bps-december"].yes_token
                        in fake.subscribed())
    fake.markets["bitcoin-above-100k-on-dec-31"].closed = True
    await fake.lifecycle("market_resolved", "bitcoin-above-100k-on-dec-31",
                         winning_asset_id=fake.markets["bitcoin-above-100k-on-dec-31"].yes_token,
                         winning_outcome="Yes")
    item = book.items["bitcoin-above-100k-on-dec-31"]
    with trio.fail_after(30):
        while item.status != "expired":
            await trio.sleep(0.5)
    assert item.detail.startswith("market closed")
    assert fake.markets["bitcoin-above-100k-on-dec-31"].yes_token not in fake.subscribed()


@pytest.mark.parametrize("fault", ["drop", "close", "stall", "reject"])
async def test_recovers_resubscribing_everything_without_duplicates(
        nursery, start_fake, make_feed, autojump_clock, fault):
    fake, _, feed, receive = await running(nursery, start_fake, make_feed,
                                           POLYMARKET_STALL_SECONDS="20")
    await next_events(receive, 3)
    [first] = fake.ws.conns
    if fault == "reject":
        fake.reject_next(2, 503)
        await fake.drop()
    elif fault == "stall":
        fake.stall()
    else:
        await getattr(fake, fault)()
    await fake.wait_for(lambda: first.closed and len(fake.ws.live) == 1
                        and fake.ws.live[0].assets)
    [conn] = fake.ws.live
    assert conn.received == [{"assets_ids": sorted(yes(fake, *OPEN)), "type": "market",
                              "custom_feature_enabled": True}]
    await trio.sleep(1)
    assert drain(receive) == []  # the same books again: no repeated quotes
    await fake.trade("fed-no-change-december", price="0.2", size="5")
    [t] = await next_events(receive)
    assert t.trade_side == "yes"
    await trio.sleep(2)
    assert drain(receive) == []  # one connection, one copy
    c = feed.health.counters
    assert c["reconnects"] >= 1 and c["disconnects"] >= 1
    if fault == "reject":
        assert [s for _, s in fake.ws.handshakes].count(503) == 2
        assert "handshake rejected (HTTP 503)" in str(feed.health.info.get("last_disconnect")) \
            or c["disconnects"] >= 3
    if fault == "stall":
        assert "dead link" in feed.health.info["last_disconnect"]


async def test_garbage_is_counted_and_the_stream_goes_on(nursery, start_fake, make_feed,
                                                         autojump_clock):
    fake, _, feed, receive = await running(nursery, start_fake, make_feed)
    await next_events(receive, 3)
    await fake.garbage()
    await fake.trade("fed-cut-25-bps-december", price="0.7", size="3")
    [t] = await next_events(receive)
    assert t.yes_price == 0.7
    assert feed.health.counters["garbage"] == 5
    assert feed.health.counters["connects"] == 1
