"""The built-in Kalshi plugin: a live feed (signed WebSocket, ticker resolution, rollover,
reconnects), its tracked identifiers (Kalshi tickers, ``identifiers.py``), its settings, the
``kalshi.categories`` control method and its HTTP routes (``GET /api/kalshi/categories``, and
``/api/kalshi/markets``: the documented aliases of the generic ``/api/feeds/kalshi/tracked``).

Hooks only register; the work happens in :class:`~.feed.KalshiFeed`, created in live mode
(``ENABLE_KALSHI=true``). The factory validates the credentials and endpoints: a missing,
unreadable or wrong-type key, a missing key id or a malformed URL raises ``ConfigError``, which
stops start-up with one line (exit 2).

``kalshi.categories`` needs only public REST endpoints, so it works whenever the plugin is
loaded: through the running feed's client in live mode, else through a short-lived unsigned
client against ``KALSHI_API_BASE`` (results cached for ``KALSHI_CATEGORY_TTL_SECONDS``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from trade_hunter.plugins import ComponentRegistry, RpcRegistry, SettingsRegistry, hookimpl
from trade_hunter.plugins.errors import ConfigError, RpcError

from .auth import KEY_ID_VAR, Signer, load_private_key
from .categories import DEFAULT_LIMIT, MAX_LIMIT, CategorySearch
from .config import SETTINGS, endpoints, key_path, load_config
from .feed import KalshiFeed
from .identifiers import IDENTIFIERS
from .rest import Rest, RestError

MAX_QUERY = 100  # characters of a category query

__all__ = ["KalshiFeed", "categories_rpc", "create_feed"]


@hookimpl
def th_add_settings(settings: SettingsRegistry) -> None:
    for name, kind, default, help_, options in SETTINGS:
        settings.add(name, kind, default, help_, **options)


def create_feed(ctx: Any) -> KalshiFeed:
    """The feed factory: validates everything first (``ConfigError`` stops start-up)."""
    s = ctx.settings
    cfg = load_config(s)
    if not s.KALSHI_API_KEY_ID:
        raise ConfigError(KEY_ID_VAR, "", "your Kalshi API key id (required when "
                                          "ENABLE_KALSHI=true)")
    signer = Signer(s.KALSHI_API_KEY_ID, load_private_key(key_path(s)))
    return KalshiFeed(cfg, signer, ctx.health, ctx.tickers)


async def search(ctx: Any, q: str, limit: int) -> dict[str, Any]:
    """The generic feed search (``feeds.search``): the category search's markets as hits."""
    found = await categories_rpc(ctx, q, min(limit, MAX_LIMIT))
    hits = [{"id": m["ticker"], "title": m["title"], "category": m["category"],
             "price": m["last_price"], "volume": m["volume"], "closes_at": m["close_time"],
             "also": [m["series_ticker"]] if m.get("series_ticker") else []}
            for m in found.get("markets") or () if m.get("ticker")]
    return {"query": found.get("query", ""), "categories": found.get("categories", []),
            "results": hits, "total": found.get("total", len(hits)),
            "truncated": bool(found.get("truncated"))}


@hookimpl
def th_register_feeds(registry: ComponentRegistry) -> None:
    registry.add("kalshi", create_feed, enabled=lambda s: bool(s.ENABLE_KALSHI),
                 description="Kalshi live market data (signed WebSocket)",
                 identifiers=replace(IDENTIFIERS, search=search))


async def categories_rpc(ctx: Any, q: str = "", limit: Any = DEFAULT_LIMIT) -> Any:
    try:
        count = int(limit)
    except (TypeError, ValueError):
        raise RpcError(f"kalshi.categories: limit must be an integer, not {limit!r}") from None
    if not isinstance(q, str):
        raise RpcError("kalshi.categories: q must be a string")
    if len(q) > MAX_QUERY:
        raise RpcError(f"kalshi.categories: q must be at most {MAX_QUERY} characters")
    feed = ctx.components.get("kalshi")
    try:
        if isinstance(feed, KalshiFeed) and feed.rest.is_open:
            return await feed.categories.search(q, feed.rest, count)
        try:
            api, _ = endpoints(ctx.settings)
        except ConfigError as exc:
            raise RpcError(str(exc), code="not_available") from None
        search = ctx.extras.get("kalshi.categories")
        if search is None:
            search = ctx.extras["kalshi.categories"] = CategorySearch(
                ctx.settings.KALSHI_CATEGORY_TTL_SECONDS)
        async with Rest(api, rate=ctx.settings.KALSHI_REST_RATE) as rest:
            return await search.search(q, rest, count)
    except RestError as exc:
        raise RpcError(f"Kalshi is unavailable: {exc}", code="not_available") from None


@hookimpl
def th_register_rpc_methods(registry: RpcRegistry) -> None:
    registry.add("kalshi.categories", categories_rpc,
                 params={"q": "category name, e.g. Crypto (empty: list the categories)",
                         "limit": f"most markets to return (default {DEFAULT_LIMIT})"},
                 help="Open Kalshi markets in matching categories, by volume")
    registry.route("GET", "/api/kalshi/categories", "kalshi.categories",
                   help="Kalshi markets in a category (served by the Kalshi plugin)")
    # The routes of the dashboard and README from before tracked identifiers were per feed.
    fixed = {"feed": "kalshi"}
    registry.route("GET", "/api/kalshi/markets", "tickers.list", fixed=fixed,
                   help="Tracked Kalshi tickers (alias of GET /api/feeds/kalshi/tracked)")
    registry.route("POST", "/api/kalshi/markets", "tickers.add", fixed=fixed,
                   help="Track a Kalshi series, event or market ticker (alias of POST "
                        "/api/feeds/kalshi/tracked)")
    registry.route("POST", "/api/kalshi/markets/remove", "tickers.remove", fixed=fixed,
                   help="Stop tracking a Kalshi ticker (alias of POST "
                        "/api/feeds/kalshi/tracked/remove)")
