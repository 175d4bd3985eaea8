"""How a Kalshi market settled: ``result`` of ``GET /markets/{ticker}`` once the market is
determined or finalized (the feed's optional ``settlement`` capability, see docs/plugins.md).

Asked by the daemon's grader for markets that had signals, a few at a time and each at most
every so often; the request goes through the feed's REST client, so it is signed and paced by
the same token bucket as everything else the feed asks.
"""

from __future__ import annotations

from typing import Literal

from .rest import NotFound, Rest, RestError

SETTLED = {"determined", "finalized", "settled", "amended"}
"""Statuses at which ``result`` is final (``amended``: corrected after a dispute)."""


async def market_result(rest: Rest, ticker: str) -> Literal["yes", "no"] | None:
    """``yes`` / ``no`` once the market has settled; None while it has not (or when the
    exchange does not know it, or it settled as neither: a scalar or voided market).
    Raises :class:`RestError` when it cannot ask now (the feed is not running, or the
    exchange keeps failing): the caller asks again later."""
    if not rest.is_open:
        raise RestError("the Kalshi feed is not running")
    try:
        body = await rest.get(f"/markets/{ticker}")
    except NotFound:
        return None
    market = body.get("market")
    if not isinstance(market, dict) or market.get("status") not in SETTLED:
        return None
    result = market.get("result")
    return result if result in ("yes", "no") else None
