"""Tag search (the dashboard's category search, through the generic ``feeds.search``): open
Polymarket events carrying the tags that match a query, by volume.

Gamma (public): the tags from ``GET /tags`` (paged), each matched tag's open events from
``GET /events?tag_id=…&closed=false&order=volume&ascending=false`` (one page). A tag matches
by its label or slug: case-insensitive exactly first, else every one containing the query.
No match → ``invalid_params`` with the closest labels (rapidfuzz) in ``data.valid``. Each
piece is cached for ``CACHE_TTL``; a hit is an event slug (what the feed tracks) with its
title, tag, volume, end date, page link and, for a one-market event, its YES price.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from rapidfuzz import process

from trade_hunter.plugins.errors import ConfigError, RpcError

from .config import SITE, load_config
from .gamma import Gamma, GammaError
from .resolve import is_open, yes_token

CACHE_TTL = 600.0
MAX_TAGS = 5             # matched tags whose events are listed
EVENTS_PER_TAG = 100     # one page of each tag's open events, by volume
SUGGESTIONS = 12


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _yes_price(market: dict[str, Any]) -> float | None:
    """``lastTradePrice``, else the YES entry of ``outcomePrices`` (a JSON-encoded array)."""
    last = _number(market.get("lastTradePrice"))
    if last is not None:
        return last
    token = yes_token(market)
    try:
        tokens = json.loads(market.get("clobTokenIds") or "[]")
        prices = json.loads(market.get("outcomePrices") or "[]")
        return _number(prices[tokens.index(token)])
    except (ValueError, TypeError, IndexError):
        return None


def hit(event: dict[str, Any], tag: str) -> dict[str, Any]:
    markets = [m for m in event.get("markets") or () if isinstance(m, dict) and is_open(m)]
    slug = str(event.get("slug") or "")
    return {"id": slug, "title": str(event.get("title") or slug), "category": tag,
            "price": _yes_price(markets[0]) if len(markets) == 1 else None,
            "volume": _number(event.get("volume")), "closes_at": event.get("endDate"),
            "url": f"{SITE}/event/{slug}", "markets": len(markets)}


class TagSearch:
    def __init__(self, ttl: float = CACHE_TTL, now: Callable[[], float] = time.time) -> None:
        self.ttl, self.now = ttl, now
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = trio.Lock()

    async def _get(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.now():
            return cached[1]
        value = await load()
        self._cache[key] = (self.now() + self.ttl, value)
        return value

    async def tags(self, gamma: Gamma) -> list[dict[str, str]]:
        async def load() -> list[dict[str, str]]:
            return [{"id": str(t["id"]), "label": str(t.get("label") or t.get("slug")),
                     "slug": str(t.get("slug") or "")}
                    for t in await gamma.pages("/tags", {})
                    if isinstance(t, dict) and t.get("id") and (t.get("label") or t.get("slug"))]
        return await self._get("tags", load)  # type: ignore[no-any-return]

    async def _events(self, tag_id: str, gamma: Gamma) -> list[dict[str, Any]]:
        async def load() -> list[dict[str, Any]]:
            found = await gamma.get("/events", {
                "tag_id": tag_id, "closed": "false", "order": "volume", "ascending": "false",
                "limit": EVENTS_PER_TAG})
            return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []
        return await self._get(f"events:{tag_id}", load)  # type: ignore[no-any-return]

    async def search(self, query: str, gamma: Gamma, limit: int) -> dict[str, Any]:
        q = query.strip().lower()
        async with self._lock:
            tags = await self.tags(gamma)
            labels = sorted({t["label"] for t in tags}, key=str.lower)
            if not q:
                return {"query": "", "categories": labels, "results": []}
            matched = [t for t in tags if q in (t["label"].lower(), t["slug"].lower())] or \
                [t for t in tags if q in t["label"].lower() or q in t["slug"].lower()]
            if not matched:
                close = [m[0] for m in process.extract(q, labels, limit=SUGGESTIONS)]
                raise RpcError(f"no Polymarket tag matches {query.strip()!r}; close: "
                               + ", ".join(close), code="invalid_params", data={"valid": close})
            matched.sort(key=lambda t: (len(t["label"]), t["label"]))
            matched = matched[:MAX_TAGS]
            hits: dict[str, dict[str, Any]] = {}
            for tag in matched:
                for event in await self._events(tag["id"], gamma):
                    if event.get("slug") and not event.get("closed"):
                        hits.setdefault(str(event["slug"]), hit(event, tag["label"]))
        ordered = sorted(hits.values(), key=lambda h: (-(h["volume"] or 0.0), h["id"]))
        return {"query": query.strip(), "categories": [t["label"] for t in matched],
                "results": ordered[:limit], "total": len(ordered),
                "truncated": len(ordered) > limit}


async def search(ctx: Any, q: str, limit: int) -> dict[str, Any]:
    """``IdentifierSpec.search``: through the running feed's Gamma client, else a short-lived
    one against ``POLYMARKET_GAMMA_URL`` (public: works whether the feed runs or not)."""
    finder = ctx.extras.get("polymarket.search")
    if finder is None:
        finder = ctx.extras["polymarket.search"] = TagSearch()
    feed = ctx.components.get("polymarket")
    gamma = getattr(feed, "gamma", None)
    try:
        if isinstance(gamma, Gamma) and gamma.is_open:
            return await finder.search(q, gamma, limit)
        try:
            base = load_config(ctx.settings).gamma_url
        except ConfigError as exc:
            raise RpcError(str(exc), code="not_available") from None
        async with Gamma(base) as own:
            return await finder.search(q, own, limit)
    except GammaError as exc:
        raise RpcError(f"Polymarket is unavailable: {exc}", code="not_available") from None
