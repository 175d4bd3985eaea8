"""Ticker resolution: what each tracked identifier means right now, kept current.

A tracked identifier is one of three kinds, tried in the order its shape suggests (0 hyphens:
series first; 1: event first; more: market first) and always confirmed by the API:

* a **market** ticker → that contract while it is open (or paused);
* an **event** ticker → all its open (or paused) sub-markets;
* a **series** ticker → its current market: the open or paused market with the earliest
  future close (rolling series such as KXBTC15M roll over by themselves).

A lookup answered 404 or 400 means "not this kind" (``GET /series/{ticker}`` documents 400,
not 404, for a bad ticker); 429 and 5xx are retried once, then the tracker tries again later
with backoff, so a lookup never holds one of the few lookup slots through a long outage.

Statuses: ``active``; ``paused`` (the exchange halted trading; still subscribed: it resumes
without notice); ``expired`` (closed or settled; ``expired (historical)`` when the market is
only found under ``/historical/markets``, past the live-data cutoff); ``unresolved`` (with the
reason, re-checked now and then since markets can 404 for a moment after creation);
``pending`` (a rolling series between two windows). Each identifier is re-resolved at its next
close time, on lifecycle events that concern it, and every 15 minutes as a safety net.
See docs/kalshi-protocol.md for the documented behaviour each rule relies on.
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
PAUSED = "inactive"
LIVE_FILTERS = ("open", "paused")  # GET /markets?status=open matches active markets only
NOT_A_KIND = {400, 404}            # the identifier is not of the kind asked for
LOOKUP_RETRIES = 1                 # then the tracker retries later, the slot freed
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
    status: str = "pending"         # pending | active | paused | unresolved | expired
    detail: str = "looking up"
    markets: dict[str, MarketInfo] = field(default_factory=dict)
    next_check: float = 0.0         # wall-clock time of the next resolution
    retries: int = 0
    seen_open: bool = False         # it resolved to an open market once (a rolling series)
    early: dict[str, MarketInfo] = field(default_factory=dict)
    """Markets announced by a lifecycle ``created`` message, joined before their first
    resolution (the next window of a rolling series, a new sub-market of an event)."""

    @property
    def live(self) -> bool:
        return self.status in ("active", "paused")


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
            value = (await self.rest.get(path, retries=LOOKUP_RETRIES)).get(key) or {}
            ttl = META_TTL
        except RestError as exc:
            log.info("kalshi: %s unavailable (%s); titles fall back", path, exc)
            value, ttl = (hit[1] if hit else {}), META_FAILURE_TTL
        self._meta[path] = (now + ttl, value)
        return value

    def cached_topic(self, series_ticker: str | None) -> str | None:
        """The topic of a series already looked up (no request)."""
        hit = self._meta.get(f"/series/{series_ticker}") if series_ticker else None
        series = hit[1] if hit else {}
        return normalize_category(series.get("category")
                                  or next(iter(series.get("categories") or ()), None))

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
                except RestError as exc:
                    if isinstance(exc, NotFound) or exc.status in NOT_A_KIND:
                        continue
                    raise
                t.kind = kind
                return
            if await self._historical(t):
                return
        except (RestError, KeyError, TypeError, ValueError) as exc:
            # Transient or odd answer: keep what we had, say why, try again soon.
            t.retries += 1
            t.detail = f"lookup failed ({exc}); retrying"
            if not t.live:
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
        t.seen_open = t.seen_open or t.live
        for ticker in list(t.early):  # resolved for real now, or gone
            info = t.early[ticker]
            if ticker in t.markets or (info.close_ts or math.inf) <= self.now():
                del t.early[ticker]

    def _after_close(self, markets: list[MarketInfo]) -> float:
        closes = [m.close_ts for m in markets if m.close_ts]
        now = self.now()
        return min([c + 1.0 for c in closes] + [now + REFRESH_EVERY])

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.rest.get(path, params, retries=LOOKUP_RETRIES)

    async def _historical(self, t: Tracked) -> bool:
        """A market settled before the live-data cutoff exists only in the historical tier:
        ``expired (historical)`` instead of "unknown"."""
        try:
            market = (await self._get(f"/historical/markets/{t.ticker}")).get("market")
        except RestError as exc:
            if isinstance(exc, NotFound) or exc.status in NOT_A_KIND:
                return False
            raise
        if not isinstance(market, dict):
            return False
        state = str(market.get("status") or "settled")
        t.kind = "market"
        self._set(t, "expired", f"expired (historical): market {state} before the live-data "
                                "cutoff; skipped", [], math.inf)
        return True

    async def _as_market(self, t: Tracked) -> None:
        market = (await self._get(f"/markets/{t.ticker}"))["market"]
        now = self.now()
        state = str(market.get("status") or "")
        if _is_open(market, now):
            info = await self.info(market)
            paused = state == PAUSED
            self._set(t, "paused" if paused else "active",
                      f"market{' paused by the exchange' if paused else ''}, closes "
                      f"{hhmm(info.close_ts)}", [info], self._after_close([info]))
        elif state in NOT_YET or (_open(market) or 0) > now:
            opens = _open(market)
            self._set(t, "unresolved", f"market not open yet (opens {hhmm(opens)})", [],
                      (opens + 1.0) if opens else now + REFRESH_EVERY)
        else:
            self._set(t, "expired", f"market {state or 'closed'}: skipped", [], math.inf)

    async def _as_event(self, t: Tracked) -> None:
        body = await self._get(f"/events/{t.ticker}", {"with_nested_markets": "true"})
        event = body.get("event") or {}
        markets = event.get("markets") or body.get("markets") or []
        self.remember(f"/events/{t.ticker}", {k: v for k, v in event.items() if k != "markets"})
        await self._pick(t, "event", markets, only_first=False)

    async def _as_series(self, t: Tracked) -> None:
        series = (await self._get(f"/series/{t.ticker}")).get("series") or {}
        self.remember(f"/series/{t.ticker}", series)
        # One status per query: "open" (active) and "paused" (inactive), so a series whose
        # current market is paused keeps it.
        markets: dict[str, dict[str, Any]] = {}
        for status in LIVE_FILTERS:
            async for m in self.rest.pages("/markets", "markets", {
                    "series_ticker": t.ticker, "status": status, "limit": 200},
                    retries=LOOKUP_RETRIES):
                markets.setdefault(str(m.get("ticker")), m)
        await self._pick(t, "series", list(markets.values()), only_first=True)

    async def _pick(self, t: Tracked, kind: str, markets: list[dict[str, Any]], *,
                    only_first: bool) -> None:
        now = self.now()
        live = [m for m in markets if isinstance(m, dict) and m.get("ticker")
                and _is_open(m, now)]
        if live:
            if only_first:  # the series' current window: earliest future close
                live = [min(live, key=lambda m: (_close(m) or math.inf, m["ticker"]))]
            infos = [await self.info(m) for m in live]
            paused = sum(1 for m in live if m.get("status") == PAUSED)
            what = f"→ {infos[0].ticker}" if only_first else f": {len(infos)} open markets"
            if paused:
                what += " (paused)" if only_first else f" ({paused} paused)"
            after = self._after_close(infos)
            self._set(t, "paused" if paused == len(live) else "active",
                      f"{kind} {what}, next close {hhmm(after - 1)}", infos, after)
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
