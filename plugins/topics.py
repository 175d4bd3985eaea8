"""Topic of a market: the exchange's own category when known, else keywords in title/ticker."""

from __future__ import annotations

import re

# Order matters: the first topic with a matching keyword wins.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crypto", ("bitcoin", "btc", "ethereum", "eth", "solana", "sol", "xrp", "doge", "crypto",
                "stablecoin", "coinbase", "binance")),
    ("elections", ("election", "elect", "president", "senate", "house", "governor", "mayor",
                   "primary", "nominee", "vote", "ballot", "democrat", "republican", "gop",
                   "parliament", "prime minister", "pres")),
    ("macro", ("fed", "fomc", "rate", "rates", "cpi", "inflation", "gdp", "unemployment",
               "jobs", "payroll", "recession", "treasury", "yield", "s&p", "nasdaq", "inx",
               "tariff", "oil", "gas price")),
    ("sports", ("nfl", "nba", "mlb", "nhl", "mls", "ufc", "super bowl", "world series",
                "championship", "playoff", "match", "game", "cup", "open", "grand prix", "f1",
                "tennis", "golf", "win the", "vs")),
    ("geopolitics", ("war", "ceasefire", "invasion", "nato", "china", "russia", "ukraine",
                     "israel", "iran", "taiwan", "sanction", "treaty", "summit", "military",
                     "troops", "missile", "strike on")),
)

_ALIASES = {
    "economics": "macro", "financials": "macro", "economy": "macro", "companies": "macro",
    "politics": "elections", "election": "elections", "elections": "elections",
    "crypto": "crypto", "cryptocurrency": "crypto", "sports": "sports", "world": "geopolitics",
    "geopolitics": "geopolitics", "macro": "macro", "general": "general",
}

_WORD = re.compile(r"[a-z0-9&]+")


def normalize_category(category: str | None) -> str | None:
    """Map an exchange category (Kalshi ``Economics``, ``Crypto``…) to our topic names."""
    if not category:
        return None
    key = category.strip().lower()
    return _ALIASES.get(key, key.replace(" ", "-"))


def infer_topic(title: str, market_id: str = "") -> str:
    """Guess a topic from words of the title and the ticker; ``general`` when nothing matches."""
    text = f"{title} {market_id}".lower()
    words = set(_WORD.findall(text))
    for topic, keywords in _KEYWORDS:
        for kw in keywords:
            if (" " in kw and kw in text) or kw in words:
                return topic
    # Kalshi tickers carry the series: KXBTC…, KXETHD…, KXFED…
    ticker = market_id.upper()
    for prefix, topic in (("KXBTC", "crypto"), ("KXETH", "crypto"), ("KXSOL", "crypto"),
                          ("KXXRP", "crypto"), ("KXDOGE", "crypto"), ("KXFED", "macro"),
                          ("KXCPI", "macro"), ("KXPRES", "elections")):
        if ticker.startswith(prefix):
            return topic
    return "general"


def topic_of(category: str | None, title: str, market_id: str) -> str:
    return normalize_category(category) or infer_topic(title, market_id)
