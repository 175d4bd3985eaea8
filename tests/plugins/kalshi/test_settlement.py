"""Settlement from the fake exchange: the feed's ``settlement`` capability reads ``result`` of
``GET /markets/{ticker}`` once the market is determined or finalized, and the daemon's
settlement poller stores it for the markets that had signals, politely."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from th_kalshi_fake.helpers import MemoryBook, crypto_book

from trade_hunter.daemon import outcome_store
from trade_hunter.daemon.settlement import Settler, capable
from trade_hunter.daemon.store import Store
from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.builtin.kalshi.rest import RestError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from outcome_history import T0, signal, store_history, trade

WON, LOST, CLOSED, OPEN = ("KXBTCD-26APR0317-T66999.99", "KXBTCD-26APR0317-T67999.99",
                           "KXPRES-28-DEM", "KXPRES-28-GOP")


def book(fake) -> None:
    crypto_book(fake)
    now = fake.now()
    fake.markets[WON].state, fake.markets[WON].result = "determined", "yes"
    fake.markets[LOST].state, fake.markets[LOST].result = "finalized", "no"
    fake.markets[CLOSED].close_ts = now - 60  # closed, not determined yet: no result
    fake.add_market(OPEN, "KXPRES-28", "Republican party")


async def test_the_feed_reads_the_result_once_determined(start_fake, make_feed):
    fake = await start_fake()
    book(fake)
    feed = make_feed(fake, MemoryBook())
    with pytest.raises(RestError, match="not running"):  # nothing to ask with: no answer
        await feed.settlement(WON)
    async with feed.rest:
        assert await feed.settlement(WON) == "yes"
        assert await feed.settlement(LOST) == "no"
        assert await feed.settlement(CLOSED) is None
        assert await feed.settlement(OPEN) is None
        assert await feed.settlement("KXNOPE-1-2") is None  # unknown to the exchange


async def test_the_poller_stores_settlements_of_markets_with_signals(start_fake, make_feed,
                                                                     tmp_path):
    fake = await start_fake()
    book(fake)
    feed = make_feed(fake, MemoryBook())
    store = Store(tmp_path / "db.sqlite")
    store.open()
    try:
        events = [trade(T0 + i, 0.5, m) for i, m in enumerate((WON, LOST, OPEN))]
        signals = [signal(i + 1, e) for i, e in enumerate(events)]
        store_history(store, events, signals)
        store.submit(outcome_store.write_outcomes(
            [outcome_store.outcome_row(s, [], [], True) for s in signals]))
        await store.flush()
        # In the first seconds the feeds are still starting: nobody is asked.
        early = ComponentHealth("outcomes", "component")
        assert await Settler(store, capable([("kalshi", feed)]), early, clock=lambda: T0)() == 0
        assert early.counters == {}
        health = ComponentHealth("outcomes", "component")
        clock = [T0]
        settler = Settler(store, capable([("kalshi", feed), ("simulated", object())]), health,
                          per_pass=2, recheck=600, grace=0, clock=lambda: clock[0])
        async with feed.rest:
            assert await settler() == 2       # two markets asked (per_pass), both settled
            assert await settler() == 0       # the third: still open
            assert await settler() == 0       # everything asked within RECHECK: nothing
            clock[0] += 601
            fake.markets[OPEN].state, fake.markets[OPEN].result = "finalized", "no"
        # The feed stopped: no answer, nothing recorded, the rounds pause for a minute.
        assert await settler() == 0
        assert health.counters["settlement_errors"] == 1
        async with feed.rest:
            assert await settler() == 0       # still paused
            clock[0] += 61
            assert await settler() == 1       # asked again: now settled
            assert await settler() == 0       # settled markets are never asked again
        assert health.counters["settlement_checks"] == 4
        stored = outcome_store.settlements(store)
        assert {m: r for m, (r, _) in stored.items()} == {WON: "yes", LOST: "no", OPEN: "no"}
        rows = outcome_store.scored_signals(store, None, None)
        assert sorted((r.market_id, r.result) for r in rows) == sorted(
            [(WON, "yes"), (LOST, "no"), (OPEN, "no")])
    finally:
        store.close()
