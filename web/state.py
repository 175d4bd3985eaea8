"""``/api/state`` and ``/api/health``: built from the daemon's in-memory windows only.

Nothing here touches the database, so the cost of a refresh is bounded by the window sizes
(signals, flow, tape), not by the history: see ``bench/state_bench.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from trade_hunter.daemon.outcome_store import outcome_dicts
from trade_hunter.plugins.models import TIERS, TOPICS, to_builtins

from .why import TIER_MEANINGS, explain

if TYPE_CHECKING:
    from .parts import WebParts

log = logging.getLogger("trade_hunter.web")

STATE_SIGNALS = 100    # the client sorts and filters these; /api/signals reaches all 300
STATE_FLOW = 80
STATE_TAPE = 150


def health_payload(d: WebParts) -> dict[str, Any]:
    items = d.health.as_list()
    return {
        "mode": d.settings.active_mode,
        "feeds": [h for h in items if h["kind"] == "feed"],
        "components": [h for h in items if h["kind"] != "feed"],
        "retention": dict(d.retention),
        "last_event_at": d.live.last_event_at,
    }


def signal_card(signal: Any, read: Any, outcomes: Any = None,
                first_seen: float | None = None,
                venue_url: Callable[[str, str], str | None] | None = None) -> dict[str, Any]:
    """One signal as the dashboard shows it; ``venue_url(platform, market_id)`` links the market
    on its venue (``Watchlist.venue_url``: the feed's own ``market_url``)."""
    card = to_builtins(signal)
    if read is not None:
        card["read"] = to_builtins(read)
        card["read"]["status"] = read.status  # a default, so omitted by msgspec otherwise
    else:
        card["read"] = None
    card["outcomes"] = outcome_dicts(outcomes, signal.divergence)
    venue = venue_url(signal.platform, signal.market_id) if venue_url is not None else None
    card["explain"] = explain(card, signal.thresholds, known_history(signal, first_seen), venue)
    card.pop("event", None)            # the card shows its fields; the raw event is in
    card.pop("thresholds", None)       # /api/signals for whoever needs it
    card.get("context", {}).pop("recent_events", None)
    return card


def known_history(signal: Any, first_seen: float | None) -> float | None:
    """Seconds of the market's history known when ``signal`` fired: from its first stored
    event, else (not committed yet, or deleted by retention) from the oldest event the signal
    itself carries."""
    starts = [first_seen] if first_seen is not None and first_seen <= signal.created_at else []
    starts += [e.timestamp for e in signal.context.recent_events[:1]]
    return max(signal.created_at - min(starts), 0.0) if starts else None


def tuning_payload(d: WebParts) -> dict[str, Any]:
    """The advisor's summary when an advisor runs, else an honest empty state."""
    advisor = d.advisor()
    summary = getattr(advisor, "summary", None)
    if summary is None:
        return {"available": False, "suggestions": [], "patterns": [],
                "detail": "No tuning advisor is running yet: suggestions appear here once "
                          "the advisor has replayed enough signals."}
    try:
        data = dict(summary())
    except Exception:  # the panel must not take the whole state down
        log.exception("tuning advisor summary failed")
        return {"available": False, "suggestions": [], "patterns": [],
                "detail": "The tuning advisor failed to report; see the daemon log."}
    data.setdefault("available", True)
    data.setdefault("suggestions", [])
    data.setdefault("patterns", [])
    data.setdefault("detail", "")
    return data


def state_payload(d: WebParts, first_seen: Mapping[str, float] | None = None) -> dict[str, Any]:
    """``first_seen``: each market's first stored event (``daemon.market_reads.FirstSeen``),
    looked up by the caller off the event loop; without it, card histories are estimated."""
    live, s = d.live, d.settings
    now = time.time()
    window_applies = s.active_mode == "live"
    since = now - s.FRESHNESS_WINDOW_SECONDS if window_applies else None

    first_seen = first_seen or {}
    signals = [_lean(signal_card(sig, live.reads.get(sig.id or 0),
                                 live.outcomes.get(sig.id or 0), first_seen.get(sig.market_id),
                                 d.tickers.venue_url))
               for sig in live.recent_signals(limit=STATE_SIGNALS)]
    incidents = d.incidents()  # None until the daemon runs
    for card in signals:
        member = incidents.member_of(card.get("id")) if incidents is not None else None
        if member is not None:  # the dashboard shows an incident's signals as one card
            card["incident"] = {"id": member[0], "key": member[1]}

    tape_entries = live.fresh_tape(since=since, limit=STATE_TAPE)
    sparks: dict[str, list[float]] = {}
    tape = []
    for market_id, entry in tape_entries:
        e = entry.event
        spark = list(entry.spark)
        sparks[market_id] = spark
        tape.append({
            "market_id": market_id, "platform": e.platform, "title": e.title, "topic": e.topic,
            "price": e.yes_price, "bid": e.yes_bid, "ask": e.yes_ask, "volume": e.volume,
            "volume_kind": e.volume_kind, "kind": e.event_kind, "t": e.timestamp,
            "received_at": e.received_at,
            "change": round(spark[-1] - spark[0], 4) if len(spark) > 1 else None,
            "events": entry.events, "signals": entry.signals,
            "rolled_from": e.metadata.get("rolled_over_from"),  # a feed's rollover
        })

    flow = []
    for e in reversed(live.flow):  # newest first
        if since is not None and e.received_at < since:
            break
        flow.append({"k": "T" if e.event_kind == "trade" else "Q", "t": e.timestamp,
                     "market_id": e.market_id, "title": e.title, "price": e.yes_price,
                     "volume": e.volume, "volume_kind": e.volume_kind, "side": e.trade_side,
                     "size": e.trade_size, "source": e.source})
        if e.market_id not in sparks:
            found = live.tape.get(e.market_id)
            sparks[e.market_id] = list(found.spark) if found is not None else []
        if len(flow) >= STATE_FLOW:
            break

    health = d.health.as_list()
    summary = live.summary()
    counters = summary["counters"]
    ticker_summary = d.tickers.summary()
    return {
        "mode": s.active_mode,
        "generated_at": now,
        "status": {
            "mode": s.active_mode, "version": d.version,
            "uptime": round(now - live.started_at, 1),
            "freshness_window": s.FRESHNESS_WINDOW_SECONDS, "window_applies": window_applies,
            "last_event_at": live.last_event_at,
            "last_event_age": round(now - live.last_event_at, 1)
            if live.last_event_at is not None else None,
            "events": counters.get("events", 0), "trades": counters.get("trades", 0),
            "quotes": counters.get("quotes", 0), "signals": counters.get("signals", 0),
            "markets": summary["markets"], "by_source": summary["by_source"],
            "tickers": ticker_summary, "auth": bool(s.DASHBOARD_TOKEN),
        },
        "signals": signals,
        "tuning": tuning_payload(d),
        "flow": flow,
        "tape": tape,
        "sparks": sparks,
        "tickers": {"items": [dict(t.__dict__) for t in d.tickers.list()],
                    "summary": ticker_summary, "feeds": d.tickers.feeds(d.components)},
        "feeds": [h for h in health if h["kind"] == "feed"],
        "components": [h for h in health if h["kind"] != "feed"],
        "counters": summary,
        "filters": {"topics": list(TOPICS), "tiers": list(TIERS),
                    "sources": sorted({s["source"] for s in signals})},
        "tier_meanings": TIER_MEANINGS,
    }


def _lean(card: dict[str, Any]) -> dict[str, Any]:
    """A card as /api/state polls it every 3 s for 100 signals: the tier's meaning once per
    payload (``tier_meanings``), not once per card; no empty explanation fields; and not what
    the dashboard rebuilds itself (the why-line's text is its ``parts`` joined, the history's
    seconds are in its words). The market page, History and the exports keep them."""
    explain = card.get("explain")
    if explain:
        for key in ("tier_meaning", "why", "history_seconds"):
            explain.pop(key, None)
        card["explain"] = {k: v for k, v in explain.items() if v is not None}
    return card
