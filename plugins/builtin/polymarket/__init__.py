"""The built-in Polymarket plugin: a live feed of Polymarket's public CLOB market channel
(WebSocket), its tracked identifiers (event or market slugs, condition ids), and its settings.
Built like a third-party plugin: hooks only register; the work happens in
:class:`~.feed.PolymarketFeed`, created when ``ENABLE_POLYMARKET=true``. No credentials: the
market data is public. See docs/polymarket-protocol.md. Its tag search (``search.py``) fills
the feed's ``IdentifierSpec.search``: ``GET /api/feeds/polymarket/search?q=``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from trade_hunter.plugins import ComponentRegistry, SettingsRegistry, hookimpl

from .config import SETTINGS, load_config
from .feed import PolymarketFeed
from .identifiers import IDENTIFIERS
from .search import search

__all__ = ["PolymarketFeed", "create_feed"]


@hookimpl
def th_add_settings(settings: SettingsRegistry) -> None:
    for name, kind, default, help_, options in SETTINGS:
        settings.add(name, kind, default, help_, **options)


def create_feed(ctx: Any) -> PolymarketFeed:
    """The feed factory: a malformed URL raises ``ConfigError`` (start-up stops)."""
    return PolymarketFeed(load_config(ctx.settings), ctx.health, ctx.tickers)


@hookimpl
def th_register_feeds(registry: ComponentRegistry) -> None:
    registry.add("polymarket", create_feed, enabled=lambda s: bool(s.ENABLE_POLYMARKET),
                 description="Polymarket live market data (public market channel)",
                 identifiers=replace(IDENTIFIERS, search=search))
