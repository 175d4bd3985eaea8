"""One market's page: ``/market/<id>``, its facts (``GET /api/markets/{id}``) and its chart
data (``GET /api/markets/{id}/series``), read from the store off the event loop."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any, Literal

import trio
from msgspec import Meta, Struct
from quart import Quart, Response
from quart_schema import document_querystring, document_response, hide

from trade_hunter.daemon import market_reads as reads
from trade_hunter.daemon.market_rollup import RollupCache
from trade_hunter.daemon.outcome_store import outcomes_of

from . import schemas
from .api import read_query
from .errors import json_error, json_response
from .state import signal_card

if TYPE_CHECKING:
    from .parts import WebParts

PAGE_SIGNALS = 50
Range = Literal["15m", "1h", "6h", "1d", "1w"]


class SeriesQuery(Struct, forbid_unknown_fields=True):
    range: Annotated[Range, Meta(description="how far back from `end`")] = "1h"
    resolution: Annotated[int, Meta(ge=10, le=reads.MAX_POINTS,
                                    description="buckets over the range (at most 2,000)")] = 600
    end: Annotated[float, Meta(gt=0, description="epoch seconds (default: now)")] | None = None


class MarketQuery(Struct, forbid_unknown_fields=True):
    range: Annotated[Range, Meta(description="the window of the trade-flow statistics")] = "1d"


def tracking(d: WebParts, market: str) -> list[dict[str, Any]]:
    """The tracked tickers that cover ``market`` (the market itself, its event, its series)."""
    return [{"ticker": t.ticker, "status": t.status} for t in d.tickers.list()
            if t.ticker == market or market in (t.markets or [])
            or market.startswith(t.ticker + "-")]


def feed_status(d: WebParts, source: str | None) -> list[dict[str, Any]]:
    feeds = [h for h in d.health.as_list() if h["kind"] == "feed"]
    return [{"name": h["name"], "state": h["state"], "detail": h.get("detail", "")}
            for h in feeds if source is None or h["name"] == source] or \
        [{"name": h["name"], "state": h["state"], "detail": h.get("detail", "")} for h in feeds]


def signal_close(signals: list[Any]) -> float | None:
    """When the market closes as its stored signals knew it: the close time the feed put on
    a signal's event, else the time left the gated detector recorded at a signal."""
    for s in signals:
        if s.event.closes_at is not None:
            return float(s.event.closes_at)
    for s in signals:
        if s.context.seconds_to_close is not None:
            return float(s.created_at + s.context.seconds_to_close)
    return None


def resolution(settled: tuple[str | None, float] | None, closes_at: float | None,
               now: float) -> dict[str, Any]:
    """``settled`` (with the result), ``closed`` (past its close, not settled yet), ``open``
    (before its close) or ``unknown`` (no close time known and not settled)."""
    result, checked = settled if settled is not None else (None, None)
    state = ("settled" if result else "unknown" if closes_at is None
             else "closed" if now >= closes_at else "open")
    return {"state": state, "result": result, "closes_at": closes_at, "checked_at": checked}


def market_payload(d: WebParts, market: str, window: str, rollups: RollupCache
                   ) -> dict[str, Any] | None:
    """Blocking (worker thread): everything the market page shows but the chart."""
    row = reads.market_row(d.store, market)
    if row is None:
        return None
    now = time.time()
    first = row["first_event_at"]
    stored = reads.market_signals(d.store, market, limit=PAGE_SIGNALS)
    graded = outcomes_of(d.store, [s.id for s, _ in stored if s.id is not None])  # as stored
    return {
        **row,
        "flow": {"range": window, **reads.flow_stats(
            d.store, market, now - reads.RANGES[window], now + 1, rollups)},
        "signals": [signal_card(s, r, graded.get(s.id or 0), first_seen=first,
                                venue_url=d.tickers.venue_url)
                    for s, r in stored],
        "settlement": reads.settlement_of(d.store, market),
        "signal_close": signal_close([s for s, _ in stored]),
    }


def paired_series(d: WebParts, market: str, start: float, end: float, resolution: int,
                  rollups: RollupCache) -> list[dict[str, Any]]:
    """The venue comparison: for each cross-venue pair of ``market``, the other venue's price
    over the same range, mapped to this market's YES (``1 - p`` when the pair maps YES to NO)."""
    out = []
    for pair in d.pairs.entries():
        if market not in (pair.a_market, pair.b_market):
            continue
        mine_a = pair.a_market == market
        other, platform = (pair.b_market, pair.b_platform) if mine_a else \
            (pair.a_market, pair.a_platform)
        other_series = reads.series(d.store, other, start, end, resolution, rollups)
        flip = pair.mapping == "no"
        out.append({"pair_id": pair.id, "platform": platform, "market_id": other,
                    "mapping": pair.mapping,
                    "price": [[t, round(1 - p, 6) if flip else p]
                              for t, p in other_series["price"]]})
    return out


def register_market_routes(app: Quart, d: WebParts) -> None:
    rollups = RollupCache(d.store)  # the long ranges of the last few charted markets

    @app.get("/market/<market_id>")
    @hide
    async def market_page(market_id: str) -> Any:
        return await app.send_static_file("market.html")

    @app.get("/api/markets/<market_id>")
    @document_querystring(MarketQuery)
    @document_response(schemas.ObjectResult)
    @document_response(schemas.ErrorBody, 404)
    async def market_detail(market_id: str) -> Response:
        """One market: facts, last quote, resolution status, signals with reads, trade-flow
        stats, feeds, tracking, active snoozes."""
        if len(market_id) > 200:
            return json_error(422, "invalid market id", "at most 200 characters",
                              "invalid_params")
        query = read_query(MarketQuery)
        data = await trio.to_thread.run_sync(market_payload, d, market_id, query.range,
                                             rollups)
        if data is None:
            return json_error(404, "unknown market", f"no event stored for {market_id!r}",
                              "not_found")
        # The close time as the feed says it now (its newest event), else as stored.
        tape = d.live.tape.get(market_id)
        closes = tape.event.closes_at if tape is not None else None
        signal_closes = data.pop("signal_close")
        data["resolution"] = resolution(data.pop("settlement"), closes if closes is not None
                                        else signal_closes, time.time())
        data["snoozed"] = d.mutes.snoozes_of(market_id)
        data["tracked_by"] = tracking(d, market_id)
        data["feeds"] = feed_status(d, data.get("source"))
        platform = data.get("platform") or ""
        data["venue_url"] = d.tickers.venue_url(platform, market_id)
        data["trackable"] = platform in d.tickers.specs  # its feed takes identifiers
        return json_response(data)

    @app.get("/api/markets/<market_id>/series")
    @document_querystring(SeriesQuery)
    @document_response(schemas.ObjectResult)
    @document_response(schemas.ErrorBody, 404)
    async def market_series(market_id: str) -> Response:
        """A market's chart data over a range, downsampled server-side to at most 2,000 points.

        Yes price, bid/ask, contracts traded per bucket, trades, signal markers."""
        query = read_query(SeriesQuery)
        end = query.end if query.end is not None else time.time() + 1
        start = end - reads.RANGES[query.range]
        data = await trio.to_thread.run_sync(reads.series, d.store, market_id, start, end,
                                             query.resolution, rollups)
        data["range"] = query.range
        data["paired"] = await trio.to_thread.run_sync(
            paired_series, d, market_id, start, end, query.resolution, rollups)
        return json_response(data)

    for view in (market_detail, market_series):
        for status in (400, 401, 403, 422):
            document_response(schemas.ErrorBody, status)(view)
