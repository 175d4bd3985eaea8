"""Why a signal fired, in words and numbers: the explanation block of a signal card.

Built from the signal alone (its rule, score, volume and move, the thresholds in force when
it fired) plus how much of the market's history was known then, so a card, ``th-ctl`` and
the History view all say the same thing. Every number comes with where it came from (the
``title`` of its part, shown on hover).
"""

from __future__ import annotations

from typing import Any

# The detector's tier rules (plugins/builtin/spike.py ``tier``; the gated profile moves a tier one
# step for one-sided or churning taker flow), said plainly.
TIER_MEANINGS: dict[str, str] = {
    "high conviction flow": "the strongest tier: score ≥ 6, a move of at least 1.75× the "
                            "minimum move and volume at least 3× its baseline",
    "notable": "score ≥ 4, or a move of at least 1.2× the minimum move with volume at least "
               "2.4× its baseline",
    "watch": "crossed a rule but not the notable bar (or a volume spike without a price move)",
}
FLOW_NOTE = "gated profile: one-sided taker flow lifts a tier one step, two-sided churn lowers it"
WINDOWS = (("1m", "price_change_1m", 60.0), ("5m", "price_change_5m", 300.0),
           ("30m", "price_change_30m", 1800.0))
DAY = 86400.0
BASELINES = (("1 h", "mean_volume_1h", 3600.0), ("24 h", "mean_volume_24h", DAY))


def cents(dollars: float | None, *, signed: bool = True) -> str:
    """A price move the same way everywhere: "+3¢", "−3¢", "±0¢" (a real minus sign)."""
    if dollars is None:
        return "—"
    c = round(dollars * 100, 1)
    text = f"{abs(c):g}¢"
    if not signed:
        return text
    return ("+" if c > 0 else "−" if c < 0 else "±") + text


def span(seconds: float) -> str:
    """A history length a person reads at a glance: "40 s", "2 min", "3 h", "2 d"."""
    if seconds < 60:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < DAY:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / DAY:.1f} d".replace(".0 d", " d")


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.1f}"


def signed_move(card: dict[str, Any]) -> float:
    move = abs(float(card.get("price_move") or 0.0))
    return -move if card.get("direction") == "down" else move


def why_parts(card: dict[str, Any], limits: dict[str, Any]) -> list[dict[str, str]]:
    """The why-line as parts: ``text`` shown, ``title`` saying where the number comes from."""
    rule = card.get("rule", "")
    score, vd = float(card.get("score", 0)), float(card.get("volume_delta", 0))
    multiple, base = float(card.get("volume_multiple", 0)), float(card.get("baseline", 0))
    move = signed_move(card)
    min_volume = float(limits.get("SPIKE_MIN_VOLUME_DELTA", 120))
    min_move = float(limits.get("SPIKE_MIN_PRICE_MOVE", 0.03))
    threshold = float(limits.get("SPIKE_SCORE_THRESHOLD", 3))
    points = (card.get("context") or {}).get("baseline_points")
    kind = (card.get("event") or {}).get("event_kind") or "trade"
    unit = "trades" if kind == "trade" else "updates"
    move_title = (f"price change of the triggering event against the price before it "
                  f"(minimum {cents(min_move, signed=False)})")
    if rule == "hard":
        return [
            {"text": "hard: ", "title": "the hard rule: volume and price move both over "
                                        "their minimums"},
            {"text": f"{_num(vd)} contracts ≥ {_num(min_volume)}",
             "title": f"volume of the triggering event vs SPIKE_MIN_VOLUME_DELTA = "
                      f"{_num(min_volume)}"},
            {"text": " and ", "title": ""},
            {"text": f"{cents(abs(move), signed=False)} ≥ {cents(min_move, signed=False)}",
             "title": move_title + " vs SPIKE_MIN_PRICE_MOVE"},
            {"text": f" — score {score:.1f}",
             "title": "score = 0.75 × volume multiple + 1.25 × move / minimum move"},
        ]
    base_text = f"volume {multiple:.1f}× its baseline"
    base_title = (f"{_num(vd)} contracts vs a baseline (mean) of {_num(base)} per event"
                  + (f" over the last {points} {unit}" if points else ""))
    parts = [
        {"text": f"{rule}: ", "title": "the outlier rule: volume far above the market's own "
                                       "baseline and the score over its threshold"},
        {"text": f"score {score:.1f} ≥ {threshold:.1f}",
         "title": "score = 0.75 × volume multiple + 1.25 × move / minimum move, vs "
                  f"SPIKE_SCORE_THRESHOLD = {threshold:g}"},
        {"text": " — ", "title": ""},
        {"text": base_text + (f" ({points} {unit})" if points else ""), "title": base_title},
    ]
    if abs(move) >= 0.0005:
        parts.append({"text": f" {cents(move)} move", "title": move_title})
    else:
        parts.append({"text": " · no price move", "title": move_title})
    return parts


def windows(context: dict[str, Any], history: float | None) -> list[dict[str, Any]]:
    """The 1/5/30-minute changes, each ``None`` when the window is longer than the known
    history (a number computed over less would claim what nobody saw)."""
    out = []
    for label, key, seconds in WINDOWS:
        value = context.get(key)
        known = value is not None and (history is None or history >= seconds)
        out.append({"label": label, "value": value if known else None,
                    "text": cents(value) if known else "—"})
    return out


def baselines(context: dict[str, Any], history: float | None) -> dict[str, str]:
    """The mean contracts per event over the last hour and day, by span (``{"1 h": "12",
    "24 h": "—"}``): "—" when the known history is shorter (an average over an hour is not a
    day's baseline). Compact: /api/state carries it on every card."""
    out = {}
    for label, key, seconds in BASELINES:
        value = context.get(key)
        known = value is not None and (history is None or history >= seconds)
        out[label] = _num(value) if known and value is not None else "—"
    return out


def gates(card: dict[str, Any], limits: dict[str, Any]) -> list[str]:
    """The gated profile's checks this signal passed, in words (empty for classic)."""
    if limits.get("SPIKE_PROFILE") != "gated":
        return []
    ctx = card.get("context") or {}
    out = []
    points, warmup = ctx.get("baseline_points"), limits.get("SPIKE_WARMUP_POINTS")
    if points is not None and warmup is not None:
        if points >= float(warmup):
            out.append(f"warm-up {points} ≥ {float(warmup):g} points")
        else:  # the hard rule fires before the warm-up on a move of twice the minimum
            out.append(f"before warm-up ({points} of {float(warmup):g} points): a move of "
                       "at least twice the minimum")
    band = limits.get("SPIKE_PRICE_BAND")
    if band is not None:
        out.append(f"inside the {cents(float(band), signed=False)}–"
                   f"{cents(1 - float(band), signed=False)} band")
    left, guard = ctx.get("seconds_to_close"), limits.get("SPIKE_CLOSE_GUARD_SECONDS")
    if left is not None and guard is not None:
        out.append(f"closes in {span(float(left))} (guard {span(float(guard))})")
    share = ctx.get("flow_share")
    if share is not None:
        out.append(f"taker flow {share * 100:.0f}% with the move")
    p = ctx.get("large_trade_cluster_p")
    if p is not None:
        out.append(f"large-trade cluster p = {p:.2g}")
    return out


def disagreement(card: dict[str, Any]) -> str | None:
    """Tier and analyst in plain words when they point different ways."""
    read = card.get("read") or {}
    label = read.get("noise_or_signal")
    if (read.get("status") or "done") != "done" or label is None:
        return None
    tier = card.get("tier")
    strong = tier in ("high conviction flow", "notable")
    if (strong and label != "signal") or (tier == "watch" and label == "signal"):
        return (f"detector tier “{tier}”, but the analyst reads it as {label}"
                f" ({read.get('confidence') or '?'} confidence)")
    return None


def explain(card: dict[str, Any], limits: dict[str, Any],
            history: float | None, venue: str | None = None) -> dict[str, Any]:
    """The card's ``explain`` block; ``history`` is the seconds of the market's history known
    when the signal fired (``None``: unknown); ``venue`` the market's page on its venue."""
    parts = why_parts(card, limits)
    ctx = card.get("context") or {}
    escalation = None
    if card.get("escalation"):
        since = card.get("move_since_signal")
        escalation = f"escalated {card['escalation']}×" + (
            f" · now {cents(since)}" if since is not None else "")
    quiet = None
    if card.get("notify") is False:
        quiet = ("not notified: no price move" if abs(signed_move(card)) <= 0.005
                 else "not notified")
    tier = card.get("tier", "")
    return {
        "why": "".join(p["text"] for p in parts),
        "parts": parts,
        "tier_meaning": TIER_MEANINGS.get(tier, "") + (
            f" ({FLOW_NOTE})" if limits.get("SPIKE_PROFILE") == "gated" else ""),
        "gates": gates(card, limits),
        "escalation": escalation,
        "quiet": quiet,
        "windows": windows(ctx, history),
        "baselines": baselines(ctx, history),
        "history_seconds": None if history is None else round(history, 1),
        "history": None if history is None else f"history {span(history)}",
        "disagreement": disagreement(card),
        "links": {"market": f"/market/{card.get('market_id', '')}",
                  "venue": venue},
    }
