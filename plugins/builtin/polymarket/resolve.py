"""Resolution of tracked identifiers through Gamma, and what each resolved to.

* a **condition id** → that market (``GET /markets?condition_ids=…``, paged);
* a **slug** → the event of that slug with its open markets (``GET /events/slug/…``), else
  the market of that slug (``GET /markets/slug/…``); both 404 → unknown.

Each market is followed through its YES token (the ``clobTokenIds`` entry aligned with
``"Yes"`` in ``outcomes``). Closed markets are expired (with the reason); an event with no open
market left is expired; an unknown identifier is unresolved and re-checked now and then.
Titles, topics (from the event's tags) and end dates are cached on :class:`MarketInfo`.

**Rollover.** A recurring event belongs to a Gamma *series* (``series[]`` on the event). When
every market of a tracked event has closed or passed its end date, the series' open events
(``GET /events?series_id=…&closed=false&order=endDate&ascending=true``) name its successor:
the first one ending later. The identifier then follows that event (``Tracked.follows``) and
its markets carry ``rolled_from`` (the tape shows it); with no successor listed yet, a closed
event is expired as before and an ended-but-open one stays active.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trade_hunter.plugins.models import TOPICS
from trade_hunter.plugins.topics import infer_topic, normalize_category

from .config import SITE
from .gamma import Gamma, GammaError, NotFound, backoff
from .identifiers import is_condition_id

log = logging.getLogger(__name__)
REFRESH_EVERY = 900.0      # safety net: new markets of an event, changed titles
UNKNOWN_RECHECK = 600.0
RETRY_CAP = 60.0
SUCCESSOR_PAGE = 20        # a series' next open events, soonest first
ROLL_RETRY = 10.0          # a series event that ended: look for its successor this often…
ROLL_WAIT_FOR = 3600.0     # …for up to an hour after its end


@dataclass
class MarketInfo:
    slug: str
    condition_id: str
    yes_token: str
    title: str = ""
    topic: str | None = None
    close_ts: float | None = None
    url: str = ""
    event_slug: str = ""
    rolled_from: str = ""
    """The event this one succeeded for its tracked identifier (a rollover), else ""."""


@dataclass
class Tracked:
    ident: str
    kind: str = ""                  # event | market, once known
    status: str = "pending"         # pending | active | unresolved | expired
    detail: str = "looking up"
    markets: dict[str, MarketInfo] = field(default_factory=dict)  # by YES token
    next_check: float = 0.0
    retries: int = 0
    follows: str = ""
    """The successor event slug this identifier rolled over to ("" until a rollover)."""
    rolled_from: str = ""

    @property
    def live(self) -> bool:
        return self.status == "active"


def iso_ts(text: Any) -> float | None:
    if not text or not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _json_list(value: Any) -> list[str]:
    """``outcomes`` and ``clobTokenIds`` are JSON arrays encoded as strings."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [str(v) for v in value] if isinstance(value, list) else []


def yes_token(market: dict[str, Any]) -> str | None:
    tokens, outcomes = _json_list(market.get("clobTokenIds")), _json_list(market.get("outcomes"))
    if not tokens:
        return None
    lowered = [o.strip().lower() for o in outcomes]
    index = lowered.index("yes") if "yes" in lowered else 0
    return tokens[index] if index < len(tokens) else None


def topic_of(tags: Any, title: str, slug: str) -> str:
    for tag in tags if isinstance(tags, list) else ():
        label = normalize_category(str(tag.get("label") or tag.get("slug") or "")) \
            if isinstance(tag, dict) else None
        if label in TOPICS:
            return label
    return infer_topic(title, slug)


def market_info(market: dict[str, Any], event: dict[str, Any] | None) -> MarketInfo | None:
    token = yes_token(market)
    slug = str(market.get("slug") or "")
    if token is None or not slug:
        return None
    if event is None:
        events = market.get("events")
        event = events[0] if isinstance(events, list) and events and \
            isinstance(events[0], dict) else {}
    title = str(market.get("question") or event.get("title") or slug)
    tags = event.get("tags") or market.get("tags")
    return MarketInfo(slug=slug, condition_id=str(market.get("conditionId") or ""),
                      yes_token=token, title=title, topic=topic_of(tags, title, slug),
                      close_ts=iso_ts(market.get("endDate") or event.get("endDate")),
                      url=f"{SITE}/event/{event['slug']}" if event.get("slug")
                      else f"{SITE}/market/{slug}",
                      event_slug=str(event.get("slug") or ""))


def is_open(market: dict[str, Any]) -> bool:
    return not market.get("closed") and market.get("active", True) is not False


def _live_markets(event: dict[str, Any], now: float) -> bool:
    """Whether some market of ``event`` is open and not past its end date (a recurring
    event's market stops trading at its end, and is marked closed only once resolved)."""
    return any(isinstance(m, dict) and is_open(m)
               and (iso_ts(m.get("endDate")) or math.inf) > now
               for m in event.get("markets") or ())


class Resolver:
    def __init__(self, gamma: Gamma) -> None:
        self.gamma = gamma

    async def resolve(self, t: Tracked, now: float) -> None:
        """Look ``t`` up and set its kind, status, detail, markets and next check."""
        try:
            if is_condition_id(t.ident):
                found = await self.gamma.pages("/markets", {"condition_ids": t.ident})
                self._markets(t, [m for m in found if isinstance(m, dict)
                                  and str(m.get("conditionId", "")).lower() == t.ident], now)
                return
            try:
                event = await self.gamma.get(f"/events/slug/{t.follows or t.ident}")
            except NotFound:
                event = None
            if isinstance(event, dict):
                waiting = False
                if not _live_markets(event, now):
                    successor = await self._successor(event, now)
                    if successor is not None:
                        t.rolled_from = str(event.get("slug") or "")
                        t.follows = str(successor.get("slug") or "")
                        log.info("polymarket: %s rolled over from %s to %s", t.ident,
                                 t.rolled_from, t.follows)
                        event = successor
                    else:  # a series' next event may be listed any moment after the end
                        ended = iso_ts(event.get("endDate")) or 0.0
                        waiting = bool(event.get("series")) and now - ended < ROLL_WAIT_FOR
                self._event(t, event, now)
                if waiting:
                    t.next_check = min(t.next_check, now + ROLL_RETRY)
                return
            try:
                market = await self.gamma.get(f"/markets/slug/{t.ident}")
            except NotFound:
                market = None
            self._markets(t, [market] if isinstance(market, dict) else [], now)
        except GammaError as exc:
            t.retries += 1
            t.next_check = now + backoff(t.retries, base=2.0, cap=RETRY_CAP)
            if t.status == "pending":
                t.status, t.detail = "unresolved", f"Gamma unavailable: {exc}"
            log.info("polymarket: resolving %s failed: %s", t.ident, exc)

    def _done(self, t: Tracked, now: float, status: str, detail: str,
              markets: dict[str, MarketInfo]) -> None:
        t.status, t.detail, t.markets, t.retries = status, detail, markets, 0
        closes = [m.close_ts for m in markets.values() if m.close_ts and m.close_ts > now]
        due = now + (UNKNOWN_RECHECK if status == "unresolved" else REFRESH_EVERY)
        t.next_check = min([due] + [c + 1 for c in closes])

    async def _successor(self, event: dict[str, Any], now: float) -> dict[str, Any] | None:
        """The next open event of ``event``'s series, ending after it (None: none listed)."""
        series = event.get("series")
        first = series[0] if isinstance(series, list) and series else None
        if not isinstance(first, dict) or not first.get("id"):
            return None
        listed = await self.gamma.get("/events", {
            "series_id": str(first["id"]), "closed": "false", "order": "endDate",
            "ascending": "true", "limit": SUCCESSOR_PAGE})
        end = iso_ts(event.get("endDate")) or now
        for candidate in listed if isinstance(listed, list) else ():
            if isinstance(candidate, dict) and candidate.get("slug") != event.get("slug") \
                    and (iso_ts(candidate.get("endDate")) or math.inf) > end \
                    and _live_markets(candidate, now):
                return candidate
        return None

    def _event(self, t: Tracked, event: dict[str, Any], now: float) -> None:
        t.kind = "event"
        markets = [m for m in event.get("markets") or () if isinstance(m, dict)]
        infos = {i.yes_token: i for m in markets if is_open(m)
                 and (i := market_info(m, event)) is not None}
        for info in infos.values():
            info.rolled_from = t.rolled_from
        if infos:
            note = f"; rolled over from {t.rolled_from} to {t.follows}" if t.follows else ""
            self._done(t, now, "active", f"event: {len(infos)} open market(s){note}", infos)
        elif event.get("closed") or markets:
            self._done(t, now, "expired", "event closed: no open market", {})
        else:
            self._done(t, now, "expired", "event lists no market", {})

    def _markets(self, t: Tracked, found: list[dict[str, Any]], now: float) -> None:
        if not found:
            t.kind = ""
            self._done(t, now, "unresolved", "unknown: not an event or market on Gamma", {})
            return
        t.kind = "market"
        market = found[0]
        if not is_open(market):
            end = market.get("closedTime") or market.get("endDate") or ""
            self._done(t, now, "expired", f"market closed{' ' + str(end) if end else ''}", {})
            return
        info = market_info(market, None)
        if info is None:
            self._done(t, now, "unresolved", "market has no CLOB token ids", {})
            return
        self._done(t, now, "active", "market", {info.yes_token: info})
