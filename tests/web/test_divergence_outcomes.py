"""A divergence signal's grading end to end in a real daemon: two venues' events through the
ingest, the pair, the rule's signal and its "converged" note, the grader's pass, then the
outcome on the live card (``/api/state``), on the market page's cards (``/api/markets/{id}``)
and in the scorecard grouped by rule."""

from __future__ import annotations

import time

from trade_hunter.plugins.models import MarketEvent

from .conftest import wait_signals


def quote(platform: str, market: str, price: float, ts: float) -> MarketEvent:
    return MarketEvent(platform=platform, market_id=market, title=f"{market}?",
                       event_kind="quote", yes_price=price, timestamp=ts, source="test")


async def test_divergence_outcomes_on_the_cards_and_the_scorecard(web):
    d, client = await web(ENABLE_SIMULATION="false")
    await d.service.call("pairs.add", {"a": "KX-A", "b": "a-twin"})
    now = time.time()
    t0 = now - 3930                      # the signal: 70 s after the gap opened
    d.ingest([quote("kalshi", "KX-A", 0.40, now - 4000),
              quote("polymarket", "a-twin", 0.55, now - 4000),
              quote("kalshi", "KX-A", 0.40, t0),
              quote("polymarket", "a-twin", 0.42, t0 + 130),  # Polymarket comes to Kalshi
              quote("kalshi", "KX-CLOCK", 0.50, now - 10)])   # the data reach now
    await wait_signals(d, 2)
    await d.store.flush()
    await d.grader.pass_once()

    state = await (await client.get("/api/state")).get_json()
    fired = next(s for s in state["signals"] if s["rule"] == "divergence"
                 and not s["divergence"].get("converged"))
    by = {o["horizon"]: o for o in fired["outcomes"]}
    assert [by[h]["outcome"] for h in ("1m", "5m", "15m", "60m")] == [
        "open", "converged", "converged", "converged"]
    assert (by["5m"]["moved"], by["5m"]["gap"], by["5m"]["b_move"]) == (
        "polymarket", -0.02, -0.13)
    assert by["1m"]["moved"] == "neither venue"

    page = await (await client.get("/api/markets/KX-A")).get_json()
    cards = {c["id"]: c for c in page["signals"]}
    assert cards[fired["id"]]["outcomes"] == fired["outcomes"]  # the market page: the same

    card = await d.service.call("scorecard", {"group_by": "rule"})
    [group] = [g for g in card["groups"] if g["group"] == "divergence"]
    assert [h["converged"] for h in group["horizons"]] == [0.5, 1.0, 1.0, 1.0]
