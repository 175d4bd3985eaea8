"""The PolyAlertHub relay: ``POST /api/alerts/polyalerthub``.

PolyAlertHub publishes no payload schema, so this accepts (one object, an array, or either
wrapped in ``alerts`` / ``events`` / ``data`` / ``items`` / ``alert`` / ``event``):

1. our documented event JSON (``platform``, ``market_id``, ``title``, ``yes_price``,
   ``volume`` …, validated exactly like ``/api/events``; ``source`` is ``polyalerthub``);
2. the common alert shapes of prediction-market alert services, mapped field by field
   (the first field present wins; a nested ``market`` or ``trade`` object is read too):

   ============  =================================================================
   market id     ``market_id``, ``marketId``, ``market_slug``, ``slug``, ``market``,
                 ``condition_id``, ``conditionId`` (or ``market.id``/``slug``/…)
   title         ``title``, ``question``, ``market_title``, ``name`` (default: the id)
   price         ``yes_price`` (the YES price), else ``price``, ``probability``,
                 ``outcome_price`` (the traded outcome's price: for outcome ``No`` the
                 YES price is 1 − price); 0 to 1
   size          ``size``, ``amount_usd``, ``usd_value``, ``value``, ``amount``,
                 ``notional``, ``volume``: the trade's size in dollars → a trade event
                 whose volume is that size; without a size, a quote
   side          ``side`` (``buy``/``sell`` or ``yes``/``no``) with ``outcome``
                 (``Yes``/``No``): buying Yes or selling No is ``yes``
   time          ``timestamp``, ``time``, ``ts``, ``created_at``: epoch seconds or
                 milliseconds, or ISO 8601
   idempotency   ``id``, ``alert_id``, ``event_id``, ``transaction_hash``
   other         ``platform`` (default ``polymarket``), ``url``, ``category``/``topic``,
                 ``shares`` (contracts)
   ============  =================================================================

Numbers may arrive as numeric strings (common in these services); NaN, infinities,
out-of-range prices and wrong types are refused with the field named. Anything without a
market id and a price is refused with a 422 that lists what is accepted.
``POLYALERTHUB_TOKEN`` set → ``Authorization: Bearer <token>`` is required.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from trade_hunter.plugins import RelayRegistry, hookimpl
from trade_hunter.plugins.models import MarketEvent
from trade_hunter.plugins.registry import Relay

from . import fields as f
from .ingest import EVENT_SCHEMA, event_from

SOURCE = "polyalerthub"
WRAPPERS = ("alerts", "events", "data", "items", "alert", "event")
MARKET = ("market_id", "marketId", "market_slug", "marketSlug", "slug", "market",
          "condition_id", "conditionId")
TITLE = ("title", "question", "market_title", "marketTitle", "name")
PRICE = ("yes_price", "price", "probability", "outcome_price", "outcomePrice")
SIZE = ("size", "amount_usd", "amountUsd", "usd_value", "usdValue", "value", "amount",
        "notional", "volume")
TIME = ("timestamp", "time", "ts", "created_at", "createdAt")
IDS = ("id", "alert_id", "alertId", "event_id", "eventId", "transaction_hash",
       "transactionHash", "tx_hash")
URLS = ("url", "market_url", "marketUrl", "link")
ACCEPTED = {
    "event_json": "our event JSON: platform, market_id, title, yes_price, volume (+ optional "
                  "fields of POST /api/events)",
    "alert": {"market id": list(MARKET), "title": list(TITLE), "price (0 to 1)": list(PRICE),
              "size": list(SIZE), "side": ["side", "outcome"], "time": list(TIME),
              "id": list(IDS), "other": ["platform", "url", "category", "topic", "shares"]},
    "wrappers": list(WRAPPERS),
    "required": "a market id and a price",
}
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Alert",
    "description": "A prediction-market alert; needs a market id and a price (see README)",
    "properties": {
        **{k: {"type": ["string", "integer"]} for k in MARKET if k != "market"},
        "market": {"type": ["string", "object"]},
        **{k: {"type": "string"} for k in TITLE},
        **{k: {"type": ["number", "string"]} for k in (*PRICE, *SIZE, "shares")},
        "side": {"type": "string"}, "outcome": {"type": "string"},
        **{k: {"type": ["number", "string"]} for k in TIME},
        **{k: {"type": ["string", "integer"]} for k in IDS},
        **{k: {"type": "string"} for k in URLS},
        "platform": {"type": "string"}, "category": {"type": "string"},
    },
}
ACCEPTS: dict[str, Any] = {"oneOf": [
    EVENT_SCHEMA, ALERT_SCHEMA,
    {"type": "array", "items": {"oneOf": [EVENT_SCHEMA, ALERT_SCHEMA]}, "minItems": 1,
     "maxItems": f.MAX_EVENTS},
    {"type": "object", "properties": {w: {} for w in WRAPPERS}, "minProperties": 1},
], "examples": [
    {"alert": {"market": {"slug": "fed-cut-in-december", "question": "Fed cut in December?"},
               "outcome": "Yes", "side": "BUY", "price": "0.41", "amount_usd": 25000,
               "timestamp": 1795000000000, "id": "pah-7731"}},
    {"market_id": "0x5f1c", "question": "Will the Fed cut?", "price": 0.41, "size": 2500,
     "side": "BUY", "outcome": "No", "timestamp": "2026-11-27T10:00:00Z"},
]}


def _unwrap(payload: Any) -> Any:
    if isinstance(payload, dict):
        for key in WRAPPERS:
            inner = payload.get(key)
            if isinstance(inner, (dict, list)):
                return inner
    return payload


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if obj.get(k) not in (None, "")), None)


def _numeric(obj: dict[str, Any], key: str, at: str, problems: f.Problems, *,
             low: float, high: float | None = None) -> float | None:
    """A number, or a numeric string (these services often quote numbers)."""
    value = obj.get(key)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            problems.add(f"{at}{key}", f"expected a number, got {f.show(obj[key])}")
            return None
        if not math.isfinite(value):
            problems.add(f"{at}{key}", f"expected a finite number, got {obj[key]!r}")
            return None
    return f.number({key: value}, key, at, problems, low=low, high=high)


def _flatten(obj: dict[str, Any]) -> dict[str, Any]:
    """Fields of a nested ``market`` / ``trade`` object, under the top level's names."""
    flat = dict(obj)
    trade = obj.get("trade")
    if isinstance(trade, dict):
        flat = {**trade, **{k: v for k, v in flat.items() if k != "trade"}}
    market = obj.get("market")
    if isinstance(market, dict):
        del flat["market"]
        for key in ("id", "slug", "conditionId", "condition_id", "ticker"):
            if market.get(key) not in (None, "") and _first(flat, MARKET) is None:
                flat["market_id"] = market[key]
        for src, dst in (("question", "title"), ("title", "title"), ("url", "url"),
                         ("category", "category")):
            if market.get(src) not in (None, "") and dst not in flat:
                flat[dst] = market[src]
    return flat


def _side(flat: dict[str, Any], at: str, problems: f.Problems) -> tuple[str | None, bool]:
    """(taker side, whether the price is the NO outcome's)."""
    side = str(flat.get("side") or "").strip().lower()
    outcome = str(flat.get("outcome") or "").strip().lower()
    if side and side not in ("buy", "sell", "yes", "no"):
        problems.add(f"{at}side", f"expected buy, sell, yes or no, got {f.show(flat['side'])}")
        return None, False
    is_no = outcome == "no"
    if side in ("yes", "no"):
        return side, is_no
    if not side and not outcome:
        return None, False
    held = "no" if is_no else "yes"  # any other outcome name is that outcome's own YES
    if side == "sell":
        return ("yes" if held == "no" else "no"), is_no
    return held, is_no


def alert_from(obj: Any, at: str, problems: f.Problems) -> MarketEvent | None:
    if not isinstance(obj, dict):
        problems.add(at.rstrip(".") or "body", f"expected an object, got {f.type_name(obj)}")
        return None
    if all(k in obj for k in ("platform", "market_id", "yes_price", "volume")):
        return event_from(obj, at, problems, source=SOURCE)
    flat = _flatten(obj)
    market_key, price_key = _first(flat, MARKET), _first(flat, PRICE)
    if market_key is None or price_key is None:
        missing = " and ".join(w for w, k in (("a market id", market_key),
                                                ("a price", price_key)) if k is None)
        problems.add(at.rstrip(".") or "body", f"unrecognised alert (missing {missing}); "
                     "accepted: "
                     "our event JSON, or an alert with market/market_id/slug, "
                     "price/yes_price/probability, title/question, size/amount_usd/value, "
                     "side/outcome, timestamp")
        return None
    before = problems.count
    market_id = f.text(flat, market_key, at, problems, required=True)
    title = f.text(flat, _first(flat, TITLE) or "title", at, problems, max_len=500)
    price = _numeric(flat, price_key, at, problems, low=0.0, high=1.0)
    size_key = _first(flat, SIZE)
    size = _numeric(flat, size_key, at, problems, low=0.0) if size_key else None
    shares = _numeric(flat, "shares", at, problems, low=0.0) if "shares" in flat else None
    side, price_is_no = _side(flat, at, problems)
    time_key = _first(flat, TIME)
    ts = f.timestamp(flat, time_key, at, problems, allow_ms=True) if time_key else None
    id_key = _first(flat, IDS)
    ext_id = f.text(flat, id_key, at, problems) if id_key else None
    platform = f.text(flat, "platform", at, problems, name=True) or "polymarket"
    url_key = _first(flat, URLS)
    link = f.url(flat, url_key, at, problems) if url_key else None
    topic_key = _first(flat, ("topic", "category"))
    topic = f.topic(flat, topic_key, at, problems, strict=False) if topic_key else None
    if problems.count > before or price is None or market_id is None:
        return None
    yes_price = round(1.0 - price, 6) if price_is_no and price_key != "yes_price" else price
    return MarketEvent(
        source=SOURCE, platform=platform, market_id=market_id, title=title or market_id,
        yes_price=yes_price, volume=size, volume_kind="delta",
        event_kind="trade" if size is not None else "quote",
        trade_side=side if size is not None else None,  # type: ignore[arg-type]
        trade_size=shares, timestamp=ts or 0.0, topic=topic, ext_id=ext_id,
        metadata={"url": link} if link else {})


def parse(payload: Any, headers: Mapping[str, str]) -> list[MarketEvent]:
    return f.parse_all(_unwrap(payload), f.Problems(ACCEPTED), alert_from, what="alert")


def relay() -> Relay:
    return Relay(name="polyalerthub", path="/api/alerts/polyalerthub", parse=parse,
                 token_setting="POLYALERTHUB_TOKEN",
                 description="PolyAlertHub alerts (our event JSON or common alert shapes)",
                 accepts=ACCEPTS)


@hookimpl
def th_register_relays(registry: RelayRegistry) -> None:
    registry.add(relay())
