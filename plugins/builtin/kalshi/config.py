"""The Kalshi feed's own settings (declared through ``th_add_settings``) and their validation.

Endpoints: ``KALSHI_API_BASE`` / ``KALSHI_WS_URL`` default to production; ``KALSHI_ENV=demo``
swaps a URL that was left at its production default for the demo one, while a URL set
explicitly always wins (a local test exchange, a proxy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from trade_hunter.plugins.errors import ConfigError

PROD_API = "https://external-api.kalshi.com/trade-api/v2"
PROD_WS = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
DEMO_API = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_WS = "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"

SETTINGS: tuple[tuple[Any, ...], ...] = (
    # name, kind, default, help, options
    ("ENABLE_KALSHI", "bool", False, "Live mode: stream Kalshi (suppresses simulation)",
     {"live": True}),
    ("KALSHI_API_KEY_ID", "str", "", "Kalshi API key id", {"secret": True}),
    ("KALSHI_PRIVATE_KEY_PATH", "path", "", "Kalshi RSA private key (PEM)", {}),
    ("KALSHI_MARKETS", "list", "",
     "Tickers to track on first start: series, event or market tickers, comma-separated", {}),
    ("KALSHI_ENV", "choice", "prod",
     "Kalshi environment; demo switches endpoints left at their defaults to the demo hosts",
     {"choices": ("prod", "demo")}),
    ("KALSHI_API_BASE", "str", PROD_API, "Kalshi REST base URL", {}),
    ("KALSHI_WS_URL", "str", PROD_WS, "Kalshi market-data WebSocket URL", {}),
    ("KALSHI_REST_RATE", "float", 10.0,
     "Kalshi REST requests per second (token bucket; the Basic tier allows 20)",
     {"minimum": 0.1, "maximum": 20}),
    ("KALSHI_STALL_SECONDS", "float", 30.0,
     "Reconnect when the WebSocket carries no frame and answers no ping for this long",
     {"minimum": 1}),
    ("KALSHI_RECONNECT_MAX_SECONDS", "float", 60.0,
     "Longest wait between reconnect attempts (exponential backoff with jitter)",
     {"minimum": 0.1}),
    ("KALSHI_CATEGORY_TTL_SECONDS", "float", 300.0,
     "How long category search results are cached", {"minimum": 0}),
)


@dataclass(frozen=True)
class KalshiConfig:
    api_base: str
    ws_url: str
    rest_rate: float = 10.0
    stall_seconds: float = 30.0
    reconnect_max: float = 60.0
    category_ttl: float = 300.0

    @property
    def ws_path(self) -> str:
        """The path the WebSocket handshake signs (``/trade-api/ws/v2``)."""
        return urlsplit(self.ws_url).path or "/"


def endpoints(settings: Any) -> tuple[str, str]:
    """The REST base and WebSocket URL in force; raises ``ConfigError`` for a bad URL."""
    api = str(settings.KALSHI_API_BASE).strip().rstrip("/")
    ws = str(settings.KALSHI_WS_URL).strip()
    if settings.KALSHI_ENV == "demo":
        api = DEMO_API if api == PROD_API else api
        ws = DEMO_WS if ws == PROD_WS else ws
    _check_url("KALSHI_API_BASE", api, ("http", "https"))
    _check_url("KALSHI_WS_URL", ws, ("ws", "wss"))
    return api, ws


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(name, url, f"a {' or '.join(s + '://' for s in schemes)} URL")


def load_config(settings: Any) -> KalshiConfig:
    api, ws = endpoints(settings)
    return KalshiConfig(api_base=api, ws_url=ws, rest_rate=settings.KALSHI_REST_RATE,
                        stall_seconds=settings.KALSHI_STALL_SECONDS,
                        reconnect_max=settings.KALSHI_RECONNECT_MAX_SECONDS,
                        category_ttl=settings.KALSHI_CATEGORY_TTL_SECONDS)


def key_path(settings: Any) -> Path | None:
    value = settings.KALSHI_PRIVATE_KEY_PATH
    return Path(value) if value else None
