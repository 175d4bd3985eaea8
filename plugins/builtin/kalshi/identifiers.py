"""What the Kalshi feed accepts as a tracked identifier: a series, event or market ticker.

Registered with the feed (``identifiers=IDENTIFIERS``), so ``th-ctl add-ticker``, the API and
the first-start seed ``KALSHI_MARKETS`` all validate through :func:`normalize`; which kind of
ticker it is gets decided later, by resolving it over REST (``resolve.py``).
"""

from __future__ import annotations

import re

from trade_hunter.plugins.registry import IdentifierSpec

# Kalshi tickers: letters, digits, '-', '.', '_' (e.g. KXBTC15M, KXBTCD-26FEB1217-T67749.99)
TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")


def normalize(ticker: str) -> str:
    """The ticker in upper case, or ``ValueError`` saying what a ticker looks like."""
    text = str(ticker).strip().upper()
    if not TICKER_RE.match(text):
        raise ValueError(f"not a ticker: {ticker!r} (letters, digits, '-', '.', '_')")
    return text


IDENTIFIERS = IdentifierSpec(
    validate=normalize,
    describe="a Kalshi series, event or market ticker, e.g. KXBTC15M",
    seed_setting="KALSHI_MARKETS")
