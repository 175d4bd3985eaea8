"""What the Kalshi feed accepts as a tracked identifier: a series, event or market ticker.

Registered with the feed (``identifiers=IDENTIFIERS``), so ``th-ctl add-ticker``, the API and
the first-start seed ``KALSHI_MARKETS`` all validate through :func:`normalize`; which kind of
ticker it is gets decided later, by resolving it over REST (``resolve.py``).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from trade_hunter.plugins.registry import IdentifierSpec

# Kalshi tickers: letters, digits, '-', '.', '_' (e.g. KXBTC15M, KXBTCD-26FEB1217-T67749.99)
TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")


def normalize(ticker: str) -> str:
    """The ticker in upper case, or ``ValueError`` saying what a ticker looks like."""
    text = str(ticker).strip().upper()
    if not TICKER_RE.match(text):
        raise ValueError(f"not a ticker: {ticker!r} (letters, digits, '-', '.', '_')")
    return text


def market_url(market_id: str) -> str | None:
    """Kalshi's public page of the market's series (its market pages are per series)."""
    series = market_id.split("-", 1)[0].lower()
    return f"https://kalshi.com/markets/{quote(series)}" if series else None


def event_of(market_id: str) -> str | None:
    """A market ticker's event: the ticker without its last segment (KXA-25DEC06-B40 →
    KXA-25DEC06); a bare series ticker has none."""
    return market_id.rsplit("-", 1)[0] if "-" in market_id else None


IDENTIFIERS = IdentifierSpec(
    validate=normalize,
    describe="a Kalshi series, event or market ticker, e.g. KXBTC15M",
    seed_setting="KALSHI_MARKETS",
    market_url=market_url,
    event_of=event_of)
