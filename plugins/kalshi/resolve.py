"""Ticker resolution: what each tracked identifier means right now, kept current.

A tracked identifier is one of three kinds, tried in the order its shape suggests (0 hyphens:
series first; 1: event first; more: market first) and always confirmed by the API:

* a **market** ticker → that contract while it is open;
* an **event** ticker → all its open sub-markets;
* a **series** ticker → its current open market: the open market with the earliest future
  close (rolling series such as KXBTC15M roll over by themselves).

Closed or settled identifiers are ``expired``; unknown ones ``unresolved`` (with the reason,
re-checked now and then since markets can 404 for a moment after creation). Each identifier
is re-resolved at its next close time, on lifecycle events that concern it, and every 15
minutes as a safety net; a series between two windows is retried with backoff.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trade_hunter.plugins.topics import normalize_category

from .parse import rfc3339
from .rest import NotFound, Rest, RestError

log = logging.getLogger(__name__)
OPEN = {"active", "open", "inactive"}          # inactive = paused: still a live market
NOT_YET = {"initialized", "unopened"}
REFRESH_EVERY = 900.0      # safety net: new sub-markets, changed titles
RETRY_CAP = 60.0           # a transient REST failure
ROLL_RETRY_CAP = 10.0      # a series between two windows: the next one is due any moment
UNKNOWN_RECHECK = 600.0
META_TTL = 3600.0
META_FAILURE_TTL = 60.0
NUDGE_DELAY = 1.0          # coalesces a burst of lifecycle events into one refresh
CONCURRENCY = 4
NUDGE_TYPES = {"created", "activated", "deactivated", "close_date_updated", "determined",
               "settled", "metadata_updated"}


@dataclass
class MarketInfo:
    ticker: str
    event_ticker: str = ""
    title: str = ""
    topic: str | None = None
    close_ts: float | None = None


@dataclass
class Tracked:
    ticker: str
    kind: str = ""                  # market | event | series, once known
    status: str = "pending"         # pending | active | unresolved | expired
    detail: str = "looking up"
    markets: dict[str, MarketInfo] = field(default_factory=dict)
    next_check: float = 0.0         # wall-clock time of the next resolution
    retries: int = 0
    seen_open: bool = False         # it resolved to an open market once (a rolling series)


def hhmm(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%SZ") if ts else "?"


class Resolver:
    """Looks identifiers up over REST; caches event titles and series categories."""

    def __init__(self, rest: Rest, now: Callable[[], float] = time.time) -> None:
        self.rest = rest
        self.now = now
        self._meta: dict[str, tuple[float, dict[str, Any]]] = {}

    # ------------------------------------------------------------------ metadata
    async def _cached(self, path: str, key: str) -> dict[str, Any]:
        hit = self._meta.get(path)
        now = self.now()
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            value = (await self.rest.get(path)).get(key) or {}
            ttl = META_TTL
        except RestError as exc:
            log.info("kalshi: %s unavailable (%s); titles fall back", path, exc)
            value, ttl = (hit[1] if hit else {}), META_FAILURE_TTL
        self._meta[path] = (now + ttl, value)
        return value

    def remember(self, path: str, value: dict[str, Any]) -> None:
        self._meta[path] = (self.now() + META_TTL, value)

    async def info(self, market: dict[str, Any]) -> MarketInfo:
        """Title (event title + market subtitle) and topic (series category) of a market."""
        event_ticker = str(market.get("event_ticker") or "")
        event = await self._cached(f"/events/{event_ticker}", "event") if event_ticker else {}
        series_ticker = event.get("series_ticker")
        series = await self._cached(f"/series/{series_ticker}", "series") \
            if series_ticker else {}
        category = series.get("category") or next(iter(series.get("categories") or ()), None)
        head = event.get("title") or market.get("title") or ""
        sub = market.get("yes_sub_title") or market.get("subtitle") or ""
        title = f"{head} — {sub}" if head and sub and sub != head else head or sub
        return MarketInfo(ticker=market["ticker"], event_ticker=event_ticker, title=title,
                          topic=normalize_category(category), close_ts=_close(market))

    # ------------------------------------------------------------------ resolution
    async def resolve(self, t: Tracked) -> None:
        """Update ``t`` in place (status, detail, markets, next check)."""
        hyphens = t.ticker.count("-")
        order = ["series", "event", "market"] if hyphens == 0 else \
            ["event", "market", "series"] if hyphens == 1 else ["market", "event", "series"]
        if t.kind:
            order.remove(t.kind)
            order.insert(0, t.kind)
        try:
            for kind in order:
                try:
                    await getattr(self, f"_as_{kind}")(t)
                except NotFound:
                    continue
                t.kind = kind
                return
        except (RestError, KeyError, TypeError, ValueError) as exc:
            # Transient or odd answer: keep what we had, say why, try again soon.
            t.retries += 1
            t.detail = f"lookup failed ({exc}); retrying"
            if t.status not in ("active",):
                t.status = "unresolved"
            t.next_check = self.now() + min(RETRY_CAP, 2.0 ** t.retries)
            return
        t.kind, t.markets, t.status = "", {}, "unresolved"
        t.detail = "unknown: not a market, event or series ticker"
        t.retries += 1
        t.next_check = self.now() + min(UNKNOWN_RECHECK, 5.0 * 2 ** t.retries)

    def _set(self, t: Tracked, status: str, detail: str, markets: list[MarketInfo],
             next_check: float) -> None:
        t.status, t.detail = status, detail
        t.markets = {m.ticker: m for m in markets}
        t.next_check = next_check
        if status != "unresolved":
            t.retries = 0
        t.seen_open = t.seen_open or status == "active"

    def _after_close(self, markets: list[MarketInfo]) -> float:
        closes = [m.close_ts for m in markets if m.close_ts]
        now = self.now()
        return min([c + 1.0 for c in closes] + [now + REFRESH_EVERY])

    async def _as_market(self, t: Tracked) -> None:
        market = (await self.rest.get(f"/markets/{t.ticker}"))["market"]
        now = self.now()
        state = str(market.get("status") or "")
        if _is_open(market, now):
            info = await self.info(market)
            self._set(t, "active", f"market, closes {hhmm(info.close_ts)}", [info],
                      self._after_close([info]))
        elif state in NOT_YET or (_open(market) or 0) > now:
            opens = _open(market)
            self._set(t, "unresolved", f"market not open yet (opens {hhmm(opens)})", [],
                      (opens + 1.0) if opens else now + REFRESH_EVERY)
        else:
            self._set(t, "expired", f"market {state or 'closed'}: skipped", [], math.inf)

    async def _as_event(self, t: Tracked) -> None:
        body = await self.rest.get(f"/events/{t.ticker}", {"with_nested_markets": "true"})
        event = body.get("event") or {}
        markets = event.get("markets") or body.get("markets") or []
        self.remember(f"/events/{t.ticker}", {k: v for k, v in event.items() if k != "markets"})
        await self._pick(t, "event", markets, only_first=False)

    async def _as_series(self, t: Tracked) -> None:
        series = (await self.rest.get(f"/series/{t.ticker}")).get("series") or {}
        self.remember(f"/series/{t.ticker}", series)
        markets = [m async for m in self.rest.pages(
            "/markets", "markets", {"series_ticker": t.ticker, "status": "open", "limit": 200})]
        await self._pick(t, "series", markets, only_first=True)

    async def _pick(self, t: Tracked, kind: str, markets: list[dict[str, Any]], *,
                    only_first: bool) -> None:
        now = self.now()
        live = [m for m in markets if isinstance(m, dict) and m.get("ticker")
                and _is_open(m, now)]
        if live:
            if only_first:  # the series' current window: earliest future close
                live = [min(live, key=lambda m: (_close(m) or math.inf, m["ticker"]))]
            infos = [await self.info(m) for m in live]
            what = f"→ {infos[0].ticker}" if only_first else f": {len(infos)} open markets"
            after = self._after_close(infos)
            self._set(t, "active", f"{kind} {what}, next close {hhmm(after - 1)}", infos, after)
            return
        upcoming = [o for m in markets if isinstance(m, dict) and (o := _open(m)) and o > now]
        if kind == "series" or upcoming:
            # Between two windows (or just before the first): not fatal, retry with backoff.
            rolling = t.seen_open
            t.retries += 1
            retry = now + min(ROLL_RETRY_CAP, 0.5 * 2 ** t.retries)
            if upcoming:
                retry = min(retry, min(upcoming) + 1.0)
            t.status = "pending" if rolling else "unresolved"
            t.detail = (f"{kind}: waiting for the next market" if rolling
                        else f"{kind} has no open market right now; retrying")
            t.markets, t.next_check = {}, retry
            return
        self._set(t, "expired", f"{kind} has no open markets: skipped", [], math.inf)


def _close(market: dict[str, Any]) -> float | None:
    return rfc3339(market.get("close_time"))


def _open(market: dict[str, Any]) -> float | None:
    return rfc3339(market.get("open_time"))


def _is_open(market: dict[str, Any], now: float) -> bool:
    close, opened = _close(market), _open(market)
    return (str(market.get("status") or "") in OPEN and (close is None or close > now)
            and (opened is None or opened <= now))
