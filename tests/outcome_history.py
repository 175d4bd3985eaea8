"""A hand-built stored history for the outcome tests: one market, one signal, its later
trades and a clock market that moves data_end (the expected outcomes are counted by hand in
tests/daemon/test_grader.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from trade_hunter.daemon.event_writes import write_batch
from trade_hunter.daemon.store import Store
from trade_hunter.plugins.models import MarketEvent, SpikeSignal

DAY = 86400.0
D0 = (time.time() // DAY - 2) * DAY  # two days ago, 00:00 UTC (inside retention)
T0 = D0 + 10 * 3600                   # the signal: 10:00
MARKET = "KXTEST-M"


def trade(ts: float, price: float, market: str = MARKET) -> MarketEvent:
    return MarketEvent(platform="kalshi", market_id=market, title="Test market",
                       yes_price=price, volume=10, event_kind="trade", trade_side="yes",
                       trade_size=10, timestamp=ts, received_at=ts, source="test")


def clock(ts: float) -> MarketEvent:
    """A quote of another market: moves data_end without touching the graded market."""
    return MarketEvent(platform="kalshi", market_id="KXTEST-CLOCK", title="Clock",
                       yes_price=0.5, event_kind="quote", timestamp=ts, received_at=ts,
                       source="test")


def signal(sid: int, event: MarketEvent, direction: str = "up",
           price: float | None = None, tier: str = "notable") -> SpikeSignal:
    return SpikeSignal(
        id=sid, market_id=event.market_id, platform="kalshi", title=event.title,
        topic="general", source="test", tier=tier, score=5.0, rule="hard",  # type: ignore[arg-type]
        volume_delta=500, baseline=10, volume_multiple=50, price_move=0.05, price_score=2,
        direction=direction, yes_price=event.yes_price if price is None else price,  # type: ignore[arg-type]
        event=event, created_at=event.timestamp)


# The market: two moved trades in the morning, the signal at 10:00 (up, 50¢), then
# +30 s 53¢, +200 s 48¢, +800 s 50¢, +3000 s 45¢.
MORNING = [trade(D0 + 8 * 3600, 0.40), trade(D0 + 8 * 3600 + 30, 0.42)]
SIGNAL_EVENT = trade(T0, 0.50)
AFTER = [trade(T0 + 30, 0.53), trade(T0 + 200, 0.48), trade(T0 + 800, 0.50),
         trade(T0 + 3000, 0.45)]


def store_history(store: Store, events: list[MarketEvent], signals: Sequence[SpikeSignal] = ()
                  ) -> None:
    store.submit(write_batch(sorted(events, key=lambda e: e.timestamp), list(signals), []))




TIERS = ("high conviction flow", "notable", "watch")


def many_markets(store: Store, count: int = 9) -> None:
    """``count`` markets like the one above, each with an up signal at 10:00: the even ones
    keep rising after it (continued), the odd ones fall (reversed); tiers in turn; and the
    clock past the day's end, so every outcome is complete."""
    events: list[MarketEvent] = [clock(D0 + DAY + 3600)]
    signals = []
    for k in range(count):
        market = f"KXTEST-M{k}"
        sign = 1 if k % 2 == 0 else -1
        t0 = T0 + 60 * k
        event = trade(t0, 0.50, market)
        events += [trade(D0 + 8 * 3600, 0.40, market), trade(D0 + 8 * 3600 + 30, 0.42, market),
                   event]
        events += [trade(t0 + dt, round(0.50 + sign * step, 2), market)
                   for dt, step in ((30, 0.02), (200, 0.04), (800, 0.05), (3000, 0.07))]
        signals.append(signal(k + 1, event, tier=TIERS[k % 3]))
    store_history(store, events, signals)
