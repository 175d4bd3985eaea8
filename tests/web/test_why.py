"""The explanation block of a signal card (web/why.py) on hand-built signals."""

from __future__ import annotations

from typing import Any

from trade_hunter.plugins.builtin.kalshi.identifiers import market_url as kalshi_market_url
from trade_hunter.web.why import cents, explain

GATED = {"SPIKE_PROFILE": "gated", "SPIKE_SCORE_THRESHOLD": 3.0, "SPIKE_WARMUP_POINTS": 10,
         "SPIKE_PRICE_BAND": 0.10, "SPIKE_CLOSE_GUARD_SECONDS": 900.0}


def card(**kw: Any) -> dict[str, Any]:
    base = {"rule": "outlier", "score": 13.5, "volume_delta": 391.2, "volume_multiple": 16.3,
            "baseline": 24.0, "price_move": 0.03, "direction": "up", "tier": "notable",
            "platform": "kalshi", "market_id": "KXBTCD-26DEC06-T1", "event": {"event_kind":
            "trade"}, "context": {"baseline_points": 24, "price_change_1m": 0.03,
            "price_change_5m": 0.02, "price_change_30m": 0.01, "flow_share": 0.85,
            "seconds_to_close": 7200.0}, "read": None}
    return {**base, **kw}


def test_outlier_line_names_threshold_baseline_and_move():
    x = explain(card(), GATED, 7200.0)
    assert x["why"] == "outlier: score 13.5 ≥ 3.0 — volume 16.3× its baseline (24 trades) +3¢ move"
    assert all(p["title"] for p in x["parts"] if p["text"].strip() not in ("—", ""))
    assert x["gates"] == ["warm-up 24 ≥ 10 points", "inside the 10¢–90¢ band",
                          "closes in 2 h (guard 15 min)", "taker flow 85% with the move"]
    assert [w["text"] for w in x["windows"]] == ["+3¢", "+2¢", "+1¢"]
    assert x["links"]["venue"] is None  # the feed's market_url gives it (below)


def test_the_venue_link_is_the_feeds_own():
    venue = kalshi_market_url("KXBTCD-26DEC06-T1")
    assert venue == "https://kalshi.com/markets/kxbtcd"
    assert explain(card(), GATED, 7200.0, venue)["links"]["venue"] == venue


def test_windows_longer_than_the_history_are_not_claimed():
    x = explain(card(), GATED, 120.0)
    assert [w["text"] for w in x["windows"]] == ["+3¢", "—", "—"]
    assert x["history"] == "history 2 min" and x["baselines"]["24 h"] == "—"


def test_quiet_escalated_and_disagreeing_signals_say_so():
    quiet = explain(card(price_move=0.0, direction="flat", notify=False, tier="watch"), GATED, None)
    assert quiet["quiet"] == "not notified: no price move"
    assert quiet["why"].endswith("· no price move")
    up = explain(card(escalation=2, move_since_signal=-0.2, direction="down"), GATED, None)
    assert up["escalation"] == "escalated 2× · now −20¢"
    read = {"status": "done", "noise_or_signal": "uncertain", "confidence": "low"}
    assert "analyst reads it as uncertain (low confidence)" in explain(
        card(read=read), GATED, None)["disagreement"]
    assert explain(card(read={**read, "noise_or_signal": "signal"}), GATED, None)[
        "disagreement"] is None
    assert explain(card(platform="simulated"), GATED, None)["links"]["venue"] is None


def test_hard_line_and_the_one_price_move_format():
    x = explain(card(rule="hard", volume_delta=450, price_move=0.04), {}, None)
    assert x["why"].startswith("hard: 450 contracts ≥ 120 and 4¢ ≥ 3¢")
    assert x["gates"] == []
    cold = explain(card(rule="hard", price_move=0.07, context={"baseline_points": 5}), GATED,
                   None)
    assert cold["gates"][0] == ("before warm-up (5 of 10 points): a move of at least twice "
                                "the minimum")
    assert (cents(-0.03), cents(0.03), cents(0.0), cents(0.005)) == ("−3¢", "+3¢", "±0¢", "+0.5¢")


def test_known_history_comes_from_the_first_stored_event_or_the_signal():
    from trade_hunter.plugins.models import EventBrief, MarketEvent, SignalContext, SpikeSignal
    from trade_hunter.web.state import known_history, signal_card

    signal = SpikeSignal(
        market_id="M", platform="test", title="M", topic="general", source="test",
        tier="watch", score=4.0, rule="outlier", volume_delta=100, baseline=10,
        volume_multiple=10, price_move=0.0, price_score=0, direction="flat", yes_price=0.5,
        event=MarketEvent(platform="test", market_id="M", event_kind="quote",
                          timestamp=1000.0),
        context=SignalContext(recent_events=[EventBrief(timestamp=990.0, event_kind="quote")],
                              price_change_1m=0.0),
        created_at=1000.0)
    assert known_history(signal, 400.0) == 600.0     # the first stored event
    assert known_history(signal, None) == 10.0       # not stored yet: what the signal saw
    assert known_history(signal, 1200.0) == 10.0     # retention removed the older history
    card = signal_card(signal, None, first_seen=400.0)
    assert card["explain"]["history"] == "history 10 min"
    assert card["explain"]["windows"][0]["text"] == "±0¢"
    assert "(updates)" not in card["explain"]["why"]  # no baseline_points: no count claimed
    assert "event" not in card and "thresholds" not in card


def test_the_day_baseline_needs_a_day_of_history():
    ctx = {**card()["context"], "mean_volume_1h": 12.5, "mean_volume_24h": 30.0}
    hour = explain(card(context=ctx), GATED, 5400.0)  # 1.5 h known: the hour, not the day
    assert hour["baselines"] == {"1 h": "12.5", "24 h": "—"}
    assert hour["history"] == "history 1.5 h"
    young = explain(card(context=ctx), GATED, 40.0)
    assert young["baselines"] == {"1 h": "—", "24 h": "—"}
    day = explain(card(context=ctx), GATED, 2 * 86400.0)
    assert day["baselines"] == {"1 h": "12.5", "24 h": "30"}
    unknown = explain(card(context={**ctx, "mean_volume_24h": None}), GATED, 2 * 86400.0)
    assert unknown["baselines"]["24 h"] == "—"
