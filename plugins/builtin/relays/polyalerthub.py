"""The PolyAlertHub relay: ``POST /api/alerts/polyalerthub``.

Accepts the alert format the original Trade Hunter documents for PolyAlertHub: one JSON
object per alert, or an array of up to 1,000 (``*`` required):

==============  ===================================================================
``platform*``   where the market lives (``polymarket``, ``kalshi`` …)
``market_id*``  the platform's market identifier
``title*``      the market's question
alert_type      ``price_alert``, ``whale_trade``, ``trader_position``, ``market_event`` …
yes_price       the YES price, 0 to 1
no_price        the NO price, 0 to 1 (YES = 1 − NO when ``yes_price`` is absent)
volume          ≥ 0, read as ``volume_kind`` says (``delta``, the default, or ``cumulative``)
event_kind      ``quote``, ``trade`` or ``alert`` (the default)
trade_size      ≥ 0
trade_side      ``buy`` or ``sell`` (which outcome: ``outcome`` ``yes``/``no``, top level or
                in ``metadata``; without it the taker side stays unknown)
trader          a wallet or a name
timestamp       ISO 8601 (no zone: UTC) or epoch seconds/milliseconds; default: now
live            default ``true``
topic           one of our topics, else inferred from the title
metadata        an object of alert-specific data
==============  ===================================================================

``source`` is always ``polyalerthub``. ``alert_type``, ``trader``, ``live``, the given side,
``metadata`` and every field not listed are kept in the event's ``metadata`` (a sender that
adds a field tomorrow is not locked out); an ``id`` is also the idempotency key and a valid
http(s) ``url`` the market link of alerts. Only a missing required field or a value out of
range (or of the wrong type) is refused — a 422 naming the field.
``POLYALERTHUB_TOKEN`` set → ``Authorization: Bearer <token>`` is required.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from trade_hunter.plugins import RelayRegistry, hookimpl
from trade_hunter.plugins.models import TOPICS, MarketEvent
from trade_hunter.plugins.registry import Relay

from . import fields as f

SOURCE = "polyalerthub"
REQUIRED = ("platform", "market_id", "title")
OPTIONAL = ("alert_type", "yes_price", "no_price", "volume", "volume_kind", "event_kind",
            "trade_size", "trade_side", "trader", "timestamp", "live", "topic", "metadata")
KNOWN = frozenset(REQUIRED + OPTIONAL + ("id",))
ALERT_TYPES = ("price_alert", "whale_trade", "trader_position", "market_event")
SUMMARY = {"required": list(REQUIRED), "optional": list(OPTIONAL),
           "event_kind": ["quote", "trade", "alert"], "trade_side": ["buy", "sell"],
           "unknown_fields": "kept in the event's metadata",
           "max_alerts_per_request": f.MAX_EVENTS}

_PRICE = {"type": "number", "minimum": 0, "maximum": 1}
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "PolyAlertHubAlert",
    "required": list(REQUIRED),
    "additionalProperties": True,
    "properties": {
        "platform": {"type": "string", "minLength": 1},
        "market_id": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "alert_type": {"type": "string", "examples": list(ALERT_TYPES)},
        "yes_price": _PRICE, "no_price": _PRICE,
        "volume": {"type": "number", "minimum": 0},
        "volume_kind": {"enum": ["delta", "cumulative"]},
        "event_kind": {"enum": ["quote", "trade", "alert"]},
        "trade_size": {"type": "number", "minimum": 0},
        "trade_side": {"enum": ["buy", "sell"]},
        "trader": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "live": {"type": "boolean"},
        "topic": {"type": "string"},
        "metadata": {"type": "object"},
        "id": {"type": ["string", "integer"]},
    },
}
EXAMPLE: dict[str, Any] = {
    "platform": "polymarket", "market_id": "fed-cut-in-december",
    "title": "Will the Fed cut rates in December?", "alert_type": "whale_trade",
    "yes_price": 0.41, "volume": 25000, "event_kind": "trade", "trade_side": "buy",
    "trader": "0x9f2c…a71b", "timestamp": "2026-11-27T10:00:00Z",
    "metadata": {"outcome": "yes", "usd_value": 25000}}
ACCEPTS: dict[str, Any] = {"oneOf": [
    ALERT_SCHEMA,
    {"type": "array", "items": ALERT_SCHEMA, "minItems": 1, "maxItems": f.MAX_EVENTS},
], "examples": [EXAMPLE]}


def _number(obj: dict[str, Any], key: str, at: str, problems: f.Problems, *,
            high: float | None = None) -> float | None:
    """A number ≥ 0 (≤ ``high``), or a numeric string (alert services often quote numbers)."""
    value = obj.get(key)
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            problems.add(f"{at}{key}", f"expected a number, got {f.show(value)}")
            return None
        if not math.isfinite(parsed):
            problems.add(f"{at}{key}", f"expected a finite number, got {value!r}")
            return None
        value = parsed
    return f.number({key: value}, key, at, problems, low=0.0, high=high)


def _timestamp(obj: dict[str, Any], at: str, problems: f.Problems) -> float | None:
    """ISO 8601 (a time without a zone is UTC) or epoch seconds/milliseconds."""
    value = obj.get("timestamp")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass  # f.timestamp names the field
        else:
            if parsed.tzinfo is None:
                value = parsed.replace(tzinfo=UTC).isoformat()
    return f.timestamp({"timestamp": value}, "timestamp", at, problems, allow_ms=True)


def _live(obj: dict[str, Any], at: str, problems: f.Problems) -> bool:
    value = obj.get("live", True)
    if value is None:
        return True
    if not isinstance(value, bool):
        problems.add(f"{at}live", f"expected true or false, got {f.type_name(value)}")
        return True
    return value


def _details(obj: dict[str, Any], at: str, problems: f.Problems) -> dict[str, Any]:
    value = obj.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"{at}metadata", f"expected an object, got {f.type_name(value)}")
        return {}
    return value


def _outcome(obj: dict[str, Any], details: dict[str, Any]) -> str | None:
    """Which outcome a buy/sell was of, when the alert says (``outcome`` yes/no)."""
    for where in (obj, details):
        value = where.get("outcome")
        if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
            return value.strip().lower()
    return None


def taker_side(side: str | None, outcome: str | None) -> str | None:
    """The taker's side as the detector reads it: buying YES or selling NO is ``yes``."""
    if side in ("yes", "no"):
        return side
    if side is None or outcome is None:
        return None
    return outcome if side == "buy" else ("no" if outcome == "yes" else "yes")


def alert_from(obj: Any, at: str, problems: f.Problems, *,
               source: str = SOURCE) -> MarketEvent | None:
    """Validate one alert of the documented format into a :class:`MarketEvent`."""
    if not isinstance(obj, dict):
        problems.add(at.rstrip(".") or "body", f"expected an object, got {f.type_name(obj)}")
        return None
    before = problems.count
    platform = f.text(obj, "platform", at, problems, required=True, max_len=64)
    market_id = f.text(obj, "market_id", at, problems, required=True)
    title = f.text(obj, "title", at, problems, required=True, max_len=500)
    alert_type = f.text(obj, "alert_type", at, problems, max_len=64)
    yes_price = _number(obj, "yes_price", at, problems, high=1.0)
    no_price = _number(obj, "no_price", at, problems, high=1.0)
    volume = _number(obj, "volume", at, problems)
    volume_kind = f.choice(obj, "volume_kind", at, problems, ("delta", "cumulative"))
    kind = f.choice(obj, "event_kind", at, problems, ("quote", "trade", "alert")) or "alert"
    trade_size = _number(obj, "trade_size", at, problems)
    side = f.choice(obj, "trade_side", at, problems, ("buy", "sell", "yes", "no"))
    trader = f.text(obj, "trader", at, problems)
    ts = _timestamp(obj, at, problems)
    live = _live(obj, at, problems)
    details = _details(obj, at, problems)
    ext_id = f.text(obj, "id", at, problems)
    if problems.count > before:
        return None
    assert platform and market_id and title
    raw_topic = obj.get("topic")
    topic = f.topic(obj, "topic", at, f.Problems(None), strict=False)
    extra = {k: v for k, v in obj.items() if k not in KNOWN}
    if yes_price is None and no_price is not None:
        yes_price = round(1.0 - no_price, 6)
    taker = taker_side(side, _outcome(obj, details))
    if kind == "alert":  # a trade report when it says who traded what
        event_kind = "trade" if side is not None or trade_size is not None else "quote"
    else:
        event_kind = kind
    meta: dict[str, Any] = {"event_kind": kind} if kind == "alert" else {}
    for key, value in (("alert_type", alert_type), ("trader", trader),
                       ("no_price", no_price), ("details", details or None),
                       ("extra", extra or None)):
        if value is not None:
            meta[key] = value
    if side in ("buy", "sell"):
        meta["trade_side"] = side
    if not live:
        meta["live"] = False
    if topic is None and isinstance(raw_topic, str) and raw_topic.strip():
        meta["topic"] = raw_topic  # not one of ours: kept, the pipeline infers the topic
    link = extra.get("url")
    if isinstance(link, str) and f.url({"url": link}, "url", at, f.Problems(None)):
        meta["url"] = link
    return MarketEvent(
        source=source, platform=platform, market_id=market_id, title=title,
        yes_price=yes_price, volume=volume, volume_kind=volume_kind or "delta",  # type: ignore[arg-type]
        event_kind=event_kind,  # type: ignore[arg-type]
        trade_side=taker if event_kind == "trade" else None,  # type: ignore[arg-type]
        trade_size=trade_size, timestamp=ts or 0.0,
        topic=topic if topic in TOPICS else None, ext_id=ext_id, metadata=meta)


def parse(payload: Any, headers: Mapping[str, str]) -> list[MarketEvent]:
    return f.parse_all(payload, f.Problems(SUMMARY), alert_from, what="alert")


def relay() -> Relay:
    return Relay(name="polyalerthub", path="/api/alerts/polyalerthub", parse=parse,
                 token_setting="POLYALERTHUB_TOKEN",
                 description="PolyAlertHub alerts: one alert or an array of up to "
                             f"{f.MAX_EVENTS:,} (price_alert, whale_trade, trader_position, "
                             "market_event)",
                 accepts=ACCEPTS)


@hookimpl
def th_register_relays(registry: RelayRegistry) -> None:
    registry.add(relay())
