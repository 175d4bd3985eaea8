"""Category search: open markets in the exchange's categories (``Crypto``, ``Politics``…).

Data (public REST, no signature needed): the category names from
``/search/tags_by_categories``, the series of a category from ``/series?category=``, and the
open events with their markets from ``/events?status=open&with_nested_markets=true`` (one
paginated scan shared by every category). Each piece is cached for ``ttl`` seconds; one lock
makes concurrent searches share a refresh instead of repeating it.

Matching: a case-insensitive exact name wins; otherwise every category containing the query
(``climate`` → ``Climate and Weather``). No match → :class:`RpcError` with the valid names.
An empty query lists the categories. An exchange that cannot be reached fails at once, and
429/5xx are retried only a few times, so the control socket answers well within its timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import trio

from trade_hunter.plugins.errors import RpcError

from .rest import Rest

EVENT_PAGES = 50            # 50 × 200 open events
RETRIES = 3                 # 429/5xx: a few seconds at most, then "not available"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _number(text: Any) -> float | None:
    try:
        return float(Decimal(text)) if isinstance(text, str) and text else None
    except InvalidOperation:
        return None


class CategorySearch:
    def __init__(self, ttl: float, now: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.now = now
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = trio.Lock()

    async def _get(self, key: str, load: Callable[[], Any]) -> Any:
        hit = self._cache.get(key)
        if hit is not None and hit[0] > self.now():
            return hit[1]
        value = await load()
        self._cache[key] = (self.now() + self.ttl, value)
        return value

    async def categories(self, rest: Rest) -> list[str]:
        async def load() -> list[str]:
            body = await rest.get("/search/tags_by_categories", retries=RETRIES)
            return sorted(str(k) for k in (body.get("tags_by_categories") or {}))
        return await self._get("categories", load)  # type: ignore[no-any-return]

    async def _series(self, category: str, rest: Rest) -> dict[str, dict[str, Any]]:
        async def load() -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            async for s in rest.pages("/series", "series", {"category": category},
                                      retries=RETRIES):
                cats = [s.get("category"), *(s.get("categories") or ())]
                if s.get("ticker") and category in cats:
                    found[str(s["ticker"])] = s
            return found
        return await self._get(f"series:{category}", load)  # type: ignore[no-any-return]

    async def _open_events(self, rest: Rest) -> list[dict[str, Any]]:
        async def load() -> list[dict[str, Any]]:
            return [e async for e in rest.pages(
                "/events", "events", {"status": "open", "with_nested_markets": "true",
                                      "limit": 200}, max_pages=EVENT_PAGES,
                retries=RETRIES)]
        return await self._get("events", load)  # type: ignore[no-any-return]

    async def search(self, query: str, rest: Rest, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """Open markets of the categories matching ``query`` (empty: just the categories)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise RpcError(f"kalshi.categories: limit must be from 1 to {MAX_LIMIT}")
        async with self._lock:
            valid = await self.categories(rest)
            q = query.strip().lower()
            if not q:
                return {"query": "", "categories": valid, "markets": []}
            matched = [c for c in valid if c.lower() == q] or [c for c in valid if q in c.lower()]
            if not matched:
                raise RpcError(f"unknown Kalshi category {query.strip()!r}; valid: "
                               + ", ".join(valid), code="invalid_params", data={"valid": valid})
            series: dict[str, tuple[str, dict[str, Any]]] = {}
            for category in matched:
                for ticker, s in (await self._series(category, rest)).items():
                    series.setdefault(ticker, (category, s))
            events = await self._open_events(rest)
        markets: list[dict[str, Any]] = []
        for event in events:
            hit = series.get(str(event.get("series_ticker")))
            if hit is None:
                continue
            for m in event.get("markets") or ():
                if not isinstance(m, dict) or m.get("status") not in ("active", "open"):
                    continue
                sub = m.get("yes_sub_title") or ""
                head = event.get("title") or m.get("title") or ""
                markets.append({
                    "ticker": m.get("ticker"), "event_ticker": event.get("event_ticker"),
                    "series_ticker": event.get("series_ticker"), "category": hit[0],
                    "title": f"{head} — {sub}" if head and sub and sub != head else head or sub,
                    "last_price": _number(m.get("last_price_dollars")),
                    "yes_bid": _number(m.get("yes_bid_dollars")),
                    "yes_ask": _number(m.get("yes_ask_dollars")),
                    "volume": _number(m.get("volume_fp")),
                    "volume_24h": _number(m.get("volume_24h_fp")),
                    "close_time": m.get("close_time"),
                })
        markets.sort(key=lambda m: (-float(m["volume"] or 0.0), str(m["ticker"])))
        return {"query": query.strip(), "categories": matched, "markets": markets[:limit],
                "total": len(markets), "truncated": len(markets) > limit}
