"""Resolution through the fake Gamma: event and market slugs, condition ids (paged),
expired and unknown identifiers, a Gamma outage retried."""

from __future__ import annotations

import pytest
import trio
from th_polymarket_fake.helpers import MemoryBook, fed_book, virtual_now

from trade_hunter.plugins.builtin.polymarket.identifiers import normalize


async def resolved(nursery, start_fake, make_feed, idents, *, prepare=None, **kw):
    fake = await start_fake(now=virtual_now)
    fed_book(fake)
    if prepare:
        prepare(fake)
    book = MemoryBook(idents)
    feed = make_feed(fake, book, now=virtual_now, **kw)
    send, _ = trio.open_memory_channel(1000)
    await nursery.start(feed.run, send)
    await feed.tracker.ready.wait()
    return fake, book, feed


async def test_slugs_and_condition_ids_resolve(nursery, start_fake, make_feed, autojump_clock):
    fake0 = None

    def prepare(fake):
        nonlocal fake0
        fake0 = fake
    cid = "0x" + f"{4:064x}"  # the fourth market: bitcoin-above-100k-on-dec-31
    fake, book, feed = await resolved(
        nursery, start_fake, make_feed, ["fed-decision-in-december", "fed-hike-december",
                                          "fed-no-change-december", cid, "no-such-thing"],
        gamma_page=1, prepare=prepare)
    items = book.items
    assert (items["fed-decision-in-december"].status,
            items["fed-decision-in-december"].markets) == (
        "active", ["fed-cut-25-bps-december", "fed-no-change-december"])
    assert items["fed-decision-in-december"].detail == "event: 2 open market(s)"
    assert (items["fed-no-change-december"].status, items["fed-no-change-december"].markets) == (
        "active", ["fed-no-change-december"])
    assert items["fed-hike-december"].status == "expired"
    assert items["fed-hike-december"].detail.startswith("market closed")
    assert (items[cid].status, items[cid].markets) == ("active", ["bitcoin-above-100k-on-dec-31"])
    assert items["no-such-thing"].status == "unresolved"
    assert items["no-such-thing"].detail == "unknown: not an event or market on Gamma"
    # condition ids page with limit/offset until a short page
    paged = [(q["offset"], q["limit"]) for _, path, q, _ in fake.requests
             if path == "/markets"]
    assert paged == [(["0"], ["1"]), (["1"], ["1"])]
    info = feed.tracker.by_slug["bitcoin-above-100k-on-dec-31"]
    assert (info.title, info.topic, info.url) == (
        "Will Bitcoin be above $100k on Dec 31?", "crypto",
        "https://polymarket.com/event/bitcoin-100k-2026")
    assert feed.health.detail.startswith("3 active, 1 unresolved: no-such-thing")
    assert "1 expired: fed-hike-december" in feed.health.detail


async def test_an_event_without_open_markets_is_expired(nursery, start_fake, make_feed,
                                                        autojump_clock):
    def prepare(fake):
        for m in fake.markets.values():
            if m.event_slug == "fed-decision-in-december":
                m.closed = True
        fake.events["fed-decision-in-december"].closed = True
    _, book, _ = await resolved(nursery, start_fake, make_feed, ["fed-decision-in-december"],
                                prepare=prepare)
    item = book.items["fed-decision-in-december"]
    assert (item.status, item.detail) == ("expired", "event closed: no open market")


async def test_a_gamma_outage_is_retried(nursery, start_fake, make_feed, autojump_clock):
    def prepare(fake):
        fake.fail_next = [503] * 4  # more than one lookup's retries
    fake, book, feed = await resolved(nursery, start_fake, make_feed,
                                      ["bitcoin-above-100k-on-dec-31"], prepare=prepare)
    item = book.items["bitcoin-above-100k-on-dec-31"]
    with trio.fail_after(120):
        while item.status != "active":
            await trio.sleep(1)
    assert feed.health.counters["gamma_errors"] == 4
    # four failed attempts at the event lookup, then the event 404 and the market slug
    assert [p for _, p, _, _ in fake.requests][-2:] == [
        "/events/slug/bitcoin-above-100k-on-dec-31", "/markets/slug/bitcoin-above-100k-on-dec-31"]


@pytest.mark.parametrize(("raw", "want"), [
    ("Fed-Decision-In-December", "fed-decision-in-december"),
    ("https://polymarket.com/event/fed-decision-in-december?tid=1", "fed-decision-in-december"),
    ("0x" + "AB" * 32, "0x" + "ab" * 32)])
def test_identifiers_normalise(raw, want):
    assert normalize(raw) == want


@pytest.mark.parametrize("raw", ["", "has space", "0x12", "-leading", "ünïcode"])
def test_bad_identifiers_say_what_one_looks_like(raw):
    with pytest.raises(ValueError, match="event or market slug"):
        normalize(raw)
