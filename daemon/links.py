"""The dashboard's own links in notifications (Discord, apprise, the digest): a market's page
at ``DASHBOARD_PUBLIC_URL`` (the address people reach the dashboard at, e.g. behind a reverse
proxy), else at the address the dashboard is bound to, known once the web server runs."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

from trade_hunter.plugins.errors import ConfigError


def parse_public_url(text: str) -> str:
    """``DASHBOARD_PUBLIC_URL`` → the base URL without a trailing slash (empty: unset);
    ``ConfigError`` for anything but an http(s) URL with a host and no query or fragment."""
    text = text.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise ConfigError("DASHBOARD_PUBLIC_URL", text,
                          "an http(s) URL such as https://hunter.example.com or "
                          "http://192.168.1.20:8765 (no query or fragment)")
    return text.rstrip("/")


class DashboardLinks:
    def __init__(self, public_url: str, bound: Callable[[], str]) -> None:
        self.public_url, self.bound = public_url, bound

    def base(self) -> str:
        """The configured address, else the bound one ("" before the web server runs)."""
        return self.public_url or self.bound().rstrip("/")

    def market(self, market_id: str) -> str | None:
        """The market page's URL, or ``None`` when no address is known yet."""
        base = self.base()
        return f"{base}/market/{quote(market_id, safe='')}" if base and market_id else None
