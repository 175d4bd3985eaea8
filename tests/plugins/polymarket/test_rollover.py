"""Recurring events roll over by themselves: when the tracked event's market ends, the next
open event of its Gamma series is subscribed in its place (on the live connection) and its
events say where they rolled over from; a successor listed only after the end is found by
the short re-checks that follow it."""

from __future__ import annotations

import trio
from th_polymarket_fake.helpers import T0, MemoryBook, next_events, virtual_now

HOUR = 3600.0


def hourly(fake, slug: str, ends_at: float) -> None:
    """An event of the hourly series ending ``ends_at`` seconds after the test's start."""
    fake.add_event(slug, f"Bitcoin up or down ({slug})", ["Crypto"], series="btc-up-or-down")
    fake.add_market(f"{slug}-market", f"Bitcoin up or down? ({slug})", slug,
                    end_ts=T0 + ends_at)


async def test_a_recurring_event_rolls_over_to_its_successor(nursery, start_fake, make_feed,
                                                             autojump_clock):
    fake = await start_fake(now=virtual_now)
    hourly(fake, "btc-updown-1pm", HOUR)
    hourly(fake, "btc-updown-2pm", 2 * HOUR)
    book = MemoryBook(["btc-updown-1pm"])
    feed = make_feed(fake, book, now=virtual_now)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    one, two = fake.markets["btc-updown-1pm-market"], fake.markets["btc-updown-2pm-market"]
    assert fake.subscribed() == {one.yes_token}
    [first] = await next_events(receive)
    assert first.market_id == "btc-updown-1pm-market"
    assert "rolled_over_from" not in first.metadata

    # the hour ends: the market stops trading (Gamma marks it closed only once resolved)
    await fake.wait_for(lambda: two.yes_token in fake.subscribed(), timeout=2 * HOUR)
    assert virtual_now() >= one.end_ts
    assert fake.subscribed() == {two.yes_token}  # the old one was unsubscribed
    assert fake.received()[-2:] == [
        {"assets_ids": [one.yes_token], "operation": "unsubscribe"},
        {"assets_ids": [two.yes_token], "operation": "subscribe",
         "custom_feature_enabled": True}]
    item = book.items["btc-updown-1pm"]
    assert (item.status, item.markets) == ("active", ["btc-updown-2pm-market"])
    assert item.detail == ("event: 1 open market(s); rolled over from btc-updown-1pm to "
                           "btc-updown-2pm")
    [book_quote] = await next_events(receive)
    await fake.trade("btc-updown-2pm-market", price="0.55", size="12")
    [trade] = await next_events(receive)
    for e in (book_quote, trade):
        assert e.market_id == "btc-updown-2pm-market"
        assert e.metadata["rolled_over_from"] == "btc-updown-1pm"
    assert feed.health.counters["rollovers"] == 1
    assert feed.health.info["last_rollover"]["to"] == "btc-updown-2pm"
    series_lookups = [q for _, path, q, _ in fake.requests if path == "/events"]
    assert series_lookups[0]["series_id"] == [str(fake.series_ids["btc-up-or-down"])]
    assert series_lookups[0]["closed"] == ["false"]
    assert len(fake.ws.conns) == 1  # no reconnect for a rollover


async def test_a_successor_listed_late_is_picked_up(nursery, start_fake, make_feed,
                                                    autojump_clock):
    fake = await start_fake(now=virtual_now)
    hourly(fake, "btc-updown-1pm", HOUR)
    book = MemoryBook(["btc-updown-1pm"])
    feed = make_feed(fake, book, now=virtual_now)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    await next_events(receive)
    await trio.sleep(HOUR + 60)  # ended a minute ago, no successor yet: still the old one
    item = book.items["btc-updown-1pm"]
    assert (item.status, item.markets) == ("active", ["btc-updown-1pm-market"])
    hourly(fake, "btc-updown-2pm", 2 * HOUR)  # listed late
    two = fake.markets["btc-updown-2pm-market"]
    await fake.wait_for(lambda: two.yes_token in fake.subscribed(), timeout=60)
    assert item.markets == ["btc-updown-2pm-market"]
    # and the next hour rolls on again from the followed event
    hourly(fake, "btc-updown-3pm", 3 * HOUR)
    three = fake.markets["btc-updown-3pm-market"]
    await fake.wait_for(lambda: three.yes_token in fake.subscribed(), timeout=3 * HOUR)
    assert virtual_now() >= two.end_ts
    assert item.detail.endswith("rolled over from btc-updown-2pm to btc-updown-3pm")
    assert feed.health.counters["rollovers"] == 2


async def test_an_event_outside_a_series_does_not_roll(nursery, start_fake, make_feed,
                                                       autojump_clock):
    fake = await start_fake(now=virtual_now)
    fake.add_event("one-off", "A one-off question?", ["Politics"])
    fake.add_market("one-off-market", "A one-off question?", "one-off",
                    end_ts=virtual_now() + HOUR)
    book = MemoryBook(["one-off"])
    feed = make_feed(fake, book, now=virtual_now)
    send, receive = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    await next_events(receive)
    await trio.sleep(2 * HOUR)  # past its end date but not closed: still followed
    item = book.items["one-off"]
    assert (item.status, item.markets) == ("active", ["one-off-market"])
    assert not [path for _, path, _, _ in fake.requests if path == "/events"]
