"""What the Polymarket feed accepts as a tracked identifier: an event slug, a market slug or
a condition id (``0x`` + 64 hex digits); a polymarket.com page URL is reduced to its slug.

Which kind a slug is gets decided by resolving it through Gamma (``resolve.py``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from trade_hunter.plugins.registry import IdentifierSpec

from .config import SITE

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,199}$")
CONDITION_RE = re.compile(r"^0x[0-9a-f]{64}$")


def is_condition_id(identifier: str) -> bool:
    return bool(CONDITION_RE.match(identifier))


def normalize(raw: str) -> str:
    """The slug (lower case) or condition id, or ``ValueError`` saying what one looks like."""
    text = str(raw).strip()
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        if (parts.hostname or "").removeprefix("www.") == "polymarket.com":
            segments = [s for s in parts.path.split("/") if s]
            text = segments[-1] if segments else ""
    text = text.lower()
    if CONDITION_RE.match(text) or (SLUG_RE.match(text) and not text.startswith("0x")):
        return text
    raise ValueError(f"not a Polymarket identifier: {raw!r} (an event or market slug such as "
                     "fed-decision-in-december, or a condition id 0x + 64 hex digits)")


def market_url(market_id: str) -> str | None:
    """polymarket.com's page of a market slug (a condition id has no public page of its own)."""
    return f"{SITE}/market/{market_id}" if SLUG_RE.match(market_id) and \
        not market_id.startswith("0x") else None


IDENTIFIERS = IdentifierSpec(
    validate=normalize,
    describe="a Polymarket event or market slug (or condition id), e.g. "
             "fed-decision-in-december",
    seed_setting="POLYMARKET_MARKETS",
    market_url=market_url)
