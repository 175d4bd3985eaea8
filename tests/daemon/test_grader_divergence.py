"""The live grader on a divergence signal: both venues' stored events say whether the gap
closed within each horizon and which venue moved; complete after the last horizon (no
baseline to wait for); shown on the card (``/api/state``'s outcome dicts) by venue name."""

from __future__ import annotations

import sys
from pathlib import Path

from trade_hunter.daemon.grader import Grader
from trade_hunter.daemon.outcome_store import outcome_dicts, waiting_signals
from trade_hunter.daemon.store import Store
from trade_hunter.daemon.supervisor import ComponentHealth
from trade_hunter.plugins.models import Divergence, MarketEvent, SpikeSignal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from outcome_history import T0, clock, store_history

K, P = "KXFEDDECISION-26DEC-C25", "fed-cut-25-bps-december"


def quote(platform: str, market: str, price: float, ts: float) -> MarketEvent:
    return MarketEvent(platform=platform, market_id=market, title=f"{market} title",
                       yes_price=price, event_kind="quote", timestamp=ts, received_at=ts,
                       source=platform)


def divergence_signal(event: MarketEvent) -> SpikeSignal:
    return SpikeSignal(
        id=1, market_id=K, platform="kalshi", title="apart", topic="macro", source="divergence",
        tier="notable", score=3.0, rule="divergence", volume_delta=0.0, baseline=0.0,
        volume_multiple=0.0, price_move=0.15, price_score=0.0, direction="flat",
        yes_price=0.40, event=event, detector="divergence", created_at=T0,
        thresholds={"DIVERGENCE_MIN_GAP": 0.05, "DIVERGENCE_MIN_SECONDS": 60.0},
        divergence=Divergence(pair_id=1, mapping="yes", a_platform="kalshi", a_market=K,
                              a_price=0.40, b_platform="polymarket", b_market=P, b_price=0.55,
                              gap=-0.15, seconds=61.0))


async def test_a_divergence_is_graded_from_both_venues(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.open()
    published: dict[int, list] = {}
    grader = Grader(store, ComponentHealth("outcomes", "component"),
                    published=lambda sid, h: published.__setitem__(sid, h))
    try:
        moment = quote("kalshi", K, 0.40, T0)
        # Polymarket comes down to Kalshi: 0.52 at +2 min, 0.44 at +10 min; Kalshi holds.
        store_history(store, [quote("polymarket", P, 0.55, T0 - 1), moment,
                              quote("polymarket", P, 0.52, T0 + 120),
                              quote("kalshi", K, 0.40, T0 + 500),
                              quote("polymarket", P, 0.44, T0 + 600), clock(T0 + 400)],
                      [divergence_signal(moment)])
        await store.flush()
        assert await grader.recover() == 1
        assert await grader.pass_once() == 1
        first = published[1]
        assert [h.outcome for h in first] == ["open", "open", "no data", "no data"]
        assert [h.moved for h in first[:2]] == ["neither", "b"]

        store_history(store, [clock(T0 + 3700)])
        await store.flush()
        assert await grader.pass_once() == 1
        final = published[1]
        assert [h.outcome for h in final] == ["open", "open", "converged", "converged"]
        assert final[2].gap == -0.04 and final[2].b_move == -0.11 and final[2].a_move == 0.0
        assert 1 not in grader.open and waiting_signals(store) == (0, 0)  # complete
        [(complete, rule)] = store.query("SELECT complete, rule FROM outcomes")
        assert (complete, rule) == (1, "divergence")
        shown = outcome_dicts(final, divergence_signal(moment).divergence)
        assert (shown[2]["outcome"], shown[2]["moved"], shown[2]["gap"]) == (
            "converged", "polymarket", -0.04)
        assert set(outcome_dicts(final)[0]) == {"horizon", "seconds", "outcome", "price",
                                                "change", "favorable", "adverse", "capped"}
    finally:
        store.close()
