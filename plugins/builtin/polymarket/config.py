"""The Polymarket feed's own settings (declared through ``th_add_settings``) and their
validation. Market data is public: there is no credential to configure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from trade_hunter.plugins.errors import ConfigError

PROD_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
PROD_GAMMA = "https://gamma-api.polymarket.com"
SITE = "https://polymarket.com"

SETTINGS: tuple[tuple[Any, ...], ...] = (
    # name, kind, default, help, options
    ("ENABLE_POLYMARKET", "bool", False,
     "Live mode: stream Polymarket's public market channel (suppresses simulation)",
     {"live": True}),
    ("POLYMARKET_MARKETS", "list", "",
     ("Polymarket identifiers to track on first start: event or market slugs, or "
      "condition ids, comma-separated"), {}),
    ("POLYMARKET_WS_URL", "str", PROD_WS, "Polymarket CLOB market-channel WebSocket URL", {}),
    ("POLYMARKET_GAMMA_URL", "str", PROD_GAMMA,
     "Polymarket Gamma REST base URL (market lookup and titles)", {}),
    ("POLYMARKET_STALL_SECONDS", "float", 30.0,
     "Reconnect when the WebSocket carries no frame and no PONG for this long",
     {"minimum": 1}),
    ("POLYMARKET_RECONNECT_MAX_SECONDS", "float", 60.0,
     "Longest wait between Polymarket reconnect attempts (exponential backoff with jitter)",
     {"minimum": 0.1}),
)


@dataclass(frozen=True)
class PolymarketConfig:
    ws_url: str = PROD_WS
    gamma_url: str = PROD_GAMMA
    stall_seconds: float = 30.0
    reconnect_max: float = 60.0


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> str:
    url = str(url).strip()
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(name, url, f"a {' or '.join(s + '://' for s in schemes)} URL")
    return url


def load_config(settings: Any) -> PolymarketConfig:
    """The configuration in force; ``ConfigError`` names a malformed URL."""
    return PolymarketConfig(
        ws_url=_check_url("POLYMARKET_WS_URL", settings.POLYMARKET_WS_URL, ("ws", "wss")),
        gamma_url=_check_url("POLYMARKET_GAMMA_URL", settings.POLYMARKET_GAMMA_URL,
                             ("http", "https")).rstrip("/"),
        stall_seconds=settings.POLYMARKET_STALL_SECONDS,
        reconnect_max=settings.POLYMARKET_RECONNECT_MAX_SECONDS)
