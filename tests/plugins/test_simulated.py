from __future__ import annotations

import trio

from trade_hunter.plugins.builtin.simulated import MARKETS, SimulatedFeed
from trade_hunter.plugins.builtin.spike import SpikeDetector


def fingerprint(feed: SimulatedFeed, steps: int) -> list[tuple]:
    out = []
    for i in range(steps):
        batch = feed.spike() if i % 50 == 49 else feed.step()
        out.extend((e.market_id, e.event_kind, e.yes_price, e.volume, e.trade_side)
                   for e in batch)
    return out


def test_deterministic_under_a_seed():
    assert fingerprint(SimulatedFeed("7"), 500) == fingerprint(SimulatedFeed("7"), 500)
    assert fingerprint(SimulatedFeed("7"), 500) != fingerprint(SimulatedFeed("8"), 500)


def test_markets_topics_prices_and_volume_kinds():
    assert len(MARKETS) >= 30
    assert {t for _, _, t in MARKETS} == {"crypto", "elections", "sports", "macro", "geopolitics"}
    feed = SimulatedFeed("1")
    events = [e for _ in range(2000) for e in feed.step()]
    for e in events:
        assert 0.01 <= e.yes_price <= 0.99
        if e.event_kind == "trade":
            assert e.volume_kind == "delta" and e.trade_side in ("yes", "no")
            assert e.trade_size == e.volume > 0
        else:
            assert e.volume_kind == "cumulative" and e.yes_bid <= e.yes_price <= e.yes_ask
    assert {e.event_kind for e in events} == {"trade", "quote"}


def test_spikes_are_genuine_for_the_detector():
    feed = SimulatedFeed("3")
    detector = SpikeDetector({"SPIKE_COOLDOWN_SECONDS": 0})  # events share one wall second
    states: dict = {}
    for _ in range(600):
        for e in feed.step():
            detector.process(e, states.setdefault(e.market_id, detector.new_state()))
    for _ in range(10):
        fired = [detector.process(e, states.setdefault(e.market_id, detector.new_state()))
                 for e in feed.spike()]
        assert any(fired)


async def test_feed_runs_and_spikes_within_a_minute(autojump_clock):
    feed = SimulatedFeed("5")
    send, receive = trio.open_memory_channel(100_000)
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run, send)
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    batches = []
    while True:
        try:
            batches.append(receive.receive_nowait())
        except trio.WouldBlock:
            break
    sizes = [len(b) for b in batches]
    assert sum(sizes) > 300 and max(sizes) >= 2  # flow, and at least one burst


async def test_a_restarted_simulation_resumes_from_the_stored_prices(tmp_path):
    # A restart used to re-randomise every price while the detector's baselines stayed:
    # jumps of tens of cents, a burst of fake signals. Now it goes on from the stored ones.
    from trade_hunter.daemon.event_writes import write_batch
    from trade_hunter.daemon.store import Store

    store = Store(tmp_path / "trade-hunter.db")
    await trio.to_thread.run_sync(store.open)
    try:
        before = SimulatedFeed("first run")
        history = [e for _ in range(3000) for e in before.step()]
        store.submit(write_batch(history, [], []))
        await store.flush()
        last = {e.market_id: e.yes_price for e in history}

        again = SimulatedFeed("another seed", store=store, tick=0)
        send, receive = trio.open_memory_channel(0)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(again.run, send)
            first = [e for _ in range(300) for e in await receive.receive()]
            nursery.cancel_scope.cancel()
        seen: set[str] = set()
        for e in first:  # each market's first new price is its stored one, ± one cent
            if e.market_id in seen:
                continue
            seen.add(e.market_id)
            assert abs(e.yes_price - last[e.market_id]) <= 0.0100001, e.market_id
        assert len(seen) >= 20
        fresh = SimulatedFeed("another seed")  # without the store: prices of its own
        assert sum(abs(m.price - last[m.market_id]) > 0.05 for m in fresh.markets) > 10
    finally:
        await trio.to_thread.run_sync(store.close)
