"""The generic ingest relay: ``POST /api/events`` for custom scrapers and scripts.

Body: one event object or an array of up to 1,000. Fields (``*`` required):

============  =====================================================================
``source*``   who sends it (letters, digits, ``. _ : -``; not ``kalshi``, the feed's name)
``platform*`` where the market lives (``kalshi``, ``polymarket``, ``myexchange`` …)
``market_id*`` the platform's market identifier
``title*``    the market's question
``yes_price*`` the YES price in dollars, 0 to 1
``volume*``   contracts (or dollars) traded, ≥ 0
volume_kind   ``delta`` (this event alone, default) or ``cumulative`` (running total)
event_kind    ``trade`` or ``quote`` (default)
trade_side    ``yes`` or ``no``: the taker's side of a trade
trade_size    contracts in this trade
yes_bid/ask   the book, 0 to 1
timestamp     epoch seconds or ISO 8601 with a zone (default: now)
topic         crypto, elections, macro, sports, geopolitics or general (default: inferred)
id            an idempotency key: a retried event with the same source and id counts once
url           the market's page (http/https), linked from alerts
============  =====================================================================

``INGEST_API_TOKEN`` set → ``Authorization: Bearer <token>`` is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trade_hunter.plugins import RelayRegistry, hookimpl
from trade_hunter.plugins.builtin.kalshi.parse import PLATFORM as KALSHI
from trade_hunter.plugins.models import TOPICS, MarketEvent
from trade_hunter.plugins.registry import Relay

from . import fields as f

REQUIRED = ("source", "platform", "market_id", "title", "yes_price", "volume")
OPTIONAL = ("volume_kind", "event_kind", "trade_side", "trade_size", "yes_bid", "yes_ask",
            "timestamp", "topic", "id", "url")
ALLOWED = frozenset(REQUIRED + OPTIONAL)

_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"}
_PRICE = {"type": "number", "minimum": 0, "maximum": 1}
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "IngestEvent",
    "required": list(REQUIRED),
    "additionalProperties": False,
    "properties": {
        "source": {**_NAME, "not": {"const": KALSHI}}, "platform": _NAME,
        "market_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "title": {"type": "string", "minLength": 1, "maxLength": 500},
        "yes_price": _PRICE,
        "volume": {"type": "number", "minimum": 0},
        "volume_kind": {"enum": ["delta", "cumulative"]},
        "event_kind": {"enum": ["trade", "quote"]},
        "trade_side": {"enum": ["yes", "no", None]},
        "trade_size": {"type": "number", "minimum": 0},
        "yes_bid": _PRICE, "yes_ask": _PRICE,
        "timestamp": {"oneOf": [{"type": "number"},
                                {"type": "string", "format": "date-time"}]},
        "topic": {"enum": list(TOPICS)},
        "id": {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 200},
                         {"type": "integer"}]},
        "url": {"type": "string", "format": "uri"},
    },
}
EXAMPLE: dict[str, Any] = {
    "source": "my-scraper", "platform": "polymarket", "market_id": "will-it-rain-in-nyc",
    "title": "Will it rain in NYC tomorrow?", "yes_price": 0.62, "volume": 1500,
    "event_kind": "trade", "trade_side": "yes", "id": "scrape-0001"}
ACCEPTS: dict[str, Any] = {"oneOf": [
    EVENT_SCHEMA,
    {"type": "array", "items": EVENT_SCHEMA, "minItems": 1, "maxItems": f.MAX_EVENTS},
], "examples": [EXAMPLE, [{**EXAMPLE, "id": "scrape-0002", "yes_price": 0.64}]]}
SUMMARY = {"required": list(REQUIRED), "optional": list(OPTIONAL),
           "max_events_per_request": f.MAX_EVENTS}


def event_from(obj: Any, at: str, problems: f.Problems, *,
               source: str | None = None) -> MarketEvent | None:
    """Validate one object of our event JSON (``source`` given: the relay's own name)."""
    if not isinstance(obj, dict):
        problems.add(at.rstrip(".") or "body", f"expected an object, got {f.type_name(obj)}")
        return None
    before = problems.count
    f.unknown(obj, ALLOWED, at, problems)
    src = source or f.text(obj, "source", at, problems, required=True, name=True)
    if src == KALSHI:  # the feed's trades are de-duplicated in memory, not in the database
        problems.add(f"{at}source", f"{KALSHI!r} is the Kalshi feed's own name; a relay "
                                    "names itself (e.g. 'kalshi-scraper')")
    platform = f.text(obj, "platform", at, problems, required=True, name=True)
    market_id = f.text(obj, "market_id", at, problems, required=True)
    title = f.text(obj, "title", at, problems, required=True, max_len=500)
    yes_price = f.price(obj, "yes_price", at, problems, required=True)
    volume = f.number(obj, "volume", at, problems, required=True, low=0.0)
    volume_kind = f.choice(obj, "volume_kind", at, problems, ("delta", "cumulative"))
    event_kind = f.choice(obj, "event_kind", at, problems, ("trade", "quote"))
    trade_side = f.choice(obj, "trade_side", at, problems, ("yes", "no"))
    trade_size = f.number(obj, "trade_size", at, problems, low=0.0)
    bid = f.price(obj, "yes_bid", at, problems)
    ask = f.price(obj, "yes_ask", at, problems)
    if bid is not None and ask is not None and bid > ask:
        problems.add(f"{at}yes_bid", f"the bid {bid:g} is above the ask {ask:g}")
    ts = f.timestamp(obj, "timestamp", at, problems)
    topic = f.topic(obj, "topic", at, problems)
    ext_id = f.text(obj, "id", at, problems)
    link = f.url(obj, "url", at, problems)
    if problems.count > before:
        return None
    assert src and platform and market_id and title is not None
    return MarketEvent(
        source=src, platform=platform, market_id=market_id, title=title, yes_price=yes_price,
        volume=volume, volume_kind=volume_kind or "delta",  # type: ignore[arg-type]
        event_kind=event_kind or "quote",  # type: ignore[arg-type]
        trade_side=trade_side, trade_size=trade_size,  # type: ignore[arg-type]
        yes_bid=bid, yes_ask=ask, timestamp=ts or 0.0, topic=topic, ext_id=ext_id,
        metadata={"url": link} if link else {})


def parse(payload: Any, headers: Mapping[str, str]) -> list[MarketEvent]:
    return f.parse_all(payload, f.Problems(SUMMARY), event_from)


def relay() -> Relay:
    return Relay(name="ingest", path="/api/events", parse=parse,
                 token_setting="INGEST_API_TOKEN",
                 description="Generic ingest for custom scrapers: one event or an array of "
                             f"up to {f.MAX_EVENTS:,}",
                 accepts=ACCEPTS)


@hookimpl
def th_register_relays(registry: RelayRegistry) -> None:
    registry.add(relay())
